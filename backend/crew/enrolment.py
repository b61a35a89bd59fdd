"""Enrolment (采集) in ONE place: the only code that writes a person's face template, enrolment
photos and face-index version, for the tablet (``crew.services.complete_registration``) and for the
gate terminals (``enrol_from_terminal``, called by the devices package's terminal domain calls).

Why in crew and not in workforce (which owns the ``enrolment`` table): an enrolment is not only a
write.  A person who already has a face template, or whose face matches another person's in the
1:N search, must not be re-enrolled by a terminal but go to a registration pending review — the
crew registration workflow (``crew_registration``, ``decide_review``) and the 1:N face index
(``crew_face_index``) live here.  Workforce stays below: this module uses its person and roster
services, never the reverse.

- ``save_enrolment`` — create or replace the enrolment and bump the face-index version exactly once
  (every process's 1:N matrix reloads).  Call it inside the caller's write transaction.
- ``enrol_from_terminal`` — a terminal's capture (plain values: ID data, photos) for a project: the
  ID data, the legal minimum age (no upper cap: seed 000 §六) and validity checks, the roster rule
  (only a person with an active entry on that project's roster), the face template (face service process pool), then either the enrolment (with
  the ID data, as far as ``workforce.upsert_person`` lets this project) or a registration pending
  review.  Refusals are ``AppError``s with a machine code (``not_on_roster``, ``face_photo_missing``,
  the validators' and the face service's codes).
- ``face_index`` — this process's 1:N matrix over every enrolled template.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.crew.dictionaries import OPEN_STATUSES
from backend.crew.faceindex import FaceMatrix
from backend.crew.tables import FaceIndexState, Registration
from backend.crypto import lookup_hashes
from backend.db import write_transaction
from backend.errors import AppError, Conflict, invalid
from backend.face.service import FaceService
from backend.rules import Rules
from backend.validators import cross_check_id, mask_id, parse_id_number
from backend.vocabulary import EnrolmentSource, RegistrationStatus, ReviewKind
from backend.workforce import consent
from backend.workforce import services as workforce
from backend.workforce.dictionaries import WORK_ROLE
from backend.workforce.tables import Enrolment, Person, RosterEntry

log = logging.getLogger("smz.crew")

# ============================================================================ face index (1:N)

FACE_INDEX_MAX_AGE_S = 300.0
_MATRIX = FaceMatrix()


async def face_version() -> int:
    row = await FaceIndexState.select(FaceIndexState.version).where(FaceIndexState.id == 1).first()
    return int(row["version"]) if row else 0


async def bump_face_version() -> None:
    """Call in the same transaction as an enrolment change: every process reloads its matrix."""
    await FaceIndexState.raw(
        "INSERT INTO crew_face_index (id, version) VALUES (1, 1) "
        "ON CONFLICT (id) DO UPDATE SET version = crew_face_index.version + 1"
    )


async def face_index(max_age_s: float = FACE_INDEX_MAX_AGE_S) -> FaceMatrix:
    """This process's template matrix, reloaded when the DB version moved (or it is older than
    ``max_age_s``: a template written outside ``save_enrolment``, e.g. a bulk load, is seen then)."""
    version = await face_version()  # read BEFORE the rows: a change in between only causes a reload
    if not _MATRIX.is_current(version, max_age_s):
        rows = await Enrolment.select(Enrolment.person, Enrolment.face_template).where(
            Enrolment.face_template.is_not_null()
        )
        _MATRIX.load(version, [(r["person"], r["face_template"]) for r in rows])
        log.info("face index reloaded: %d templates, version %d", len(_MATRIX), version)
    return _MATRIX


# ============================================================================ the one enrolment write


async def save_enrolment(person_id: int, template: bytes, face_photo: bytes | None, id_photo: bytes | None,
                         source: str) -> None:
    """Create or replace a person's enrolment (one template per person: its ``face_version`` counts
    the replacements) and bump the face-index version — once.  Call it in the caller's transaction.
    No face without the person's biometric consent in force (``workforce.consent``: 409 ``consent_missing``)."""
    await consent.require_consent(person_id)
    now = datetime.now(UTC)
    existing = await Enrolment.select(Enrolment.id, Enrolment.face_version).where(Enrolment.person == person_id).first()
    if existing:
        changes: dict[Any, Any] = {Enrolment.face_template: template, Enrolment.updated_at: now,
                                   Enrolment.source: source, Enrolment.face_version: existing["face_version"] + 1}
        if face_photo:
            changes[Enrolment.face_photo] = face_photo
        if id_photo:
            changes[Enrolment.id_photo] = id_photo
        await Enrolment.update(changes).where(Enrolment.id == existing["id"])
    else:
        await Enrolment(person=person_id, face_template=template, face_photo=face_photo, id_photo=id_photo,
                        source=source, enrolled_at=now, updated_at=now).save()
    await bump_face_version()  # every process's 1:N matrix reloads (backend/crew/faceindex.py)


async def drop_enrolment(person_id: int) -> bool:
    """Consent withdrawn (issue 20 B.1): the face template and the photos are deleted — the enrolment's and those
    of the person's registrations — so no phone, terminal whitelist or 1:N search uses them again (every reader
    takes a NULL template as "not enrolled"); the rows stay (source, dates, ``face_version`` + 1).  Call it in the caller's transaction; False when there was no face."""
    # the registrations' captures of the person are biometric data too (selfie, ID portrait and their templates)
    await Registration.update({Registration.face_photo: None, Registration.face_template: None,
                               Registration.id_photo: None, Registration.id_template: None,
                               Registration.updated_at: datetime.now(UTC)}).where(Registration.person == person_id)
    row = await Enrolment.select(Enrolment.id, Enrolment.face_version).where(Enrolment.person == person_id).first()
    if row is None:
        return False
    await Enrolment.update({Enrolment.face_template: None, Enrolment.face_photo: None, Enrolment.id_photo: None,
                            Enrolment.face_version: row["face_version"] + 1,
                            Enrolment.updated_at: datetime.now(UTC)}).where(Enrolment.id == row["id"])
    await bump_face_version()
    return True


# ============================================================================ people on other projects


async def active_elsewhere(person_id: int, project_id: int, visible: set[int] | None = None) -> list[dict[str, Any]]:
    """Active roster entries of the person on OTHER projects: who, where, since when.  A project outside
    ``visible`` (the caller's scope; None = every project) is not named: only that there is one."""
    rows = await RosterEntry.select(
        RosterEntry.project.as_alias("project_id"), RosterEntry.project.name.as_alias("project_name"),
        RosterEntry.team.name.as_alias("team_name"), RosterEntry.unit.enterprise.name.as_alias("unit_name"),
        RosterEntry.work_role, RosterEntry.entered_on, RosterEntry.person.name.as_alias("name"),
        RosterEntry.person.id_masked.as_alias("id_masked"),
    ).where((RosterEntry.person == person_id) & (RosterEntry.project != project_id) & RosterEntry.exited_on.is_null())
    return [{
        "project_id": r["project_id"], "project_name": r["project_name"], "team_name": r["team_name"],
        "unit_name": r["unit_name"], "work_role": r["work_role"], "work_role_label": WORK_ROLE[r["work_role"]],
        "entered_on": r["entered_on"].isoformat(), "name": r["name"], "id_masked": r["id_masked"],
    } if visible is None or r["project_id"] in visible else {
        "project_id": None, "project_name": workforce.OTHER_PROJECT, "team_name": None, "unit_name": None,
        "work_role": r["work_role"], "work_role_label": WORK_ROLE[r["work_role"]], "entered_on": None,
        "name": r["name"], "id_masked": r["id_masked"],
    } for r in rows]


# ============================================================================ enrolment at a terminal


@dataclass(frozen=True, slots=True)
class TerminalCapture:
    """What a terminal captured, whatever its protocol: the ID card's data and the photos."""

    id_number: str
    name: str
    gender: str | None = None  # "M" | "F" | None (not given)
    ethnicity: str = ""  # 民族 code ("01")
    birth_date: date | None = None
    address: str = ""
    issuer: str = ""
    valid_until: date | None = None  # None: 长期 or not given
    face_photo: bytes = b""
    id_photo: bytes | None = None


@dataclass(frozen=True, slots=True)
class EnrolOutcome:
    """``registration_id`` set: the capture went to a registration pending review and nothing of
    the person changed; else the person is enrolled."""

    person_id: int
    registration_id: int | None = None
    duplicate_person: int | None = None

    @property
    def pending_review(self) -> bool:
        return self.registration_id is not None


async def enrolment_target(project_id: int, id_number: str) -> dict[str, Any] | None:
    """The person with this ID number if they hold an active entry (not exited) on the project's
    roster: id, name, the entry and whether they already have a face template.  None otherwise — a
    terminal never creates people nor touches people of other projects."""
    person = await Person.select(Person.id, Person.name).where(Person.id_hash.is_in(lookup_hashes(id_number))).first()
    if person is None:
        return None
    entry = await RosterEntry.select(RosterEntry.id).where(
        (RosterEntry.project == project_id) & (RosterEntry.person == person["id"]) & RosterEntry.exited_on.is_null()
    ).first()
    if entry is None:
        return None
    enrolled = await Enrolment.exists().where((Enrolment.person == person["id"]) & Enrolment.face_template.is_not_null())
    return {"person": person["id"], "name": person["name"], "entry": entry["id"], "enrolled": enrolled}


async def enrol_from_terminal(project_id: int, capture: TerminalCapture, *, rules: Rules, today: date,
                              terminal: str, max_photo_bytes: int, face_service: FaceService) -> EnrolOutcome:
    """Enrol a person of the project's roster from a terminal's capture.  Cheap checks first (ID data,
    the roster); then the face template, computed in the face service's process pool; then either one
    write transaction or — for a person who already has a template — a registration pending review
    (with the 1:N search's match for the reviewer).  ``terminal`` names the terminal in the logs;
    ``face_service``: the app's face workers (``AppServices.face``)."""
    masked = mask_id(capture.id_number) if len(capture.id_number) == 18 else "?"
    info = parse_id_number(capture.id_number)
    birth = capture.birth_date or info.birth_date
    cross_check_id(info, birth_date=birth, gender=capture.gender)
    workforce.check_age(rules, info.birth_date, info.gender, today)  # the legal minimum only: no upper cap
    for notice in workforce.age_notices(rules, info.birth_date, info.gender, today):  # a 852 reply has no room
        log.info("gate %s enrolment of %s: %s", terminal, masked, notice.message)
    if capture.valid_until is not None and capture.valid_until < today:
        raise invalid("id_valid_until", "身份证已过期", "The ID card has expired", code="id_expired")
    target = await enrolment_target(project_id, info.number)
    if target is None:
        log.warning("gate %s enrolment of %s refused: not on the roster of project %s", terminal, masked, project_id)
        raise AppError("人员不在本项目花名册", "Not on this project's roster", field="id_number", code="not_on_roster")
    if target["name"] != (capture.name or "").strip():
        raise invalid("name", "姓名与已登记的不一致", "Name differs from the registered one", code="name_mismatch")
    if not capture.face_photo:
        raise invalid("face_photo", "缺少采集照片", "No enrolment photo", code="face_photo_missing")
    if not await consent.has_consent(target["person"]):  # before the face is even computed
        log.warning("gate %s enrolment of %s refused: no biometric consent on record", terminal, masked)
        raise consent.refusal()
    face = await face_service.encode(capture.face_photo, purpose="enrol", field="face_photo", rules=rules,
                                     max_bytes=max_photo_bytes)
    person_id = target["person"]
    if target["enrolled"]:
        # the 1:N search names a matching other person for the reviewer (duplicate_face)
        hits = (await face_index()).search_within(face.encoding, rules.face_duplicate_tolerance, exclude=person_id)
        dup_person, dup_distance = hits[0] if hits else (None, None)
        rid = await submit_terminal_enrolment(
            project_id, person_id, target["entry"], face_template=face.encoding, face_photo=capture.face_photo,
            id_photo=capture.id_photo or None, duplicate_person=dup_person, duplicate_distance=dup_distance,
            terminal=terminal,
        )
        log.warning("gate %s enrolment of %s (person %s) goes to review as registration %s (%s)", terminal,
                    masked, person_id, rid, f"same face as person {dup_person}" if hits else "re-enrolment")
        return EnrolOutcome(person_id, registration_id=rid, duplicate_person=dup_person)
    async with write_transaction():
        await workforce.upsert_person(
            id_number=info.number, name=target["name"], ethnicity=capture.ethnicity, birth_date=birth,
            gender=capture.gender, address=capture.address or None, id_issuer=capture.issuer or None,
            id_valid_until=capture.valid_until, project_id=project_id,
        )
        await save_enrolment(person_id, face.encoding, capture.face_photo, capture.id_photo or None, source=EnrolmentSource.gate)
    log.info("gate %s enrolled %s as person %s (project %s)", terminal, masked, person_id, project_id)
    return EnrolOutcome(person_id)


async def submit_terminal_enrolment(project_id: int, person_id: int, entry_id: int, *, face_template: bytes,
                                    face_photo: bytes, id_photo: bytes | None, duplicate_person: int | None,
                                    duplicate_distance: float | None, terminal: str) -> int:
    """A terminal's capture for a person who already has a face template (or whose face matches another
    person's) never replaces it: it becomes a registration of the person on the terminal's project,
    pending review (``duplicate_face`` when the face matched someone else, else ``gate_reenrol``).  A
    supervisor decides (``crew.services.decide_review``); once approved the project's staff complete it,
    which saves the enrolment.  Refused while another registration of the person on the project is open."""
    running = await Registration.select(Registration.id).where(
        (Registration.project == project_id) & (Registration.person == person_id)
        & Registration.status.is_in(sorted(OPEN_STATUSES))
    ).first()
    if running is not None:
        raise Conflict(f"此人在本项目已有进行中的登记（编号 {running['id']}）",
                       f"A registration of this person is already open (no. {running['id']})",
                       field="id_number", code="registration_open", extra={"registration_id": running["id"]})
    now = datetime.now(UTC)
    reg = Registration(
        project=project_id, person=person_id, status=RegistrationStatus.pending_review, existing_entry=entry_id,
        elsewhere=await active_elsewhere(person_id, project_id, set()), face_photo=face_photo, face_template=face_template,
        id_photo=id_photo, face_checked_at=now, duplicate_person=duplicate_person,
        duplicate_distance=duplicate_distance,
        review_kind=ReviewKind.duplicate_face if duplicate_person is not None else ReviewKind.gate_reenrol,
        review_note="", updated_at=now,
    )
    await reg.save()
    log.info("registration %s: 852 of terminal %s for person %s on project %s, pending review", reg.id, terminal,
             person_id, project_id)
    return reg.id
