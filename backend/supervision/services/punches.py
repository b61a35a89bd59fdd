"""Per-punch detail (seed 001 §2.8.2 考勤明细): punches with filters, newest first, labelled for display."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns.combination import WhereRaw

from backend.attendance.counting import not_counted_code
from backend.attendance.reasons import REASON_ZH
from backend.attendance.tables import Punch
from backend.errors import invalid
from backend.supervision.services.common import DEFAULT_TZ, _aware, _ids_in, _iso, _json
from backend.supervision.services.people import _person_filter, _team_names
from backend.vocabulary import DIRECTION_ZH, SOURCE_ZH, VERDICT_SHORT_ZH, PunchVerdict
from backend.workforce.tables import RosterEntry

VERDICT_ZH = VERDICT_SHORT_ZH  # this list's wording (backend/vocabulary.py)


def _check_detail_filters(first: date, last: date, verdict: str | None, source: str | None) -> None:
    if last < first:
        raise invalid("day_to", "结束日期早于开始日期", "End date is before start date")
    if verdict is not None and verdict not in tuple(PunchVerdict):
        raise invalid("verdict", "结果应为 accepted、flagged 或 rejected", "verdict must be accepted|flagged|rejected")
    if source is not None and source not in SOURCE_ZH:
        raise invalid("source", "来源应为 gate、mobile 或 makeup", "source must be gate|mobile|makeup")


async def _detail_where(project_ids: set[int] | None, first: date, last: date, *, team_id: int | None,
                        q: str | None, verdict: str | None, source: str | None, late_only: bool) -> Any:
    where = (Punch.local_date >= _iso(first)) & (Punch.local_date <= _iso(last))
    if project_ids is not None:
        where &= _ids_in(Punch.project, project_ids)
    if team_id is not None:
        where &= Punch.person.is_in(RosterEntry.select(RosterEntry.person).where(RosterEntry.team == team_id))
    pf = await _person_filter(q)
    if pf and pf[0] == "id":
        where &= Punch.person == pf[1]
    elif pf:
        where &= Punch.person.name.like(f"%{pf[1]}%")
    if verdict is not None:
        where &= Punch.verdict == verdict
    if source is not None:
        where &= Punch.source == source
    if late_only:
        where &= WhereRaw("CAST(punch.flags AS TEXT) LIKE {}", "%late_upload%")
    return where


def _label_punch(r: dict[str, Any], teams: dict[tuple[int, int], str]) -> None:
    """Local times, reason and source labels and the team name of one detail row (in place)."""
    tz = ZoneInfo(r.pop("timezone") or DEFAULT_TZ)
    r["captured_local"] = _aware(r["captured_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    r["received_local"] = _aware(r["received_at"]).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
    r["reasons"] = list(_json(r["reasons"], []))
    r["flags"] = list(_json(r["flags"], []))
    r["reason_labels"] = [REASON_ZH.get(c, c) for c in r["reasons"] + r["flags"]]
    # Kept and shown, but not attendance: a rejection, or a card / fingerprint punch (非人脸方式, seed 000 §六).
    code = not_counted_code(r["verdict"], r["flags"], r["reasons"])
    r["counted"] = code is None
    r["not_counted_label"] = "" if code is None else REASON_ZH.get(code, VERDICT_ZH.get(code, code))
    r["source_label"] = SOURCE_ZH.get(r["source"], r["source"])
    r["direction_label"] = DIRECTION_ZH.get(r["direction"] or "", "")
    r["verdict_label"] = VERDICT_ZH[r["verdict"]]
    r["team_name"] = teams.get((r["project"], r["person"]), "")
    r["name"] = r["name"] or "（未识别）"
    r["id_masked"] = r["id_masked"] or ""


async def punch_detail(
    project_ids: set[int] | None, first: date, last: date, *, team_id: int | None = None, q: str | None = None,
    verdict: str | None = None, source: str | None = None, late_only: bool = False, limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Punches with filters, newest first, and the total count (for paging)."""
    if project_ids is not None and not project_ids:
        return [], 0
    _check_detail_filters(first, last, verdict, source)
    where = await _detail_where(project_ids, first, last, team_id=team_id, q=q, verdict=verdict, source=source,
                                late_only=late_only)
    total = await Punch.count().where(where)
    rows = await Punch.select(
        Punch.id, Punch.project, Punch.project.name.as_alias("project_name"),
        Punch.project.timezone.as_alias("timezone"), Punch.person, Punch.person.name.as_alias("name"),
        Punch.person.id_masked.as_alias("id_masked"), Punch.source, Punch.direction, Punch.captured_at,
        Punch.received_at, Punch.latency_s, Punch.local_date, Punch.verdict, Punch.reasons, Punch.flags,
        Punch.terminal.serial.as_alias("terminal_serial"),
    ).where(where).order_by(Punch.captured_at, ascending=False).limit(max(1, min(limit, 200_000))).offset(
        max(0, offset))
    teams = await _team_names({(r["project"], r["person"]) for r in rows if r["person"] is not None})
    for r in rows:
        _label_punch(r, teams)
    return rows, total
