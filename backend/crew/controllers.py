"""HTTP API of crew registration (thin: forms → services).  ID numbers leave only masked."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from backend.accounts.services import require_project
from backend.auth import AuthUser, FaceDep, ImportTasksDep, RunnerDep
from backend.crew import forms, ocr, services
from backend.crew.schemas import (
    AccountIssuedOut,
    ContractOut,
    CrewLimitsOut,
    CrewRosterRowOut,
    ExitedOut,
    FaceCheckedOut,
    IdAccessOut,
    ImportJobOut,
    JobOut,
    OcrOut,
    RegistrationChallengeOut,
    RegistrationCompletedOut,
    RegistrationOut,
    RegistrationStartedOut,
    ReviewDecidedOut,
    ReviewIn,
)
from backend.crew.validation import parse_date
from backend.crew.xlsx import XLSX_TYPE, template_bytes
from backend.org.services import rules_for_project
from backend.schemas import Created, StatusOut, out
from backend.wages.exits import exit_with_settlement


def file_response(data: bytes, media_type: str, filename: str, *, inline: bool = True) -> Response[bytes]:
    disposition = "inline" if inline else "attachment"
    return Response(
        content=data, media_type=media_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename or 'file')}",
            "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        },
    )


class RegistrationController(Controller):
    path = "/api/projects/{project_id:int}/crew"
    tags = ["crew registration"]

    @post("/registrations", status_code=201)
    async def start(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser,
                    face: FaceDep) -> RegistrationStartedOut:
        """Step 1 (multipart): id_front, id_back (photos), id_number, name, gender, ethnicity, birth_date,
        address, issuer, id_valid_from, id_valid_until | id_long_term."""
        form = await request.form()
        return out(RegistrationStartedOut, await services.start_registration(user, project_id, await forms.id_step(form),
                                                                             face_service=face))

    @get("/registrations")
    async def list_open(self, project_id: int, user: AuthUser, all: bool = False) -> list[RegistrationOut]:
        return out(list[RegistrationOut], await services.list_registrations(user, project_id, open_only=not all))

    @get("/registrations/{rid:int}")
    async def detail(self, project_id: int, rid: int, user: AuthUser) -> RegistrationOut:
        return out(RegistrationOut, await services.get_registration(user, project_id, rid))

    @get("/registrations/{rid:int}/photo/{which:str}")
    async def photo(self, project_id: int, rid: int, which: str, user: AuthUser) -> Response[bytes]:
        data = await services.registration_photo(user, project_id, rid, which)
        return file_response(data, "image/jpeg", f"{which}-{rid}.jpg")

    @post("/registrations/{rid:int}/challenge", status_code=200)
    async def challenge(self, project_id: int, rid: int, user: AuthUser) -> RegistrationChallengeOut:
        return out(RegistrationChallengeOut, await services.issue_challenge(user, project_id, rid))

    @post("/registrations/{rid:int}/face", status_code=200)
    async def face(self, project_id: int, rid: int, request: Request[Any, Any, Any], user: AuthUser,
                   face: FaceDep) -> FaceCheckedOut:
        """Step 2 (multipart): nonce, captured_at (ISO 8601 with zone), frames (files, in capture order)."""
        form = await request.form()
        return out(FaceCheckedOut, await services.submit_face(
            user, project_id, rid, nonce=forms.text(form, "nonce", 64), captured_at=forms.moment(form, "captured_at"),
            frames=await forms.uploads(form, "frames"), face_service=face))

    @post("/registrations/{rid:int}/complete", status_code=200)
    async def complete(self, project_id: int, rid: int, request: Request[Any, Any, Any], user: AuthUser) -> RegistrationCompletedOut:
        """Step 3 (multipart): unit_id, team_id, work_role, post | work_type, entered_on, phone; optional
        contract: contract_file, contract_type, contract_no, signed_on, starts_on, ends_on."""
        form = await request.form()
        return out(RegistrationCompletedOut,
                   await services.complete_registration(user, project_id, rid, await forms.roster_step(form)))

    @post("/registrations/{rid:int}/cancel", status_code=200)
    async def cancel(self, project_id: int, rid: int, user: AuthUser) -> StatusOut:
        await services.cancel_registration(user, project_id, rid)
        return StatusOut(status="cancelled")

    @post("/ocr", status_code=200)
    async def read_card(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> OcrOut:
        """Optional OCR prefill (tesseract when installed): id_front and/or id_back → field values."""
        form = await request.form()
        await require_project(user, project_id, write=True)
        front, _ = await forms.upload(form, "id_front")
        back, _ = await forms.upload(form, "id_back")
        return OcrOut(available=ocr.available(), fields=await ocr.read_card(front, back))


class RosterCrewController(Controller):
    path = "/api/projects/{project_id:int}/crew"
    tags = ["crew roster"]

    @get("/roster")
    async def roster(self, project_id: int, user: AuthUser, active: bool = True, missing_contract: bool = False,
                     q: str = "") -> list[CrewRosterRowOut]:
        return out(list[CrewRosterRowOut], await services.roster(user, project_id, active_only=active,
                                                                 missing_contract=missing_contract, q=q))

    @post("/roster/{entry_id:int}/enrolment", status_code=201)
    async def supplement(self, project_id: int, entry_id: int, request: Request[Any, Any, Any], user: AuthUser,
                         face: FaceDep) -> RegistrationStartedOut:
        """采集人脸 / 补录证件 for a person already on the roster (multipart): id_front, id_back (photos),
        ethnicity, address, issuer, id_valid_from, id_valid_until | id_long_term — the ID number and name are the
        ones on record.  Starts a registration of this entry: then /challenge, /face and /complete as usual."""
        form = await request.form()
        return out(RegistrationStartedOut, await services.start_supplement(
            user, project_id, entry_id, await forms.id_step(form), face_service=face))

    @post("/roster/{entry_id:int}/exit", status_code=200)
    async def exit(self, project_id: int, entry_id: int, request: Request[Any, Any, Any], user: AuthUser) -> ExitedOut:
        """multipart: exited_on, note, confirmation (signed 退场确认书: PDF, JPG or PNG), workload_confirmed and
        wages_settled (both "true": seed 004 §三(五)); anything missing → 400 naming it, nothing stored.  With
        wages still owed on the payroll, ``unpaid_reason`` is required (400 ``wages_owed``) and a finding is raised."""
        await services.require_editor(user, project_id)
        form = await request.form()
        data, name = await forms.upload(form, "confirmation")
        exited_on = parse_date(forms.text(form, "exited_on", 20), "exited_on", "退场日期")
        return out(ExitedOut, await exit_with_settlement(
            project_id, entry_id, forms.text(form, "unpaid_reason", 500), lambda: services.exit_person(
                user, project_id, entry_id, exited_on=exited_on, note=forms.text(form, "note", 500), confirmation=data,
                filename=name, workload_confirmed=forms.flag(form, "workload_confirmed"),
                wages_settled=forms.flag(form, "wages_settled")), exited_on))

    @post("/exit-documents", status_code=201)
    async def exit_document(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Created:
        """multipart: file (a signed 退场确认书: PDF, JPG or PNG) → its id, for the roster API's exit
        (``confirmation_file_id``)."""
        form = await request.form()
        data, name = await forms.upload(form, "file")
        return Created(id=await services.upload_exit_document(user, project_id, data, name))

    @get("/roster/{entry_id:int}/contracts")
    async def contracts_of(self, project_id: int, entry_id: int, user: AuthUser) -> list[ContractOut]:
        return out(list[ContractOut], await services.list_contracts(user, project_id, entry_id))

    @post("/roster/{entry_id:int}/contracts", status_code=201)
    async def add_contract(self, project_id: int, entry_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Created:
        """multipart: contract_file (PDF, JPG or PNG), contract_type, contract_no, signed_on, starts_on, ends_on."""
        form = await request.form()
        c = await forms.contract(form, required=True)
        assert c is not None
        return Created(id=await services.add_contract(user, project_id, entry_id, c))

    @get("/contracts")
    async def contracts(self, project_id: int, user: AuthUser) -> list[ContractOut]:
        return out(list[ContractOut], await services.list_contracts(user, project_id))

    @post("/people/{person_id:int}/account", status_code=200)
    async def account(self, project_id: int, person_id: int, user: AuthUser) -> AccountIssuedOut:
        """(Re-)issue the worker's phone account with a new one-time initial password."""
        return out(AccountIssuedOut, await services.reset_worker_password(user, project_id, person_id))

    @get("/files/{file_id:int}")
    async def file(self, project_id: int, file_id: int, user: AuthUser) -> Response[bytes]:
        f = await services.get_file(user, project_id, file_id)
        ext = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(f["content_type"], "bin")
        return file_response(bytes(f["data"]), f["content_type"], f"{f['kind']}-{file_id}.{ext}")

    @get("/import/template")
    async def template(self, project_id: int, user: AuthUser) -> Response[bytes]:
        await require_project(user, project_id)
        return file_response(template_bytes(), XLSX_TYPE, "人员导入模板.xlsx", inline=False)

    @post("/import", status_code=202)
    async def start_import(self, project_id: int, request: Request[Any, Any, Any], user: AuthUser,
                           runner: RunnerDep, import_tasks: ImportTasksDep) -> JobOut:
        """multipart: file (.xlsx from the template).  Poll GET /import/{job_id} for progress and the report."""
        form = await request.form()
        data, name = await forms.upload(form, "file")
        return JobOut(job_id=await services.start_import(user, project_id, data, name, runner=runner, tasks=import_tasks))

    @get("/import/{job_id:int}")
    async def import_status(self, project_id: int, job_id: int, user: AuthUser) -> ImportJobOut:
        return out(ImportJobOut, await services.import_status(user, project_id, job_id))

    @get("/export")
    async def export(self, project_id: int, user: AuthUser, full_id: bool = False, reason: str = "") -> Response[bytes]:
        """``full_id=true`` (project staff, the district's supervisor, admins) needs ``reason``; it is logged."""
        name, data = await services.export_roster(user, project_id, full_id=full_id, reason=reason)
        return file_response(data, XLSX_TYPE, name, inline=False)

    @get("/rules")
    async def limits(self, project_id: int, user: AuthUser) -> CrewLimitsOut:
        await require_project(user, project_id)
        r = await rules_for_project(project_id)
        return CrewLimitsOut(
            crew_document_max_bytes=r.crew_document_max_bytes, crew_import_max_bytes=r.crew_import_max_bytes,
            crew_import_max_rows=r.crew_import_max_rows, liveness_max_frames=r.liveness_max_frames,
            mobile_max_frame_bytes=r.mobile_max_frame_bytes, ocr_available=ocr.available())


class ReviewController(Controller):
    path = "/api/crew/reviews"
    tags = ["crew review"]

    @get("/")
    async def pending(self, user: AuthUser) -> list[RegistrationOut]:
        return out(list[RegistrationOut], await services.list_reviews(user))

    @post("/{rid:int}", status_code=200)
    async def decide(self, rid: int, data: JSONBody[ReviewIn], user: AuthUser) -> ReviewDecidedOut:
        return out(ReviewDecidedOut, await services.decide_review(user, rid, approve=data.approve, note=data.note))

    @get("/{rid:int}/duplicate.jpg")
    async def duplicate(self, rid: int, user: AuthUser) -> Response[bytes]:
        return file_response(await services.duplicate_photo(user, rid), "image/jpeg", f"duplicate-{rid}.jpg")



class IdAccessLogController(Controller):
    path = "/api/crew/id-access-log"
    tags = ["crew roster"]

    @get("/")
    async def entries(self, user: AuthUser, project_id: int | None = None, limit: int = 500) -> list[IdAccessOut]:
        """Full-ID exports (who, when, which project, how many records, why): the district's supervisor, admins."""
        return out(list[IdAccessOut], await services.id_access_log(user, project_id, limit))
