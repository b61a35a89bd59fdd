"""Write YUV4MPEG2 (``.y4m``) video, 4:2:0, from RGB frames: what Chromium's fake camera plays.

``--use-file-for-fake-video-capture=<file>.y4m`` makes Chromium's camera deliver the file's frames
at the frame rate in its header, from the first frame each time the camera is opened, looping at
the end.  Chromium reads only ``C420``/``C420jpeg``-style 8-bit planar 4:2:0 (the default when
no ``C`` tag is given), so that is what we write: BT.601 limited-range Y'CbCr, chroma averaged
over 2×2 blocks.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB (H and W even) → Y (H, W), U and V (H/2, W/2), BT.601 limited range."""
    a = np.asarray(rgb, dtype=np.float32)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB, got {a.shape}")
    h, w = a.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"4:2:0 needs even dimensions, got {w}×{h}")
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    def u8(c: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(c), 0, 255).astype(np.uint8)

    return u8(y), u8(sub(u)), u8(sub(v))


def y4m_bytes(frames: Sequence[np.ndarray], fps: int = 10) -> bytes:
    if not frames:
        raise ValueError("a video needs at least one frame")
    h, w = np.asarray(frames[0]).shape[:2]
    parts = [f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")]
    for f in frames:
        if np.asarray(f).shape[:2] != (h, w):
            raise ValueError("all frames must have the same size")
        y, u, v = rgb_to_yuv420(f)
        parts += [b"FRAME\n", y.tobytes(), u.tobytes(), v.tobytes()]
    return b"".join(parts)


def write_y4m(path: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: int = 10) -> Path:
    """Write the video atomically (the camera may open the file at any moment)."""
    target = Path(path)
    data = y4m_bytes(frames, fps)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(data)
    os.replace(tmp.name, target)
    return target


def hold(frame: np.ndarray, seconds: float, fps: int = 10) -> list[np.ndarray]:
    """The same picture for ``seconds``."""
    return [frame] * max(1, round(seconds * fps))
