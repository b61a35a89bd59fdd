"""Rows of the upkeep domain as people and the API see them: codes with their Chinese labels, times in the
project's zone (``vocabulary.local_time``)."""

from __future__ import annotations

from typing import Any

from backend.upkeep.services import VendorService
from backend.vocabulary import (
    FAULT_KIND_ZH,
    REMOVAL_ACTION_ZH,
    REMOVAL_STATUS_ZH,
    TICKET_STATUS_ZH,
    UPKEEP_FINDING_KIND_ZH,
    local_time,
)


def ticket_view(r: dict[str, Any]) -> dict[str, Any]:
    tz = r.get("timezone")
    return {**r, "kind_label": FAULT_KIND_ZH.get(r["kind"], r["kind"]),
            "status_label": TICKET_STATUS_ZH.get(r["status"], r["status"]),
            "opened_local": local_time(r["opened_at"], tz), "due_local": local_time(r["due_at"], tz),
            "closed_local": local_time(r.get("closed_at"), tz)}


def notice_view(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "cause": r.get("reason") or "",  # free text (拆除原因), not a code
            "action_label": REMOVAL_ACTION_ZH.get(r["action"], r["action"]),
            "status_label": REMOVAL_STATUS_ZH.get(r["status"], r["status"])}


def finding_view(r: dict[str, Any]) -> dict[str, Any]:
    return {**r, "kind_label": UPKEEP_FINDING_KIND_ZH.get(r["kind"], r["kind"]),
            "at_local": local_time(r["at"], r.get("timezone"))}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def service_view(v: VendorService) -> dict[str, Any]:
    return {"vendor_id": v.vendor_id, "name": v.name, "terminals": v.terminals, **v.devices,
            "alarms_24h": v.alarms_24h, "tickets_open": v.tickets_open, "tickets_overdue": v.tickets_overdue,
            "tickets_closed": v.tickets_closed, "closed_on_time": v.closed_on_time,
            "median_repair_h": _round(v.median_repair_h), "p90_repair_h": _round(v.p90_repair_h),
            "acceptances_due": v.acceptances_due, "acceptances_on_time": v.acceptances_on_time,
            "acceptance_rate": v.acceptance_rate, "notices_late": v.notices_late}
