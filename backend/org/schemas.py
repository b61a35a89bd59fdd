from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec
from msgspec import Meta


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
