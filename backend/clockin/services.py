"""Phone clock-in: challenge → burst of frames + location → liveness, face match, fence → record_punch.

Also make-up punches (补卡): requested by a worker or foreman, decided by the authority, recorded through
the same attendance path as source ``makeup``.  Key managers can never make up punches (seed 000 §六).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.accounts.services import CurrentUser
from backend.attendance.live import LiveFeed
from backend.attendance.services import (
    PunchIn,
    Verdict,
    find_by_key,
    list_punches,
    local_day,
    manager_on_day,
    record_punch,
)
from backend.attendance.tables import Punch
from backend.clockin.tables import LivenessChallenge, MakeupRequest
from backend.db import write_transaction
from backend.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, invalid
from backend.face import liveness as lv
from backend.face.service import FaceService
from backend.fences import services as fences
from backend.org.services import rules_for_project
from backend.org.tables import Project
from backend.rules import Rules
from backend.validators import clean_text
from backend.vocabulary import (
    MAKEUP_REASON_ZH,
    MAKEUP_STATUS_ZH,
    PRECHECK_ITEM_ZH,
    PRECHECK_STATUS_ZH,
    Direction,
    MakeupStatus,
    PrecheckItem,
    PrecheckStatus,
    ProjectStatus,
    Reason,
    Role,
    Source,
    label,
    local_time,
)
from backend.workforce.services import on_roster
from backend.workforce.tables import Enrolment, RosterEntry
from geofence.decision import format_metres_zh

_sysrand = random.SystemRandom()


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _person(user: CurrentUser) -> int:
    if user.person_id is None:
        raise Forbidden("当前账号未关联人员，不能打卡", "This account is not linked to a person", code="no_person")
    return user.person_id


async def my_projects(person_id: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """The phone's project picker: the projects the person is on the roster of today (each project's local
    day) — the same predicate as the attendance check (backend.workforce.services.on_roster), so a worker is
    never offered a project whose punch would be refused as not_on_roster, nor denied one it would accept
    (e.g. on the exit day)."""
    now = now or datetime.now(UTC)
    zones = await RosterEntry.select(RosterEntry.project.timezone.as_alias("tz")).where(
        RosterEntry.person == person_id).distinct()
    rows: list[dict[str, Any]] = []
    for tz in sorted({z["tz"] for z in zones}):
        rows += await RosterEntry.select(
            RosterEntry.id.as_alias("entry_id"), RosterEntry.project.as_alias("id"),
            RosterEntry.project.name.as_alias("name"), RosterEntry.project.status.as_alias("status"),
            RosterEntry.work_role,
        ).where((RosterEntry.person == person_id) & (RosterEntry.project.timezone == tz)
                & on_roster(local_day(now, tz)))
    rows.sort(key=lambda r: r["entry_id"])
    for r in rows:
        del r["entry_id"]
    return rows


async def _choose_project(person_id: int, project_id: int | None) -> int:
    projects = await my_projects(person_id)
    ids = [p["id"] for p in projects]
    if project_id is not None:
        if project_id not in ids:
            raise invalid("project_id", "您不在该项目的花名册中", "You are not on this project's roster",
                          code="not_on_roster")
        return project_id
    if not ids:
        raise invalid("project_id", "您当前没有在场的项目，请联系劳务员办理进场", "You are not on any project's roster",
                      code="not_on_roster")
    if len(ids) > 1:
        raise invalid("project_id", "您同时在多个项目中，请选择打卡项目", "Several projects: choose one")
    return ids[0]


# --- Challenges --------------------------------------------------------------------------------


async def issue_challenge(user: CurrentUser, project_id: int | None = None) -> dict[str, Any]:
    person = _person(user)
    pid = await _choose_project(person, project_id)
    rules = await rules_for_project(pid)
    actions = lv.new_challenge_actions(_sysrand, rules.liveness_action_count)
    now = datetime.now(UTC)
    nonce = secrets.token_urlsafe(24)
    expires = now + timedelta(seconds=rules.liveness_challenge_ttl_s)
    await LivenessChallenge(nonce=nonce, person=person, actions=actions, issued_at=now, expires_at=expires).save()
    return {
        "nonce": nonce, "actions": actions, "labels": [lv.ACTION_LABELS[a] for a in actions],
        "expires_at": expires.isoformat(), "ttl_s": rules.liveness_challenge_ttl_s, "project_id": pid,
        "max_frames": rules.liveness_max_frames,
    }


async def consume_challenge(nonce: str, person: int, captured_at: datetime) -> list[str] | None:
    """Mark the nonce used (once, atomically).  Returns its actions, or None when it is unknown,
    someone else's, already used, or was answered after it expired."""
    async with write_transaction():
        row = await LivenessChallenge.select().where(LivenessChallenge.nonce == nonce).first()
        if row is None or row["person"] != person or row["used_at"] is not None:
            return None
        issued, expires = _aware(row["issued_at"]), _aware(row["expires_at"])
        now = datetime.now(UTC)
        # Answered in time: captured before expiry (device clock) and not before issue; and if it arrives
        # late (network failure, outbox retry), the capture still has to fall inside the window.
        if not (issued - timedelta(seconds=5) <= captured_at <= expires) and now > expires:
            return None
        updated = await LivenessChallenge.update({LivenessChallenge.used_at: now}).where(
            (LivenessChallenge.id == row["id"]) & LivenessChallenge.used_at.is_null()
        ).returning(LivenessChallenge.id)
        if not updated:
            return None
        actions = row["actions"]
        return json.loads(actions) if isinstance(actions, str) else list(actions)


# --- Clock-in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockIn:
    idempotency_key: str
    captured_at: datetime
    lon: float
    lat: float
    accuracy_m: float
    frames: list[bytes]
    nonce: str | None = None
    offline_actions: list[str] | None = None  # the actions the phone chose itself when offline
    project_id: int | None = None
    coord_system: str = "wgs84"  # wgs84 | gcj02
    sent_at: datetime | None = None  # the phone's clock when it sent the request (tells outbox delay from a bad clock)


def _check_upload(c: ClockIn, rules: Rules) -> None:
    if not c.idempotency_key or len(c.idempotency_key) > 100:
        raise invalid("idempotency_key", "缺少打卡编号", "Missing idempotency key")
    if not -180 <= c.lon <= 180 or not -90 <= c.lat <= 90:
        raise invalid("lon", "定位坐标超出范围", "Coordinates out of range", code="invalid_coordinates")
    if c.accuracy_m < 0 or c.accuracy_m != c.accuracy_m:
        raise invalid("accuracy_m", "定位精度数值无效", "Invalid accuracy")
    total = sum(len(f) for f in c.frames)
    if total > rules.mobile_max_upload_bytes:
        raise PayloadTooLarge(f"上传内容过大（{total // 1024} KB，上限 {rules.mobile_max_upload_bytes // 1024} KB）",
                              "Upload too large", field="frames")
    if not c.frames:
        raise invalid("frames", "未收到活体检测画面", "No frames received", code="no_frames")
    if c.nonce is None and not c.offline_actions:
        raise invalid("nonce", "缺少活体挑战", "Missing liveness challenge")
    if c.coord_system not in ("wgs84", "gcj02"):
        raise invalid("coord_system", "坐标系应为 wgs84 或 gcj02", "coord_system must be wgs84 or gcj02")


async def clock_in(user: CurrentUser, c: ClockIn, *, face: FaceService, feed: LiveFeed | None = None) -> Verdict:
    """``face``: the app's face workers; ``feed``: the app's live feed (``AppServices.face`` / ``.live_feed``)."""
    person = _person(user)
    key = f"m:{person}:{c.idempotency_key}"
    existing = await find_by_key(key)  # an outbox retry of a capture we already judged
    if existing:
        return existing
    project_id = await _choose_project(person, c.project_id)
    rules = await rules_for_project(project_id)
    _check_upload(c, rules)
    captured = _aware(c.captured_at).astimezone(UTC)

    enrol = await Enrolment.select(Enrolment.face_template).where(Enrolment.person == person).first()
    actions, reasons, flags = await _liveness_actions(c, person, captured)
    # The fence is judged (read-only) while the face workers run.
    fence_job = asyncio.ensure_future(fences.judge_fix(
        project_id, c.lon, c.lat, c.accuracy_m, captured, rules=rules, coord_system=c.coord_system,
        person_id=person, device_sent_at=c.sent_at))
    try:
        checked = await _check_face(face, c.frames, actions, enrol["face_template"] if enrol else None, rules)
        fence = await fence_job
    finally:
        if not fence_job.done():
            fence_job.cancel()
        elif not fence_job.cancelled():
            fence_job.exception()  # retrieved: a face error above is the one reported

    verdict = await record_punch(PunchIn(
        source=Source.mobile, project_id=project_id, person_id=person, idempotency_key=key, captured_at=captured,
        lon=fence.lon, lat=fence.lat, accuracy_m=c.accuracy_m, fence_id=fence.fence_id,
        fence_distance_m=fence.distance_m, face_distance=checked.distance, liveness_passed=checked.liveness_passed,
        photo=checked.photo or (c.frames[0] if c.frames else None),
        reasons=(*reasons, *checked.reasons, *fence.reasons), flags=(*flags, *fence.flags),
    ), feed=feed)
    # The fence's own sentence carries the numbers (距离 120 米, 定位精度 150 米) the worker needs.
    if fence.message_zh and set(fence.reasons) & set(verdict.reasons):
        verdict = dataclasses.replace(verdict, extra={**verdict.extra, "fence_message": fence.message_zh})
    return verdict


async def _liveness_actions(c: ClockIn, person: int, captured: datetime) -> tuple[list[str], list[str], list[str]]:
    """The actions the frames must show — the server's challenge (used up here), or the ones the phone chose
    itself offline (flagged lower-trust) — with the reasons and flags this adds: (actions, reasons, flags)."""
    if c.nonce is not None:
        actions = await consume_challenge(c.nonce, person, captured)
        if actions is None:
            return [], [Reason.challenge_invalid], []
        return actions, [], []
    actions = list(c.offline_actions or [])
    if len(set(actions)) != len(actions) or any(a not in lv.ACTIONS for a in actions):
        raise invalid("offline_actions", "离线活体动作无效", "Invalid offline liveness actions")
    return actions, [], [Reason.offline_challenge]


@dataclass(frozen=True)
class _FaceCheck:
    reasons: tuple[str, ...] = ()
    distance: float | None = None
    liveness_passed: bool | None = None
    photo: bytes | None = None  # the frame that best shows the face


async def _check_face(face: FaceService, frames: list[bytes], actions: list[str], template: Any,
                      rules: Rules) -> _FaceCheck:
    """Liveness and face match of the burst against the person's enrolled template (in the face workers)."""
    if template is None:
        return _FaceCheck(reasons=(Reason.not_enrolled,))
    if not actions:
        return _FaceCheck()
    result = await face.check_liveness(frames, actions, template, rules=rules)
    reasons: list[str] = []
    if result.matched is False:
        reasons.append(Reason.face_mismatch)
    if not result.passed and any(r != "face_mismatch" for r in result.reasons):
        reasons.append(Reason.liveness_failed)
    return _FaceCheck(
        reasons=tuple(reasons), distance=result.distance, liveness_passed=result.passed,
        photo=frames[result.best_frame_index] if result.best_frame_index is not None else None,
    )


async def my_history(user: CurrentUser, limit: int = 50) -> list[dict[str, Any]]:
    return await list_punches(person_id=_person(user), limit=limit)


# --- Pre-checks before the camera (issue 19 item 1) ------------------------------------------------
# What can be known before the liveness routine: the worker learns at once, with what to do, that a punch would be
# refused — instead of after ~10 s of head turns.  The final clock-in re-checks everything (clock_in above).


@dataclass(frozen=True)
class PrecheckItemResult:
    code: str  # PrecheckItem
    status: str  # PrecheckStatus: ok | warn | block | pending
    message: str  # what is the case, in Chinese
    advice: str = ""  # what to do about it, in Chinese
    distance_m: float | None = None


# The project statuses the attendance path refuses (backend.attendance.services._project_codes) and the ones it keeps
# but marks (停工: seed 001 §五(十三) — still recorded; 完工: recorded).
_PROJECT_PRECHECK: dict[str, tuple[str, str, str]] = {
    ProjectStatus.under_construction: (PrecheckStatus.ok, "在建", ""),
    ProjectStatus.suspended: (PrecheckStatus.warn, "项目停工中：打卡照常记录，并标注“停工期间”", ""),
    ProjectStatus.finished: (PrecheckStatus.warn, "项目已完工：打卡照常记录", ""),
    ProjectStatus.preparing: (PrecheckStatus.block, "项目尚未开工（筹备中），不能打卡", "请联系项目劳务员确认开工日期"),
    ProjectStatus.accepted: (PrecheckStatus.block, "项目已竣工，不能打卡", "请联系项目劳务员办理退场或转入新项目"),
}


async def is_enrolled(person_id: int) -> bool:
    return await Enrolment.exists().where(Enrolment.person == person_id)


def _location_items(fix: fences.FixJudgement | None, accuracy_m: float | None, rules: Rules,
                    has_fence: bool) -> list[PrecheckItemResult]:
    """The fix as the worker needs it: inside / near / outside with the distance, and the accuracy against the
    limit — the same rules as ``geofence.decide`` (accuracy ≤ gps_max_accuracy_m; the edge margin)."""
    limit = rules.gps_max_accuracy_m
    if fix is None or accuracy_m is None:
        wait = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.pending, "正在定位…",
                                  "请打开手机定位，在室外稍候")
        return [wait, PrecheckItemResult(PrecheckItem.accuracy, PrecheckStatus.pending, "等待定位结果")]
    if "invalid_coordinates" in fix.reasons or "invalid_accuracy" in fix.reasons:
        bad = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.block, fix.message_zh or "定位坐标无效",
                                 "请点“重新定位”；仍不行请重启手机定位")
        return [bad, PrecheckItemResult(PrecheckItem.accuracy, PrecheckStatus.pending, "定位数据无效")]
    if accuracy_m > limit:
        acc = PrecheckItemResult(PrecheckItem.accuracy, PrecheckStatus.block,
                                 f"±{accuracy_m:.0f} 米，超过 {limit:.0f} 米的限制",
                                 "请到室外开阔处，稍候后点“重新定位”")
    else:
        acc = PrecheckItemResult(PrecheckItem.accuracy, PrecheckStatus.ok,
                                 f"±{accuracy_m:.0f} 米（要求不超过 {limit:.0f} 米）")
    d = fix.distance_m
    if not has_fence or d is None:
        loc = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.pending, "无法判断（项目未设置电子围栏）")
    elif d == 0.0:
        loc = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.ok, "在电子围栏内", distance_m=0.0)
    elif d <= min(accuracy_m, rules.fence_edge_margin_m):
        where = format_metres_zh(d)
        loc = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.warn,
                                 f"位于电子围栏边缘，距离 {where}：可以打卡，但会标记待复核",
                                 "向围栏内走几步再打卡更稳妥", distance_m=round(d, 1))
    else:
        where = format_metres_zh(d)
        loc = PrecheckItemResult(PrecheckItem.location, PrecheckStatus.block, f"不在电子围栏内，距离 {where}",
                                 f"走到围栏内再打卡，距离 {where}", distance_m=round(d, 1))
    return [loc, acc]


async def precheck(user: CurrentUser, *, project_id: int | None = None, lon: float | None = None,
                   lat: float | None = None, accuracy_m: float | None = None, coord_system: str = "wgs84",
                   demo_mode: bool = False) -> dict[str, Any]:
    """Everything the phone can learn before the camera starts, each with what to do: enrolled face, on a roster
    today, project status, a fence, and (with a fix) inside / near / outside with the distance and the accuracy.
    ``ready`` is False while any check would make the punch be refused.  Read-only."""
    person = _person(user)
    items: list[PrecheckItemResult] = []
    enrolled = await is_enrolled(person)
    demo_enrol = demo_mode and not enrolled
    if enrolled:
        items.append(PrecheckItemResult(PrecheckItem.face, PrecheckStatus.ok, "已采集"))
    else:
        items.append(PrecheckItemResult(
            PrecheckItem.face, PrecheckStatus.block, "尚未采集人脸",
            "演示模式：可在打卡前采集本人人脸" if demo_enrol else "请联系班组长采集人脸"))
    projects = await my_projects(person)
    chosen = next((p for p in projects if p["id"] == project_id), None) if project_id is not None else (
        projects[0] if projects else None)
    if chosen is None:
        what = "您不在该项目今天的花名册上" if project_id is not None and projects else "您今天不在任何项目的花名册上"
        items.append(PrecheckItemResult(PrecheckItem.roster, PrecheckStatus.block, what,
                                        "请联系班组长或劳务员办理进场"))
        return _precheck_out(items, None, "", demo_enrol)
    items.append(PrecheckItemResult(PrecheckItem.roster, PrecheckStatus.ok, f"在“{chosen['name']}”的花名册上"))
    status, message, advice = _PROJECT_PRECHECK.get(
        chosen["status"], (PrecheckStatus.block, "项目状态不允许打卡", "请联系项目劳务员"))
    items.append(PrecheckItemResult(PrecheckItem.project, status, message, advice))
    rules = await rules_for_project(chosen["id"])
    now = datetime.now(UTC)
    _versions, fence_list = await fences.fences_at(chosen["id"], now)
    has_fence = bool(fence_list)
    if has_fence:
        items.append(PrecheckItemResult(PrecheckItem.fence, PrecheckStatus.ok, "已设置"))
    else:
        items.append(PrecheckItemResult(PrecheckItem.fence, PrecheckStatus.block, "项目未设置电子围栏，不能手机打卡",
                                        "请联系项目劳务员设置电子围栏"))
    fix = None
    if lon is not None and lat is not None and accuracy_m is not None:
        if coord_system not in ("wgs84", "gcj02"):
            raise invalid("coord_system", "坐标系应为 wgs84 或 gcj02", "coord_system must be wgs84 or gcj02")
        fix = await fences.judge_fix(chosen["id"], lon, lat, accuracy_m, now, rules=rules, coord_system=coord_system)
    items += _location_items(fix, accuracy_m, rules, has_fence)
    # Demo only: the person trying the demo is not on the demo's site; a point inside its fence stands in for the
    # phone's fix when they choose it (clearly labelled on the page).  Outside the demo: never offered.
    demo_point = _inside_point(fence_list[0]) if demo_mode and fence_list else None
    return _precheck_out(items, chosen["id"], chosen["name"], demo_enrol, demo_point)


def _inside_point(fence: Any) -> list[float]:
    """A WGS-84 point inside a fence (the stored definitions are WGS-84): a circle's centre, the middle of a
    corridor's centre line, a point inside a polygon."""
    g = fence.geometry
    if g.geom_type == "Point":
        p = g
    elif g.geom_type == "LineString":
        p = g.interpolate(0.5, normalized=True)
    elif g.geom_type == "MultiLineString":
        p = g.geoms[0].interpolate(0.5, normalized=True)
    else:
        p = g.representative_point()
    return [round(p.x, 7), round(p.y, 7)]


def _precheck_out(items: list[PrecheckItemResult], project_id: int | None, project_name: str,
                  demo_enrol: bool, demo_point: list[float] | None = None) -> dict[str, Any]:
    blocking = [i for i in items if i.status == PrecheckStatus.block]
    return {
        "ready": not blocking, "project_id": project_id, "project_name": project_name, "demo_enrol": demo_enrol,
        "demo_point": demo_point,
        "summary": "；".join(i.advice or i.message for i in blocking),
        "checks": [{
            "code": i.code, "label": PRECHECK_ITEM_ZH[i.code], "status": i.status,
            "status_label": PRECHECK_STATUS_ZH[i.status], "message": i.message, "advice": i.advice,
            "distance_m": i.distance_m,
        } for i in items],
    }


# --- Make-up punches ---------------------------------------------------------------------------

MAKEUP_REASONS = MAKEUP_REASON_ZH  # backend/vocabulary.py
EVIDENCE_TYPES = {"image/jpeg", "image/png", "application/pdf"}
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
MAKEUP_DIRECTIONS = frozenset(Direction)  # punch.direction: in | out (attendance/tables.py)


async def request_makeup(
    user: CurrentUser, *, person_id: int, project_id: int, punch_time: datetime, reason: str, note: str,
    direction: str | None, evidence: bytes | None, evidence_type: str | None,
) -> int:
    if reason not in MAKEUP_REASONS:
        raise invalid("reason", "补卡原因应为 rain / network_failure / device_failure / other",
                      "reason must be rain, network_failure, device_failure or other")
    if direction is not None and direction not in MAKEUP_DIRECTIONS:
        raise invalid("direction", "打卡方向应为 in（进场）或 out（出场），或不填",
                      "direction must be in or out (or left out)", code="invalid_direction")
    if user.role == Role.worker and user.person_id != person_id:
        raise Forbidden("工人只能为本人申请补卡", "Workers may only request their own make-up punches")
    if not await RosterEntry.exists().where((RosterEntry.person == person_id) & (RosterEntry.project == project_id)):
        raise invalid("person_id", "此人不在该项目花名册中", "This person is not on the project's roster")
    punch_time = _aware(punch_time).astimezone(UTC)
    if punch_time > datetime.now(UTC):
        raise invalid("punch_time", "补卡时间不能晚于现在", "The make-up time cannot be in the future")
    tz = (await Project.select(Project.timezone).where(Project.id == project_id).first() or {}).get(
        "timezone", "Asia/Shanghai")
    # The role on this project on the punch day (not an arbitrary roster row): attendance.manager_on_day.
    if await manager_on_day(person_id, project_id, local_day(punch_time, tz)):
        raise Forbidden("施工现场管理人员不得补打考勤记录（赣建建〔2022〕9号 第六条）",
                        "Site managers may never make up punches (seed 000 §6)", code="manager_makeup_forbidden")
    if evidence is not None:
        if evidence_type not in EVIDENCE_TYPES:
            raise invalid("evidence", "证明材料须为 JPG、PNG 或 PDF", "Evidence must be JPG, PNG or PDF")
        if len(evidence) > MAX_EVIDENCE_BYTES:
            raise PayloadTooLarge("证明材料不能超过 5 MB", "Evidence must be at most 5 MB", field="evidence")
        _sniff(evidence, evidence_type)
    # A stranger's free text: bounded like every other note (DecisionIn.note: 500), control characters refused.
    note = clean_text(note, "note", "补卡说明", max_len=500, multiline=True) or ""
    if not note and reason == "other":
        raise invalid("note", "原因为“其他”时须填写说明", "Explain the reason")
    day = local_day(punch_time, tz)
    first = await _open_duplicate(person_id, project_id, punch_time, day, direction)
    if first is not None:
        raise _duplicate_makeup(first, tz)
    r = MakeupRequest(person=person_id, project=project_id, requested_by=user.id, punch_time=punch_time,
                      direction=direction, reason=reason, note=note.strip(), evidence=evidence,
                      evidence_type=evidence_type, day=day)
    try:
        await r.save()
    except Exception as exc:  # the database's guard (migration 2026-12-02T21:10): a concurrent twin won
        if "makeup_request_open_" not in str(exc) and "UNIQUE constraint" not in str(exc):
            raise
        first = await _open_duplicate(person_id, project_id, punch_time, day, direction)
        if first is None:
            raise
        raise _duplicate_makeup(first, tz) from exc
    return r.id


# A request that is pending or approved blocks its twin: the same person and project, and the same time — or, when
# it says in / out, the same day and direction (issue 19 item 15).  A refused request may be asked again.
_OPEN_MAKEUP = (MakeupStatus.pending, MakeupStatus.approved)


async def _open_duplicate(person_id: int, project_id: int, punch_time: datetime, day: Any,
                          direction: str | None) -> dict[str, Any] | None:
    same = MakeupRequest.punch_time == punch_time
    if direction is not None:
        same = same | ((MakeupRequest.day == day) & (MakeupRequest.direction == direction))
    return await MakeupRequest.select(
        MakeupRequest.id, MakeupRequest.punch_time, MakeupRequest.direction, MakeupRequest.status,
    ).where(
        (MakeupRequest.person == person_id) & (MakeupRequest.project == project_id)
        & MakeupRequest.status.is_in(list(_OPEN_MAKEUP)) & same
    ).order_by(MakeupRequest.id).first()


def _duplicate_makeup(first: dict[str, Any], tz: str) -> Conflict:
    when = local_time(_aware(first["punch_time"]), tz)
    status = first["status"]
    kind = label(first["direction"], Direction)
    return Conflict(
        f"已有相同的补卡申请（编号 {first['id']}，{when}{' ' + kind if kind else ''}，{MAKEUP_STATUS_ZH[status]}），"
        "请勿重复提交",
        f"A make-up request for this time already exists (#{first['id']}, {when}, {status})",
        field="punch_time", code="duplicate_makeup",
        extra={"existing_id": first["id"], "existing_status": status},
    )


def _sniff(data: bytes, declared: str | None) -> None:
    magic = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n", "application/pdf": b"%PDF-"}
    if declared and not data.startswith(magic[declared]):
        raise InvalidInput("文件内容与类型不符", "File content does not match its type", field="evidence",
                           code="bad_file_type")


async def list_makeups(project_ids: set[int] | None, status: str | None = None) -> list[dict[str, Any]]:
    q = MakeupRequest.select(
        MakeupRequest.id, MakeupRequest.person, MakeupRequest.person.name.as_alias("name"),
        MakeupRequest.person.id_masked.as_alias("id_masked"), MakeupRequest.project,
        MakeupRequest.project.name.as_alias("project_name"), MakeupRequest.punch_time, MakeupRequest.reason,
        MakeupRequest.note, MakeupRequest.status, MakeupRequest.requested_at, MakeupRequest.decided_at,
        MakeupRequest.decision_note, MakeupRequest.punch,
    ).order_by(MakeupRequest.id, ascending=False)
    if project_ids is not None:
        if not project_ids:
            return []
        q = q.where(MakeupRequest.project.is_in(sorted(project_ids)))
    if status:
        q = q.where(MakeupRequest.status == status)
    rows = await q
    for r in rows:
        r["reason_label"] = MAKEUP_REASONS.get(r["reason"], r["reason"])
    return rows


async def decide_makeup(user: CurrentUser, request_id: int, approve: bool, note: str, *,
                        feed: LiveFeed | None = None) -> dict[str, Any]:
    """The authority (当地住房城乡建设主管部门) confirms or refuses (seed 000 §六): a supervisor of the
    project's district, and no one else — not the admin, whose role is the system, not the regulator.

    One decision per request, whatever arrives at the same moment: the status moves from pending in one
    conditional UPDATE, in one transaction with the punch an approval records.  The second decision finds
    nothing pending and gets 409; a failing punch rolls the decision back (the request stays pending)."""
    if user.role != Role.supervisor:
        raise Forbidden("补卡须由项目所在区县的住建主管部门确认", "Only the district authority decides make-up punches",
                        code="role_forbidden")
    row = await _makeup_in_scope(user, request_id)
    status = MakeupStatus.approved if approve else MakeupStatus.rejected
    punch_id = None
    async with write_transaction():
        won = await MakeupRequest.update({
            MakeupRequest.status: status, MakeupRequest.decided_by: user.id,
            MakeupRequest.decided_at: datetime.now(UTC), MakeupRequest.decision_note: note,
        }).where(
            (MakeupRequest.id == request_id) & (MakeupRequest.status == MakeupStatus.pending)
        ).returning(MakeupRequest.id)
        if not won:
            raise await _already_decided(request_id)
        if approve:
            # Nested in this transaction (Piccolo joins the outer one).  record_punch announces the punch on the
            # live feed before the commit here; only the punch-id update and the commit come after it.
            v = await record_punch(PunchIn(
                source=Source.makeup, project_id=row["project"], person_id=row["person"],
                idempotency_key=f"makeup:{request_id}", captured_at=_aware(row["punch_time"]),
                direction=row["direction"], makeup_request_id=request_id,
            ), feed=feed)
            punch_id = v.punch_id
            await MakeupRequest.update({MakeupRequest.punch: punch_id}).where(MakeupRequest.id == request_id)
    return {"id": request_id, "status": status, "punch_id": punch_id}


async def _makeup_in_scope(user: CurrentUser, request_id: int) -> dict[str, Any]:
    """The request, if it is in a project of the supervisor's districts (else "not found", never revealed)."""
    row = await MakeupRequest.select(
        MakeupRequest.id, MakeupRequest.project, MakeupRequest.project.district.as_alias("district"),
        MakeupRequest.person, MakeupRequest.punch_time, MakeupRequest.direction,
    ).where(MakeupRequest.id == request_id).first()
    if row is None or row["district"] not in user.district_ids:
        raise NotFound("补卡申请不存在", "Make-up request not found", field="request_id")
    return row


async def _already_decided(request_id: int) -> Conflict:
    row = await MakeupRequest.select(MakeupRequest.status).where(MakeupRequest.id == request_id).first()
    status = row["status"] if row else None
    label = MAKEUP_STATUS_ZH.get(status, "已批准/未批准") if status else "已批准/未批准"
    return Conflict(f"该申请已被处理（{label}）", f"This make-up request has already been decided ({status})",
                    field="request_id", code="already_decided", extra={"status": status})


async def punch_count(person_id: int) -> int:
    return await Punch.count().where(Punch.person == person_id)


# --- The worker's own punches (PWA result and history pages) -------------------------------------


async def my_punch(user: CurrentUser, punch_id: int) -> dict[str, Any]:
    """One of the logged-in worker's punches, with what the result screen shows (another person's
    punch is "not found", never revealed)."""
    person = _person(user)
    row = await Punch.select(
        Punch.id, Punch.project, Punch.project.name.as_alias("project_name"),
        Punch.project.timezone.as_alias("timezone"), Punch.source, Punch.direction, Punch.captured_at,
        Punch.received_at, Punch.latency_s, Punch.verdict, Punch.reasons, Punch.flags, Punch.lon, Punch.lat,
        Punch.accuracy_m, Punch.fence_id, Punch.fence_distance_m, Punch.liveness_passed,
    ).where((Punch.id == punch_id) & (Punch.person == person)).first()
    if row is None:
        raise NotFound("打卡记录不存在", "Punch not found", field="punch_id")
    for name in ("reasons", "flags"):
        value = row[name]
        row[name] = list(json.loads(value) if isinstance(value, str) else value or [])
    return row


# --- The authority's make-up queue (issue 15: lifecycle pages) ------------------------------------------------


async def makeup_queue(project_ids: set[int] | None, *, status: str | None = MakeupStatus.pending,
                       project_id: int | None = None, day: Any = None, page: int = 1,
                       per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """One page of make-up requests of the visible projects (``None``: all), oldest first, with whether each has
    evidence and whether the person was a key manager that day (who may never have a make-up, seed 000 §六)."""
    M = MakeupRequest
    where: Any = M.id > 0
    if project_ids is not None:
        if not project_ids:
            return [], 0
        where &= M.project.is_in(sorted(project_ids))
    if status:
        where &= M.status == status
    if project_id is not None:
        where &= M.project == project_id
    if day is not None:
        where &= M.day == day
    total = await M.count().where(where)
    rows = await M.select(
        M.id, M.person, M.person.name.as_alias("name"), M.person.id_masked.as_alias("id_masked"), M.project,
        M.project.name.as_alias("project_name"), M.project.timezone.as_alias("timezone"), M.punch_time, M.direction,
        M.reason, M.note, M.status, M.requested_by, M.requested_at, M.decided_by, M.decided_at, M.decision_note,
        M.evidence_type, M.day,
    ).where(where).order_by(M.day, M.id).limit(max(1, min(per_page, 200))).offset(
        (max(1, page) - 1) * per_page)
    for r in rows:
        r["reason_label"] = MAKEUP_REASONS.get(r["reason"], r["reason"])
        r["status_label"] = MAKEUP_STATUS_ZH.get(r["status"], r["status"])
        r["has_evidence"] = bool(r["evidence_type"])
        r["key_manager"] = await manager_on_day(r["person"], r["project"], r["day"])
    return rows, total


async def makeup_evidence(user: CurrentUser, request_id: int) -> tuple[bytes, str]:
    """The evidence of a make-up request in the supervisor's districts (else "not found")."""
    await _makeup_in_scope(user, request_id)
    row = await MakeupRequest.select(MakeupRequest.evidence, MakeupRequest.evidence_type).where(
        MakeupRequest.id == request_id).first()
    if row is None or not row["evidence"]:
        raise NotFound("该申请没有证明材料", "No evidence for this request", field="request_id")
    return bytes(row["evidence"]), row["evidence_type"] or "application/octet-stream"


async def decide_makeups(user: CurrentUser, request_ids: list[int], approve: bool, note: str, *,
                         feed: LiveFeed | None = None) -> list[dict[str, Any]]:
    """Bulk decision: each request through ``decide_makeup`` (one transaction each); every request gets a result
    row — ``ok`` with its status, or the refusal's Chinese message (none silently dropped)."""
    results: list[dict[str, Any]] = []
    for rid in dict.fromkeys(request_ids):
        try:
            done = await decide_makeup(user, rid, approve, note, feed=feed)
            results.append({"id": rid, "ok": True, "status": done["status"],
                            "message": MAKEUP_STATUS_ZH.get(done["status"], done["status"])})
        except AppError as exc:
            results.append({"id": rid, "ok": False, "status": None, "message": exc.zh})
    return results


async def makeup_groups(user: CurrentUser, request_ids: list[int]) -> dict[int, tuple[int, Any]]:
    """``{id: (project, day)}`` of the requests in the supervisor's districts (the others are left out here and
    reported "not found" by the decision itself)."""
    if not request_ids:
        return {}
    rows = await MakeupRequest.select(
        MakeupRequest.id, MakeupRequest.project, MakeupRequest.day,
        MakeupRequest.project.district.as_alias("district"),
    ).where(MakeupRequest.id.is_in(sorted(set(request_ids))))
    return {r["id"]: (r["project"], r["day"]) for r in rows if r["district"] in user.district_ids}


async def makeup_requesters(request_ids: list[int]) -> dict[int, tuple[int, int, str]]:
    """``{id: (requested_by user, project, local punch time)}`` — whom to tell about a decision."""
    if not request_ids:
        return {}
    rows = await MakeupRequest.select(
        MakeupRequest.id, MakeupRequest.requested_by, MakeupRequest.project, MakeupRequest.punch_time,
        MakeupRequest.project.timezone.as_alias("timezone"),
    ).where(MakeupRequest.id.is_in(sorted(set(request_ids))))
    return {r["id"]: (r["requested_by"], r["project"], local_time(r["punch_time"], r["timezone"])) for r in rows}
