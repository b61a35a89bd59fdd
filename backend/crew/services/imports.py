"""Bulk roster import from .xlsx: a background job that validates every row, then writes all or nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import CurrentUser, require_project, visible_project_ids
from backend.bounded import BoundedRunner
from backend.crew import validation as v
from backend.crew import xlsx
from backend.crew.dictionaries import IMPORT_STATUS
from backend.crew.services.common import EDITOR_ROLES, REVIEWER_ROLES, _aware, _editor, _json_list
from backend.crew.tables import ImportJob
from backend.crypto import encrypt_text, lookup_hash, lookup_hashes
from backend.db import write_transaction
from backend.errors import AppError, Forbidden, NotFound, PayloadTooLarge, invalid
from backend.org.tables import Team
from backend.rules import Rules
from backend.validators import mask_id
from backend.vocabulary import ImportStatus, Role, local_today
from backend.workforce.services import OTHER_PROJECT
from backend.workforce.tables import Person, RosterEntry

log = logging.getLogger("smz.crew")



class ImportTasks:
    """The app's running roster imports (one set per app: ``backend.runtime.AppServices.import_tasks``).  It
    holds them (asyncio keeps only weak references to tasks) and cancels the unfinished ones at shutdown —
    a job left running is reported as stale by ``import_status``."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def cancel_all(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
_JOB_STALE_S = 600.0


async def _team_refs(project_id: int) -> dict[str, list[v.TeamRef]]:
    rows = await Team.select(
        Team.id, Team.unit, Team.name, Team.kind, Team.exited_on, Team.unit.unit_type.as_alias("unit_type"),
        Team.unit.exited_on.as_alias("unit_exited_on"), Team.unit.enterprise.name.as_alias("unit_name"),
    ).where(Team.project == project_id)
    out: dict[str, list[v.TeamRef]] = {}
    for r in rows:
        ref = v.TeamRef(id=r["id"], unit_id=r["unit"], name=r["name"], kind=r["kind"], unit_type=r["unit_type"],
                        unit_name=r["unit_name"], open=r["exited_on"] is None and r["unit_exited_on"] is None)
        out.setdefault(r["name"], []).append(ref)
    # an exited team and a new one of the same name: prefer the open one
    for name, refs in out.items():
        if any(t.open for t in refs):
            out[name] = [t for t in refs if t.open]
    return out


async def start_import(user: CurrentUser, project_id: int, data: bytes | None, filename: str = "", *,
                       runner: BoundedRunner, tasks: ImportTasks) -> int:
    """Queue an .xlsx import and return its job id; ``import_status`` reports progress and errors.
    ``runner``: the app's parse workers (``AppServices.runner``); ``tasks``: the app's running imports."""
    rules = await _editor(user, project_id)
    if not data:
        raise invalid("file", "请选择要导入的 Excel 文件", "Choose an .xlsx file", code="file_required")
    if len(data) > rules.crew_import_max_bytes:
        raise PayloadTooLarge(f"导入文件过大（上限 {rules.crew_import_max_bytes // 1024 // 1024} MB）",
                              "The import file is too large", field="file", code="file_too_large")
    if v.sniff_type(data) != "application/zip":
        raise invalid("file", "导入文件须为 Excel .xlsx 格式（请使用下载的模板）",
                      "The import file must be an .xlsx workbook", code="bad_file_type")
    # zip members and the sheet's declared extent, off the loop: a file over a limit is refused now (413/400)
    await runner.run(xlsx.check_limits, data, xlsx.ImportLimits.from_rules(rules),
                     timeout_s=rules.crew_import_max_seconds, what_zh="Excel 文件", what_en="workbook")
    job = ImportJob(project=project_id, created_by=user.id, filename=(filename or "")[:200], status=ImportStatus.queued)
    await job.save()
    tasks.spawn(run_import(job.id, project_id, data, rules, await visible_project_ids(user), runner=runner))
    return job.id


async def _job(job_id: int, **changes: Any) -> None:
    cols = {getattr(ImportJob, k): val for k, val in changes.items()}
    cols[ImportJob.updated_at] = datetime.now(UTC)
    await ImportJob.update(cols).where(ImportJob.id == job_id)


async def run_import(job_id: int, project_id: int, data: bytes, rules: Rules,
                     visible: set[int] | None = None, *, runner: BoundedRunner) -> None:
    """Validate every row, then write all of them in ONE transaction — or nothing.  ``visible``: the
    importer's projects (``visible_project_ids``; None = all); the warnings name no other project."""
    try:
        rows, _ = await runner.run(xlsx.read_rows, data, rules.crew_import_max_rows,
                                   xlsx.ImportLimits.from_rules(rules), timeout_s=rules.crew_import_max_seconds,
                                   what_zh="Excel 文件", what_en="workbook")
        await _job(job_id, status=ImportStatus.validating, total=len(rows), done=0)
        today = local_today()
        teams = await _team_refs(project_id)
        good: list[v.ImportRow] = []
        errors: list[dict[str, Any]] = []
        first_row: dict[str, int] = {}
        for i, (n, raw) in enumerate(rows, start=1):
            if isinstance(raw.get("id_number"), int | float):
                errors.append({"row": n, "column": xlsx.HEADERS["id_number"], "code": "id_not_text",
                               "message": "身份证号被 Excel 存成了数字（末几位会丢失），请将该列设为文本格式后重新填写",
                               "message_en": "The ID number was stored as a number; format the column as text"})
                continue
            row, errs = v.check_import_row(n, raw, teams, rules, today, xlsx.HEADERS)
            errors.extend(errs)
            if row is not None:
                number = row.card.info.number
                if number in first_row:
                    errors.append({"row": n, "column": xlsx.HEADERS["id_number"], "code": "duplicate_in_file",
                                   "message": f"与第 {first_row[number]} 行身份证号重复",
                                   "message_en": f"Same ID number as row {first_row[number]}"})
                else:
                    first_row[number] = n
                    good.append(row)
            if i % 500 == 0:
                await _job(job_id, done=i)
        warnings = await _check_against_db(project_id, good, errors, visible)
        await _job(job_id, done=len(rows))
        if errors:
            errors.sort(key=lambda e: (e["row"] or 0))
            bad_rows = len({e["row"] for e in errors})
            await _job(job_id, status=ImportStatus.failed, errors=errors, warnings=warnings,
                       message=f"共 {bad_rows} 行有误，未导入任何数据。请修改后重新导入。")
            return
        await _job(job_id, status=ImportStatus.writing)
        await _write_rows(project_id, good)
        await _job(job_id, status=ImportStatus.done, imported=len(good), warnings=warnings,
                   message=f"已导入 {len(good)} 人。未采集人脸的人员请在平板上补录证件照和人脸；"
                   "上传劳动合同前不会下发到闸机（未签劳动合同的人员不得进场作业）。")
    except AppError as e:
        await _job(job_id, status=ImportStatus.failed, errors=[{"row": None, "column": "", "code": e.code, "message": e.zh,
                                                     "message_en": e.en}], message=e.zh)
    except Exception:
        log.exception("import job %s failed", job_id)
        await _job(job_id, status=ImportStatus.failed, message="导入时发生内部错误，未导入任何数据",
                   errors=[{"row": None, "column": "", "code": "internal_error",
                            "message": "导入时发生内部错误，未导入任何数据", "message_en": "Internal error; nothing imported"}])


async def _check_against_db(project_id: int, rows: list[v.ImportRow], errors: list[dict[str, Any]],
                            visible: set[int] | None) -> list[dict[str, Any]]:
    """Rows whose person is already active on this project are errors; active on another project, a warning
    (a project outside ``visible`` is not named, as in ``workforce.services.active_elsewhere``)."""
    hashes = {lookup_hash(r.card.info.number): r for r in rows}
    ring = _ring_hashes(rows)
    keys = list(ring)
    existing: dict[str, dict[str, Any]] = {}
    for i in range(0, len(keys), 900):
        for p in await Person.select(Person.id, Person.id_hash, Person.name).where(Person.id_hash.is_in(keys[i:i + 900])):
            existing[ring[p["id_hash"]]] = p
    by_person = {p["id"]: hashes[h] for h, p in existing.items()}
    pids = list(by_person)
    warnings: list[dict[str, Any]] = []
    for i in range(0, len(pids), 900):
        for e in await RosterEntry.select(
            RosterEntry.person, RosterEntry.project, RosterEntry.project.name.as_alias("project_name"),
            RosterEntry.entered_on,
        ).where(RosterEntry.person.is_in(pids[i:i + 900]) & RosterEntry.exited_on.is_null()):
            row = by_person[e["person"]]
            if e["project"] == project_id:
                errors.append({"row": row.row, "column": xlsx.HEADERS["id_number"], "code": "duplicate_roster_entry",
                               "message": "此人已在本项目花名册中（未退场），不能重复进场",
                               "message_en": "Already on this project's roster"})
            else:
                name = e["project_name"] if visible is None or e["project"] in visible else OTHER_PROJECT
                warnings.append({"row": row.row, "name": row.card.name, "id_masked": mask_id(row.card.info.number),
                                 "project_name": name, "entered_on": e["entered_on"].isoformat(),
                                 "message": f"{row.card.name} 自 {e['entered_on'].isoformat()} 起仍在“{name}”在场"})
    for h, p in existing.items():
        row = hashes[h]
        if p["name"] != row.card.name:
            errors.append({"row": row.row, "column": xlsx.HEADERS["name"], "code": "name_mismatch",
                           "message": "姓名与系统中该身份证号已登记的姓名不一致，请核对",
                           "message_en": "The name differs from the one registered for this ID number"})
    return warnings


async def _bulk_insert(table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERT with bound parameters (both engines), in chunks under their parameter limits.
    Piccolo's ORM insert builds a Table object per row: ~0.5 ms each, too slow for 5,000 rows."""
    per = max(1, 30_000 // len(columns) // 2)
    placeholders = "(" + ", ".join("{}" for _ in columns) + ")"
    for i in range(0, len(rows), per):
        chunk = rows[i:i + per]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join(placeholders for _ in chunk)
        await Person.raw(sql, *(v for row in chunk for v in row))


_PERSON_COLUMNS = ("name", "id_cipher", "id_hash", "id_masked", "gender", "birth_date", "ethnicity", "phone",
                   "address", "id_issuer", "id_valid_until", "created_at")
_ENTRY_COLUMNS = ("person", "project", "unit", "team", "work_role", "post", "work_type", "entered_on", "exited_on",
                  "exit_note", "created_at")


def _ring_hashes(rows: list[v.ImportRow]) -> dict[str, str]:
    """Every key-ring hash of each row's ID number → its current-key hash: a person not yet re-hashed by
    ``smz rotate-key`` is still found (backend.crypto.lookup_hashes)."""
    return {h: hs[0] for r in rows for hs in [lookup_hashes(r.card.info.number)] for h in hs}


async def _write_rows(project_id: int, rows: list[v.ImportRow]) -> None:
    now = datetime.now(UTC)
    hashes = [lookup_hash(r.card.info.number) for r in rows]
    ring = _ring_hashes(rows)
    ring_keys = list(ring)
    async with write_transaction():
        known: dict[str, int] = {}
        for i in range(0, len(ring_keys), 900):
            for p in await Person.select(Person.id, Person.id_hash).where(Person.id_hash.is_in(ring_keys[i:i + 900])):
                known[ring[p["id_hash"]]] = p["id"]
        new = [(r.card.name, encrypt_text(r.card.info.number), h, mask_id(r.card.info.number), r.card.info.gender,
                r.card.info.birth_date, r.card.ethnicity, r.phone, r.card.address, r.card.issuer, r.card.valid_until, now)
               for r, h in zip(rows, hashes, strict=True) if h not in known]
        await _bulk_insert("person", _PERSON_COLUMNS, new)
        missing = [h for h in hashes if h not in known]
        for i in range(0, len(missing), 900):
            for p in await Person.select(Person.id, Person.id_hash).where(Person.id_hash.is_in(missing[i:i + 900])):
                known[p["id_hash"]] = p["id"]
        entries = [(known[h], project_id, r.team.unit_id, r.team.id, r.work_role, r.post, r.work_type, r.entered_on,
                    None, "", now) for r, h in zip(rows, hashes, strict=True)]
        await _bulk_insert("roster_entry", _ENTRY_COLUMNS, entries)


async def import_status(user: CurrentUser, project_id: int, job_id: int) -> dict[str, Any]:
    """An import job's progress and report (rows with names): for editors and reviewers of the project; a
    foreman sees only the jobs they started."""
    await require_project(user, project_id)
    if user.role not in EDITOR_ROLES | REVIEWER_ROLES:
        raise Forbidden("当前角色不能查看导入任务", "Your role may not see import jobs", code="role_forbidden")
    row = await ImportJob.select().where((ImportJob.id == job_id) & (ImportJob.project == project_id)).first()
    if row is not None and user.role == Role.foreman and row["created_by"] != user.id:
        row = None
    if row is None:
        raise NotFound("导入任务不存在", "Import job not found", field="job_id")
    if row["status"] in (ImportStatus.queued, ImportStatus.validating, ImportStatus.writing):
        age = (datetime.now(UTC) - _aware(row["updated_at"])).total_seconds()
        if age > _JOB_STALE_S:  # the process running it died: its transaction never committed
            await _job(job_id, status=ImportStatus.failed, message="导入任务已中断，未导入任何数据，请重新导入")
            return await import_status(user, project_id, job_id)
    row["errors"] = _json_list(row["errors"])
    row["warnings"] = _json_list(row["warnings"])
    row["status_label"] = IMPORT_STATUS[row["status"]]
    row["finished"] = row["status"] in (ImportStatus.done, ImportStatus.failed)
    row["percent"] = 100 if row["finished"] else (int(row["done"] * 100 / row["total"]) if row["total"] else 0)
    return row


