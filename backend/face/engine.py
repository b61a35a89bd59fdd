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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

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


def worker_init(nice: int = 0) -> None:
    """ProcessPoolExecutor initializer: lower the worker's CPU priority (so the event loop
    process wins the CPU when both want it) and load the models before the first request."""
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


def _landmarks(shape: Any) -> np.ndarray:
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def analyse(
    pixels: np.ndarray,
    limits: QualityLimits,
    *,
    want_encoding: bool = True,
    encode_despite_problems: bool = False,
    num_jitters: int = 1,
    scale: float = 1.0,
) -> FaceAnalysis:
    """Detect, measure and (optionally) encode the main face of a normalised RGB image."""
    m = _models()
    h, w = pixels.shape[:2]
    dets = list(m.detector(pixels, 0))
    if not dets:
        # Upsampling once finds faces down to ~40 px; slower, so only on this path.  A face
        # found only this way is small and will be reported as face_too_small, not no_face.
        dets = list(m.detector(pixels, 1))
    y = luma(pixels)
    frame_mean = float(y.mean())
    if not dets:
        q = Quality((w, h), scale, 0, None, brightness=frame_mean, problems=("no_face",))
        return FaceAnalysis(q)
    dets.sort(key=lambda r: r.width() * r.height(), reverse=True)
    main = dets[0]
    counted = sum(1 for r in dets if r.width() >= limits.multi_face_ratio * main.width())
    top, right, bottom, left = main.top(), main.right(), main.bottom(), main.left()
    box = (top, right, bottom, left)
    shape = m.shape_68(pixels, main)
    lm = _landmarks(shape)
    face_px = int(min(main.width(), main.height()))
    eyes = lv.eye_distance(lm)
    roll = lv.roll_degrees(lm)
    yaw = lv.yaw_degrees(lm)
    border = int(min(left, top, w - 1 - right, h - 1 - bottom))

    t, b = max(top, 0), min(bottom + 1, h)
    lft, r = max(left, 0), min(right + 1, w)
    face_y = y[t:b, lft:r]
    n_face = face_y.size
    face_mean = float(face_y.mean()) if n_face else 0.0
    n_bg = y.size - n_face
    bg_mean = float((y.sum() - face_y.sum()) / n_bg) if n_bg > y.size * 0.1 else face_mean
    sharp = face_sharpness(y, box)

    problems: list[str] = []
    if counted > 1:
        problems.append("multiple_faces")
    if face_px < limits.min_face_px or eyes < limits.min_eye_distance_px:
        problems.append("face_too_small")
    if border <= limits.min_border_px:  # seed: 人脸与边界距离大于30像素
        problems.append("face_at_border")
    if abs(roll) > limits.max_roll_deg:
        problems.append("face_tilted")
    if limits.max_yaw_deg is not None and abs(yaw) > limits.max_yaw_deg:
        problems.append("face_turned")
    if frame_mean < limits.min_brightness:
        problems.append("too_dark")
    elif bg_mean > 0 and face_mean / bg_mean < limits.backlight_ratio:
        problems.append("backlit")
    elif face_mean < limits.min_brightness:
        problems.append("too_dark")
    if sharp < limits.min_sharpness:
        problems.append("blurred")
    advisories = ("face_too_large",) if face_px > limits.max_face_px else ()

    q = Quality(
        image_size=(w, h),
        scale=scale,
        face_count=counted,
        box=box,
        face_size_px=face_px,
        eye_distance_px=eyes,
        roll_deg=roll,
        yaw_deg=yaw,
        border_px=border,
        brightness=frame_mean,
        face_brightness=face_mean,
        background_brightness=bg_mean,
        sharpness=sharp,
        problems=tuple(problems),
        advisories=advisories,
    )
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


def job_frame(
    data: bytes,
    limits: QualityLimits,
    max_bytes: int,
    max_pixels: int,
    long_side: int = LONG_SIDE,
    want_encoding: bool = True,
) -> FaceAnalysis:
    """One liveness frame: landmarks (and, if wanted, an encoding) for any single face, whatever its
    quality (a frame in mid-turn may be tilted or blurred; it still tells us who and what)."""
    d = decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, long_side=long_side)
    return analyse(d.pixels, limits, want_encoding=want_encoding, encode_despite_problems=True, scale=d.scale)


def job_ping() -> int:
    return os.getpid()
