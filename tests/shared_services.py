"""Services the tests share across the session (a plain module: conftest files import it as
``tests.shared_services``, so there is one instance)."""

from __future__ import annotations

from typing import Any

_shared_face: Any = None


def shared_face_service() -> Any:
    """One face process pool for the whole session, handed to every test app (``app_client``, the gate
    modules' ``running_app``): a pool per module would start its dlib workers again and again (seconds of
    CPU each), and a first punch that pays for the start-up can miss the 30 s upload limit on a loaded
    machine.  Its ``close`` is a no-op for the apps; the pool closes at session end.  A test of the pool's
    own lifetime builds its own ``FaceService``."""
    global _shared_face
    if _shared_face is None:
        from backend.face.service import FaceService

        class SessionFaceService(FaceService):
            def close(self) -> None:  # the apps share it: the session closes it
                pass

            def close_at_session_end(self) -> None:
                FaceService.close(self)

        _shared_face = SessionFaceService()
    return _shared_face


def close_shared_face_service() -> None:
    if _shared_face is not None:
        _shared_face.close_at_session_end()
