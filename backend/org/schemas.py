from __future__ import annotations

from datetime import date
from typing import Any

import msgspec


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    """Unknown fields are refused (400), never silently dropped."""


class DistrictIn(Strict):
    code: str
    name: str
    rule_overrides: dict[str, Any] = {}


class RuleOverridesIn(Strict):
    rule_overrides: dict[str, Any]


class EnterpriseIn(Strict):
    name: str
    uscc: str
    short_name: str | None = None
    registered_region: str | None = None
    legal_representative: str | None = None
    phone: str | None = None


class ProjectIn(Strict):
    name: str
    district_id: int
    category: str
    permit_no: str | None = None
    address: str | None = None
    floor_area_m2: float | None = None
    contract_value_yuan: float | None = None
    planned_start: date | None = None
    lon: float | None = None
    lat: float | None = None
    status: str = "preparing"


class ProjectPatch(Strict):
    name: str | msgspec.UnsetType = msgspec.UNSET
    permit_no: str | msgspec.UnsetType | None = msgspec.UNSET
    address: str | msgspec.UnsetType | None = msgspec.UNSET
    floor_area_m2: float | msgspec.UnsetType | None = msgspec.UNSET
    contract_value_yuan: float | msgspec.UnsetType | None = msgspec.UNSET
    planned_start: date | msgspec.UnsetType | None = msgspec.UNSET
    lon: float | msgspec.UnsetType | None = msgspec.UNSET
    lat: float | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET}


class StatusChangeIn(Strict):
    status: str
    effective_on: date | None = None
    note: str = ""


class UnitIn(Strict):
    enterprise_id: int
    unit_type: str
    entered_on: date | None = None


class TeamIn(Strict):
    unit_id: int
    name: str
    kind: str = "worker"
    leader_person_id: int | None = None
    entered_on: date | None = None
