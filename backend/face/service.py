"""Face service: the async face API of the app, backed by a process pool.

Face work costs ~75 ms of CPU for the descriptor plus ~20 ms for detection per 640×480 image,
so it never runs on the event loop (DESIGN.md §1): every heavy call is shipped to a
``ProcessPoolExecutor`` (one worker per core, "spawn" context, models loaded by the
initializer) and the coroutine only awaits it.  Only the 1:N
``search`` runs in-process: it is one vectorised numpy expression (≈1 ms for 10,000 templates).

Encoding storage format
-----------------------
A face template is the 128-d dlib descriptor stored as 128 little-endian float32 = 512 bytes
(``encoding_to_bytes``).  float32 keeps ~7 significant digits; distances change by < 1e-6,
far below anything that matters at a 0.5 threshold, and halves the storage and the 1:N scan
memory.  ``encoding_from_bytes`` also accepts 1024-byte float64 blobs.  Templates are only
comparable with templates from the same model (``ENCODING_MODEL``): dlib ResNet v1, 68-point
alignment, ``num_jitters=1`` — the 5-point alignment gives encodings ~0.1 away.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from backend.errors import AppError, InvalidInput, PayloadTooLarge
from backend.face import engine
from backend.face import liveness as lv
from backend.face.engine import FaceAnalysis, FaceError, Quality, QualityLimits
from backend.face.messages import message
from backend.rules import DEFAULT_RULES, Rules

T = TypeVar("T")

ENCODING_SIZE = 128
ENCODING_DTYPE = np.dtype("<f4")
ENCODING_BYTES = ENCODING_SIZE * ENCODING_DTYPE.itemsize  # 512
ENCODING_MODEL = "dlib_face_recognition_resnet_model_v1/68pt/jitter1"

Purpose = Literal["enrol", "verify"]


# ------------------------------------------------------------------------ encodings as bytes


def encoding_to_bytes(encoding: np.ndarray | Sequence[float]) -> bytes:
    """128 floats → 512 bytes (little-endian float32)."""
    a = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if a.size != ENCODING_SIZE or not np.all(np.isfinite(a)):
        raise ValueError("a face encoding has 128 finite numbers")
    return a.astype(ENCODING_DTYPE).tobytes()


def encoding_from_bytes(blob: bytes, *, field: str = "template") -> np.ndarray:
    """512-byte float32 (or legacy 1024-byte float64) blob → (128,) float64 array."""
    if isinstance(blob, bytes | bytearray | memoryview):
        n = len(blob)
        if n == ENCODING_BYTES:
            a = np.frombuffer(blob, dtype=ENCODING_DTYPE).astype(np.float64)
        elif n == ENCODING_SIZE * 8:
            a = np.frombuffer(blob, dtype="<f8").astype(np.float64)
        else:
            a = None
        if a is not None and np.all(np.isfinite(a)):
            return a
    zh, en = message("invalid_template")
    raise InvalidInput(zh, en, field=field, code="invalid_template")


def templates_matrix(blobs: Sequence[bytes]) -> np.ndarray:
    """Stack stored 512-byte templates into an (N, 128) float32 matrix for :func:`search`."""
    if not blobs:
        return np.zeros((0, ENCODING_SIZE), dtype=np.float32)
    if any(len(b) != ENCODING_BYTES for b in blobs):
        return np.stack([encoding_from_bytes(b) for b in blobs]).astype(np.float32)
    return np.frombuffer(b"".join(blobs), dtype=ENCODING_DTYPE).reshape(-1, ENCODING_SIZE).astype(np.float32)


def _vector(encoding: bytes | np.ndarray | Sequence[float]) -> np.ndarray:
    if isinstance(encoding, bytes | bytearray | memoryview):
        return encoding_from_bytes(encoding, field="encoding")
    a = np.asarray(encoding, dtype=np.float64).reshape(-1)
    if a.size != ENCODING_SIZE:
        raise ValueError("a face encoding has 128 numbers")
    return a


def face_distance(a: bytes | np.ndarray, b: bytes | np.ndarray) -> float:
    """Euclidean distance between two encodings (as face_recognition.face_distance)."""
    return float(np.linalg.norm(_vector(a) - _vector(b)))


def search(encoding: bytes | np.ndarray, templates: np.ndarray, ids: Sequence[Any]) -> tuple[Any, float] | None:
    """1:N: the id of the nearest template and its distance, or None when there are none.

    ``templates`` is an (N, 128) matrix (float32 from :func:`templates_matrix` is fastest),
    ``ids[i]`` names row i.  Runs in-process (≈1 ms for 10,000 templates on one core).
    """
    t = np.asarray(templates)
    if t.ndim != 2 or t.shape[1] != ENCODING_SIZE:
        raise ValueError(f"templates must be (N, {ENCODING_SIZE}), got {t.shape}")
    if len(ids) != t.shape[0]:
        raise ValueError("templates and ids differ in length")
    if t.shape[0] == 0:
        return None
    e = _vector(encoding).astype(t.dtype if t.dtype.kind == "f" else np.float64)
    diff = t - e
    d2 = np.einsum("ij,ij->i", diff, diff)
    i = int(np.argmin(d2))
    return ids[i], math.sqrt(float(d2[i]))


def search_within(
    encoding: bytes | np.ndarray, templates: np.ndarray, ids: Sequence[Any], tolerance: float
) -> list[tuple[Any, float]]:
    """All templates within ``tolerance`` (e.g. ``rules.face_duplicate_tolerance``), nearest first."""
    t = np.asarray(templates)
    if t.shape[0] == 0:
        return []
    e = _vector(encoding).astype(t.dtype if t.dtype.kind == "f" else np.float64)
    diff = t - e
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    hits = np.flatnonzero(d <= tolerance)
    hits = hits[np.argsort(d[hits])]
    return [(ids[int(i)], float(d[i])) for i in hits]


# ---------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class FaceResult:
    """A face that passed the quality checks, with its template."""

    encoding: bytes  # 512 bytes, little-endian float32 (see module docstring)
    quality: Quality
    box: tuple[int, int, int, int]  # (top, right, bottom, left) in the normalised image
    landmarks: np.ndarray | None = None  # (68, 2) in the normalised image
    model: str = ENCODING_MODEL

    def box_in_original(self) -> tuple[int, int, int, int]:
        """The face box in the pixels of the uploaded (EXIF-oriented) image."""
        s = self.quality.scale or 1.0
        return tuple(round(v / s) for v in self.box)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Match:
    distance: float
    matched: bool  # distance <= tolerance
    tolerance: float
    quality: Quality
    encoding: bytes  # the probe's encoding (e.g. to keep with the punch)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    index: int
    face_count: int
    problems: tuple[str, ...]
    ear: float | None = None
    mar: float | None = None
    yaw: float | None = None
    sharpness: float | None = None


@dataclass(frozen=True, slots=True)
class LivenessResult:
    passed: bool
    reasons: tuple[str, ...]  # codes; messages.message(code) gives the texts
    best_frame_index: int | None  # sharpest frontal open-eyed frame that passes quality
    distance: float | None  # best frame ↔ template (None without a template)
    matched: bool | None
    actions: tuple[lv.ActionDetail, ...]
    frames: tuple[FrameInfo, ...]
    encoding: bytes | None = None  # the best frame's encoding
    max_pair_distance: float | None = None  # largest distance between two frames' faces

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": [{"code": c, "message": message(c)[0], "message_en": message(c)[1]} for c in self.reasons],
            "best_frame_index": self.best_frame_index,
            "distance": None if self.distance is None else round(self.distance, 4),
            "matched": self.matched,
            "max_pair_distance": None if self.max_pair_distance is None else round(self.max_pair_distance, 4),
            "actions": [
                {
                    "action": d.action,
                    "label": d.label,
                    "requested": d.requested,
                    "passed": d.passed,
                    "frame_index": d.frame_index,
                    "value": d.value,
                    "reason": d.reason,
                }
                for d in self.actions
            ],
        }


# --------------------------------------------------------------------------------- errors


def _face_error_to_app(e: FaceError, field: str) -> AppError:
    zh, en = message(e.code)
    d = e.detail
    if e.code == "payload_too_large" and "max_bytes" in d:
        zh += f"（{d['bytes'] // 1024} KB，上限 {d['max_bytes'] // 1024} KB）"
        en += f" ({d['bytes'] // 1024} KB, limit {d['max_bytes'] // 1024} KB)"
    if e.code == "image_too_large" and "pixels" in d:
        zh += f"（{d['width']}×{d['height']}，上限 {d['max_pixels']} 像素）"
        en += f" ({d['width']}×{d['height']}, limit {d['max_pixels']} pixels)"
    extra = {k: v for k, v in d.items() if k != "why"}
    if e.code in ("payload_too_large", "image_too_large"):
        return PayloadTooLarge(zh, en, field=field, code=e.code, extra=extra or None)
    return InvalidInput(zh, en, field=field, code=e.code, extra=extra or None)


def quality_error(q: Quality, limits: QualityLimits, field: str = "photo") -> InvalidInput:
    """The InvalidInput for a face that failed quality: code = first problem, all in extra."""
    code = q.problems[0]
    zh, en = message(code)
    if code == "face_too_small":
        zh += f"（两眼间距 {q.eye_distance_px:.0f} 像素，需不小于 {limits.min_eye_distance_px:.0f}；"
        zh += f"人脸 {q.face_size_px} 像素，需不小于 {limits.min_face_px}）"
        en += f" (eyes {q.eye_distance_px:.0f} px apart, need ≥ {limits.min_eye_distance_px:.0f}; "
        en += f"face {q.face_size_px} px, need ≥ {limits.min_face_px})"
    elif code == "face_tilted":
        zh += f"（{abs(q.roll_deg):.0f}°，上限 {limits.max_roll_deg:.0f}°）"
        en += f" ({abs(q.roll_deg):.0f}°, limit {limits.max_roll_deg:.0f}°)"
    elif code == "face_turned":
        zh += f"（约 {abs(q.yaw_deg):.0f}°，上限 {limits.max_yaw_deg or 0:.0f}°）"
        en += f" (about {abs(q.yaw_deg):.0f}°, limit {limits.max_yaw_deg or 0:.0f}°)"
    elif code == "face_at_border":
        zh += f"（距边缘 {max(q.border_px, 0)} 像素，需大于 {limits.min_border_px}）"
        en += f" ({max(q.border_px, 0)} px from the edge, need > {limits.min_border_px})"
    return InvalidInput(zh, en, field=field, code=code, extra={"problems": list(q.problems), "quality": q.as_dict()})


def _check_size(data: bytes, max_bytes: int, field: str) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(*message("invalid_image"), field=field, code="invalid_image")
    if len(data) > max_bytes:
        raise _face_error_to_app(FaceError("payload_too_large", {"bytes": len(data), "max_bytes": max_bytes}), field)


# ------------------------------------------------------------------------- liveness (pure)


ENCODED_FRAMES_MAX = 6
# The requested action whose frame is encoded: the one a held-up photo of the worker is least able to
# fake (lowest rank; a photo cannot blink or open its mouth; bent or tilted, it may pass for a turn);
# between equals, the first one requested.
PHOTO_PROOF_RANK: dict[str, int] = {"blink": 0, "open_mouth": 1, "turn_left": 2, "turn_right": 2}


def _candidate_ranking(analyses: Sequence[FaceAnalysis], series: lv.Series) -> Callable[[int], tuple[Any, ...]]:
    """Sort key of the frames to match against the template (face frames only): passes quality, frontal,
    eyes open, mouth closed, then the least turned and the sharpest.  Eyes and mouth are judged against
    the person's own levels in the burst (open eyes: the 90th percentile of the eye ratio; closed mouth:
    the 10th percentile of the mouth ratio), as the liveness thresholds are."""
    present = series.present
    ear_ref = float(np.nanpercentile(series.ear, 90)) if present.any() else 0.0
    mar_ref = float(np.nanpercentile(series.mar, 10)) if present.any() else 0.0

    def key(i: int) -> tuple[Any, ...]:
        return (bool(analyses[i].quality.problems), abs(series.yaw[i]) > 0.15, series.ear[i] < 0.8 * ear_ref,
                series.mar[i] > mar_ref + 0.2, round(abs(float(series.yaw[i])), 2), -analyses[i].quality.sharpness)

    return key


def encoding_frames(analyses: Sequence[FaceAnalysis], actions: Sequence[str],
                    thresholds: lv.LivenessThresholds = lv.DEFAULT_THRESHOLDS) -> list[int]:
    """The frames worth a face encoding (≈ 80 ms each), the match frame first.

    * The frame to match: the best candidate (see ``_candidate_ranking``).
    * One action frame, of the requested action a held-up photo is least able to fake
      (:data:`PHOTO_PROOF_RANK`).  The attack this stops is a photo of the worker for the match and
      someone else doing the actions: a live accomplice must do at least that action, and its frame is
      compared with the match frame.  When that frame is as good a match candidate as the best
      (typically the frame where the eyes open again after a blink) it IS the match frame: the
      accomplice's own face is then matched against the template.
    * Both sides of every break in the face track (``liveness.track_breaks``: frames without a single
      face, or a jump).  Between encoded frames the face is followed by its landmarks from frame to
      frame, so a different face can only come in through a break, and a break is encoded.
    """
    single = [i for i, a in enumerate(analyses) if a.quality.face_count == 1 and a.landmarks is not None]
    if not single:
        return []
    singles = set(single)
    lms = [a.landmarks if i in singles else None for i, a in enumerate(analyses)]
    key = _candidate_ranking(analyses, lv.measure(lms))
    best = min(single, key=key)
    _, details = lv.judge_actions(lms, actions, thresholds)
    done = [d for d in details if d.requested and d.frame_index is not None and d.frame_index in singles]
    picks = [best]
    if done:
        proof = min(done, key=lambda d: PHOTO_PROOF_RANK[d.action]).frame_index
        assert proof is not None
        picks = [proof] if key(proof)[:4] == key(best)[:4] else [best, proof]
    for i, j in lv.track_breaks(lms, thresholds):
        picks += [i, j]
    return list(dict.fromkeys(picks))[:ENCODED_FRAMES_MAX]


def assess_liveness(
    analyses: Sequence[FaceAnalysis],
    actions: Sequence[str],
    *,
    template: np.ndarray | None = None,
    tolerance: float = DEFAULT_RULES.face_match_tolerance,
    thresholds: lv.LivenessThresholds = lv.DEFAULT_THRESHOLDS,
    frame_digests: Sequence[bytes] | None = None,
) -> LivenessResult:
    """Judge analysed frames (pure; the service feeds it the workers' results).

    The reasons come in this order: faces counted, replayed frames, the actions, one face throughout,
    a usable frame, the template match."""
    single, lms = _single_face_frames(analyses)
    n_faces = sum(single)
    _, details = lv.judge_actions(lms, actions, thresholds)
    encs = [a.encoding for a, ok in zip(analyses, single, strict=True) if ok and a.encoding is not None]
    same, worst = lv.same_face(encs, tolerance)
    series = lv.measure(lms)
    best = _best_frame(analyses, single, _candidate_ranking(analyses, series))
    best_enc = analyses[best].encoding if best is not None else None
    distance, matched = _template_match(template, best_enc, tolerance)
    reasons = [
        *_face_count_reasons(analyses, n_faces, thresholds),
        *_replay_reasons(lms, frame_digests, thresholds),
        *_action_reasons(details),
        *_identity_reasons(same, no_good_frame=best is None and n_faces > 0, matched=matched),
    ]
    reasons = list(dict.fromkeys(reasons))
    return LivenessResult(
        passed=not reasons,
        reasons=tuple(reasons),
        best_frame_index=best,
        distance=distance,
        matched=matched,
        actions=details,
        frames=_frame_infos(analyses, series),
        encoding=None if best_enc is None else encoding_to_bytes(best_enc),
        max_pair_distance=worst if len(encs) > 1 else None,
    )


def _single_face_frames(analyses: Sequence[FaceAnalysis]) -> tuple[list[bool], list[np.ndarray | None]]:
    """Which frames show exactly one face with landmarks, and the landmarks of those (None elsewhere)."""
    single = [a.quality.face_count == 1 and a.landmarks is not None for a in analyses]
    return single, [a.landmarks if ok else None for a, ok in zip(analyses, single, strict=True)]


def _face_count_reasons(analyses: Sequence[FaceAnalysis], n_faces: int,
                        thresholds: lv.LivenessThresholds) -> list[str]:
    """``multiple_faces`` in any frame; then ``no_face`` (unless several were seen) or ``too_few_faces``."""
    several = any(a.quality.face_count > 1 for a in analyses)
    reasons = ["multiple_faces"] if several else []
    if n_faces == 0 and not several:
        reasons.append("no_face")
    elif n_faces < thresholds.min_face_frames:
        reasons.append("too_few_faces")
    return reasons


def _replay_reasons(lms: Sequence[np.ndarray | None], frame_digests: Sequence[bytes] | None,
                    thresholds: lv.LivenessThresholds) -> list[str]:
    """A burst that repeats a frame byte for byte, or a face that never changes shape (a photo)."""
    reasons: list[str] = []
    if frame_digests is not None and len(set(frame_digests)) < len(frame_digests):
        reasons.append("identical_frames")
    if lv.is_static(lms, thresholds):
        reasons.append("static_frames")
    return reasons


_ACTION_FAILURE = {"not_detected": "action_missing", "wrong_order": "action_order"}


def _action_reasons(details: Sequence[lv.ActionDetail]) -> list[str]:
    """``action_missing:<a>`` | ``action_order:<a>`` | ``unexpected_action:<a>`` for each failed action."""
    return [f"{_ACTION_FAILURE.get(d.reason, 'unexpected_action')}:{d.action}" for d in details if not d.passed]


def _identity_reasons(same: bool, *, no_good_frame: bool, matched: bool | None) -> list[str]:
    """One face throughout, a frame good enough to keep, and (with a template) the right person."""
    reasons = [] if same else ["different_faces"]
    if no_good_frame:
        reasons.append("no_good_frame")
    if matched is not None and not matched:
        reasons.append("face_mismatch")
    return reasons


def _best_frame(analyses: Sequence[FaceAnalysis], single: Sequence[bool],
                rank: Callable[[int], tuple[Any, ...]]) -> int | None:
    """The first best-ranked single-face frame with an encoding and no quality problem, if any."""
    usable = [i for i, a in enumerate(analyses) if single[i] and a.encoding is not None and not a.quality.problems]
    return min(usable, key=rank) if usable else None


def _template_match(template: np.ndarray | None, encoding: np.ndarray | None,
                    tolerance: float) -> tuple[float | None, bool | None]:
    """(distance, matched) of the kept frame to the template; (None, None) without either."""
    if template is None or encoding is None:
        return None, None
    distance = float(np.linalg.norm(np.asarray(template, dtype=np.float64) - encoding))
    return distance, distance <= tolerance


def _rounded(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(float(value), digits)


def _frame_infos(analyses: Sequence[FaceAnalysis], series: lv.Series) -> tuple[FrameInfo, ...]:
    return tuple(
        FrameInfo(
            index=i,
            face_count=a.quality.face_count,
            problems=a.quality.problems,
            ear=_rounded(series.ear[i], 4),
            mar=_rounded(series.mar[i], 4),
            yaw=_rounded(series.yaw[i], 4),
            sharpness=round(a.quality.sharpness, 1) if a.quality.box else None,
        )
        for i, a in enumerate(analyses)
    )


def check_burst(frames: Sequence[bytes], actions: Sequence[str], rules: Rules, field: str = "frames") -> None:
    """Refuse a burst that cannot be judged: no frames, too many, no or unknown actions, a frame too big."""
    if not frames:
        raise InvalidInput(*message("no_frames"), field=field, code="no_frames")
    if len(frames) > rules.liveness_max_frames:
        zh, en = message("too_many_frames")
        raise InvalidInput(
            f"{zh}（{len(frames)}，上限 {rules.liveness_max_frames}）",
            f"{en} ({len(frames)}, limit {rules.liveness_max_frames})",
            field=field,
            code="too_many_frames",
        )
    if not actions:
        raise InvalidInput(*message("no_actions"), field="actions", code="no_actions")
    unknown = [a for a in actions if a not in lv.ACTIONS]
    if unknown:
        zh, en = message("unknown_action")
        raise InvalidInput(f"{zh}：{unknown}", f"{en}: {unknown}", field="actions", code="unknown_action")
    for i, f in enumerate(frames):
        _check_size(f, rules.mobile_max_frame_bytes, f"{field}[{i}]")


def _with_encoding(a: FaceAnalysis, encoding: np.ndarray, count: int | None) -> FaceAnalysis:
    """The quick look's analysis with the frame's encoding; ``multiple_faces`` (first) when the full-size
    search found more than one face."""
    if count is not None and count > 1:
        problems = ("multiple_faces", *(p for p in a.quality.problems if p != "multiple_faces"))
        a = dataclasses.replace(a, quality=dataclasses.replace(a.quality, face_count=count, problems=problems))
    return dataclasses.replace(a, encoding=encoding)


# ---------------------------------------------------------------------------------- service


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class FaceService:
    """Async face API over a process pool.  One per app: ``backend.runtime.AppServices.face`` (made with the
    app's services, closed at the app's shutdown; handed to whoever needs a face encoded or checked).

    ``workers`` defaults to the cores this process may use.  ``mp_context`` "spawn" (default)
    or "forkserver": never "fork" from a process running an event loop and threads.
    ``worker_nice`` > 0 lowers the workers' CPU priority (the event loop and the database then
    win the CPU when both want it); off by default: with Linux CFS the mostly-sleeping event
    loop already gets the CPU promptly (loop lag p99 < 20 ms with 8 verifications in flight,
    benchmarks/face.py) and niced workers lose throughput to any other busy process.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        rules: Rules = DEFAULT_RULES,
        mp_context: str = "spawn",
        worker_nice: int = 0,
        long_side: int = engine.LONG_SIDE,
    ) -> None:
        if mp_context == "fork":
            raise ValueError("use 'spawn' or 'forkserver' with asyncio")
        self.workers = workers or default_workers()
        self.rules = rules
        self.long_side = long_side
        self._ctx = multiprocessing.get_context(mp_context)
        self._nice = worker_nice
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()

    # -- pool plumbing

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._ctx,
            initializer=engine.worker_init,
            # Workers exit when their parent dies, even by kill -9: with "spawn" that is this process; with
            # "forkserver" it is the fork server (which itself ends with this process), found by getppid().
            initargs=(self._nice, os.getpid() if self._ctx.get_start_method() == "spawn" else None),
        )

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken and not self._closed:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in range(2):
            if self._closed:
                raise RuntimeError("FaceService is closed")
            pool = self._pool
            try:
                return await asyncio.wrap_future(pool.submit(fn, *args))
            except BrokenProcessPool:
                # A worker died (killed, out of memory, a crash inside dlib): replace the pool
                # and try once more; a second death is blamed on the input.
                self._renew(pool)
                if attempt:
                    zh, en = message("image_unprocessable")
                    raise InvalidInput(zh, en, code="image_unprocessable") from None
        raise AssertionError("unreachable")

    async def start(self) -> None:
        """Start every worker and load the models now rather than on the first request."""
        pool = self._pool
        futures = await asyncio.to_thread(lambda: [pool.submit(engine.job_ping) for _ in range(self.workers)])
        await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop the workers (waits for running jobs; queued ones are cancelled)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = self._pool
        pool.shutdown(wait=True, cancel_futures=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> FaceService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- API

    async def _analyse(
        self, image_bytes: bytes, purpose: Purpose, field: str, rules: Rules, max_bytes: int | None
    ) -> tuple[FaceAnalysis, QualityLimits]:
        limits = QualityLimits.for_purpose(rules, purpose)
        max_bytes = max_bytes or rules.mobile_max_upload_bytes
        _check_size(image_bytes, max_bytes, field)
        try:
            a = await self._run(
                engine.job_encode, bytes(image_bytes), limits, max_bytes, rules.max_image_pixels, self.long_side, 1
            )
        except FaceError as e:
            raise _face_error_to_app(e, field) from None
        if a.quality.problems or a.encoding is None:
            raise quality_error(a.quality, limits, field)
        return a, limits

    async def encode(
        self,
        image_bytes: bytes,
        *,
        purpose: Purpose = "enrol",
        field: str = "photo",
        rules: Rules | None = None,
        max_bytes: int | None = None,
    ) -> FaceResult:
        """Check the photo's quality and compute its template.

        ``purpose="enrol"`` applies seed 002 附件1 一.2 as written; ``"verify"`` halves the
        pixel limits (see ``QualityLimits.for_purpose``).  Raises ``InvalidInput`` with code
        ``no_face`` | ``multiple_faces`` | ``face_too_small`` | ``face_at_border`` |
        ``face_tilted`` | ``face_turned`` (enrol only) | ``too_dark`` | ``backlit`` | ``blurred`` | ``invalid_image`` |
        ``unsupported_format``, or ``PayloadTooLarge`` (``payload_too_large`` |
        ``image_too_large``).
        """
        a, _ = await self._analyse(image_bytes, purpose, field, rules or self.rules, max_bytes)
        assert a.encoding is not None and a.quality.box is not None
        return FaceResult(encoding_to_bytes(a.encoding), a.quality, a.quality.box, a.landmarks)

    async def verify(
        self,
        template: bytes,
        image_bytes: bytes,
        *,
        field: str = "photo",
        rules: Rules | None = None,
        max_bytes: int | None = None,
    ) -> Match:
        """1:1 — does the photo show the person of ``template``?  (``rules.face_match_tolerance``)"""
        rules = rules or self.rules
        t = encoding_from_bytes(template)
        a, _ = await self._analyse(image_bytes, "verify", field, rules, max_bytes)
        assert a.encoding is not None
        d = float(np.linalg.norm(t - a.encoding))
        tol = rules.face_match_tolerance
        return Match(d, d <= tol, tol, a.quality, encoding_to_bytes(a.encoding))

    async def check_liveness(
        self,
        frames: Sequence[bytes],
        actions: Sequence[str],
        template: bytes | None = None,
        *,
        field: str = "frames",
        rules: Rules | None = None,
        thresholds: lv.LivenessThresholds = lv.DEFAULT_THRESHOLDS,
    ) -> LivenessResult:
        """Action liveness on frames captured in order while the worker followed ``actions``.

        Bad input (no frames, more than ``rules.liveness_max_frames``, a frame over
        ``rules.mobile_max_frame_bytes`` or not an image, an unknown action) raises; a failed
        check returns ``passed=False`` with reason codes.  With a ``template`` the best frame
        must also match it.
        """
        rules = rules or self.rules
        check_burst(frames, actions, rules, field)
        tvec = encoding_from_bytes(template) if template is not None else None
        limits = QualityLimits.for_purpose(rules, "verify")
        analyses = await self._look(frames, limits, rules, field)
        chosen = encoding_frames(analyses, actions, thresholds)
        await self._encode(frames, analyses, chosen, limits, rules, field)
        digests = [hashlib.blake2b(bytes(f), digest_size=16).digest() for f in frames]
        return assess_liveness(
            analyses,
            actions,
            template=tvec,
            tolerance=rules.face_match_tolerance,
            thresholds=thresholds,
            frame_digests=digests,
        )

    async def _look(self, frames: Sequence[bytes], limits: QualityLimits, rules: Rules,
                    field: str) -> list[FaceAnalysis]:
        """Pass 1, every frame: a quick look (landmarks and quality, ≈ 5–16 ms a frame, see engine.job_burst), the
        burst cut into one run of frames per worker."""
        cuts = np.linspace(0, len(frames), min(self.workers, len(frames)) + 1).round().astype(int)
        runs = [range(a, b) for a, b in itertools.pairwise(cuts) if b > a]
        looked = await asyncio.gather(*(
            self._run(engine.job_burst, [bytes(frames[i]) for i in run], limits, rules.mobile_max_frame_bytes,
                      rules.max_image_pixels, self.long_side)
            for run in runs
        ))
        looks = [r for part in looked for r in part]
        for i, r in enumerate(looks):
            if isinstance(r, FaceError):
                raise _face_error_to_app(r, f"{field}[{i}]")
        return list(looks)  # type: ignore[arg-type]

    async def _encode(self, frames: Sequence[bytes], analyses: list[FaceAnalysis], chosen: Sequence[int],
                      limits: QualityLimits, rules: Rules, field: str) -> None:
        """Pass 2, the deciding frames only (see encoding_frames): their encodings at the faces the quick look
        found, written into ``analyses``.  The best candidate, the frame that is matched and kept, is also
        searched whole at full size so that a second face in it does not go unseen.  It goes first: it is the
        longest job."""
        results = await asyncio.gather(*(
            self._run(engine.job_encode_at, bytes(frames[i]), analyses[i].quality.box, rules.mobile_max_frame_bytes,
                      rules.max_image_pixels, self.long_side, limits.multi_face_ratio if k == 0 else None)
            for k, i in enumerate(chosen)
        ), return_exceptions=True)
        for i, r in zip(chosen, results, strict=True):
            if isinstance(r, FaceError):
                raise _face_error_to_app(r, f"{field}[{i}]")
            if isinstance(r, BaseException):
                raise r
            encoding, count = r
            analyses[i] = _with_encoding(analyses[i], encoding, count)

    def search(
        self, encoding: bytes | np.ndarray, templates: np.ndarray, ids: Sequence[Any]
    ) -> tuple[Any, float] | None:
        """1:N nearest template, in-process (see :func:`search`)."""
        return search(encoding, templates, ids)
