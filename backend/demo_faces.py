"""Synthetic faces for the demo data: a drawn portrait (JPEG) and a face template per demo person.

Nothing here is a real person and nothing is downloaded: the portrait is drawn with Pillow from a seed, and the
template is a random 128-number vector of the size face_recognition produces (docs/face.md).  Two random vectors
of unit length lie about 1.4 apart — far beyond the match tolerance (0.6) — so no demo person matches another, and
a real selfie never matches a demo template.  The gate terminals of the demo get the portraits in their whitelist
(849/845), which is what ``smz simulate-gate`` needs; the enrolments are marked ``EnrolmentSource.demo``
(演示数据（合成人脸）) wherever the source is shown.
"""

from __future__ import annotations

import io

import numpy as np

from backend.face.service import encoding_to_bytes

PORTRAIT_SIZE = (240, 300)  # w × h, about the size of a terminal's enrolment photo
PORTRAIT_QUALITY = 72
ENCODING_SIZE = 128


def demo_template(seed: int) -> bytes:
    """A unit-length random 128-d template (float32 bytes, as ``encoding_to_bytes`` stores them)."""
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 1.0, ENCODING_SIZE)
    return encoding_to_bytes(v / np.linalg.norm(v))


def demo_portrait(seed: int) -> bytes:
    """A drawn head-and-shoulders portrait (JPEG, ~6–10 KB): skin, hair, eyes, mouth, a safety helmet."""
    from PIL import Image, ImageDraw

    w, h = PORTRAIT_SIZE
    rng = np.random.default_rng(seed)
    bg = tuple(int(c) for c in rng.integers(190, 240, 3))
    img = Image.new("RGB", (w, h), bg)  # type: ignore[arg-type]
    d = ImageDraw.Draw(img)
    skin = (int(rng.integers(185, 235)), int(rng.integers(145, 190)), int(rng.integers(110, 150)))
    shirt = tuple(int(c) for c in rng.integers(30, 160, 3))
    helmet = [(250, 200, 30), (240, 240, 240), (230, 80, 40), (40, 110, 220)][int(rng.integers(0, 4))]
    d.rectangle((w * 0.12, h * 0.78, w * 0.88, h), fill=shirt)  # type: ignore[arg-type]
    d.rectangle((w * 0.42, h * 0.66, w * 0.58, h * 0.8), fill=skin)  # neck
    d.ellipse((w * 0.27, h * 0.22, w * 0.73, h * 0.72), fill=skin)  # face
    d.pieslice((w * 0.22, h * 0.08, w * 0.78, h * 0.48), 180, 360, fill=helmet)  # helmet
    d.rectangle((w * 0.18, h * 0.27, w * 0.82, h * 0.3), fill=helmet)  # brim
    for ex in (0.41, 0.59):
        d.ellipse((w * ex - 9, h * 0.42 - 5, w * ex + 9, h * 0.42 + 5), fill=(250, 250, 250))
        d.ellipse((w * ex - 4, h * 0.42 - 4, w * ex + 4, h * 0.42 + 4), fill=(35, 25, 20))
        d.line((w * ex - 11, h * 0.37, w * ex + 11, h * 0.365), fill=(40, 30, 25), width=3)
    d.line((w * 0.5, h * 0.45, w * 0.48, h * 0.53), fill=(150, 100, 80), width=2)  # nose
    d.arc((w * 0.42, h * 0.53, w * 0.58, h * 0.62), 20, 160, fill=(140, 50, 50), width=3)  # mouth
    # A little sensor noise, like a camera frame.
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-6, 7, (h, w, 3), dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB").save(out, "JPEG", quality=PORTRAIT_QUALITY)
    return out.getvalue()
