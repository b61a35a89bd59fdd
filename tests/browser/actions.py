"""Synthetic liveness videos from a still photo: the face really blinks, turns and opens its mouth.

The real landmark model (dlib's 68-point predictor, as the face service runs it) has to SEE each
requested action, so the frames are made by image warps of the sdist photo ``obama.jpg`` placed
on a 640×480 canvas (what the PWA sends):

* ``turn_left`` / ``turn_right``: a smooth horizontal displacement of the face around the nose
  and mouth (a crude rotation about the vertical axis: what sits in front — nose, lips — moves
  most, the eye corners and the ears hardly).  The person's LEFT is the image's RIGHT in a
  non-mirrored frame, so ``turn_left`` moves the nose to the image's right.
* ``open_mouth``: the lower lip, the chin and the jaw move down along a bell-shaped profile, the
  gap between the lips is painted as a dark mouth cavity and the mouth is drawn in at the sides.
* ``blink``: the skin of each upper lid is stretched down over the eye, with a thin lash line.

The amounts were tuned against the real model with camera noise and JPEG: turns reach a yaw
ratio of ≈ ±0.35 (needed: a rise of 0.25), the open mouth an inner-lip ratio of ≈ 0.7 (needed:
≥ 0.5 and 0.3 above a closed mouth's 0.22), closed eyes an eye ratio of ≈ 0.12 (needed: ≤ 70 % of
the open 0.20–0.22); all frames stay within ≈ 0.4 of each other (the same-face check allows 0.5).

``frames_for(actions)`` gives a neutral start, then each requested action in order with neutral
frames between — nothing else (the liveness check refuses unrequested deliberate actions);
``video_frames(actions)`` the same timed for the PWA's capture, as the fake camera plays it.
:func:`check_frames` runs the real engine and judgement in-process over frames (for debugging a
video).  Everything is numpy + Pillow; no OpenCV.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

WIDTH, HEIGHT = 640, 480
BASE_PHOTO = "obama.jpg"


@dataclass(frozen=True)
class Base:
    pixels: np.ndarray  # (480, 640, 3) uint8, the neutral frame
    landmarks: np.ndarray  # (68, 2) found by the real model on it


def _analyse(pixels: np.ndarray):
    from backend.face import engine
    from backend.rules import DEFAULT_RULES

    limits = engine.QualityLimits.for_purpose(DEFAULT_RULES, "verify")
    return engine.analyse(np.ascontiguousarray(pixels), limits, encode_despite_problems=True)


@lru_cache(maxsize=2)
def base_frame(name: str = BASE_PHOTO, face_width: int = 170) -> Base:
    """The photo on a 640×480 canvas, and its landmarks (from the real model)."""
    from tests.fixtures.faces import capture_like_image

    image, _ = capture_like_image(name, width=WIDTH, height=HEIGHT, face_width=face_width)
    pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    a = _analyse(pixels)
    if a.landmarks is None:
        raise AssertionError(f"no face found in the base frame made from {name}")
    return Base(pixels, np.asarray(a.landmarks, dtype=np.float64))


# ------------------------------------------------------------------------------- resampling


def _remap(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Bilinear sampling of ``src`` at (map_x, map_y) (clamped at the borders)."""
    h, w = src.shape[:2]
    x = np.clip(map_x, 0, w - 1.001)
    y = np.clip(map_y, 0, h - 1.001)
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    s = src.astype(np.float32)
    top = s[y0, x0] * (1 - fx) + s[y0, x0 + 1] * fx
    bottom = s[y0 + 1, x0] * (1 - fx) + s[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _grid() -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    return xs.astype(np.float32), ys.astype(np.float32)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------- actions


def turned(base: Base, amount: float) -> np.ndarray:
    """Head turned: ``amount`` > 0 is the PERSON'S left (nose towards the image's right).

    ``amount`` is the nose shift as a fraction of the outer-eye-corner distance.
    """
    lm = base.landmarks
    corners = np.linalg.norm(lm[45] - lm[36])
    nose = lm[30]
    mouth = lm[48:68].mean(axis=0)
    cx, cy = (nose[0] + mouth[0]) / 2, (nose[1] + mouth[1]) / 2
    sx, sy = 0.32 * corners, 0.75 * corners
    shift = amount * corners
    xs, ys = _grid()
    # Inverse map: the destination pixel takes the colour from where it came from.  Iterate once
    # so the bump is centred on the MOVED features, not the original ones.
    d = shift * np.exp(-(((xs - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2) / 2)
    d = shift * np.exp(-(((xs - d - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2) / 2)
    return _to_uint8(_remap(base.pixels, xs - d, ys))


def mouth_open(base: Base, amount: float) -> np.ndarray:
    """Mouth opened by ``amount`` × the inner mouth width.

    The jaw drops along a bell-shaped horizontal profile.  Between the mouth corners the lower
    lip leaves the upper one at the lip line and the lens-shaped gap is a dark cavity; outside
    them the cheeks stretch smoothly from under the nose down to the chin.  Then the mouth is
    drawn in a little at the sides (an open mouth is narrower than a smile).
    """
    lm = base.landmarks
    cx = float((lm[60, 0] + lm[64, 0]) / 2)
    width = float(np.linalg.norm(lm[64] - lm[60]))
    half = 0.5 * width * 1.1
    line = float((lm[61, 1] + lm[62, 1] + lm[63, 1] + lm[65, 1] + lm[66, 1] + lm[67, 1]) / 6)
    nose = float(lm[33, 1])
    chin = float(lm[8, 1])
    jaw_half = float((lm[14, 0] - lm[2, 0]) / 2)
    drop = amount * width
    xs, ys = _grid()
    total = drop * np.exp(-(((xs - cx) / (MOUTH_SPREAD * jaw_half)) ** 2) / 2)
    lens = np.sqrt(np.clip(1 - ((xs - cx) / half) ** 2, 0, 1))
    ramp = _smoothstep((ys - nose) / (chin - nose))
    fade = 1 - _smoothstep((ys - chin) / (0.6 * (chin - line)))
    below = ys >= line
    profile = np.where(below, lens + (1 - lens) * ramp, (1 - lens) * ramp)
    shift = total * np.where(ys > chin, fade, profile)
    src_y = ys - shift
    # rows whose source lies in the interval torn open at the lip line (none outside the mouth)
    torn = line - total * (1 - lens) * _smoothstep(np.asarray((line - nose) / (chin - nose)))
    gap = below & (src_y < torn - 0.5)
    out = _remap(base.pixels, xs, np.where(gap, line, src_y))
    depth = np.clip((ys - line) / (total * lens + 1e-6), 0, 1)
    cavity = np.stack([70 - 35 * depth, 28 - 12 * depth, 28 - 12 * depth], axis=-1)
    opened = np.where(gap[..., None], cavity, out)
    # pinch: the destination column x takes the colour from farther out, around the open mouth
    centre_y = line + 0.5 * drop
    weight = np.exp(-(((xs - cx) / (1.3 * half)) ** 2) / 2 - (((ys - centre_y) / (0.8 * width + drop)) ** 2) / 2)
    src_x = cx + (xs - cx) * (1 + MOUTH_PINCH * amount / MOUTH_AMOUNT * weight)
    return _to_uint8(_remap(opened, src_x, ys))


def eyes_closed(base: Base) -> np.ndarray:
    """Both eyes shut: the skin of each upper lid is stretched down over the eye to the lower
    lid (a vertical warp inside a soft ellipse around the eye), with a dark lash line."""
    lm = base.landmarks
    xs, ys = _grid()
    map_y = ys.copy()
    lash = np.zeros_like(xs)
    for lo in (36, 42):
        eye = lm[lo:lo + 6]
        w = float(np.linalg.norm(eye[3] - eye[0]))
        c = eye.mean(axis=0)
        top = float(eye[1:3, 1].min())
        bottom = float(eye[4:6, 1].max())
        lid = LID_FRACTION * w  # the upper-lid skin above the eye that is stretched down
        start, end = top - lid, bottom + 0.05 * w
        # soft ellipse weight around the eye
        u = (xs - c[0]) / (0.75 * w)
        v = (ys - (start + end) / 2) / (0.75 * (end - start))
        weight = 1 - _smoothstep((np.sqrt(u * u + v * v) - 0.7) / 0.3)
        t = np.clip((ys - start) / (end - start), 0, 1)
        src = start + t * lid  # dest rows start..end take source rows start..top
        map_y = map_y * (1 - weight) + np.where((ys >= start) & (ys <= end), src, ys) * weight
        # lash line along the lower edge of the closed lid, following the eye's shape
        a, b = eye[0], eye[3]
        tt = np.clip((xs - a[0]) / max(1e-6, b[0] - a[0]), 0, 1)
        line_y = a[1] + (b[1] - a[1]) * tt + 0.10 * w * np.sin(math.pi * tt)
        on = (xs >= a[0] - 1) & (xs <= b[0] + 1) & (np.abs(ys - line_y) < LASH_HALF_PX)
        lash = np.maximum(lash, on.astype(np.float32))
    out = _remap(base.pixels, xs, map_y)
    out = out * (1 - LASH_DARKNESS * lash[..., None])
    return _to_uint8(out)


# ---------------------------------------------------------------------------------- videos

NEUTRAL = "neutral"
TURN_AMOUNT = 0.28
MOUTH_AMOUNT = 0.5
MOUTH_SPREAD = 0.9
MOUTH_PINCH = 0.22
LASH_HALF_PX = 1.0
LASH_DARKNESS = 0.6
LID_FRACTION = 0.35


@lru_cache(maxsize=16)
def pose(kind: str, step: int = 2) -> np.ndarray:
    """One frame of an action at ``step`` (0 = start … 2 = full); ``neutral`` is the base."""
    base = base_frame()
    f = (step + 1) / 3
    if kind == NEUTRAL:
        return base.pixels
    if kind == "turn_left":
        return turned(base, TURN_AMOUNT * f)
    if kind == "turn_right":
        return turned(base, -TURN_AMOUNT * f)
    if kind == "open_mouth":
        return mouth_open(base, MOUTH_AMOUNT * f)
    if kind == "blink":
        return eyes_closed(base)
    raise ValueError(kind)


def action_frames(action: str) -> list[np.ndarray]:
    """The frames of one action, from neutral back to neutral."""
    if action == "blink":
        return [pose("blink")]
    return [pose(action, 0), pose(action, 1), pose(action, 2), pose(action, 2), pose(action, 1)]


def frames_for(actions: Sequence[str], *, lead: int = 2, gap: int = 2, tail: int = 2) -> list[np.ndarray]:
    """A neutral start, each action in order with neutral frames between, a neutral end."""
    neutral = pose(NEUTRAL)
    out = [neutral] * lead
    for i, action in enumerate(actions):
        if i:
            out += [neutral] * gap
        out += action_frames(action)
    return out + [neutral] * tail


def static_frames(n: int = 8) -> list[np.ndarray]:
    """A still photo held in front of the camera: the same picture every frame."""
    return [pose(NEUTRAL)] * n


def jpeg(pixels: np.ndarray, quality: int = 85, noise_seed: int | None = None) -> bytes:
    """JPEG bytes of a frame (as the phone's canvas.toBlob('image/jpeg', 0.8) would make)."""
    from PIL import Image

    if noise_seed is not None:  # sensor noise: successive camera frames are never byte-identical
        rng = np.random.default_rng(noise_seed)
        pixels = _to_uint8(pixels.astype(np.float32) + rng.normal(0, 1.2, pixels.shape))
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def jpeg_frames(frames: Sequence[np.ndarray]) -> list[bytes]:
    return [jpeg(f, noise_seed=i) for i, f in enumerate(frames)]


def check_frames(frames: Sequence[np.ndarray], actions: Sequence[str], template: bytes | None = None):
    """Run the server's liveness check — the same passes, engine and judgement — in this process (no
    pool): the result the server would reach on these frames.  Returns the LivenessResult."""
    import asyncio

    from backend.face.service import FaceService

    class Inline(FaceService):
        async def _run(self, fn, *args):  # type: ignore[override]
            return fn(*args)

    service = Inline(workers=1)
    try:
        return asyncio.run(service.check_liveness(jpeg_frames(frames), list(actions), template))
    finally:
        service.close()


# ------------------------------------------------------------------- videos for the fake camera

# The PWA (pwa/static/js/clock.js) opens the camera, waits for a picture, counts down 2 s, then
# grabs 16 frames 225 ms apart (≈ 2.15–5.5 s after the opening) while it prompts the actions in
# equal slots.  Chromium's fake camera starts the file from its first frame when the camera opens.
# So, counted from the opening: neutral until 2.8 s, the first action 2.8–3.7 s, neutral, the
# second 4.2–5.1 s, neutral to the end.  Checked with the real model: every ordered pair passes
# when the burst starts anywhere from 0.4 s early to 0.5 s late.  Each video frame carries its own
# sensor noise: no two are identical.
VIDEO_FPS = 10


def _noisy(frame: np.ndarray, rng: np.random.Generator, sigma: float = 1.5) -> np.ndarray:
    return _to_uint8(frame.astype(np.float32) + rng.normal(0, sigma, frame.shape))


def action_clip(action: str, fps: int = VIDEO_FPS) -> list[np.ndarray]:
    """0.9 s of one action: for a turn or the mouth 0.2 s into the pose, 0.5 s held, 0.2 s back;
    for a blink the eyes shut for 0.5 s between open ones."""
    n = max(1, round(0.1 * fps))
    neutral = pose(NEUTRAL)
    if action == "blink":
        return [neutral] * (2 * n) + [pose("blink")] * (5 * n) + [neutral] * (2 * n)
    return ([pose(action, 0)] * n + [pose(action, 1)] * n + [pose(action, 2)] * (5 * n)
            + [pose(action, 1)] * n + [pose(action, 0)] * n)


def video_frames(actions: Sequence[str], *, fps: int = VIDEO_FPS, seed: int = 0,
                 lead_s: float = 2.8, gap_s: float = 0.5, tail_s: float = 3.0) -> list[np.ndarray]:
    """The fake-camera video for a challenge (see the timing above)."""
    rng = np.random.default_rng(seed)
    neutral = pose(NEUTRAL)
    frames: list[np.ndarray] = [neutral] * round(lead_s * fps)
    for i, action in enumerate(actions):
        if i:
            frames += [neutral] * round(gap_s * fps)
        frames += action_clip(action, fps)
    frames += [neutral] * round(tail_s * fps)
    return [_noisy(f, rng) for f in frames]


def still_video(seconds: float = 8.0, fps: int = VIDEO_FPS) -> list[np.ndarray]:
    """A still photo held in front of the camera: the very same picture in every frame."""
    return [pose(NEUTRAL)] * round(seconds * fps)
