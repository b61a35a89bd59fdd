"""Face engine: safe decoding (no photos needed) and quality analysis on real photos.

Rules checked: seed 002 附件1 一.2 人脸采集要求 — 640×480 frame, eye distance ≥ 64 px, face
150–250 px, roll ≤ 15°, face > 30 px from the border, even lighting; our limits for bytes,
pixels, darkness, backlight and blur (backend/rules.py).
"""

from __future__ import annotations

import io
import pickle
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from backend.face import engine
from backend.face.engine import FaceError, QualityLimits, decode_image
from backend.rules import DEFAULT_RULES
from tests.fixtures.faces import capture_like_image, jpeg_bytes

ENROL = QualityLimits.for_purpose(DEFAULT_RULES, "enrol")
VERIFY = QualityLimits.for_purpose(DEFAULT_RULES, "verify")


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def code_of(fn, *a, **kw) -> str:
    with pytest.raises(FaceError) as e:
        fn(*a, **kw)
    return e.value.code


# --------------------------------------------------------------------------------- decoding


def test_refuses_non_images():
    assert code_of(decode_image, b"not an image at all") == "invalid_image"
    assert code_of(decode_image, b"") == "invalid_image"
    assert code_of(decode_image, "text") == "invalid_image"  # type: ignore[arg-type]


def test_refuses_truncated_jpeg():
    data = jpeg_bytes(Image.new("RGB", (300, 300), (90, 120, 150)))
    assert code_of(decode_image, data[: len(data) // 2]) == "invalid_image"


def test_refuses_other_formats():
    buf = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buf, "GIF")
    assert code_of(decode_image, buf.getvalue()) == "unsupported_format"


def test_refuses_oversized_bytes_before_parsing():
    data = jpeg_bytes(Image.new("RGB", (200, 200)))
    assert code_of(decode_image, data, max_bytes=len(data) - 1) == "payload_too_large"
    assert decode_image(data, max_bytes=len(data)).pixels.shape == (200, 200, 3)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels and whose data is garbage."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"\x00" * 32) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_from_the_header():
    # 20,000 × 20,000 claimed in 100 bytes.  Had the pixels been decoded the (garbage) data
    # would give "invalid_image"; "image_too_large" shows the header check came first.
    bomb = _png_claiming(20_000, 20_000)
    assert len(bomb) < 200
    assert code_of(decode_image, bomb) == "image_too_large"


def test_pixel_limit_parameter():
    data = png_bytes(Image.new("L", (300, 200)))
    assert code_of(decode_image, data, max_pixels=300 * 200 - 1) == "image_too_large"
    assert decode_image(data, max_pixels=300 * 200).pixels.shape == (200, 300, 3)


def test_pillow_own_bomb_guard_is_an_error_not_a_warning():
    # beyond Image.MAX_IMAGE_PIXELS Pillow itself refuses, even with our limit lifted
    bomb = _png_claiming(40_000, 40_000)
    assert code_of(decode_image, bomb, max_pixels=10**12) == "image_too_large"


def test_downscales_to_640_on_the_long_side():
    d = decode_image(jpeg_bytes(Image.new("RGB", (2000, 1500), (100, 100, 100))))
    assert d.pixels.shape == (480, 640, 3)
    assert d.original_size == (2000, 1500)
    assert d.scale == pytest.approx(0.32)
    small = decode_image(png_bytes(Image.new("RGB", (320, 240))))
    assert small.pixels.shape == (240, 320, 3) and small.scale == 1.0


def test_applies_exif_orientation():
    im = Image.new("RGB", (400, 200), (0, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, 49, 199), fill=(255, 255, 255))  # white strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    d = decode_image(buf.getvalue())
    assert d.pixels.shape == (400, 200, 3)  # now portrait
    assert d.original_size == (200, 400)
    assert d.pixels[:40, :, 0].mean() > 200  # the left strip is now at the top
    assert d.pixels[-40:, :, 0].mean() < 50


def test_transparent_png_is_flattened_on_white():
    d = decode_image(png_bytes(Image.new("RGBA", (50, 50), (0, 0, 0, 0))))
    assert d.pixels.min() == 255


def test_grey_and_16_bit_images():
    assert decode_image(png_bytes(Image.new("L", (30, 20), 77))).pixels[0, 0].tolist() == [77, 77, 77]
    im16 = Image.fromarray(np.full((20, 30), 60000, dtype=np.uint16))
    assert decode_image(png_bytes(im16)).pixels.shape == (20, 30, 3)


# ----------------------------------------------------------------------------- measurements


def test_laplacian_variance():
    assert engine.laplacian_variance(np.full((50, 50), 128.0)) == 0.0
    checker = (np.indices((64, 64)).sum(axis=0) % 2) * 255.0
    sharp = engine.laplacian_variance(checker)
    blurred = Image.fromarray(checker.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2))
    assert engine.laplacian_variance(np.asarray(blurred)) < sharp / 100
    assert engine.laplacian_variance(np.zeros((2, 2))) == 0.0


def test_luma():
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    assert engine.luma(px)[0].tolist() == pytest.approx([76.245, 149.685, 29.07, 255.0], abs=0.01)


def test_limits_follow_the_rules():
    assert ENROL.min_eye_distance_px == DEFAULT_RULES.face_min_eye_distance_px == 64
    assert ENROL.min_face_px == DEFAULT_RULES.face_min_size_px == 150
    assert ENROL.min_border_px == DEFAULT_RULES.face_min_border_px == 30
    assert ENROL.max_roll_deg == DEFAULT_RULES.face_max_roll_deg == 15
    assert ENROL.max_yaw_deg == 15  # 旋转角度不超过15度, read as yaw too
    assert VERIFY.min_eye_distance_px == 32 and VERIFY.min_face_px == 75 and VERIFY.max_yaw_deg is None
    custom = DEFAULT_RULES.with_overrides({"face_min_eye_distance_px": 80})
    assert QualityLimits.for_purpose(custom, "enrol").min_eye_distance_px == 80
    with pytest.raises(ValueError):
        QualityLimits.for_purpose(DEFAULT_RULES, "selfie")


def test_face_error_survives_pickling():
    e = pickle.loads(pickle.dumps(FaceError("image_too_large", {"pixels": 5})))
    assert e.code == "image_too_large" and e.detail == {"pixels": 5}


# ------------------------------------------------------------------- analysis (real photos)


def analyse_bytes(data: bytes, limits: QualityLimits = ENROL) -> engine.FaceAnalysis:
    return engine.job_encode(data, limits, 10**7, DEFAULT_RULES.max_image_pixels)


# In the full suite only: importing face_recognition loads its own copy of every dlib model (~5 s); the other
# dlib tests here share the engine's models, loaded once per process (engine._models is cached).
@pytest.mark.integration
def test_encoding_and_landmarks_equal_face_recognition(face_photos):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition

    d = decode_image(face_photos["obama.jpg"].read_bytes())
    a = engine.analyse(d.pixels, VERIFY)
    ref = face_recognition.face_encodings(d.pixels, [a.quality.box], num_jitters=1, model="large")[0]
    assert np.array_equal(ref, a.encoding)
    lm = face_recognition.face_landmarks(d.pixels, [a.quality.box], model="large")[0]
    assert np.array_equal(np.array(lm["chin"]), a.landmarks[:17])
    assert np.array_equal(np.array(lm["left_eye"]), a.landmarks[36:42])
    assert np.array_equal(np.array(lm["nose_tip"]), a.landmarks[31:36])


def test_capture_like_photo_passes_enrolment(face_photos):
    im, _ = capture_like_image("obama.jpg")
    a = analyse_bytes(jpeg_bytes(im))
    q = a.quality
    assert q.ok, q.as_dict()
    assert q.face_count == 1 and q.eye_distance_px >= 64 and q.face_size_px >= 150 and q.border_px > 30
    assert a.encoding is not None and a.encoding.shape == (128,)
    assert a.landmarks.shape == (68, 2)


def test_wide_shot_is_too_small_for_enrolment_but_fine_for_a_punch(face_photos):
    data = face_photos["obama.jpg"].read_bytes()  # 910×1137 → 512×640: eyes ≈ 59 px apart
    q = analyse_bytes(data, ENROL).quality
    assert q.problems == ("face_too_small",)
    assert analyse_bytes(data, VERIFY).quality.ok


def test_face_at_the_border(face_photos):
    q = analyse_bytes(face_photos["obama_partial_face.jpg"].read_bytes(), VERIFY).quality
    assert "face_at_border" in q.problems


def test_tilted_head(face_photos):
    im, _ = capture_like_image("obama.jpg", face_width=180)
    q = analyse_bytes(jpeg_bytes(im.rotate(25, fillcolor=(128, 128, 128)))).quality
    assert q.problems[:1] == ("face_tilted",) and abs(q.roll_deg) > 15
    q = analyse_bytes(jpeg_bytes(im.rotate(8, fillcolor=(128, 128, 128)))).quality
    assert "face_tilted" not in q.problems


def test_too_dark(face_photos):
    im, _ = capture_like_image("obama.jpg")
    q = analyse_bytes(jpeg_bytes(ImageEnhance.Brightness(im).enhance(0.25))).quality
    assert "too_dark" in q.problems


def test_backlit(face_photos):
    im, (t, r, b, left) = capture_like_image("obama.jpg", background=(250, 250, 250))
    face = im.crop((left, t, r, b))
    im = Image.new("RGB", im.size, (250, 250, 250))  # bright window behind
    im.paste(ImageEnhance.Brightness(face).enhance(0.5), (left, t))
    q = analyse_bytes(jpeg_bytes(im)).quality
    assert "backlit" in q.problems
    assert q.face_brightness / q.background_brightness < DEFAULT_RULES.face_backlight_ratio


def test_blurred(face_photos):
    im, _ = capture_like_image("obama.jpg")
    q = analyse_bytes(jpeg_bytes(im.filter(ImageFilter.GaussianBlur(4)))).quality
    assert "blurred" in q.problems and q.sharpness < DEFAULT_RULES.face_min_sharpness
    assert analyse_bytes(jpeg_bytes(im)).quality.sharpness > 100


def test_no_face_and_multiple_faces(face_photos):
    blank = analyse_bytes(jpeg_bytes(Image.new("RGB", (480, 640), (120, 110, 100))))
    assert blank.quality.problems == ("no_face",) and blank.encoding is None
    a, _ = capture_like_image("obama2.jpg", width=320, height=480, face_width=140)
    b, _ = capture_like_image("biden.jpg", width=320, height=480, face_width=140)
    pair = Image.new("RGB", (640, 480))
    pair.paste(a.crop((0, 0, 320, 480)), (0, 0))
    pair.paste(b.crop((0, 0, 320, 480)), (320, 0))
    q = analyse_bytes(jpeg_bytes(pair), VERIFY).quality
    assert q.problems[:1] == ("multiple_faces",) and q.face_count == 2


def test_a_small_face_is_too_small_not_missing(face_photos):
    im, _ = capture_like_image("obama.jpg", width=480, height=640, face_width=60)
    q = analyse_bytes(jpeg_bytes(im), VERIFY).quality
    assert q.problems[:1] == ("face_too_small",)


def test_turned_head_is_refused_for_enrolment_only(face_photos):
    # obama2.jpg: head turned ≈ 23° to his right (yaw < 0 = the person's right)
    data = jpeg_bytes(capture_like_image("obama2.jpg")[0])
    q = analyse_bytes(data, ENROL).quality
    assert q.problems == ("face_turned",) and q.yaw_deg < -15
    assert analyse_bytes(data, VERIFY).quality.ok
    q = analyse_bytes(jpeg_bytes(capture_like_image("obama.jpg")[0]), ENROL).quality
    assert abs(q.yaw_deg) < 5


# ------------------------------------------------------------- the quick look at a liveness burst


def _boxes(dets) -> list[tuple[int, int, int, int]]:
    return [(r.top(), r.right(), r.bottom(), r.left()) for r in dets]


@pytest.mark.parametrize(("name", "face_width"), [("obama.jpg", 150), ("obama.jpg", 260), ("biden.jpg", 200)])
def test_fast_detection_finds_the_boxes_of_the_full_search(face_photos, name, face_width):
    im, _ = capture_like_image(name, width=640, height=480, face_width=face_width)
    pixels = decode_image(jpeg_bytes(im)).pixels
    full, fast = _boxes(engine.detect(pixels)), _boxes(engine.detect(pixels, fast=True))
    assert len(fast) == len(full) == 1
    assert max(abs(a - b) for a, b in zip(fast[0], full[0], strict=True)) <= 2


def test_fast_detection_falls_back_to_the_full_search_for_small_faces(face_photos):
    im, _ = capture_like_image("obama.jpg", width=640, height=480, face_width=100)  # under ~138 px
    pixels = decode_image(jpeg_bytes(im)).pixels
    assert len(engine.detect(pixels, fast=True)) == 1


def _shifted(im: Image.Image, dx: int, dy: int = 0) -> bytes:
    return jpeg_bytes(im.rotate(0, translate=(dx, dy), fillcolor=(128, 128, 128)))


def test_burst_keeps_the_box_while_the_face_stays_put_and_searches_when_it_moves(face_photos, monkeypatch):
    im, _ = capture_like_image("obama.jpg", width=640, height=480, face_width=170)
    still = jpeg_bytes(im)
    frames = [still, still, _shifted(im, 1), still, _shifted(im, 60, 10), _shifted(im, 60, 10)]
    searched = []
    detect = engine.detect
    monkeypatch.setattr(engine, "detect", lambda *a, **k: searched.append(1) or detect(*a, **k))
    out = engine.job_burst(frames, VERIFY, 10**7, DEFAULT_RULES.max_image_pixels)
    assert len(searched) == 2  # the first frame and the frame where the face moved by 60 px
    assert all(a.quality.face_count == 1 and a.encoding is None for a in out)
    assert out[0].quality.box == out[1].quality.box == out[2].quality.box == out[3].quality.box
    assert np.array_equal(out[0].landmarks, out[1].landmarks)  # the same picture, the same landmarks
    assert out[4].quality.box != out[0].quality.box and out[4].quality.box[1] - out[0].quality.box[1] > 40
    assert np.array_equal(out[4].landmarks, out[5].landmarks)


def test_burst_reports_a_broken_frame_in_its_place(face_photos):
    im, _ = capture_like_image("obama.jpg", width=640, height=480, face_width=170)
    out = engine.job_burst([jpeg_bytes(im), b"junk", jpeg_bytes(im)], VERIFY, 10**7, DEFAULT_RULES.max_image_pixels)
    assert isinstance(out[1], FaceError) and out[1].code == "invalid_image"
    assert out[0].quality.face_count == out[2].quality.face_count == 1


def test_encoding_at_a_known_box_and_the_second_face_check(face_photos):
    im, _ = capture_like_image("obama.jpg", width=640, height=480, face_width=170)
    data = jpeg_bytes(im)
    look = engine.job_burst([data], VERIFY, 10**7, DEFAULT_RULES.max_image_pixels)[0]
    enc, count = engine.job_encode_at(data, look.quality.box, 10**7, DEFAULT_RULES.max_image_pixels)
    assert count is None
    d = decode_image(data)
    full = engine.analyse(d.pixels, VERIFY, detections=engine.detect(d.pixels, fast=True))
    assert np.allclose(enc, full.encoding)
    # the frame that is matched and kept is searched whole: a second face next to the worker is seen
    a, _ = capture_like_image("obama2.jpg", width=320, height=480, face_width=140)
    b, _ = capture_like_image("biden.jpg", width=320, height=480, face_width=140)
    pair = Image.new("RGB", (640, 480))
    pair.paste(a.crop((0, 0, 320, 480)), (0, 0))
    pair.paste(b.crop((0, 0, 320, 480)), (320, 0))
    data = jpeg_bytes(pair)
    dets = engine.detect(decode_image(data).pixels)
    main = max(dets, key=lambda r: r.width())
    _, count = engine.job_encode_at(data, _boxes([main])[0], 10**7, DEFAULT_RULES.max_image_pixels,
                                    count_ratio=VERIFY.multi_face_ratio)
    assert count == 2
