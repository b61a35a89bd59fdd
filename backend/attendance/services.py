"""The one attendance path.  Every punch — gate, phone, approved make-up — enters through
``record_punch``: it judges, stores (once per idempotency key) and publishes after commit.

Sources differ only in how they prove identity and place; they pass their findings in (face distance,
liveness, fence decision, their own rejection reasons and flags).  This module adds the checks every
source shares: roster membership on the capture day, project status, upload latency and device clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend import photostore
from backend.attendance import live
from backend.attendance.reasons import REASON_ZH, VERDICT_ZH, describe
from backend.attendance.tables import Punch, PunchPhoto
from backend.db import write_transaction
from backend.errors import NotFound, invalid
from backend.org.services import rules_for_district
from backend.org.tables import Project
from backend.outbox import enqueue
from backend.rules import Rules
from backend.vocabulary import ProjectStatus, PunchVerdict, Reason, Source, WorkRole
from backend.workforce.services import on_roster
from backend.workforce.tables import Person, RosterEntry
from geofence.spoof import clock_skewed

log = logging.getLogger("smz.attendance")

SOURCES = tuple(Source)


@dataclass(frozen=True, slots=True)
class PunchIn:
    source: Source
    project_id: int
    person_id: int | None
    idempotency_key: str
    captured_at: datetime  # aware; the device's clock
    terminal_id: int | None = None
    direction: str | None = None
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    fence_id: int | None = None
    fence_distance_m: float | None = None
    face_distance: float | None = None
    liveness_passed: bool | None = None
    photo: bytes | None = None
    photo_type: str = "image/jpeg"
    reasons: tuple[str, ...] = ()  # rejections found by the source (face_mismatch, outside_fence, …)
    flags: tuple[str, ...] = ()  # review flags found by the source (near_edge, offline_challenge, …)
    makeup_request_id: int | None = None
    received_at: datetime | None = None  # tests and re-imports may set it; normally the server clock


@dataclass(frozen=True, slots=True)
class Verdict:
    punch_id: int
    verdict: str  # PunchVerdict: accepted | flagged | rejected
    reasons: tuple[str, ...]
    flags: tuple[str, ...]
    latency_s: float
    captured_at: datetime
    received_at: datetime
    duplicate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.verdict != PunchVerdict.rejected

    @property
    def message_zh(self) -> str:
        text = VERDICT_ZH[self.verdict]
        detail = describe(self.reasons if self.reasons else self.flags)
        return f"{text}：{detail}" if detail else text


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _codes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = json.loads(value or "[]")
    return tuple(value or ())


def _verdict_from_row(row: dict[str, Any], duplicate: bool) -> Verdict:
    return Verdict(
        punch_id=row["id"], verdict=row["verdict"], reasons=_codes(row["reasons"]), flags=_codes(row["flags"]),
        latency_s=row["latency_s"], captured_at=_aware(row["captured_at"]), received_at=_aware(row["received_at"]),
        duplicate=duplicate,
    )


async def find_by_key(key: str) -> Verdict | None:
    row = await Punch.select().where(Punch.idempotency_key == key).first()
    return _verdict_from_row(row, duplicate=True) if row else None


async def find_by_keys(keys: list[str]) -> dict[str, Verdict]:
    """``find_by_key`` for many keys in one query (``batching``): the stored verdicts by key, marked duplicate."""
    rows = await Punch.select(
        Punch.id, Punch.idempotency_key, Punch.verdict, Punch.reasons, Punch.flags, Punch.latency_s,
        Punch.captured_at, Punch.received_at,
    ).where(Punch.idempotency_key.is_in(sorted(set(keys)) or [""]))
    return {r["idempotency_key"]: _verdict_from_row(r, duplicate=True) for r in rows}


def local_day(at: datetime, tz: str) -> date:
    return _aware(at).astimezone(ZoneInfo(tz)).date()


async def record_punch(p: PunchIn, *, feed: live.LiveFeed | None = None) -> Verdict:
    """Judge, store once, publish.  Returns the stored verdict (the first one for a repeated key).

    ``feed``: the app's in-process live feed (``AppServices.live_feed``); None where no app runs in this
    process (scripts, some tests) — other processes still hear of the punch through NOTIFY."""
    _check_request(p)
    existing = await find_by_key(p.idempotency_key)
    if existing:
        return existing
    facts = await _gather_facts(p)
    verdict, reasons, flags = judge(p, facts)
    stored = await _store(p, facts, verdict, reasons, flags)
    if not stored.duplicate:  # a concurrent twin that won the key was published by its own request
        await _publish(p, stored, feed)
    return stored


# --- Deciding --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PunchFacts:
    """What the server knows about a punch beyond what its source found: the project, the clocks, the roster."""

    project_status: str
    rules: Rules
    captured: datetime  # UTC
    received: datetime  # UTC
    latency: float  # seconds from capture to arrival
    day: date  # the capture day in the project's timezone
    rostered: bool  # on the project's roster on that day (False for an unknown person)
    manager: bool  # a manager of the project (only asked for make-up punches)


def _check_request(p: PunchIn) -> None:
    if p.source not in SOURCES:
        raise invalid("source", f"未知打卡来源：{p.source}", f"Unknown punch source: {p.source}")
    if not p.idempotency_key or len(p.idempotency_key) > 128:
        raise invalid("idempotency_key", "缺少或过长的幂等键", "Idempotency key missing or too long")


async def _gather_facts(p: PunchIn) -> PunchFacts:
    project = await Project.select(Project.id, Project.status, Project.district, Project.timezone).where(
        Project.id == p.project_id
    ).first()
    if project is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    rules = await rules_for_district(project["district"])
    captured = _aware(p.captured_at).astimezone(UTC)
    received = _aware(p.received_at).astimezone(UTC) if p.received_at else datetime.now(UTC)
    day = local_day(captured, project["timezone"])
    rostered = manager = False
    if p.person_id is not None:
        rostered = await RosterEntry.exists().where(
            (RosterEntry.person == p.person_id) & on_roster(day, p.project_id)
        )
        if p.source == Source.makeup:
            manager = await manager_on_day(p.person_id, p.project_id, day)
    return PunchFacts(
        project_status=project["status"], rules=rules, captured=captured, received=received,
        latency=(received - captured).total_seconds(), day=day, rostered=rostered, manager=manager,
    )


async def manager_on_day(person_id: int, project_id: int, day: date) -> bool:
    """THE make-up ban test (seed 000 §六: 施工现场管理人员不得补打考勤记录): the person holds a manager roster
    entry on *this* project on *this* day.  A person who was a manager on another project, or on this one in
    another period, may still have a worker's day made up.  Used by the request form and the attendance path."""
    return await RosterEntry.exists().where(
        (RosterEntry.person == person_id) & on_roster(day, project_id) & (RosterEntry.work_role == WorkRole.manager)
    )


def judge(p: PunchIn, facts: PunchFacts) -> tuple[str, list[str], list[str]]:
    """The verdict, reasons and review flags of a punch (pure).  The source's own findings come first."""
    person_reasons, person_flags = _person_codes(p, facts)
    project_reasons, project_flags = _project_codes(facts.project_status)
    reasons = list(dict.fromkeys([*p.reasons, *person_reasons, *project_reasons]))
    flags = [*p.flags, *person_flags, *project_flags, *_timing_flags(p.source, facts)]
    flags = list(dict.fromkeys(f for f in flags if f not in reasons))
    verdict = PunchVerdict.rejected if reasons else (PunchVerdict.flagged if flags else PunchVerdict.accepted)
    return verdict, reasons, flags


def _person_codes(p: PunchIn, facts: PunchFacts) -> tuple[list[str], list[str]]:
    if p.person_id is None:
        return [Reason.unknown_person], []
    reasons: list[str] = [] if facts.rostered else [Reason.not_on_roster]
    if p.source != Source.makeup:
        return reasons, []
    if facts.manager:  # seed 000 §六: 施工现场管理人员不得补打考勤记录
        reasons.append(Reason.manager_makeup_forbidden)
    return reasons, [Reason.makeup]


def _project_codes(status: str) -> tuple[list[str], list[str]]:
    if status in (ProjectStatus.preparing, ProjectStatus.accepted):
        return [Reason.project_not_active], []
    if status == ProjectStatus.suspended:
        # seed 001 §五(十三): 停工期间……需进场工作的人员仍要打卡记录工作时间 (kept, excluded from rates).
        return [], [Reason.project_suspended]
    return [], []


def _timing_flags(source: str, facts: PunchFacts) -> list[str]:
    flags: list[str] = []
    limit = facts.rules.max_latency_s(source)
    if limit is not None and facts.latency > limit:
        flags.append(Reason.late_upload)
    # The one clock-skew rule (geofence.clock_skewed): no send time is known here, so only a capture time ahead
    # of the server clock is skew; an upload that waited is late_upload above.
    if clock_skewed(facts.captured, facts.received, facts.rules.clock_skew_max_s):
        flags.append(Reason.clock_skew)
    return flags


# --- Storing and publishing ------------------------------------------------------------------


async def _store(p: PunchIn, facts: PunchFacts, verdict: str, reasons: list[str], flags: list[str]) -> Verdict:
    """Save the punch (and its photo) once; a concurrent request that won the key answers with its verdict.
    The photo goes to the photo store first, durably (a committed row never points at a missing file)."""
    sha = (await photostore.put_many([(p.photo, p.photo_type)]))[0] if p.photo else None
    row = Punch(
        project=p.project_id, person=p.person_id, source=p.source, idempotency_key=p.idempotency_key,
        terminal=p.terminal_id, direction=p.direction, captured_at=facts.captured, received_at=facts.received,
        latency_s=facts.latency, local_date=facts.day.isoformat(), verdict=verdict, reasons=reasons, flags=flags,
        lon=p.lon, lat=p.lat, accuracy_m=p.accuracy_m, fence_id=p.fence_id, fence_distance_m=p.fence_distance_m,
        face_distance=p.face_distance, liveness_passed=p.liveness_passed, makeup_request=p.makeup_request_id,
        photo_sha256=sha, photo_type=(p.photo_type or photostore.DEFAULT_TYPE) if sha else None,
    )
    try:
        async with write_transaction():
            await row.save()
            if verdict != PunchVerdict.rejected and p.person_id is not None:
                await enqueue("attendance", row.id, "add", project_id=p.project_id)  # platform upload: one insert
    except Exception:
        # A concurrent request with the same key won the unique index: answer with its verdict.
        again = await find_by_key(p.idempotency_key)
        if again:
            return again
        raise
    return Verdict(
        punch_id=row.id, verdict=verdict, reasons=tuple(reasons), flags=tuple(flags), latency_s=facts.latency,
        captured_at=facts.captured, received_at=facts.received,
    )


async def _publish(p: PunchIn, result: Verdict, feed: live.LiveFeed | None) -> None:
    log.info("punch %s %s project=%s person=%s %s %s latency=%.1fs", result.punch_id, p.source, p.project_id,
             p.person_id, result.verdict, ",".join(result.reasons + result.flags), result.latency_s)
    event = await _event(result.punch_id, p, result)
    if feed is not None:
        feed.publish(event)
    # Other server processes (PostgreSQL LISTEN/NOTIFY; a no-op on SQLite; never raises).
    await live.notify_committed(event)


async def _event(punch_id: int, p: PunchIn, v: Verdict) -> dict[str, Any]:
    name = None
    if p.person_id is not None:
        person = await Person.select(Person.name).where(Person.id == p.person_id).first()
        name = person["name"] if person else None
    return event_for(punch_id, p, v, name)


def event_for(punch_id: int, p: PunchIn, v: Verdict, name: str | None) -> dict[str, Any]:
    """The live event of a committed punch (the map's SSE and NOTIFY payload), from what is known already."""
    return {
        "type": "punch", "id": punch_id, "project_id": p.project_id, "person_id": p.person_id, "name": name,
        "source": p.source, "verdict": v.verdict, "reasons": list(v.reasons), "flags": list(v.flags),
        "message": v.message_zh, "lon": p.lon, "lat": p.lat, "captured_at": v.captured_at.isoformat(),
        "received_at": v.received_at.isoformat(), "latency_s": round(v.latency_s, 1), "terminal_id": p.terminal_id,
    }


# --- Reading ---------------------------------------------------------------------------------


async def list_punches(
    *, project_ids: set[int] | None = None, person_id: int | None = None, day_from: date | None = None,
    day_to: date | None = None, verdict: str | None = None, limit: int = 200, offset: int = 0,
) -> list[dict[str, Any]]:
    q = Punch.select(
        Punch.id, Punch.project, Punch.project.name.as_alias("project_name"), Punch.person,
        Punch.person.name.as_alias("name"), Punch.person.id_masked.as_alias("id_masked"), Punch.source,
        Punch.direction, Punch.captured_at, Punch.received_at, Punch.latency_s, Punch.local_date, Punch.verdict,
        Punch.reasons, Punch.flags, Punch.lon, Punch.lat, Punch.accuracy_m, Punch.fence_distance_m,
        Punch.face_distance, Punch.terminal,
    ).order_by(Punch.captured_at, ascending=False).limit(min(limit, 1000)).offset(offset)
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(Punch.project.is_in(sorted(project_ids)))
    if person_id is not None:
        q = q.where(Punch.person == person_id)
    if day_from is not None:
        q = q.where(Punch.local_date >= day_from.isoformat())
    if day_to is not None:
        q = q.where(Punch.local_date <= day_to.isoformat())
    if verdict is not None:
        q = q.where(Punch.verdict == verdict)
    rows = await q
    for r in rows:
        r["reasons"] = list(_codes(r["reasons"]))
        r["flags"] = list(_codes(r["flags"]))
        r["message"] = describe(r["reasons"] or r["flags"])
        r["reason_labels"] = [REASON_ZH.get(c, c) for c in r["reasons"] + r["flags"]]
    return rows


async def punch_photo(punch_id: int) -> tuple[bytes, str] | None:
    """The punch's photo and content type: from the photo store by the row's hash, else a legacy ``punch_photo``
    row (not yet moved by ``smz photos migrate``)."""
    punch = await Punch.select(Punch.photo_sha256, Punch.photo_type, Punch.photo_loc).where(
        Punch.id == punch_id).first()
    if punch and punch["photo_sha256"]:
        data = await photostore.get(punch["photo_sha256"], punch["photo_loc"])
        if data is not None:
            return data, punch["photo_type"] or photostore.DEFAULT_TYPE
        log.warning("punch %s: photo %s… missing from the photo store", punch_id, punch["photo_sha256"][:12])
    row = await PunchPhoto.select(PunchPhoto.data, PunchPhoto.content_type).where(PunchPhoto.punch == punch_id).first()
    return (bytes(row["data"]), row["content_type"]) if row else None


def window(day: date, tz: str) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)
