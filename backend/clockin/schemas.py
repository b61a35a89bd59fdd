"""Input and response structs of the phone clock-in and make-up API."""

from __future__ import annotations

from datetime import datetime

from backend.org.schemas import Strict, Text
from backend.schemas import MaskedId, Out


class ChallengeIn(Strict):
    """Ask for a liveness challenge (for one project when the worker is on several)."""

    project_id: int | None = None


class DecisionIn(Strict):
    """The authority's decision on a make-up request (seed 000 §六)."""

    approve: bool
    note: Text(500) = ""


class ChallengeOut(Out):
    """A liveness challenge: the actions to perform before ``expires_at``."""

    nonce: str
    actions: list[str]
    labels: list[str]
    expires_at: str
    ttl_s: float
    project_id: int
    max_frames: int


class ClockInOut(Out):
    """The verdict of a phone punch, with reason codes and their Chinese labels."""

    punch_id: int
    verdict: str
    accepted: bool
    reasons: list[str]
    flags: list[str]
    message: str
    latency_s: float
    labels: list[str]
    duplicate: bool
    captured_at: str
    received_at: str


class MyProjectOut(Out):
    """A project the worker may punch on today (on its roster on the local day)."""

    id: int
    name: str
    status: str
    work_role: str


class MakeupOut(Out):
    id: int
    person: int
    name: str
    id_masked: MaskedId
    project: int
    project_name: str
    punch_time: datetime
    reason: str
    reason_label: str
    note: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decision_note: str
    punch: int | None


class MakeupDecisionOut(Out):
    id: int
    status: str
    punch_id: int | None


class PrecheckCheckOut(Out):
    """One pre-check before the camera: ``status`` ok | warn | block | pending, in Chinese with what to do."""

    code: str
    label: str
    status: str
    status_label: str
    message: str
    advice: str  # what to do, in Chinese
    distance_m: float | None


class PrecheckOut(Out):
    """What the phone knows before the liveness routine (issue 19 item 1); ``ready`` = no check blocks.
    ``demo_enrol``: demo mode, face not enrolled — the worker may enrol their own face first."""

    ready: bool
    project_id: int | None
    project_name: str
    demo_enrol: bool
    demo_point: list[float] | None  # demo mode only: [lon, lat] inside the fence, to stand in for the phone's fix
    summary: str
    checks: list[PrecheckCheckOut]


class DemoEnrolOut(Out):
    """The demo worker's own face, enrolled at the first clock-in (demo mode only)."""

    person_id: int
    enrolled: bool
    message: str
