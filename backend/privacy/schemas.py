"""Input and output Structs of the privacy API (issue 20 B.1, B.3, B.4)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from backend.schemas import MaskedId, Out


class ConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    """``action``: given | declined | withdrawn; ``channel``: vocabulary.ConsentChannel; ``version``: the consent
    text's version shown (``GET …/consent`` returns the current one)."""

    action: str
    channel: str
    version: str = ""
    note: str = ""
    project_id: int | None = None


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """``field``: name | phone | id_number; ``reason`` required."""

    field: str
    value: str
    reason: str
    project_id: int | None = None


class ConsentEventOut(Out):
    id: int
    person: int
    action: str
    action_label: str
    version: str
    channel: str
    channel_label: str
    project: int | None
    recorded_by: int | None
    recorded_by_name: str
    note: str
    recorded_at: datetime
    at_local: str


class ConsentStateOut(Out):
    """Whether the person's consent is in force, the latest event, every event, and the current text."""

    in_force: bool
    current: ConsentEventOut | None
    history: list[ConsentEventOut]
    enrolled: bool
    version: str
    text: str


class ConsentRecordedOut(Out):
    id: int
    person_id: int
    action: str
    action_label: str
    face_deleted: bool


class CorrectionOut(Out):
    """Old and new values as they may be shown (ID numbers masked)."""

    id: int
    field: str
    field_label: str
    old_value: str
    new_value: str


class IdAccessRowOut(Out):
    """One reading of full ID numbers: who, when, which project, which people and how many, why."""

    id: int
    user_id: int
    username: str
    role: str
    project: int
    project_name: str
    kind: str
    kind_label: str
    records: int
    reason: str
    accessed_at: datetime
    person_ids: list[int]


class PersonBriefOut(Out):
    id: int
    name: str
    id_masked: MaskedId
    phone: str | None
