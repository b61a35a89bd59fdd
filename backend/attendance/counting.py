"""Which stored punches count as attendance — the one predicate every count uses (Python and SQL alike).

A punch counts towards valid days, on-duty rates and "has attendance" checks when it was not rejected **and**
it was made by face (or iris) recognition.  Seed 000 §六: "从实名制通道采用人脸、虹膜进行打卡考勤，采用指纹、
门禁卡等其他方式进入施工现场的，视为未落实实名制管理" — a gate record in another mode (刷卡模式 ≠ 6, seed 001
附件3 §1.2.4: card, fingerprint, password …) is kept with its verdict and shown as 非人脸方式, but it is never
attendance.  The gate adapter marks such a punch with the code ``non_face_mode``.
"""

from __future__ import annotations

from collections.abc import Iterable

from backend.vocabulary import PunchVerdict, Reason

# Codes that keep a stored punch out of every count, whatever its verdict.
NOT_COUNTED_CODES: tuple[str, ...] = (Reason.non_face_mode,)


def counts_as_attendance(verdict: str, flags: Iterable[str] = (), reasons: Iterable[str] = ()) -> bool:
    """A punch counts as attendance: not rejected and not made in a non-face mode (seed 000 §六)."""
    if verdict == PunchVerdict.rejected:
        return False
    codes = {*flags, *reasons}
    return not any(c in codes for c in NOT_COUNTED_CODES)


def not_counted_code(verdict: str, flags: Iterable[str] = (), reasons: Iterable[str] = ()) -> str | None:
    """Why a punch does not count: ``non_face_mode`` first (it decides whatever else happened), then the first
    rejection reason (``rejected`` when it has none); None when it counts."""
    codes = [*reasons, *flags]
    for c in NOT_COUNTED_CODES:
        if c in codes:
            return c
    if verdict == PunchVerdict.rejected:
        return next(iter(reasons), PunchVerdict.rejected)
    return None


def counted_sql(table: str = "") -> str:
    """The same predicate as SQL over the ``punch`` table (SQLite and PostgreSQL): flags are JSON text arrays,
    so a code is found with ``LIKE '%"code"%'`` (codes are plain identifiers; none is a prefix of another in
    quotes)."""
    p = f'"{table}".' if table else ""
    parts = [f"{p}verdict <> '{PunchVerdict.rejected.value}'"]
    for code in NOT_COUNTED_CODES:
        parts.append(f"CAST({p}flags AS TEXT) NOT LIKE '%\"{code}\"%'")
        parts.append(f"CAST({p}reasons AS TEXT) NOT LIKE '%\"{code}\"%'")
    return "(" + " AND ".join(parts) + ")"


COUNTED_SQL = counted_sql()


def non_face_sql(table: str = "") -> str:
    """SQL: the punch was made in a non-face mode (for the seed 000 §六 finding)."""
    p = f'"{table}".' if table else ""
    code = Reason.non_face_mode.value
    return f"(CAST({p}flags AS TEXT) LIKE '%\"{code}\"%' OR CAST({p}reasons AS TEXT) LIKE '%\"{code}\"%')"
