"""FaceService over its real process pool ("spawn" workers loading the dlib models), on the
face_recognition sdist photos.  The in-process parts of the service are in tests/unit/face.

Rules checked: DESIGN.md §1 (face work off the event loop, in a process pool);
rules.face_match_tolerance (1:1), rules.mobile_max_frame_bytes / liveness_max_frames (input
limits), seed 000 附件3 §三.3 (a static photo fails liveness).
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from backend.errors import InvalidInput, PayloadTooLarge
from backend.face import service as fs
from backend.face.service import FaceService
from backend.rules import DEFAULT_RULES
from tests.fixtures.faces import capture_like, jpeg_bytes

# --------------------------------------------------------------------------------- the pool

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service():
    svc = FaceService(workers=2)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def enrolled(face_photos):
    return capture_like("obama.jpg")


async def test_start_warms_every_worker(service):
    await service.start()
    # start() submits one warm-up job per worker: both workers are running (and have loaded the models in
    # their initializer) before the first real request
    procs = list(service._pool._processes.values())
    assert len(procs) == 2 and all(p.is_alive() for p in procs)


async def test_enrol_and_verify(service, face_photos, enrolled):
    r = await service.encode(enrolled, purpose="enrol")
    assert len(r.encoding) == 512
    assert r.quality.ok and r.quality.face_count == 1
    top, right, bottom, left = r.box
    assert bottom > top and right > left

    same = await service.verify(r.encoding, face_photos["obama2.jpg"].read_bytes())
    assert same.matched and same.distance < DEFAULT_RULES.face_match_tolerance
    other = await service.verify(r.encoding, face_photos["biden.jpg"].read_bytes())
    assert not other.matched and other.distance > 0.7


async def test_quality_failures_raise_bilingual_invalid_input(service, face_photos):
    with pytest.raises(InvalidInput) as e:
        await service.encode(face_photos["obama.jpg"].read_bytes(), purpose="enrol")
    err = e.value
    assert err.code == "face_too_small" and err.field == "photo"
    assert "人脸太小" in err.zh and "too small" in err.en
    assert err.extra["quality"]["eye_distance_px"] < 64

    blank = io.BytesIO()
    Image.new("RGB", (480, 640), (200, 190, 180)).save(blank, "JPEG")
    with pytest.raises(InvalidInput) as e:
        await service.encode(blank.getvalue(), field="id_photo")
    assert e.value.code == "no_face" and e.value.field == "id_photo"

    with pytest.raises(InvalidInput) as e:
        await service.encode(b"GIF89a nonsense")
    assert e.value.code == "invalid_image"


def _variants(data: bytes, n: int) -> list[bytes]:
    """The same photo re-encoded with small shifts: not byte-identical, still one photo."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    im.thumbnail((480, 640))
    return [jpeg_bytes(im.rotate(0, translate=(i, i % 2)), quality=85 + i) for i in range(n)]


async def test_a_held_up_photo_fails_liveness(service, face_photos, enrolled):
    template = (await service.encode(enrolled)).encoding
    frames = _variants(face_photos["obama2.jpg"].read_bytes(), 5)
    r = await service.check_liveness(frames, ["blink", "turn_left"], template)
    assert not r.passed
    assert "action_missing:blink" in r.reasons and "action_missing:turn_left" in r.reasons
    # ... although it IS the enrolled person and the frames are good pictures:
    assert r.matched and r.best_frame_index is not None and r.encoding is not None


async def test_a_static_photo_repeated_fails_liveness(service, face_photos):
    frame = _variants(face_photos["obama2.jpg"].read_bytes(), 1)[0]
    r = await service.check_liveness([frame] * 4, ["open_mouth", "turn_right"])
    assert not r.passed
    assert {"identical_frames", "static_frames", "action_missing:open_mouth"} <= set(r.reasons)
    assert len(r.frames) == 4 and all(f.face_count == 1 for f in r.frames)


async def test_liveness_sees_different_people(service, face_photos):
    frames = _variants(face_photos["obama2.jpg"].read_bytes(), 3) + _variants(face_photos["biden.jpg"].read_bytes(), 1)
    r = await service.check_liveness(frames, ["blink", "turn_left"])
    assert "different_faces" in r.reasons and r.max_pair_distance > 0.5


async def test_liveness_input_limits(service, face_photos):
    frame = _variants(face_photos["obama2.jpg"].read_bytes(), 1)[0]
    with pytest.raises(InvalidInput) as e:
        await service.check_liveness([frame] * (DEFAULT_RULES.liveness_max_frames + 1), ["blink"])
    assert e.value.code == "too_many_frames"
    with pytest.raises(InvalidInput) as e:
        await service.check_liveness([frame], ["smile"])
    assert e.value.code == "unknown_action"
    with pytest.raises(InvalidInput):
        await service.check_liveness([], ["blink"])
    with pytest.raises(PayloadTooLarge) as e:
        await service.check_liveness([frame, b"\x00" * (DEFAULT_RULES.mobile_max_frame_bytes + 1)], ["blink"])
    assert e.value.field == "frames[1]"
    with pytest.raises(InvalidInput) as e:
        await service.check_liveness([frame, b"junk"], ["blink"])
    assert e.value.code == "invalid_image" and e.value.field == "frames[1]"


async def test_a_dead_worker_does_not_break_the_service(face_photos):
    async with FaceService(workers=1) as svc:
        with pytest.raises(InvalidInput) as e:
            await svc._run(os._exit, 3)  # the worker dies twice: blamed on the input
        assert e.value.code == "image_unprocessable"
        r = await svc.encode(capture_like("obama.jpg"))
        assert len(r.encoding) == 512
    assert svc.closed


# ------------------------------------------------------------- liveness on a burst that moves


def _spy_encoding_frames(monkeypatch) -> list[list[int]]:
    seen: list[list[int]] = []
    real = fs.encoding_frames

    def spy(*a, **k):
        seen.append(real(*a, **k))
        return seen[-1]

    monkeypatch.setattr(fs, "encoding_frames", spy)
    return seen


@pytest.mark.parametrize(("actions", "proof"), [(["turn_left", "blink"], "blink"),
                                              (["turn_right", "open_mouth"], "open_mouth"),
                                              (["turn_right", "turn_left"], "turn_right")])
async def test_a_live_burst_passes_with_the_match_and_one_action_encoded(service, enrolled, actions, proof,
                                                                         monkeypatch):
    from tests.browser import actions as A

    template = (await service.encode(enrolled)).encoding
    seen = _spy_encoding_frames(monkeypatch)
    r = await service.check_liveness(A.jpeg_frames(A.frames_for(actions)), actions, template)
    assert r.passed, r.reasons
    assert r.matched and r.distance < 0.3
    frame = {d.action: d.frame_index for d in r.actions}[proof]
    # the frame of the action a photo cannot fake is encoded; after a blink it is the match frame itself
    assert seen[0] == ([frame] if proof == "blink" else [r.best_frame_index, frame])


async def test_a_second_face_in_the_kept_frame_is_seen(service, enrolled, face_photos):
    from tests.browser import actions as A
    from tests.fixtures.faces import capture_like_image

    # a 100 px face in the corner: too small for the quick look, big enough to count next to the worker
    other, _ = capture_like_image("biden.jpg", width=150, height=150, face_width=100)
    frames = []
    for f in A.frames_for(["blink", "turn_left"]):
        im = Image.fromarray(f)
        im.paste(other, (0, 0))
        frames.append(np.asarray(im))
    template = (await service.encode(enrolled)).encoding
    r = await service.check_liveness(A.jpeg_frames(frames), ["blink", "turn_left"], template)
    assert not r.passed and "multiple_faces" in r.reasons
    assert [f.face_count for f in r.frames].count(2) == 1  # the frame that would have been kept
