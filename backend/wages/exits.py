"""Exit settlement (seed 004 §三(五): 退场时…确认工作量、结清工资; issue 16 item 5).

Every exit path (the tablet form, the crew API, the roster API) runs through :func:`exit_with_settlement`:
the money the payroll still owes the person on this project is looked up first; with money owed the exit
needs an explicit reason (400 ``wages_owed`` otherwise, nothing stored), and after the exit an
``exit_unsettled`` finding reaches the project and the district.  Should the process die between the exit
and the finding, the month's reconciliation raises the same finding from the exit date (``find_mismatches``),
so nothing is lost.  The exit form shows the amount (:func:`owed_for_entry`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from backend import money
from backend.errors import NotFound
from backend.wages.reconcile import check_exit_settlement, record_exit_owed, unpaid_for_person
from backend.workforce.tables import RosterEntry

T = TypeVar("T")


async def _person_of(project_id: int, entry_id: int) -> int:
    row = await RosterEntry.select(RosterEntry.person).where(
        (RosterEntry.id == entry_id) & (RosterEntry.project == project_id)).first()
    if row is None:
        raise NotFound("花名册记录不存在", "Roster entry not found", field="entry_id")
    return int(row["person"])


async def owed_for_entry(project_id: int, entry_id: int) -> dict[str, Any]:
    """What the exit form shows: fen still owed on this project's standing payrolls, and as yuan text."""
    owed = await unpaid_for_person(project_id, await _person_of(project_id, entry_id))
    return {"owed_fen": owed, "owed_yuan": money.yuan_grouped(owed) if owed else ""}


async def exit_with_settlement(project_id: int, entry_id: int, unpaid_reason: str,
                               do_exit: Callable[[], Awaitable[T]], exited_on: date | None) -> T:
    """Run ``do_exit`` (the one exit rule of crew) under the settlement check; see the module doc."""
    person_id = await _person_of(project_id, entry_id)
    owed = await check_exit_settlement(project_id, person_id, unpaid_reason)
    done = await do_exit()
    if owed and exited_on is not None:
        await record_exit_owed(project_id, person_id, exited_on, unpaid_reason)
    return done
