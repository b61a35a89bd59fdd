"""Face templates, 1:1 / 1:N matching, capture quality and action liveness (docs/face.md).

Importing this package does not load dlib or the models: only the worker processes do.
"""

from backend.face.engine import FaceError, Quality, QualityLimits
from backend.face.liveness import (
    ACTION_LABELS,
    ACTIONS,
    ActionDetail,
    LivenessThresholds,
    challenge_prompt,
    judge_actions,
    new_challenge_actions,
)
from backend.face.messages import message
from backend.face.service import (
    ENCODING_BYTES,
    ENCODING_MODEL,
    FaceResult,
    FaceService,
    FrameInfo,
    LivenessResult,
    Match,
    encoding_from_bytes,
    encoding_to_bytes,
    face_distance,
    search,
    search_within,
    templates_matrix,
)

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "ENCODING_BYTES",
    "ENCODING_MODEL",
    "ActionDetail",
    "FaceError",
    "FaceResult",
    "FaceService",
    "FrameInfo",
    "LivenessResult",
    "LivenessThresholds",
    "Match",
    "Quality",
    "QualityLimits",
    "challenge_prompt",
    "encoding_from_bytes",
    "encoding_to_bytes",
    "face_distance",
    "judge_actions",
    "message",
    "new_challenge_actions",
    "search",
    "search_within",
    "templates_matrix",
]
