"""The full-ID access log (issue 20 B.3; docs/security.md §6): every code path that decrypts ID numbers for a person
to see or take away — the full-ID roster export (crew), the bank payment file (wages), a person's data export
(privacy) — writes one row: who, when, which project, which people and how many, why.

``log_access`` runs inside the caller's write transaction, next to the read: if the log cannot be written, the
export fails with it (no full number leaves without its row).  The gate protocol's whitelist (full numbers to the
project's own terminals) is not a reading by a person and is not logged here.

Scope is the caller's: ``read_log(project_ids=…)`` takes the projects the reader may see (the district's for a
supervisor, None for an admin) — the web adapter computes them with ``accounts.services.visible_project_ids``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from backend.errors import invalid
from backend.validators import clean_text
from backend.vocabulary import DEFAULT_TZ, IdAccessKind, label
from backend.workforce.tables import IdAccessLog

PERSON_IDS_MAX = 20_000  # more people than any project's roster: the list is kept whole below that
REASON_MAX = 200
LIST_MAX = 2_000


class Reader(Protocol):
    """Who read the numbers (``accounts.services.CurrentUser`` has these)."""

    id: int
    username: str
    role: str


async def log_access(reader: Reader, *, project_id: int, kind: str, person_ids: list[int], reason: str,
                     records: int | None = None) -> int:
    """One row of the log; call it in the same write transaction as the read.  ``reason`` is required (the user's
    words, or the export kind's own wording); ``records`` defaults to the number of people."""
    kind = IdAccessKind(kind)
    why = clean_text(reason, "reason", "用途", max_len=REASON_MAX, required=True) or ""
    people = sorted({int(p) for p in person_ids})
    row = IdAccessLog(user_id=reader.id, username=reader.username[:64], role=reader.role, project=project_id,
                      kind=kind, records=len(people) if records is None else records, reason=why,
                      person_ids=people[:PERSON_IDS_MAX])
    await row.save()
    return int(row.id)


def _day_bounds(first: date | None, last: date | None, tz: str) -> tuple[datetime | None, datetime | None]:
    zone = ZoneInfo(tz)
    lo = datetime.combine(first, time.min, zone).astimezone(UTC) if first else None
    hi = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC) if last else None
    if lo is not None and hi is not None and hi <= lo:
        raise invalid("until", "结束日期不能早于开始日期", "The end date is before the start date")
    return lo, hi


async def read_log(*, project_ids: set[int] | None, username: str = "", first: date | None = None,
                   last: date | None = None, person_id: int | None = None, kind: str = "",
                   tz: str = DEFAULT_TZ, limit: int = 500) -> list[dict[str, Any]]:
    """The log, newest first, within ``project_ids`` (None = every project).  Filters: the reader's username
    (exact), a date range in the district's zone (inclusive days), a person whose number was read, the kind."""
    if project_ids is not None and not project_ids:
        return []
    q = IdAccessLog.select(
        IdAccessLog.id, IdAccessLog.user_id, IdAccessLog.username, IdAccessLog.role, IdAccessLog.project,
        IdAccessLog.project.name.as_alias("project_name"), IdAccessLog.kind, IdAccessLog.records,
        IdAccessLog.reason, IdAccessLog.accessed_at, IdAccessLog.person_ids,
    ).order_by(IdAccessLog.id, ascending=False).limit(max(1, min(limit, LIST_MAX)))
    where: Any = None

    def add(cond: Any) -> None:
        nonlocal where
        where = cond if where is None else where & cond

    if project_ids is not None:
        add(IdAccessLog.project.is_in(sorted(project_ids)))
    if username.strip():
        add(IdAccessLog.username == username.strip()[:64])
    if kind:
        if kind not in set(IdAccessKind):
            raise invalid("kind", "访问类型无效", "Unknown access kind", code="kind_unknown")
        add(IdAccessLog.kind == kind)
    lo, hi = _day_bounds(first, last, tz)
    if lo is not None:
        add(IdAccessLog.accessed_at >= lo)
    if hi is not None:
        add(IdAccessLog.accessed_at < hi)
    if where is not None:
        q = q.where(where)
    rows = await q
    out = []
    for r in rows:
        people = r["person_ids"]
        if isinstance(people, str):
            people = json.loads(people or "[]")
        if person_id is not None and person_id not in people:
            continue
        r["person_ids"] = people
        r["kind_label"] = label(r["kind"], IdAccessKind)
        out.append(r)
    return out


async def entries_about(person_id: int, *, limit: int = LIST_MAX) -> list[dict[str, Any]]:
    """The log entries that name this person (for the person's own export), newest first."""
    return await read_log(project_ids=None, person_id=person_id, limit=limit)
