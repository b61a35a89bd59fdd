"""Action liveness ("活体检测") judged on sequences of 68-point face landmarks.

PURE: numpy only, no dlib, no I/O.  The worker processes turn frames into landmarks
(``backend.face.engine``); everything here runs in microseconds on the event loop.

Landmarks are the iBUG 300-W 68-point layout that dlib's ``shape_predictor_68_face_landmarks``
produces, as an ``(68, 2)`` array of ``(x, y)`` image pixels (x to the right, y down):

* 0–16 jaw, 17–26 brows, 27–30 nose bridge (30 = nose tip), 31–35 nostrils,
* 36–41 the eye on the IMAGE-LEFT side (36 outer corner, 39 inner corner),
* 42–47 the eye on the IMAGE-RIGHT side (42 inner corner, 45 outer corner),
* 48–59 outer lips (48 and 54 corners), 60–67 inner lips (60 and 64 corners).

Left and right
--------------
``turn_left`` / ``turn_right`` are the PERSON'S left and right, judged on a NON-MIRRORED
image (what the camera sees, as a photo of someone else would look).  In such an image the
person's left eye is on the image's right (points 42–47).  When the person turns the head to
their own left, the nose tip moves towards the image's right, so :func:`yaw_ratio` becomes
positive.  The PWA must send unmirrored frames (it may mirror only its on-screen preview);
mirrored frames would swap the two turns.

A static photo, held up or replayed as identical frames, shows no blink, no turn and no mouth
movement, so it fails; what this does NOT stop is written in ``docs/face.md``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

ACTIONS: tuple[str, ...] = ("blink", "turn_left", "turn_right", "open_mouth")

ACTION_LABELS: dict[str, str] = {
    "blink": "眨眼",
    "turn_left": "向左转头",
    "turn_right": "向右转头",
    "open_mouth": "张嘴",
}
ACTION_LABELS_EN: dict[str, str] = {
    "blink": "blink",
    "turn_left": "turn your head to your left",
    "turn_right": "turn your head to your right",
    "open_mouth": "open your mouth",
}

# Actions a person does only on purpose: seeing one that was not asked for means the video
# does not follow this challenge (e.g. a recording that runs through every action).
DELIBERATE_ACTIONS: tuple[str, ...] = ("turn_left", "turn_right", "open_mouth")


@dataclass(frozen=True, slots=True)
class LivenessThresholds:
    """Our engineering choices (not regulation); see docs/face.md for how they were set.

    Eye and mouth thresholds are RELATIVE to the person's own open-eye / closed-mouth level
    in the same sequence, so narrow eyes (frequent among the workers this serves: an open-eye
    EAR of 0.20–0.25 instead of the textbook 0.30) still produce a detectable blink.
    """

    # Blink: EAR falls to ≤ closed_ratio × the highest EAR seen before it, then climbs back
    # to ≥ recover_ratio × that level.  The level before must be ≥ min_open_ear.  0.75 lets a
    # frame caught half-way through a blink count (at 5–10 frames/s most blinks show no fully
    # closed frame); on a still photo moved about in front of the camera the ratio stayed ≥ 0.82.
    blink_closed_ratio: float = 0.75
    blink_recover_ratio: float = 0.85
    min_open_ear: float = 0.15
    # Head turn: yaw_ratio rises by ≥ turn_delta (≈ 18° of rotation) above the least-turned
    # frame before it and reaches ≥ turn_min in the asked direction (≈ 11°).  Relative, so a
    # phone held a little to the side (a constant yaw) neither helps nor hinders.
    turn_min: float = 0.15
    turn_delta: float = 0.25
    # Open mouth: inner-lip MAR ≥ mouth_open and ≥ mouth_delta more than the most closed frame
    # before it.  Speaking reaches ≈ 0.4 (the sdist's obama2.jpg, caught mid-word: 0.42), so
    # the bar is above that.
    mouth_open: float = 0.50
    mouth_delta: float = 0.30
    # At least this many frames must show a face.
    min_face_frames: int = 3
    # Frames whose landmark shapes (after removing position, scale and in-plane rotation)
    # differ by less than this fraction of the eye distance are "static": identical or
    # re-encoded frames.  (A photo moved about shows 2–3 % jitter; its lack of actions fails it.)
    static_max_residual: float = 0.01
    # Tracking between consecutive frames (≈ 225 ms apart): the face's landmark box may move by at most
    # track_max_shift × its size and grow or shrink by at most track_max_scale; beyond that — or across
    # frames without a single face — the burst may have been cut and both sides get a face encoding.
    track_max_shift: float = 0.5
    track_max_scale: float = 1.5


DEFAULT_THRESHOLDS = LivenessThresholds()


@dataclass(frozen=True, slots=True)
class ActionDetail:
    """How one action of the challenge (or one action nobody asked for) was judged."""

    action: str
    label: str  # Chinese label shown to the worker
    requested: bool
    passed: bool
    # Frame where the action started (open eyes / least turned / closed mouth) and where it
    # was completed (eyes open again / turned / mouth open); None when not found.
    start_index: int | None = None
    frame_index: int | None = None
    # The decisive measurement: lowest EAR of the blink, yaw_ratio of the turn, MAR of the mouth.
    value: float | None = None
    # "" when passed; "not_detected" | "wrong_order" | "unexpected"
    reason: str = ""


# ---------------------------------------------------------------------------------- measures


def _pts(lm: np.ndarray) -> np.ndarray:
    a = np.asarray(lm, dtype=np.float64)
    if a.shape != (68, 2):
        raise ValueError(f"expected (68, 2) landmarks, got {a.shape}")
    return a


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.hypot(*(a - b)))


def _eye_ratio(p: np.ndarray) -> float:
    # Soukupová & Čech 2016: (|p2−p6| + |p3−p5|) / (2 |p1−p4|)
    width = _dist(p[0], p[3])
    if width <= 0:
        return 0.0
    return (_dist(p[1], p[5]) + _dist(p[2], p[4])) / (2.0 * width)


def eye_aspect_ratio(lm: np.ndarray) -> float:
    """Mean eye aspect ratio of both eyes (≈ 0.2–0.35 open, < 0.15 closed)."""
    p = _pts(lm)
    return (_eye_ratio(p[36:42]) + _eye_ratio(p[42:48])) / 2.0


def mouth_aspect_ratio(lm: np.ndarray) -> float:
    """Inner-lip opening: mean of |61−67|, |62−66|, |63−65| over |60−64| (≈ 0 closed)."""
    p = _pts(lm)
    width = _dist(p[60], p[64])
    if width <= 0:
        return 0.0
    return (_dist(p[61], p[67]) + _dist(p[62], p[66]) + _dist(p[63], p[65])) / (3.0 * width)


def eye_centres(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the image-left eye (36–41) and the image-right eye (42–47)."""
    p = _pts(lm)
    return p[36:42].mean(axis=0), p[42:48].mean(axis=0)


def eye_distance(lm: np.ndarray) -> float:
    """Distance between the two eye centres in pixels (seed 002: 两眼之间的距离)."""
    a, b = eye_centres(lm)
    return _dist(a, b)


def roll_degrees(lm: np.ndarray) -> float:
    """In-plane head rotation: angle of the line through both eye centres (0 = level)."""
    a, b = eye_centres(lm)
    dx, dy = b - a
    return math.degrees(math.atan2(dy, dx))


def yaw_ratio(lm: np.ndarray) -> float:
    """Head yaw from the nose tip's position between the outer eye corners.

    0 when the nose tip projects half-way between the corners (frontal); positive when the
    person turns to THEIR LEFT in a non-mirrored image, negative to their right.  Measured
    along the eye axis, so in-plane roll does not disturb it.  For a typical face
    yaw_ratio ≈ 0.78 · tan(yaw): 0.15 ≈ 11°, 0.30 ≈ 21°, 0.45 ≈ 30°.
    """
    p = _pts(lm)
    a, b, nose = p[36], p[45], p[30]
    axis = b - a
    n2 = float(axis @ axis)
    if n2 <= 0:
        return 0.0
    t = float((nose - a) @ axis) / n2
    return 2.0 * (t - 0.5)


def yaw_degrees(lm: np.ndarray) -> float:
    """:func:`yaw_ratio` as an approximate angle (± ~5°): + = the person's left."""
    return math.degrees(math.atan(yaw_ratio(lm) / 0.78))


def shape_residual(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance between two landmark shapes after the best similarity alignment of b onto
    a (translation, scale, in-plane rotation), as a fraction of a's eye distance.

    A photo moved, scaled or rotated in front of the camera gives ≈ 0; blinking, turning the
    head or opening the mouth changes the shape itself.
    """
    pa, pb = _pts(a), _pts(b)
    ca, cb = pa - pa.mean(axis=0), pb - pb.mean(axis=0)
    nb = float((cb**2).sum())
    if nb <= 0:
        return math.inf
    # Closed-form 2-D Procrustes with complex numbers: a ≈ s·e^{iθ}·b
    za = ca[:, 0] + 1j * ca[:, 1]
    zb = cb[:, 0] + 1j * cb[:, 1]
    k = (np.conj(zb) @ za) / nb
    resid = za - k * zb
    rms = float(np.sqrt(np.mean(np.abs(resid) ** 2)))
    ed = eye_distance(pa)
    return rms / ed if ed > 0 else math.inf


@dataclass(frozen=True, slots=True)
class Series:
    """Per-frame measures, NaN where a frame has no face."""

    ear: np.ndarray
    mar: np.ndarray
    yaw: np.ndarray
    present: np.ndarray  # bool

    @property
    def face_frames(self) -> int:
        return int(self.present.sum())


def measure(landmark_seq: Sequence[np.ndarray | None]) -> Series:
    n = len(landmark_seq)
    ear = np.full(n, np.nan)
    mar = np.full(n, np.nan)
    yaw = np.full(n, np.nan)
    for i, lm in enumerate(landmark_seq):
        if lm is None:
            continue
        ear[i] = eye_aspect_ratio(lm)
        mar[i] = mouth_aspect_ratio(lm)
        yaw[i] = yaw_ratio(lm)
    return Series(ear=ear, mar=mar, yaw=yaw, present=~np.isnan(ear))


# ------------------------------------------------------------------------------ event finding


@dataclass(frozen=True, slots=True)
class _Event:
    start: int
    end: int
    value: float


def _find_blink(ear: np.ndarray, begin: int, th: LivenessThresholds) -> _Event | None:
    top, top_i = -math.inf, -1
    closed: tuple[int, float] | None = None
    for i in range(begin, len(ear)):
        v = ear[i]
        if math.isnan(v):
            continue
        if closed is None:
            if top >= th.min_open_ear and v <= th.blink_closed_ratio * top:
                closed = (i, v)
            elif v > top:
                top, top_i = v, i
        elif v <= closed[1]:
            closed = (i, v)  # still closing
        elif v >= th.blink_recover_ratio * top:
            return _Event(top_i, i, closed[1])
    return None


def _find_rise(values: np.ndarray, begin: int, minimum: float, delta: float) -> _Event | None:
    """First frame ≥ ``minimum`` and ≥ ``delta`` above the lowest frame since ``begin``."""
    low, low_i = math.inf, -1
    for i in range(begin, len(values)):
        v = values[i]
        if math.isnan(v):
            continue
        if low_i >= 0 and v >= minimum and v - low >= delta:
            return _Event(low_i, i, v)
        if v < low:
            low, low_i = v, i
    return None


def _find(action: str, s: Series, begin: int, th: LivenessThresholds) -> _Event | None:
    if action == "blink":
        return _find_blink(s.ear, begin, th)
    if action == "turn_left":
        return _find_rise(s.yaw, begin, th.turn_min, th.turn_delta)
    if action == "turn_right":
        ev = _find_rise(-s.yaw, begin, th.turn_min, th.turn_delta)
        return None if ev is None else _Event(ev.start, ev.end, -ev.value)
    if action == "open_mouth":
        return _find_rise(s.mar, begin, th.mouth_open, th.mouth_delta)
    raise ValueError(f"unknown liveness action: {action!r}")


def _departure(action: str, s: Series, th: LivenessThresholds) -> _Event | None:
    """First frame that departs from the STARTING pose (the first face frame) the way
    ``action`` would.  Coming back from a requested turn to a pose held a little to the side
    is not a departure; turning away from where one started is."""
    if not s.face_frames:
        return None
    first = int(np.flatnonzero(s.present)[0])
    if action == "open_mouth":
        values, minimum, delta = s.mar, th.mouth_open, th.mouth_delta
    else:
        sign = 1.0 if action == "turn_left" else -1.0
        values, minimum, delta = sign * s.yaw, th.turn_min, th.turn_delta
    base = values[first]
    with np.errstate(invalid="ignore"):
        hits = np.flatnonzero((values >= minimum) & (values - base >= delta))
    if not hits.size:
        return None
    i = int(hits[0])
    value = float(s.mar[i] if action == "open_mouth" else s.yaw[i])
    return _Event(first, i, value)


def validate_actions(actions: Sequence[str]) -> None:
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise ValueError(f"unknown liveness action(s): {unknown}; known: {list(ACTIONS)}")


def judge_actions(
    landmark_seq: Sequence[np.ndarray | None],
    actions: Sequence[str],
    thresholds: LivenessThresholds = DEFAULT_THRESHOLDS,
    *,
    forbid_unrequested: bool = True,
) -> tuple[bool, tuple[ActionDetail, ...]]:
    """Did the face perform ``actions`` in this order?

    ``landmark_seq`` has one entry per frame in capture order: a (68, 2) array, or None for a
    frame without a (single) face — such frames are skipped.  Action k must START at or after
    the frame where action k−1 was completed.  With ``forbid_unrequested`` a deliberate action
    (a head turn, an open mouth) that was not asked for but PERFORMED — a departure from the
    starting pose that would satisfy it, not merely a posed frame — fails the check: a replayed recording that runs
    through every action does not pass any challenge.  Blinks are involuntary and never count
    as unexpected.

    Returns ``(passed, details)``: one detail per requested action, in order, then one per
    unexpected action.
    """
    validate_actions(actions)
    th = thresholds
    s = measure(landmark_seq)
    details: list[ActionDetail] = []
    passed = bool(actions) and s.face_frames >= th.min_face_frames
    cursor = 0
    for action in actions:
        ev = _find(action, s, cursor, th) if s.face_frames else None
        if ev is not None:
            details.append(
                ActionDetail(action, ACTION_LABELS[action], True, True, ev.start, ev.end, round(ev.value, 4))
            )
            cursor = ev.end
            continue
        passed = False
        anywhere = _find(action, s, 0, th) if s.face_frames else None
        details.append(
            ActionDetail(
                action,
                ACTION_LABELS[action],
                True,
                False,
                None if anywhere is None else anywhere.start,
                None if anywhere is None else anywhere.end,
                None if anywhere is None else round(anywhere.value, 4),
                "wrong_order" if anywhere is not None else "not_detected",
            )
        )
    if forbid_unrequested:
        for action in DELIBERATE_ACTIONS:
            if action in actions:
                continue
            ev = _departure(action, s, th)
            if ev is not None:
                passed = False
                details.append(
                    ActionDetail(
                        action, ACTION_LABELS[action], False, False, ev.start, ev.end, round(ev.value, 4), "unexpected"
                    )
                )
    return passed, tuple(details)


# ------------------------------------------------------------------------------ other checks


def is_static(landmark_seq: Sequence[np.ndarray | None], thresholds: LivenessThresholds = DEFAULT_THRESHOLDS) -> bool:
    """True when every face frame has the same landmark shape as the first one (a photo)."""
    frames = [lm for lm in landmark_seq if lm is not None]
    if len(frames) < 2:
        return False
    ref = frames[0]
    worst = max(shape_residual(ref, lm) for lm in frames[1:])
    return worst < thresholds.static_max_residual


def _landmark_box(lm: np.ndarray) -> tuple[float, float, float]:
    """Centre x, centre y and size (the larger side) of the landmarks' bounding box."""
    p = _pts(lm)
    lo, hi = p.min(axis=0), p.max(axis=0)
    c = (lo + hi) / 2.0
    return float(c[0]), float(c[1]), float(max(hi - lo))


# Points that stay put on a face that blinks, opens its mouth or speaks: the nose bridge's top and the
# four eye corners.
_STEADY_POINTS = [27, 36, 39, 42, 45]


def steady_motion(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """How far the face moved from landmarks ``a`` to ``b``, judged on the points that do not move with
    blinks or the mouth: (shift of their centre, |relative change of their spread|), the shift as a
    fraction of a's spread.  A head turn moves them too."""
    pa, pb = _pts(a)[_STEADY_POINTS], _pts(b)[_STEADY_POINTS]
    ca, cb = pa.mean(axis=0), pb.mean(axis=0)
    sa = float(np.sqrt(((pa - ca) ** 2).sum(axis=1)).mean())
    sb = float(np.sqrt(((pb - cb) ** 2).sum(axis=1)).mean())
    if sa <= 0:
        return math.inf, math.inf
    return float(np.hypot(*(cb - ca))) / sa, abs(sb / sa - 1.0)


def track_breaks(
    landmark_seq: Sequence[np.ndarray | None], thresholds: LivenessThresholds = DEFAULT_THRESHOLDS
) -> list[tuple[int, int]]:
    """Pairs (i, j) of successive face frames between which the face cannot be followed: frames without
    a single face lie between them, or the face jumped or changed size more than a hand-held phone moves
    in one frame interval.  Where there is no break the face is followed from frame to frame, so a few
    face encodings spread over the burst stand for all of it."""
    faces = [i for i, lm in enumerate(landmark_seq) if lm is not None]
    out: list[tuple[int, int]] = []
    for i, j in itertools.pairwise(faces):
        if j != i + 1:
            out.append((i, j))
            continue
        xi, yi, si = _landmark_box(landmark_seq[i])  # type: ignore[arg-type]
        xj, yj, sj = _landmark_box(landmark_seq[j])  # type: ignore[arg-type]
        size = max(si, sj)
        if size <= 0 or math.hypot(xj - xi, yj - yi) > thresholds.track_max_shift * size \
                or max(si, sj) > thresholds.track_max_scale * max(min(si, sj), 1e-9):
            out.append((i, j))
    return out


def pairwise_distances(encodings: np.ndarray) -> np.ndarray:
    e = np.asarray(encodings, dtype=np.float64)
    diff = e[:, None, :] - e[None, :, :]
    return np.sqrt((diff**2).sum(axis=-1))


def same_face(encodings: Sequence[np.ndarray], tolerance: float) -> tuple[bool, float]:
    """All faces within ``tolerance`` of each other?  Returns (ok, largest pair distance)."""
    if len(encodings) < 2:
        return True, 0.0
    d = pairwise_distances(np.stack([np.asarray(e, dtype=np.float64) for e in encodings]))
    worst = float(d.max())
    return worst <= tolerance, worst


class _Sampler(Protocol):
    def sample(self, population: Sequence[str], k: int) -> list[str]: ...


def new_challenge_actions(rng: _Sampler | None = None, count: int = 2) -> list[str]:
    """``count`` distinct actions in random order.

    Pass ``random.SystemRandom()`` (the default) in production — the challenge must not be
    predictable; tests pass a seeded ``random.Random``.  The nonce, its expiry
    (``rules.liveness_challenge_ttl_s``) and one-time use are the caller's business.
    """
    if not 1 <= count <= len(ACTIONS):
        raise ValueError(f"count must be between 1 and {len(ACTIONS)}")
    rng = rng if rng is not None else random.SystemRandom()
    return list(rng.sample(ACTIONS, count))


def challenge_prompt(actions: Sequence[str]) -> tuple[str, str]:
    """Instruction text for the worker: ("请依次：眨眼、向左转头", "Please, in order: blink, …")."""
    validate_actions(actions)
    zh = "请依次：" + "、".join(ACTION_LABELS[a] for a in actions)
    en = "Please, in this order: " + ", then ".join(ACTION_LABELS_EN[a] for a in actions)
    return zh, en
