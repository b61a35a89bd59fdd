"""Face engine: the functions that run INSIDE the worker processes.

Everything here takes and returns picklable values (bytes, numpy arrays, frozen dataclasses)
so that ``backend.face.service`` can ship it through a ``ProcessPoolExecutor``.  Errors are
``FaceError(code, detail)`` — a plain picklable exception; the service turns the code into a
bilingual ``backend.errors`` error.

Models: dlib's HOG frontal face detector, the 68-point shape predictor and the ResNet face
descriptor shipped by ``face_recognition_models`` — the same three models and calls that
``face_recognition.face_locations`` / ``face_landmarks(model="large")`` /
``face_encodings(model="large", num_jitters=1)`` use, but loaded without the CNN detector and
with ONE shape prediction per face shared by the quality checks, the liveness landmarks and
the descriptor (``tests/unit/face/test_face_engine.py`` checks the results are identical).
Nothing is downloaded: the weights are files of the ``face_recognition_models`` wheel.

Coordinates are those of the NORMALISED image: EXIF orientation applied, then scaled down so
the long side is at most ``long_side`` (640) pixels — the 640×480 frame of seed 002 附件1 一.2,
so the pixel rules (eye distance ≥ 64, face ≥ 150, border > 30) are measured where they are
defined.  ``Decoded.scale`` maps back to the original image.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from backend.children import die_with_parent
from backend.face import liveness as lv
from backend.rules import DEFAULT_RULES, Rules

# Formats we accept.  seed 002 附件1 一.2 names JPG/JPEG/PNG; phones also produce MPO (a JPEG
# with extra frames) and browsers can export WebP from a canvas.
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
LONG_SIDE = 640

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Quality problem codes, in the order they are reported (the first one is "the" reason).
QUALITY_CODES: tuple[str, ...] = (
    "no_face",
    "multiple_faces",
    "face_too_small",
    "face_at_border",
    "face_tilted",
    "face_turned",
    "too_dark",
    "backlit",
    "blurred",
)
# Input codes (raised as FaceError by decode_image).
INPUT_CODES: tuple[str, ...] = ("invalid_image", "unsupported_format", "image_too_large", "payload_too_large")


class FaceError(Exception):
    """Picklable error from the engine: ``code`` is one of INPUT_CODES (or "invalid_template")."""

    def __init__(self, code: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


# --------------------------------------------------------------------------------- limits


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Pixel and light limits for one purpose; build with :meth:`for_purpose`."""

    min_face_px: int = 150
    max_face_px: int = 250  # advisory only ("face_too_large"): a big face still encodes well
    min_eye_distance_px: float = 64.0
    min_border_px: int = 30
    max_roll_deg: float = 15.0
    # Head yaw (estimated from landmarks, ± ~5°); None = not checked.
    max_yaw_deg: float | None = None
    min_brightness: float = 40.0
    backlight_ratio: float = 0.55
    min_sharpness: float = 30.0
    # A second face at least this fraction of the main face's width makes the picture
    # ambiguous ("multiple_faces"); smaller faces far behind the subject are ignored.
    multi_face_ratio: float = 0.5

    @classmethod
    def for_purpose(cls, rules: Rules = DEFAULT_RULES, purpose: str = "enrol") -> QualityLimits:
        """``enrol``: seed 002 附件1 一.2 as written — 正面人脸图像, 旋转角度不超过15度 read as
        both roll AND yaw (face_tilted / face_turned).  ``verify`` (a punch or liveness frame):
        the same light/sharpness/roll rules, no yaw limit and the smaller face_verify_* pixel sizes of rules.py (a phone selfie is
        not a certified capture terminal)."""
        if purpose == "enrol":
            return cls(
                min_face_px=rules.face_min_size_px,
                max_face_px=rules.face_max_size_px,
                min_eye_distance_px=float(rules.face_min_eye_distance_px),
                min_border_px=rules.face_min_border_px,
                max_roll_deg=rules.face_max_roll_deg,
                max_yaw_deg=rules.face_max_yaw_deg,
                min_brightness=rules.face_min_brightness,
                backlight_ratio=rules.face_backlight_ratio,
                min_sharpness=rules.face_min_sharpness,
            )
        if purpose == "verify":
            return cls(
                min_face_px=rules.face_verify_min_size_px,
                max_face_px=10**6,
                min_eye_distance_px=float(rules.face_verify_min_eye_distance_px),
                min_border_px=rules.face_verify_min_border_px,
                max_roll_deg=rules.face_max_roll_deg,
                min_brightness=rules.face_min_brightness,
                backlight_ratio=rules.face_backlight_ratio,
                min_sharpness=rules.face_min_sharpness,
            )
        raise ValueError(f"purpose must be 'enrol' or 'verify', not {purpose!r}")


# --------------------------------------------------------------------------------- decode


@dataclass(frozen=True, slots=True)
class Decoded:
    pixels: np.ndarray  # (H, W, 3) uint8 RGB, C-contiguous
    original_size: tuple[int, int]  # (width, height) after EXIF orientation
    scale: float  # normalised / original
    format: str


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_RULES.mobile_max_upload_bytes,
    max_pixels: int = DEFAULT_RULES.max_image_pixels,
    long_side: int = LONG_SIDE,
    formats: frozenset[str] = ALLOWED_FORMATS,
) -> Decoded:
    """Bytes → RGB array, refusing what should not be decoded.

    Order matters: the byte size is checked first, then ``Image.open`` reads ONLY the header
    and the pixel count is checked before any pixel is decoded (a 30 kB PNG may claim
    50,000 × 50,000 pixels); Pillow's own ``Image.MAX_IMAGE_PIXELS`` guard is turned into an
    error as a second line.  JPEGs are decoded at reduced DCT scale (``draft``) when they are
    much larger than ``long_side``.
    """
    # face_recognition's api module sets this to True globally when imported; a truncated upload must be
    # refused, never decoded with grey padding.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if not isinstance(data, bytes | bytearray | memoryview):
        raise FaceError("invalid_image", {"why": "not bytes"})
    size = len(data)
    if size == 0:
        raise FaceError("invalid_image", {"why": "empty"})
    if size > max_bytes:
        raise FaceError("payload_too_large", {"bytes": size, "max_bytes": max_bytes})
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(bytes(data)))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise FaceError("image_too_large", {"why": str(e), "max_pixels": max_pixels}) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
            raise FaceError("invalid_image", {"why": type(e).__name__}) from None
        with im:
            fmt = im.format or "?"
            if fmt not in formats:
                raise FaceError("unsupported_format", {"format": fmt, "allowed": sorted(formats)})
            w, h = im.size
            if w <= 0 or h <= 0:
                raise FaceError("invalid_image", {"why": "empty size"})
            if w * h > max_pixels:
                raise FaceError("image_too_large", {"width": w, "height": h, "pixels": w * h, "max_pixels": max_pixels})
            try:
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:  # a broken EXIF block is not worth refusing the photo
                orientation = 1
            target = min(1.0, long_side / max(w, h))
            try:
                if fmt in ("JPEG", "MPO") and target < 0.5:
                    im.draft("RGB", (math.ceil(w * target), math.ceil(h * target)))
                rgb = _to_rgb(im)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
                raise FaceError("image_too_large", {"why": str(e)}) from None
            except Exception as e:  # truncated data, broken chunks, decoder errors …
                raise FaceError("invalid_image", {"why": type(e).__name__}) from None
    if max(rgb.size) > long_side:
        s = long_side / max(rgb.size)
        rgb = rgb.resize(
            (max(1, round(rgb.width * s)), max(1, round(rgb.height * s))),
            Image.Resampling.LANCZOS,
            reducing_gap=3.0,
        )
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation in (5, 6, 7, 8):
            w, h = h, w
    pixels = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    return Decoded(pixels=pixels, original_size=(w, h), scale=pixels.shape[1] / w, format=fmt)


def _to_rgb(im: Image.Image) -> Image.Image:
    im.load()
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit greyscale
        a = np.asarray(im, dtype=np.float64)
        top = float(a.max()) or 1.0
        return Image.fromarray((a * (255.0 / top)).astype(np.uint8), mode="L").convert("RGB")
    return im.convert("RGB")


# --------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class _Models:
    detector: Any
    shape_68: Any
    encoder: Any
    pyramid: Any  # dlib.pyramid_down(6): the detector's own pyramid step


@lru_cache(maxsize=1)
def _models() -> _Models:
    with warnings.catch_warnings():
        # face_recognition_models still imports pkg_resources (DESIGN.md §5).
        warnings.simplefilter("ignore")
        import dlib
        import face_recognition_models as frm

        return _Models(
            detector=dlib.get_frontal_face_detector(),
            shape_68=dlib.shape_predictor(frm.pose_predictor_model_location()),
            encoder=dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
            pyramid=dlib.pyramid_down(6),
        )


def warm_up() -> int:
    """Load the models and run each once (first calls allocate); returns the process id."""
    import dlib

    m = _models()
    img = np.full((160, 160, 3), 128, dtype=np.uint8)
    m.detector(img, 0)
    rect = dlib.rectangle(20, 20, 140, 140)
    shape = m.shape_68(img, rect)
    m.encoder.compute_face_descriptor(img, shape, 1)
    return os.getpid()


def worker_init(nice: int = 0, parent_pid: int | None = None) -> None:
    """ProcessPoolExecutor initializer: exit with the parent (:func:`die_with_parent`), lower the
    worker's CPU priority (so the event loop process wins the CPU when both want it) and load the
    models before the first request."""
    die_with_parent(parent_pid)
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    warm_up()


# -------------------------------------------------------------------------------- analysis


@dataclass(frozen=True, slots=True)
class Quality:
    """Measurements of the main face and the problems found (codes of QUALITY_CODES)."""

    image_size: tuple[int, int]  # (width, height) of the normalised image
    scale: float  # normalised / original
    face_count: int  # faces that count (see QualityLimits.multi_face_ratio)
    box: tuple[int, int, int, int] | None  # (top, right, bottom, left) of the main face
    face_size_px: int = 0
    eye_distance_px: float = 0.0
    roll_deg: float = 0.0
    yaw_deg: float = 0.0  # + = the person's left (see liveness.yaw_ratio)
    border_px: int = 0
    brightness: float = 0.0  # mean luma (0–255) of the whole frame
    face_brightness: float = 0.0
    background_brightness: float = 0.0
    sharpness: float = 0.0  # variance of the Laplacian of the face, resampled to 128×128
    problems: tuple[str, ...] = ()
    advisories: tuple[str, ...] = ()  # e.g. "face_too_large": reported, not refused

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "image_size": list(self.image_size),
            "scale": round(self.scale, 4),
            "face_count": self.face_count,
            "box": list(self.box) if self.box else None,
            "face_size_px": self.face_size_px,
            "eye_distance_px": round(self.eye_distance_px, 1),
            "roll_deg": round(self.roll_deg, 1),
            "yaw_deg": round(self.yaw_deg, 1),
            "border_px": self.border_px,
            "brightness": round(self.brightness, 1),
            "face_brightness": round(self.face_brightness, 1),
            "background_brightness": round(self.background_brightness, 1),
            "sharpness": round(self.sharpness, 1),
            "problems": list(self.problems),
            "advisories": list(self.advisories),
        }


@dataclass(frozen=True, slots=True)
class FaceAnalysis:
    quality: Quality
    landmarks: np.ndarray | None = None  # (68, 2) float32
    encoding: np.ndarray | None = None  # (128,) float64
    extra: dict[str, Any] = field(default_factory=dict)


def luma(pixels: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of an RGB uint8 array, as float32."""
    p = pixels.astype(np.float32)
    return p[..., 0] * 0.299 + p[..., 1] * 0.587 + p[..., 2] * 0.114


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (numpy only); low = blurred."""
    g = np.asarray(gray, dtype=np.float32)
    if g.ndim != 2 or g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def face_sharpness(y: np.ndarray, box: tuple[int, int, int, int], size: int = 128) -> float:
    """Laplacian variance of the face crop resampled to size×size, so that the figure does
    not depend on how many pixels the face has."""
    top, right, bottom, left = box
    crop = y[max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)]
    if crop.shape[0] < 8 or crop.shape[1] < 8:
        return 0.0
    im = Image.fromarray(np.clip(crop, 0, 255).astype(np.uint8), mode="L")
    im = im.resize((size, size), Image.Resampling.BILINEAR)
    return laplacian_variance(np.asarray(im))


# The quick look at a burst's frames starts the detector's image pyramid three levels down — at
# (5/6)³ of the full size — and so skips the three largest, costliest levels, which only find faces
# of 80–138 px.  The levels it does scan are exactly those of the full search (the same downsampling
# step), so it finds the same boxes as the full search (± 2 px on every frame of the test bursts):
# the landmarks, and the liveness judged on them, do not change.  A phone selfie's face is larger.
SKIP_LEVELS = 3
FAST_DETECT_MIN_SIDE = 240
# A face whose steady points moved less than this (fraction of their spread; 0.15 ≈ 7 px for a 150 px
# face) and changed their spread by less than STEADY_SCALE keeps the box of the frame it was found on.
# That is within the detector's own placement error: it places boxes on a grid of cells ≈ 14 px apart
# at the scale where it finds a 150 px face (8 px cells, 3–4 pyramid levels down), and both the grid
# and the spread grow with the face.
STEADY_SHIFT = 0.15
STEADY_SCALE = 0.05


def detect(pixels: np.ndarray, *, fast: bool = False, upsample: bool = True) -> list[Any]:
    """Face rectangles (dlib) in the image's pixels.

    ``fast`` (≈ 11 ms instead of ≈ 23 ms for 640×480): the pyramid :data:`SKIP_LEVELS` down first;
    only when it finds nothing is the full pyramid searched.  A second face under ~138 px next to a
    big one is then not seen, so callers that need every face (the frame that is matched and kept)
    do not use ``fast``.  ``upsample``: when the full pyramid shows nothing, upsample once (≈ 90 ms)
    to find faces down to ~40 px, so that a small face is reported as face_too_small rather than
    no_face.
    """
    m = _models()
    if fast and min(pixels.shape[:2]) >= FAST_DETECT_MIN_SIDE:
        img = pixels
        for _ in range(SKIP_LEVELS):
            img = m.pyramid(img)
        found = []
        for r in m.detector(img, 0):
            for _ in range(SKIP_LEVELS):
                r = m.pyramid.rect_up(r)
            found.append(r)
        if found:
            return found
    dets = list(m.detector(pixels, 0))
    if not dets and upsample:
        dets = list(m.detector(pixels, 1))
    return dets


def _overlap(a: Any, b: Any) -> float:
    """Intersection over the smaller of two dlib rectangles."""
    iw = min(a.right(), b.right()) - max(a.left(), b.left()) + 1
    ih = min(a.bottom(), b.bottom()) - max(a.top(), b.top()) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / max(1, min(a.width() * a.height(), b.width() * b.height()))


def count_faces(dets: Sequence[Any], ratio: float) -> int:
    """Faces that count: at least ``ratio`` × the width of the widest (QualityLimits.multi_face_ratio)."""
    if not dets:
        return 0
    widest = max(r.width() for r in dets)
    return sum(1 for r in dets if r.width() >= ratio * widest)


def _dlib() -> Any:
    import dlib

    return dlib


def _landmarks(shape: Any) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def _face_and_background_brightness(y: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Mean luma inside the face box and around it (the face's when the background is under 10 % of the frame)."""
    h, w = y.shape[:2]
    top, right, bottom, left = box
    face_y = y[max(top, 0):min(bottom + 1, h), max(left, 0):min(right + 1, w)]
    n_face = face_y.size
    face_mean = float(face_y.mean()) if n_face else 0.0
    n_bg = y.size - n_face
    bg_mean = float((y.sum() - face_y.sum()) / n_bg) if n_bg > y.size * 0.1 else face_mean
    return face_mean, bg_mean


def quality_problems(q: Quality, limits: QualityLimits) -> tuple[str, ...]:
    """The problem codes (QUALITY_CODES) of a face's measurements under ``limits``."""
    problems: list[str] = []
    if q.face_count > 1:
        problems.append("multiple_faces")
    if q.face_size_px < limits.min_face_px or q.eye_distance_px < limits.min_eye_distance_px:
        problems.append("face_too_small")
    if q.border_px <= limits.min_border_px:  # seed: 人脸与边界距离大于30像素
        problems.append("face_at_border")
    if abs(q.roll_deg) > limits.max_roll_deg:
        problems.append("face_tilted")
    if limits.max_yaw_deg is not None and abs(q.yaw_deg) > limits.max_yaw_deg:
        problems.append("face_turned")
    problems += _light_problems(q, limits)
    if q.sharpness < limits.min_sharpness:
        problems.append("blurred")
    return tuple(problems)


def _light_problems(q: Quality, limits: QualityLimits) -> list[str]:
    if q.brightness < limits.min_brightness:
        return ["too_dark"]
    if q.background_brightness > 0 and q.face_brightness / q.background_brightness < limits.backlight_ratio:
        return ["backlit"]
    if q.face_brightness < limits.min_brightness:
        return ["too_dark"]
    return []


def analyse(
    pixels: np.ndarray,
    limits: QualityLimits,
    *,
    want_encoding: bool = True,
    encode_despite_problems: bool = False,
    num_jitters: int = 1,
    scale: float = 1.0,
    detections: Sequence[Any] | None = None,
    shape: Any = None,
) -> FaceAnalysis:
    """Detect, measure and (optionally) encode the main face of a normalised RGB image.

    ``detections``: face rectangles found already (see :func:`job_burst`); else :func:`detect`.
    ``shape``: the 68-point shape of the largest of them, when it was predicted already."""
    m = _models()
    h, w = pixels.shape[:2]
    dets = list(detections) if detections is not None else detect(pixels)
    y = luma(pixels)
    frame_mean = float(y.mean())
    if not dets:
        q = Quality((w, h), scale, 0, None, brightness=frame_mean, problems=("no_face",))
        return FaceAnalysis(q)
    dets.sort(key=lambda r: r.width() * r.height(), reverse=True)
    main = dets[0]
    counted = count_faces(dets, limits.multi_face_ratio)
    top, right, bottom, left = main.top(), main.right(), main.bottom(), main.left()
    box = (top, right, bottom, left)
    if shape is None:
        shape = m.shape_68(pixels, main)
    lm = _landmarks(shape)
    face_px = int(min(main.width(), main.height()))
    face_mean, bg_mean = _face_and_background_brightness(y, box)
    q = Quality(
        image_size=(w, h),
        scale=scale,
        face_count=counted,
        box=box,
        face_size_px=face_px,
        eye_distance_px=lv.eye_distance(lm),
        roll_deg=lv.roll_degrees(lm),
        yaw_deg=lv.yaw_degrees(lm),
        border_px=int(min(left, top, w - 1 - right, h - 1 - bottom)),
        brightness=frame_mean,
        face_brightness=face_mean,
        background_brightness=bg_mean,
        sharpness=face_sharpness(y, box),
    )
    problems = quality_problems(q, limits)
    q = replace(q, problems=problems, advisories=("face_too_large",) if face_px > limits.max_face_px else ())
    encoding = None
    if want_encoding and (not problems or (encode_despite_problems and counted == 1)):
        encoding = np.array(m.encoder.compute_face_descriptor(pixels, shape, num_jitters), dtype=np.float64)
    return FaceAnalysis(q, landmarks=lm, encoding=encoding)


# ------------------------------------------------------------------------ worker entry points


def job_encode(
    data: bytes,
    limits: QualityLimits,
    max_bytes: int,
    max_pixels: int,
    long_side: int = LONG_SIDE,
    num_jitters: int = 1,
) -> FaceAnalysis:
    """Enrol / verify: decode, check quality, encode only a face that passes."""
    d = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, long_side=long_side)
    return analyse(d.pixels, limits, want_encoding=True, num_jitters=num_jitters, scale=d.scale)


def job_burst(
    frames: list[bytes],
    limits: QualityLimits,
    max_bytes: int,
    max_pixels: int,
    long_side: int = LONG_SIDE,
) -> list[FaceAnalysis | FaceError]:
    """The quick look at the frames of a liveness burst: landmarks and quality, no encoding.

    The face is searched with the ``fast`` search of :func:`detect` without upsampling (≈ 16 ms a
    frame; a face only upsampling finds is far too small for a punch) — unless it stays put: the
    landmarks are first predicted in the box found on an earlier frame, and when the points that do not
    move with blinks or the mouth are where they were on that frame (``liveness.steady_motion`` within
    :data:`STEADY_SHIFT` and :data:`STEADY_SCALE`), that box is the one the search would find again and
    is kept (≈ 6 ms a frame).  Boxes are thus always detector boxes of the face at that place, and a
    still picture gives the same box and the same landmarks in every frame.  What a kept box does not
    look for is a second face coming in: the frames searched and the frame that is matched and kept
    (searched whole, see ``job_encode_at``) do.  A frame that cannot be decoded gives its FaceError in
    its place."""
    m = _models()
    out: list[FaceAnalysis | FaceError] = []
    anchor: tuple[Any, np.ndarray] | None = None  # (box, landmarks) of the last frame searched
    for data in frames:
        try:
            d = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, long_side=long_side)
        except FaceError as e:
            out.append(e)
            anchor = None
            continue
        if anchor is not None:
            shape = m.shape_68(d.pixels, anchor[0])
            shift, spread = lv.steady_motion(anchor[1], _landmarks(shape))
            if shift <= STEADY_SHIFT and spread <= STEADY_SCALE:
                out.append(analyse(d.pixels, limits, want_encoding=False, scale=d.scale, detections=[anchor[0]],
                                   shape=shape))
                continue
        dets = detect(d.pixels, fast=True, upsample=False)
        a = analyse(d.pixels, limits, want_encoding=False, scale=d.scale, detections=dets)
        anchor = (max(dets, key=lambda r: r.width() * r.height()), a.landmarks) if a.quality.face_count == 1 else None
        out.append(a)
    return out


def job_encode_at(
    data: bytes,
    box: tuple[int, int, int, int],
    max_bytes: int,
    max_pixels: int,
    long_side: int = LONG_SIDE,
    count_ratio: float | None = None,
) -> tuple[np.ndarray, int | None]:
    """The encoding of the face at ``box`` (top, right, bottom, left) that :func:`job_burst` found on the
    same bytes: the same pixels and box give the same landmarks, so the encoding belongs to the landmarks
    already judged.  With ``count_ratio`` the whole frame is also searched at full size (≈ 23 ms) and the
    faces that count are returned (:func:`count_faces`, the face at ``box`` included) — for the frame
    that is matched and kept, where a second face must not go unseen."""
    d = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, long_side=long_side)
    m = _models()
    top, right, bottom, left = box
    rect = _dlib().rectangle(left, top, right, bottom)
    count = None
    if count_ratio is not None:
        others = [r for r in detect(d.pixels, upsample=False) if _overlap(r, rect) <= 0.5]
        count = count_faces([rect, *others], count_ratio)
    shape = m.shape_68(d.pixels, rect)
    return np.array(m.encoder.compute_face_descriptor(d.pixels, shape, 1), dtype=np.float64), count


def job_ping() -> int:
    return os.getpid()
