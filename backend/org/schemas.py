from __future__ import annotations

import typing
from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from backend.rules import Rules
from backend.schemas import Out


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """Unknown fields are refused (400), never silently dropped."""


# Text sizes match the database columns, so over-long input is a 400 on every engine.
def Text(n: int) -> Any:
    return Annotated[str, Meta(max_length=n)]


# Database ids are 32-bit on PostgreSQL (serial): bigger numbers are refused before any query.
Id = Annotated[int, Meta(ge=1, le=2_147_483_647)]


class DistrictIn(Strict):
    code: Text(12)
    name: Text(64)
    rule_overrides: dict[str, Any] = {}
    rule_profile: Text(32) = "baseline"  # a key of backend.rules.PROFILES


class RuleProfileIn(Strict):
    rule_profile: Text(32)


class RuleOverridesIn(Strict):
    rule_overrides: dict[str, Any]


class EnterpriseIn(Strict):
    name: Text(200)
    uscc: Text(40)  # normalised (trimmed, upper-cased) and checked to 18 characters by the service
    short_name: Text(60) | None = None
    registered_region: Text(100) | None = None
    legal_representative: Text(60) | None = None
    phone: Text(20) | None = None


class ProjectIn(Strict):
    name: Text(200)
    district_id: Id
    category: Text(16)
    permit_no: Text(40) | None = None
    address: Text(300) | None = None
    floor_area_m2: float | None = None
    contract_value_yuan: float | None = None
    planned_start: date | None = None
    lon: float | None = None
    lat: float | None = None
    status: str = "preparing"


class ProjectPatch(Strict):
    name: Text(200) | msgspec.UnsetType = msgspec.UNSET
    permit_no: Text(40) | msgspec.UnsetType | None = msgspec.UNSET
    address: Text(300) | msgspec.UnsetType | None = msgspec.UNSET
    floor_area_m2: float | msgspec.UnsetType | None = msgspec.UNSET
    contract_value_yuan: float | msgspec.UnsetType | None = msgspec.UNSET
    planned_start: date | msgspec.UnsetType | None = msgspec.UNSET
    lon: float | msgspec.UnsetType | None = msgspec.UNSET
    lat: float | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET}


class StatusChangeIn(Strict):
    status: Text(24)
    effective_on: date | None = None
    note: Text(500) = ""


class ChangeRequestIn(Strict):
    """A status or start-date change request (seed 004 §三(八)–(十)); ``target``: a status code, or an ISO date for
    planned_start / actual_start."""

    kind: Text(16)
    target: Text(24)
    effective_on: date | None = None
    reason: Text(500) = ""


class DecisionIn(Strict):
    """One approval decision.  ``effective_on`` and ``reason`` (needed for a date before the request) are for
    level 2 only."""

    level: Annotated[int, Meta(ge=1, le=2)]
    approve: bool
    effective_on: date | None = None
    reason: Text(500) = ""
    note: Text(500) = ""


class UnitIn(Strict):
    enterprise_id: Id
    unit_type: Text(32)
    entered_on: date | None = None


class TeamIn(Strict):
    unit_id: Id
    name: Text(100)
    kind: Text(16) = "worker"
    leader_person_id: Id | None = None
    entered_on: date | None = None


# --- responses ---------------------------------------------------------------------------------------------


class DistrictOut(Out):
    id: int
    code: str
    name: str
    rule_profile: str
    rule_profile_label: str
    rule_overrides: dict[str, Any]


class RuleProfileOut(Out):
    """A rule profile: a named set of backend/rules.py values for one seed jurisdiction."""

    name: str
    label: str
    seed: str
    scope_label: str
    manager_start_label: str
    latency_label: str


# Every regulatory number of backend/rules.py, by name (the district's effective values).
RulesOut = msgspec.defstruct(
    "RulesOut", list(typing.get_type_hints(Rules).items()), bases=(Out,), module=__name__,
)


class EnterpriseOut(Out):
    id: int
    name: str
    short_name: str | None
    uscc: str
    registered_region: str | None
    legal_representative: str | None
    phone: str | None
    created_at: datetime


class ProjectSummaryOut(Out):
    """A project in a list."""

    id: int
    name: str
    status: str
    status_label: str
    category: str
    category_label: str
    district: int
    district_name: str
    permit_no: str | None
    planned_start: date | None
    floor_area_m2: float | None
    lon: float | None
    lat: float | None


class ProjectOut(Out):
    """One project, with its labels, required gate channels and whether the regulation applies."""

    id: int
    name: str
    permit_no: str | None
    district: int
    district_name: str
    address: str | None
    category: str
    category_label: str
    floor_area_m2: float | None
    contract_value_yuan: float | None
    planned_start: date | None
    actual_start: date | None
    completed_on: date | None
    status: str
    status_label: str
    lon: float | None
    lat: float | None
    timezone: str
    created_at: datetime
    required_channels: int
    in_scope: bool
    rule_profile: str  # the rule profile that judged the project (its district's)
    rule_profile_label: str
    scope_label: str  # the profile's scope rule in Chinese
    manager_start_label: str  # when key managers' attendance counting starts, in Chinese
    manager_counting_start: date | None  # that day for this project (None: the base date is not known yet)
    latency_label: str


class StatusChangeOut(Out):
    id: int
    project: int
    from_status: str | None
    from_label: str
    to_status: str
    to_label: str
    effective_on: date
    note: str
    changed_by: int | None
    changed_at: datetime
    request: int | None  # the approved change request this change applied (None: registration, demo data)


class ChangeRequestOut(Out):
    """A project change request and its two decisions."""

    id: int
    project: int
    kind: str
    kind_label: str
    target: str
    target_label: str
    from_value: str | None
    from_label: str
    requested_by: int | None
    requested_at: datetime
    requested_on: date
    requested_effective_on: date
    reason: str
    status: str
    status_label: str
    level1_by: int | None
    level1_at: datetime | None
    level1_note: str
    level2_by: int | None
    level2_at: datetime | None
    level2_note: str
    approved_effective_on: date | None
    backdated_reason: str
    backdated: bool
    applied_at: datetime | None


class UnitOut(Out):
    id: int
    project: int
    enterprise: int
    enterprise_name: str
    uscc: str
    unit_type: str
    unit_type_label: str
    entered_on: date | None
    exited_on: date | None


class TeamOut(Out):
    id: int
    project: int
    unit: int
    unit_type: str
    enterprise_name: str
    name: str
    kind: str
    kind_label: str
    leader: int | None
    entered_on: date | None
    exited_on: date | None
    is_auto: bool
