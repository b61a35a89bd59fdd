"""FaceService without its process pool: what it refuses before submitting work, the shared
instance, and the server's liveness passes run in this process (dlib here, no workers).  The pool
itself is tested in tests/integration/face/test_face_pool.py.

Rules checked: rules.mobile_max_upload_bytes (refused before the pool).
"""

from __future__ import annotations

import pytest

from backend.errors import PayloadTooLarge
from backend.face import service as fs
from backend.face.service import FaceService
from backend.rules import DEFAULT_RULES


async def test_oversized_upload_is_refused_before_the_pool():
    svc = FaceService(workers=1)  # a pool starts its workers on the first job
    try:
        big = b"\xff\xd8" + b"\x00" * (DEFAULT_RULES.mobile_max_upload_bytes + 1)
        with pytest.raises(PayloadTooLarge) as e:
            await svc.encode(big)
        assert e.value.code == "payload_too_large" and e.value.status_code == 413
        assert not svc._pool._processes  # refused before any work reached the pool
    finally:
        svc.close()


async def test_one_face_service_per_app_services_closed_with_them():
    """No shared module instance: each app's services (backend.runtime.AppServices) own one FaceService,
    and closing the services closes it."""
    from backend.runtime import AppServices

    a, b = AppServices.build(face=fs.FaceService(workers=1)), AppServices.build(face=fs.FaceService(workers=1))
    assert a.face is not b.face and not a.face.closed
    await a.aclose()
    assert a.face.closed and not b.face.closed
    await b.aclose()
    assert b.face.closed


def test_check_frames_runs_the_server_passes_in_process(face_photos):
    from tests.browser import actions as A

    r = A.check_frames(A.frames_for(["turn_right", "blink"]), ["turn_right", "blink"])
    assert r.passed, r.reasons
    assert not A.check_frames(A.static_frames(6), ["turn_right", "blink"]).passed
