"""Phone clock-in API (multipart uploads from the PWA) and make-up requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import JSONBody

from backend.accounts.services import require_project, visible_project_ids
from backend.attendance.reasons import REASON_ZH, describe
from backend.attendance.schemas import PunchRowOut
from backend.auth import AuthUser, FaceDep, LiveFeedDep, only_roles, roles
from backend.clockin import services
from backend.clockin.schemas import (
    ChallengeIn,
    ChallengeOut,
    ClockInOut,
    DecisionIn,
    DemoEnrolOut,
    MakeupDecisionOut,
    MakeupOut,
    MyProjectOut,
    PrecheckOut,
)
from backend.crew.enrolment import save_enrolment
from backend.db import write_transaction
from backend.errors import Conflict, Forbidden, invalid
from backend.org.services import rules_for_project
from backend.schemas import Created, out
from backend.settings import get_settings
from backend.vocabulary import ConsentAction, ConsentChannel, EnrolmentSource, PunchVerdict, Role
from backend.workforce import consent


def _float(form: Any, name: str) -> float:
    raw = form.get(name)
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise invalid(name, f"字段 {name} 应为数字", f"Field {name} must be a number") from None


def _datetime(raw: Any, name: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, f"字段 {name} 应为 ISO 8601 时间", f"Field {name} must be an ISO 8601 time") from None
    if dt.tzinfo is None:
        raise invalid(name, "时间须带时区", "The time needs a time zone")
    return dt


async def _read_files(form: Any, name: str) -> list[bytes]:
    out = []
    for item in form.getall(name) if hasattr(form, "getall") else [form.get(name)]:
        if isinstance(item, UploadFile):
            out.append(await item.read())
        elif item is not None:
            raise invalid(name, f"字段 {name} 应为文件", f"Field {name} must be a file")
    return out


def _message(v: Any) -> str:
    """The verdict in plain Chinese, with the fence's numbers when the fence decided it."""
    fence_message = v.extra.get("fence_message")
    if fence_message and v.verdict == PunchVerdict.rejected:
        others = [r for r in v.reasons if r not in ("outside_fence", "low_gps_accuracy", "invalid_coordinates")]
        return "打卡失败：" + "；".join([fence_message, *([describe(others)] if others else [])])
    return v.message_zh


class ClockInController(Controller):
    path = "/api/clockin"
    tags = ["clock-in"]

    @post("/challenge", status_code=200)
    async def challenge(self, user: AuthUser, data: JSONBody[ChallengeIn | None] = None) -> ChallengeOut:
        return out(ChallengeOut, await services.issue_challenge(user, data.project_id if data else None))

    @post("/", status_code=200)
    async def clock_in(self, request: Request[Any, Any, Any], user: AuthUser, face: FaceDep,
                       live_feed: LiveFeedDep) -> ClockInOut:
        """multipart/form-data: idempotency_key, captured_at (ISO 8601 with zone), lon, lat, accuracy_m,
        coord_system (wgs84|gcj02), nonce (or offline_actions = comma list), project_id?, frames (files)."""
        form = await request.form()
        offline = form.get("offline_actions")
        project = form.get("project_id")
        c = services.ClockIn(
            idempotency_key=str(form.get("idempotency_key") or ""),
            captured_at=_datetime(form.get("captured_at"), "captured_at"),
            lon=_float(form, "lon"), lat=_float(form, "lat"), accuracy_m=_float(form, "accuracy_m"),
            frames=await _read_files(form, "frames"),
            nonce=str(form.get("nonce")) if form.get("nonce") else None,
            offline_actions=[a for a in str(offline).split(",") if a] if offline else None,
            project_id=int(project) if project and str(project).isdigit() else None,
            coord_system=str(form.get("coord_system") or "wgs84"),
            sent_at=_datetime(form.get("sent_at"), "sent_at") if form.get("sent_at") else None,
        )
        v = await services.clock_in(user, c, face=face, feed=live_feed)
        return ClockInOut(
            punch_id=v.punch_id, verdict=v.verdict, accepted=v.accepted, reasons=list(v.reasons),
            flags=list(v.flags), message=_message(v), latency_s=round(v.latency_s, 1),
            labels=[REASON_ZH.get(x, x) for x in (*v.reasons, *v.flags)], duplicate=v.duplicate,
            captured_at=v.captured_at.isoformat(), received_at=v.received_at.isoformat(),
        )

    @get("/precheck")
    async def precheck(self, user: AuthUser, project_id: int | None = None, lon: float | None = None,
                       lat: float | None = None, accuracy: float | None = None,
                       coord_system: str = "wgs84") -> PrecheckOut:
        """Before the camera: enrolled face, on a roster today, project status, a fence, and with a fix (lon, lat,
        accuracy in metres) inside / near / outside with the distance.  Read-only; the clock-in re-checks all."""
        return out(PrecheckOut, await services.precheck(
            user, project_id=project_id, lon=lon, lat=lat, accuracy_m=accuracy, coord_system=coord_system,
            demo_mode=get_settings().demo_mode))

    @post("/demo-enrol", status_code=200, guards=[only_roles(Role.worker)])
    async def demo_enrol(self, request: Request[Any, Any, Any], user: AuthUser, face: FaceDep) -> DemoEnrolOut:
        """Demo mode only (``smz demo``): a worker whose face was never enrolled enrols their own face (one photo
        from the live camera, multipart ``photo``) at the first clock-in.  403 outside demo mode; 409 once enrolled
        (a real enrolment is the foreman's, with the ID card: crew).  ``consent_version``: the consent text the
        worker ticked on the phone (单独同意, issue 20 B.1), recorded with the face; without it and without an
        earlier consent, 409 ``consent_missing``."""
        if not get_settings().demo_mode:
            raise Forbidden("仅演示模式可在手机上自助采集人脸，请联系班组长采集",
                            "Self-enrolment on the phone is only available in demo mode", code="demo_only")
        if user.person_id is None:
            raise Forbidden("当前账号未关联人员", "This account is not linked to a person", code="no_person")
        if await services.is_enrolled(user.person_id):
            raise Conflict("已采集人脸，无需再次采集", "The face is already enrolled", code="already_enrolled")
        form = await request.form()
        photos = await _read_files(form, "photo")
        if len(photos) != 1:
            raise invalid("photo", "请上传一张照片", "Send exactly one photo", code="no_photo")
        consent_version = str(form.get("consent_version") or "").strip()
        if consent_version:
            consent.check_version(consent_version)
        elif not await consent.has_consent(user.person_id):
            raise consent.refusal()
        projects = await services.my_projects(user.person_id)
        rules = await rules_for_project(projects[0]["id"]) if projects else None
        result = await face.encode(photos[0], purpose="enrol", field="photo", rules=rules,
                                   max_bytes=rules.mobile_max_frame_bytes if rules else None)
        async with write_transaction():
            if consent_version:
                await consent.record(user.person_id, ConsentAction.given, channel=ConsentChannel.phone,
                                     version=consent_version, project_id=projects[0]["id"] if projects else None,
                                     user_id=user.id, username=user.username)
            await save_enrolment(user.person_id, result.encoding, photos[0], None, EnrolmentSource.demo)
        return DemoEnrolOut(person_id=user.person_id, enrolled=True, message="演示模式：已采集本人人脸，可以打卡了")

    @get("/history")
    async def history(self, user: AuthUser) -> list[PunchRowOut]:
        return out(list[PunchRowOut], await services.my_history(user))

    @get("/projects")
    async def projects(self, user: AuthUser) -> list[MyProjectOut]:
        return out(list[MyProjectOut], await services.my_projects(user.person_id) if user.person_id else [])


class MakeupController(Controller):
    path = "/api/makeups"
    tags = ["make-up"]

    @post("/", status_code=201, guards=[roles(Role.worker, Role.foreman, Role.project_staff, Role.enterprise)])
    async def create(self, request: Request[Any, Any, Any], user: AuthUser) -> Created:
        """multipart/form-data: person_id, project_id, punch_time, reason, note, direction?, evidence (file)?"""
        form = await request.form()
        try:
            person_id = int(form.get("person_id") or user.person_id or 0)
            project_id = int(form.get("project_id") or 0)
        except ValueError:
            raise invalid("person_id", "人员或项目编号无效", "Invalid person or project id") from None
        if user.role != Role.worker:
            await require_project(user, project_id, write=True)
        evidence = form.get("evidence")
        data = await evidence.read() if isinstance(evidence, UploadFile) else None
        rid = await services.request_makeup(
            user, person_id=person_id, project_id=project_id,
            punch_time=_datetime(form.get("punch_time"), "punch_time"), reason=str(form.get("reason") or ""),
            note=str(form.get("note") or ""), direction=form.get("direction") or None, evidence=data,
            evidence_type=evidence.content_type if isinstance(evidence, UploadFile) else None,
        )
        return Created(id=rid)

    @get("/")
    async def list_requests(self, user: AuthUser, status: str | None = None) -> list[MakeupOut]:
        if user.role == Role.worker:
            rows = await services.list_makeups(await visible_project_ids(user), status)
            return out(list[MakeupOut], [r for r in rows if r["person"] == user.person_id])
        return out(list[MakeupOut], await services.list_makeups(await visible_project_ids(user), status))

    # Only the district authority confirms a make-up punch (seed 000 §六) — not the admin.
    @post("/{request_id:int}/decision", status_code=200, guards=[only_roles(Role.supervisor)])
    async def decide(self, request_id: int, data: JSONBody[DecisionIn], user: AuthUser,
                     live_feed: LiveFeedDep) -> MakeupDecisionOut:
        return out(MakeupDecisionOut, await services.decide_makeup(user, request_id, data.approve, data.note,
                                                                   feed=live_feed))
