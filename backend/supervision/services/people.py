"""People search (a name fragment or a full ID number) and team names of roster entries."""

from __future__ import annotations

import re
from typing import Any

from backend.crypto import lookup_hashes
from backend.errors import invalid
from backend.supervision.services.common import _ids_in
from backend.workforce.tables import Person, RosterEntry

_ID_LIKE = re.compile(r"\d{17}[\dXx]")


async def _person_filter(q: str | None) -> tuple[str, Any] | None:
    """A name fragment or a full ID number (looked up by its keyed hash; never stored or shown in full)."""
    text = (q or "").strip()
    if not text:
        return None
    if _ID_LIKE.fullmatch(text):
        row = await Person.select(Person.id).where(Person.id_hash.is_in(lookup_hashes(text.upper()))).first()
        return ("id", row["id"] if row else -1)
    if len(text) > 60:
        raise invalid("q", "姓名过长", "Name too long")
    return ("name", text)


async def _team_names(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """(project, person) → the team name of the person's latest roster entry on that project."""
    if not pairs:
        return {}
    projects = sorted({p for p, _ in pairs})
    persons = sorted({q for _, q in pairs})
    rows = await RosterEntry.select(RosterEntry.project, RosterEntry.person, RosterEntry.team.name.as_alias("team")).where(
        _ids_in(RosterEntry.project, projects) & _ids_in(RosterEntry.person, persons)
    ).order_by(RosterEntry.id)
    return {(r["project"], r["person"]): r["team"] for r in rows}
