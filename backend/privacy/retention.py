"""Retention of personal data after a project's completion (issue 20 B.2; ``smz retention``, in ``smz nightly``).

Seed 002 §三(二)2 "存储信息时长为工程竣工后2年" and seed 004 §三(五) "工程竣工验收后保存2年以上备查"; PIPL: faces and
ID numbers are sensitive personal information, kept no longer than needed.  Our reading (docs/rules.md,
"Retention"): the clock starts at 竣工 — the project's approved change to status ``accepted`` (its effective day;
``project.completed_on``, the 完工 day, only when no such change is recorded) — and the data is due the day after
the anniversary (``retention_due``; ``Rules.retention_years`` per district).  A project that is 完工 but not yet
竣工 is not due.

What goes for a due project (``plan`` counts it, ``run_retention`` does it):

- punch photos of its punches (the punches stay): the punch's hash and place are cleared, then in the photo store
  (backend.photostore) its slice of a gate batch's pack is released (a hole punched), and a file of its own is
  deleted unless another punch still holds the same hash; legacy ``punch_photo`` rows are deleted.  A slice is
  released before its row is cleared (a crash in between: the next run releases it again); a file is deleted
  after (a crash in between leaves an orphan file that ``smz photos sweep`` removes);
- the photos and templates of its crew registrations (ID-card portrait, enrolment selfie), and the bytes of the
  ID-card scans it holds (``crew_file`` kinds ``id_front`` / ``id_back``; the row stays, empty, for the links);
- for each person of the project whose EVERY project is past retention (a person still on another project —
  live, or completed but not yet due — keeps everything): the enrolment's face photo, template and ID photo;
- only once the 用工管理台账 may go too (《保障农民工工资支付条例》第二十八条: 3 years after completion and every wage
  paid — ``Rules.ledger_retention_years``, ``owes_wages``): bank card numbers of its payroll lines (the ciphertext
  is emptied; ``card_masked`` stays) and, for people whose every project is past that, the full ID number (the
  ciphertext becomes ``masked:<id_masked>``, ``backend.crypto.masked_token``; the look-up hash becomes
  ``purged:<id>``, so the number can no longer be searched or recovered) and the ID-card address.

Kept: projects, rosters, punches (times, verdicts, places), rollups, contracts, exit confirmations, payrolls and
payment results — the attendance and wage facts.

Batched and resumable: every step works in batches of ``batch`` rows, each batch one short write transaction that
also adds its counts to the project's ``retention_run`` row; a crash leaves every batch either done or not, and
the next run resumes the project's ``running`` row.  A second run finds nothing left and writes nothing.
(On PostgreSQL ``punch`` is partitioned by month — issue 18, ``backend/attendance/partitions.py`` — but retention
drops no partition: the punches are attendance facts it keeps, and only their photos go, deleted in batches by
``_delete_punch_photos``.  A month of punches goes only by the explicit ``smz partitions drop --before YYYY-MM
--yes``, when every punch in it belongs to a project past the 用工管理台账's keeping, ``ledger_retention_years``.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any

from backend import photostore
from backend.attendance.tables import Punch, PunchPhoto
from backend.crew.enrolment import bump_face_version
from backend.crew.tables import CrewFile, Registration
from backend.db import write_transaction
from backend.org.services import rules_for_district
from backend.org.tables import Project, ProjectStatusChange
from backend.privacy.tables import RetentionRun
from backend.rules import Rules
from backend.vocabulary import ProjectStatus, local_today
from backend.wages.payroll import effective
from backend.wages.tables import Payroll, PayrollLine
from backend.workforce.tables import Enrolment, Person, RosterEntry

log = logging.getLogger("smz.privacy.retention")

BATCH = 500
ID_FILE_KINDS = ("id_front", "id_back")
PURGED_HASH_PREFIX = "purged:"
MASKED_PREFIX = "masked:"  # backend.crypto.MASKED_PREFIX


# ============================================================================ the rule


def anniversary(completed_on: date, years: int) -> date:
    """``completed_on`` plus whole years; 29 February becomes 28 February in a year without it."""
    try:
        return completed_on.replace(year=completed_on.year + years)
    except ValueError:
        return completed_on.replace(year=completed_on.year + years, day=28)


def retention_due(completed_on: date, today: date, *, years: int = 2) -> bool:
    """True iff ``today`` is strictly after the ``years``-th anniversary of ``completed_on`` (seed 002 §三(二)2
    "工程竣工后2年", seed 004 §三(五) "竣工验收后保存2年以上": the data is kept through the anniversary day)."""
    return today > anniversary(completed_on, years)


# ============================================================================ what is due


@dataclass
class Counts:
    punch_photos: int = 0
    face_photos: int = 0
    face_templates: int = 0
    id_photos: int = 0
    id_files: int = 0
    id_numbers: int = 0
    bank_cards: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


COUNT_LABELS: dict[str, str] = {
    "punch_photos": "打卡照片", "face_photos": "人脸照片", "face_templates": "人脸特征", "id_photos": "身份证头像",
    "id_files": "身份证扫描件", "id_numbers": "身份证号（改为脱敏）", "bank_cards": "银行卡号（改为脱敏）",
}


@dataclass
class ProjectRetention:
    project_id: int
    name: str
    completed_on: date
    years: int
    as_of: date
    counts: Counts = field(default_factory=Counts)
    kept_people: int = 0  # people of the project who keep their data (still on a project not yet due)
    run_id: int | None = None


@dataclass(frozen=True)
class _Due:
    project_id: int
    name: str
    completed_on: date
    years: int
    as_of: date
    # The 用工管理台账 may go too: ``ledger_retention_years`` after 竣工 and nothing owed (ID and card numbers).
    ledger_due: bool = False


async def completion_dates() -> dict[int, tuple[date, dict[str, Any]]]:
    """竣工 day of every accepted project: its latest recorded change to ``accepted``, else ``completed_on``."""
    projects = await Project.select(Project.id, Project.name, Project.district, Project.timezone,
                                    Project.completed_on).where(Project.status == ProjectStatus.accepted)
    if not projects:
        return {}
    changes = await ProjectStatusChange.select(ProjectStatusChange.project, ProjectStatusChange.effective_on).where(
        (ProjectStatusChange.to_status == ProjectStatus.accepted)
        & ProjectStatusChange.project.is_in([p["id"] for p in projects]))
    accepted: dict[int, date] = {}
    for c in changes:
        accepted[c["project"]] = max(c["effective_on"], accepted.get(c["project"], c["effective_on"]))
    out: dict[int, tuple[date, dict[str, Any]]] = {}
    for p in projects:
        day = accepted.get(p["id"]) or p["completed_on"]
        if day is None:
            log.warning("project %s is accepted but has no completion day: retention skipped", p["id"])
            continue
        out[p["id"]] = (day, p)
    return out


async def due_projects(today: date | None = None) -> list[_Due]:
    """Accepted projects past their district's retention (``today`` default: each project's local today)."""
    rules: dict[int, Rules] = {}
    due = []
    for pid, (completed, p) in sorted((await completion_dates()).items()):
        if p["district"] not in rules:
            rules[p["district"]] = await rules_for_district(p["district"])
        r = rules[p["district"]]
        years = r.retention_years
        as_of = today or local_today(p["timezone"])
        if retention_due(completed, as_of, years=years):
            ledger = (retention_due(completed, as_of, years=max(years, r.ledger_retention_years))
                      and not await owes_wages(pid))
            due.append(_Due(pid, p["name"], completed, years, as_of, ledger))
    return due


async def owes_wages(project_id: int) -> bool:
    """工资全部结清 not yet: a line of the project's standing payroll of some month with payable above paid."""
    rows = await Payroll.select(Payroll.id, Payroll.month, Payroll.version, Payroll.status).where(
        Payroll.project == project_id).order_by(Payroll.month, Payroll.version)
    by_month: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_month.setdefault(r["month"], []).append(r)
    standing = [e["id"] for vs in by_month.values() if (e := effective(vs)) is not None]
    if not standing:
        return False
    return await PayrollLine.exists().where(PayrollLine.payroll.is_in(standing)
                                            & (PayrollLine.payable_fen > PayrollLine.paid_fen))


def _chunks(items: Sequence[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(items), n):
        yield list(items[i:i + n])


async def _people_of(project_id: int) -> set[int]:
    rows = await RosterEntry.select(RosterEntry.person).where(RosterEntry.project == project_id)
    regs = await Registration.select(Registration.person).where(Registration.project == project_id)
    return {r["person"] for r in rows} | {r["person"] for r in regs}


async def _purgeable(project_id: int, due_ids: set[int]) -> tuple[list[int], int]:
    """People of the project whose every project is due (sorted), and how many of its people are kept."""
    people = sorted(await _people_of(project_id))
    kept: set[int] = set()
    for chunk in _chunks(people, BATCH):
        for model in (RosterEntry, Registration):
            rows = await model.select(model.person).where(
                model.person.is_in(chunk) & model.project.not_in(sorted(due_ids)))
            kept |= {r["person"] for r in rows}
    return [p for p in people if p not in kept], len(kept)


# ---------------------------------------------------------------------------- per-step selections


def _reg_has_data() -> Any:
    return (Registration.face_photo.is_not_null() | Registration.face_template.is_not_null()
            | Registration.id_photo.is_not_null() | Registration.id_template.is_not_null())


def _enrol_has_data() -> Any:
    return (Enrolment.face_photo.is_not_null() | Enrolment.face_template.is_not_null()
            | Enrolment.id_photo.is_not_null())


async def _count_registrations(where: Any) -> Counts:
    c = Counts()
    c.face_photos = await Registration.count().where(where & Registration.face_photo.is_not_null())
    c.face_templates = (await Registration.count().where(where & Registration.face_template.is_not_null())
                        + await Registration.count().where(where & Registration.id_template.is_not_null()))
    c.id_photos = await Registration.count().where(where & Registration.id_photo.is_not_null())
    return c


async def _count_enrolments(where: Any) -> Counts:
    c = Counts()
    c.face_photos = await Enrolment.count().where(where & Enrolment.face_photo.is_not_null())
    c.face_templates = await Enrolment.count().where(where & Enrolment.face_template.is_not_null())
    c.id_photos = await Enrolment.count().where(where & Enrolment.id_photo.is_not_null())
    return c


def _id_files(project_id: int) -> Any:
    return (CrewFile.project == project_id) & CrewFile.kind.is_in(list(ID_FILE_KINDS)) & (CrewFile.size > 0)


def _cards(project_id: int) -> Any:
    return (PayrollLine.payroll.project == project_id) & (PayrollLine.card_enc != "")


def _unmasked() -> Any:
    return Person.id_cipher.not_like(MASKED_PREFIX + "%")


@dataclass(frozen=True)
class _People:
    faces: list[int]  # every project of theirs is past retention: their face data goes
    ids: list[int]  # every project of theirs is past the ledger's keeping too: their ID number is masked
    kept: int  # people of the project who keep their data (on a project not yet due)


async def plan(project_id: int, due_ids: set[int], ledger_ids: set[int] | None = None) -> tuple[Counts, _People]:
    """What retention would delete or mask on the project now, and whose.  ``ledger_ids``: the due projects whose
    用工管理台账 may go too (``_Due.ledger_due``); ID and card numbers are masked only there."""
    ledger_ids = ledger_ids or set()
    faces, kept = await _purgeable(project_id, due_ids)
    ids = (await _purgeable(project_id, ledger_ids))[0] if project_id in ledger_ids else []
    c = Counts()
    c.punch_photos = (await PunchPhoto.count().where(PunchPhoto.punch.project == project_id)
                      + await Punch.count().where(_stored_photos(project_id)))
    c.add(await _count_registrations((Registration.project == project_id) & _reg_has_data()))
    c.id_files = await CrewFile.count().where(_id_files(project_id))
    if project_id in ledger_ids:
        c.bank_cards = await PayrollLine.count().where(_cards(project_id))
    for chunk in _chunks(faces, BATCH):
        c.add(await _count_enrolments(Enrolment.person.is_in(chunk) & _enrol_has_data()))
    for chunk in _chunks(ids, BATCH):
        c.id_numbers += await Person.count().where(Person.id.is_in(chunk) & _unmasked())
    return c, _People(faces, ids, kept)


# ============================================================================ the run


async def _add_counts(run_id: int, c: Counts) -> None:
    """Add a batch's counts to the run's log row (inside the batch's transaction)."""
    values = {getattr(RetentionRun, k): getattr(RetentionRun, k) + v for k, v in c.as_dict().items() if v}
    if values:
        await RetentionRun.update(values).where(RetentionRun.id == run_id)


async def _delete_punch_photos(project_id: int, run_id: int, batch: int) -> None:
    # Row by row, not by dropping a partition: ``punch`` is partitioned by month on PostgreSQL (issue 18) but its
    # rows are facts retention keeps, and a month mixes due and live projects; photos are leaving the table for a
    # file store anyway.  A whole month of punches goes only by ``smz partitions drop`` (past ledger_retention_years).
    while True:  # legacy rows (not yet moved by ``smz photos migrate``)
        ids = [r["id"] for r in await PunchPhoto.select(PunchPhoto.id).where(
            PunchPhoto.punch.project == project_id).limit(batch)]
        if not ids:
            break
        async with write_transaction():
            await PunchPhoto.delete().where(PunchPhoto.id.is_in(ids))
            await _add_counts(run_id, Counts(punch_photos=len(ids)))
    while True:  # photos in the photo store: pack slices, the hashes (one transaction a batch), unshared files
        rows = await Punch.select(Punch.id, Punch.photo_sha256, Punch.photo_loc).where(
            _stored_photos(project_id)).limit(batch)
        if not rows:
            break
        # A slice of a pack belongs to its punch alone: released BEFORE its row forgets it (a crash in between
        # leaves the row naming a released slice, which reads as no photo, and the next run releases it again;
        # the other order would leave the face in the pack with nothing left to find it by).
        await photostore.release([r["photo_loc"] for r in rows if r["photo_loc"]])
        async with write_transaction():
            await Punch.update({Punch.photo_sha256: None, Punch.photo_type: None, Punch.photo_loc: None}).where(
                Punch.id.is_in([r["id"] for r in rows]))
            await _add_counts(run_id, Counts(punch_photos=len(rows)))
        # a file of its own may be another punch's too: deleted after the hashes are cleared, unless still held
        shas = sorted({r["photo_sha256"] for r in rows if not r["photo_loc"]})
        if shas:
            held = {r["photo_sha256"] for r in await Punch.select(Punch.photo_sha256).where(
                Punch.photo_sha256.is_in(shas))}  # the same bytes on another punch (a project not due, or not yet)
            await photostore.delete_many([sha for sha in shas if sha not in held])


def _stored_photos(project_id: int) -> Any:
    return (Punch.project == project_id) & Punch.photo_sha256.is_not_null()


async def _clear_registrations(project_id: int, run_id: int, batch: int) -> None:
    while True:
        ids = [r["id"] for r in await Registration.select(Registration.id).where(
            (Registration.project == project_id) & _reg_has_data()).order_by(Registration.id).limit(batch)]
        if not ids:
            return
        async with write_transaction():
            c = await _count_registrations(Registration.id.is_in(ids))
            await Registration.update({Registration.face_photo: None, Registration.face_template: None,
                                       Registration.id_photo: None, Registration.id_template: None}).where(
                Registration.id.is_in(ids))
            await _add_counts(run_id, c)


async def _clear_id_files(project_id: int, run_id: int, batch: int) -> None:
    while True:
        ids = [r["id"] for r in await CrewFile.select(CrewFile.id).where(_id_files(project_id)).limit(batch)]
        if not ids:
            return
        async with write_transaction():
            await CrewFile.update({CrewFile.data: b"", CrewFile.size: 0, CrewFile.sha256: ""}).where(
                CrewFile.id.is_in(ids))
            await _add_counts(run_id, Counts(id_files=len(ids)))


async def _mask_cards(project_id: int, run_id: int, batch: int) -> None:
    while True:
        ids = [r["id"] for r in await PayrollLine.select(PayrollLine.id).where(_cards(project_id)).limit(batch)]
        if not ids:
            return
        async with write_transaction():
            await PayrollLine.update({PayrollLine.card_enc: ""}).where(PayrollLine.id.is_in(ids))
            await _add_counts(run_id, Counts(bank_cards=len(ids)))


async def _purge_faces(people: list[int], run_id: int, batch: int) -> None:
    for chunk in _chunks(people, batch):
        async with write_transaction():
            enrol = Enrolment.person.is_in(chunk) & _enrol_has_data()
            c = await _count_enrolments(enrol)
            if c.total:
                await Enrolment.update({Enrolment.face_photo: None, Enrolment.face_template: None,
                                        Enrolment.id_photo: None, Enrolment.updated_at: datetime.now(UTC)}).where(enrol)
                if c.face_templates:
                    await bump_face_version()  # every process drops the templates from its 1:N matrix
                await _add_counts(run_id, c)


async def _mask_ids(people: list[int], run_id: int, batch: int) -> None:
    for chunk in _chunks(people, batch):
        async with write_transaction():
            c = Counts()
            todo = [r["id"] for r in await Person.select(Person.id).where(Person.id.is_in(chunk) & _unmasked())]
            if todo:
                marks = ", ".join("{}" for _ in todo)
                await Person.raw(
                    f"UPDATE person SET id_cipher = '{MASKED_PREFIX}' || id_masked, "
                    f"id_hash = '{PURGED_HASH_PREFIX}' || CAST(id AS VARCHAR(20)), address = NULL "
                    f"WHERE id IN ({marks})", *todo)
                c.id_numbers = len(todo)
            await _add_counts(run_id, c)


async def _run_row(d: _Due) -> int:
    """The project's unfinished run (a crashed one, resumed) or a new one."""
    row = await RetentionRun.select(RetentionRun.id).where(
        (RetentionRun.project == d.project_id) & (RetentionRun.status == "running")).first()
    if row:
        return int(row["id"])
    new = RetentionRun(project=d.project_id, completed_on=d.completed_on, retention_years=d.years, as_of=d.as_of)
    await new.save()
    return int(new.id)


async def _apply(d: _Due, people: _People, batch: int) -> int:
    run_id = await _run_row(d)
    await _delete_punch_photos(d.project_id, run_id, batch)
    await _clear_registrations(d.project_id, run_id, batch)
    await _clear_id_files(d.project_id, run_id, batch)
    await _purge_faces(people.faces, run_id, batch)
    if d.ledger_due:  # 用工管理台账: 3 years after completion and all wages paid (条例 第二十八条)
        await _mask_cards(d.project_id, run_id, batch)
        await _mask_ids(people.ids, run_id, batch)
    await RetentionRun.update({RetentionRun.status: "done", RetentionRun.finished_at: datetime.now(UTC)}).where(
        RetentionRun.id == run_id)
    return run_id


async def run_retention(today: date | None = None, *, dry_run: bool = False,
                        batch: int = BATCH) -> list[ProjectRetention]:
    """Every due project with something left: what would go (``dry_run``) or what went (logged per project in
    ``retention_run``).  Projects with nothing left are not listed (a second run does nothing)."""
    due = await due_projects(today)
    due_ids = {d.project_id for d in due}
    ledger_ids = {d.project_id for d in due if d.ledger_due}
    out = []
    for d in due:
        counts, people = await plan(d.project_id, due_ids, ledger_ids)
        if not counts.total:
            continue
        item = ProjectRetention(d.project_id, d.name, d.completed_on, d.years, d.as_of, counts, people.kept)
        if not dry_run:
            item.run_id = await _apply(d, people, batch)
            row = await RetentionRun.select().where(RetentionRun.id == item.run_id).first()
            item.counts = Counts(**{k: row[k] for k in Counts().as_dict()})
            log.info("retention: project %s — %s", d.project_id, item.counts.as_dict())
        out.append(item)
    return out


async def list_runs(project_ids: set[int] | None, limit: int = 200) -> list[dict[str, Any]]:
    """The latest retention-run log rows of these projects (None: all), newest first, with the project's name and
    time zone."""
    if project_ids is not None and not project_ids:
        return []
    q = RetentionRun.select(*RetentionRun.all_columns(), RetentionRun.project.name.as_alias("project_name"),
                            RetentionRun.project.timezone.as_alias("timezone"))
    if project_ids is not None:
        q = q.where(RetentionRun.project.is_in(sorted(project_ids)))
    return await q.order_by(RetentionRun.id, ascending=False).limit(limit)


def report_lines(items: list[ProjectRetention], *, dry_run: bool) -> list[str]:
    """Chinese lines for the command line: one per project, with the counts."""
    if not items:
        return ["没有到期需要处理的项目数据 / nothing due"]
    head = "将删除或脱敏（试运行，未做任何修改）" if dry_run else "已删除或脱敏"
    lines = []
    for it in items:
        parts = "，".join(f"{COUNT_LABELS[k]} {v}" for k, v in it.counts.as_dict().items() if v) or "无"
        kept = f"；{it.kept_people} 人仍在其他项目，保留其身份信息" if it.kept_people else ""
        lines.append(f"项目 {it.project_id}「{it.name}」竣工 {it.completed_on.isoformat()}，保存 {it.years} 年已满"
                     f"（截至 {it.as_of.isoformat()}）{head}：{parts}{kept}")
    return lines


async def nightly_step() -> str:
    """``smz nightly``: the real run, one line per project (or "nothing due")."""
    return "\n".join(report_lines(await run_retention(), dry_run=False))
