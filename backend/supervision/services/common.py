"""Shared helpers of the supervision services: the local day, JSON/time normalising, SQL id lists, and the
key-post vocabulary.  No queries here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from piccolo.columns.combination import WhereRaw

from backend.vocabulary import DEFAULT_TZ as DEFAULT_TZ  # re-exported
from backend.vocabulary import local_today as local_today  # re-exported: the one "today" of a project
from backend.workforce.dictionaries import KEY_POSTS

KEY_POST_LIST = list(KEY_POSTS)
# The posts of seed 001 §2.11.3 (its columns and its 12 filters); the other key posts are shown after them.
SEED_TABLE_POSTS = ["project_manager", "safety_officer", "technical_lead", "chief_supervising_engineer"]
# The key posts' labels, with the project manager's short form (seed 001 §2.11.3 column headings).
POST_SHORT: dict[str, str] = {**KEY_POSTS, "project_manager": "项目经理"}


def _json(value: Any, empty: Any) -> Any:
    if value is None:
        return empty
    if isinstance(value, str):
        return json.loads(value or json.dumps(empty))
    return value


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join("{}" for _ in values)


def _iso(day: date) -> str:
    return day.isoformat()


def _int_list(ids: Iterable[int]) -> str:
    """Ids as SQL integer literals ("1, 2, 3"; "-1" when empty).  Only for ids (ints, never user text): a
    thousand bound parameters cost Piccolo more than the query itself."""
    values = sorted({int(i) for i in ids})
    return ", ".join(map(str, values)) if values else "-1"


def _ids_in(column: Any, ids: Iterable[int]) -> WhereRaw:
    """``column IN (…ids…)`` for a column of the queried table (see ``_int_list``)."""
    table = column._meta.table._meta.tablename
    return WhereRaw(f'"{table}"."{column._meta.db_column_name}" IN ({_int_list(ids)})')
