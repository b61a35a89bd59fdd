"""Small image helpers (Pillow, no I/O): the ID-card portrait crop and the enrolment photo, both
re-encoded as JPEGs that fit the gate protocol's photo limits (seed 001 附件3: ID photo ≤ 30 KB,
face photo ≤ 50 KB).  CPU-bound: callers run them in a thread."""

from __future__ import annotations

import io

from PIL import Image, ImageOps


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im) or im
    return im.convert("RGB")


def fit_jpeg(im: Image.Image, max_bytes: int, *, long_side: int) -> bytes:
    """JPEG of ``im`` (scaled to ``long_side`` at most) that fits ``max_bytes``: lower the quality,
    then the size, until it does."""
    im = im.copy()
    if max(im.size) > long_side:
        im.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    while True:
        for quality in (88, 80, 72, 64, 56, 48, 40):
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes:
                return buf.getvalue()
        if max(im.size) <= 64:
            return buf.getvalue()
        im = im.resize((max(1, im.width * 3 // 4), max(1, im.height * 3 // 4)), Image.Resampling.LANCZOS)


def portrait_crop(data: bytes, box: tuple[int, int, int, int], max_bytes: int) -> bytes:
    """The head-and-shoulders crop around a face box (top, right, bottom, left) of the EXIF-oriented
    original, as a small JPEG (what an ID-card reader's 身份证照片 looks like)."""
    im = _open(data)
    top, right, bottom, left = box
    w, h = right - left, bottom - top
    crop = (
        max(0, int(left - 0.45 * w)), max(0, int(top - 0.6 * h)),
        min(im.width, int(right + 0.45 * w)), min(im.height, int(bottom + 0.5 * h)),
    )
    return fit_jpeg(im.crop(crop), max_bytes, long_side=320)


def enrolment_photo(data: bytes, max_bytes: int, long_side: int = 640) -> bytes:
    """The enrolment frame re-encoded for storage and for the gate terminals' whitelist download."""
    return fit_jpeg(_open(data), max_bytes, long_side=long_side)
