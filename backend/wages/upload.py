"""工资发放记录 to the provincial / national worker platform (issue 17: payroll is one of the kinds that go up).

The platform package sits below wages, so it cannot read a payroll: this module is the payroll's *provider* — where
a payroll task belongs and what it waits for (:func:`payroll_info`), and the row ``platform.adapter.build_payroll``
turns into ``Payroll.Add`` (:func:`payroll_row`).  The entry layer hands :data:`PROVIDERS` to the uploader.

What goes up is the month, not a version: the upload entity of a project-month is its **first** payroll version's
id (:func:`upload_entity`), and the row loaded is the version standing now (the latest submitted).  Submitting
enqueues it in the same transaction (``payroll.submit``).  The national interface has ``Payroll.Add`` and no
update: a correction submitted after the month went up stays here (the uploader marks it 平台已有该记录（只可新增）)
and is in the evidence export; docs/platform-upload.md says so.  The payroll waits for its workers
(``ProjectWorker``) to be 上传成功, as attendance waits for the entry.
"""

from __future__ import annotations

from typing import Any

from backend.org.tables import ProjectUnit
from backend.platform import payloads
from backend.platform.services import EntityInfo
from backend.platform.uploader import EntityProvider
from backend.vocabulary import PayrollStatus, UnitType
from backend.wages.payroll import CARD_AAD, effective, versions
from backend.wages.tables import Payroll, PayrollLine
from backend.workforce.tables import RosterEntry


async def upload_entity(project_id: int, month: str) -> int | None:
    """The upload entity id of a project-month: its first payroll version (None before any)."""
    row = await Payroll.select(Payroll.id).where((Payroll.project == project_id) & (Payroll.month == month)).order_by(
        Payroll.version).first()
    return int(row["id"]) if row else None


async def _standing(entity_id: int) -> dict[str, Any] | None:
    first = await Payroll.select(Payroll.project, Payroll.month).where(Payroll.id == entity_id).first()
    if first is None:
        return None
    vs = await versions(first["project"], first["month"])
    now = effective(vs)
    return now if now is not None and now["status"] == PayrollStatus.submitted else None


async def _entries(project_id: int, person_ids: list[int]) -> dict[int, int]:
    """person → their latest roster entry on the project (the ProjectWorker record the line refers to)."""
    rows = await RosterEntry.select(RosterEntry.id, RosterEntry.person).where(
        (RosterEntry.project == project_id) & RosterEntry.person.is_in(person_ids)).order_by(RosterEntry.entered_on)
    return {r["person"]: r["id"] for r in rows}


async def payroll_info(entity_id: int) -> EntityInfo | None:
    """Where the payroll belongs and what it waits for: every paid worker's ProjectWorker record."""
    p = await _standing(entity_id)
    if p is None:
        return None
    people = [r["person"] for r in await PayrollLine.select(PayrollLine.person).where(PayrollLine.payroll == p["id"])]
    entries = await _entries(p["project"], people) if people else {}
    return EntityInfo(p["project"], tuple(("worker", e) for e in sorted(set(entries.values()))))


async def payroll_row(entity_id: int) -> dict[str, Any] | None:
    """The row ``build_payroll`` wants for the standing version; None before it is submitted (nothing to send)."""
    p = await _standing(entity_id)
    if p is None:
        return None
    project = await payloads.project_row(p["project"])
    if project is None:
        return None
    payer = await ProjectUnit.select(ProjectUnit.enterprise.uscc.as_alias("uscc"),
                                     ProjectUnit.enterprise.name.as_alias("name")).where(
        (ProjectUnit.project == p["project"]) & (ProjectUnit.unit_type == UnitType.general_contractor)).order_by(
        ProjectUnit.id).first() or {"uscc": project.get("contractor_uscc") or "", "name": ""}
    lines = await PayrollLine.select(
        PayrollLine.person.id_cipher.as_alias("id_cipher"), PayrollLine.team.name.as_alias("team_name"),
        PayrollLine.days_worked, PayrollLine.payable_fen, PayrollLine.paid_fen, PayrollLine.paid_on,
        PayrollLine.card_enc, PayrollLine.card_bank,
    ).where(PayrollLine.payroll == p["id"]).order_by(PayrollLine.id)
    return {"project": project, "month": p["month"], "uscc": payer["uscc"], "corp_name": payer["name"],
            "lines": [{"id_cipher": ln["id_cipher"], "team_name": ln["team_name"], "days": ln["days_worked"],
                       "payable_fen": ln["payable_fen"], "paid_fen": ln["paid_fen"], "paid_on": ln["paid_on"],
                       "card_cipher": ln["card_enc"] or None, "card_aad": CARD_AAD, "card_bank": ln["card_bank"]}
                      for ln in lines]}


PROVIDERS: dict[str, EntityProvider] = {"payroll": EntityProvider(info=payroll_info, load=payroll_row)}
