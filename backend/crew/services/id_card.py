"""Registration step 1: the ID card (``start_registration``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

import backend.crew.services.common as common  # common.face_service: the tests' seam
from backend.accounts.services import CurrentUser, visible_project_ids
from backend.crew import imaging
from backend.crew import validation as v
from backend.crew.dictionaries import IMAGE_TYPES, OPEN_STATUSES, REG_STATUS
from backend.crew.enrolment import active_elsewhere
from backend.crew.services.common import _editor, _prefixed
from backend.crew.services.files import _save_file
from backend.crew.tables import Registration
from backend.db import write_transaction
from backend.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from backend.face.service import FaceService
from backend.validators import mask_id
from backend.vocabulary import RegistrationStatus, local_today
from backend.workforce import services as workforce
from backend.workforce.tables import Person, RosterEntry

log = logging.getLogger("smz.crew")

@dataclass(frozen=True)
class IdStep:
    card: v.IdCard
    front: bytes | None
    back: bytes | None
    front_name: str = ""
    back_name: str = ""


# What is wrong with a photo of an ID card, in the words of a card (the face service's own texts speak to a
# person in front of a camera: "请正对镜头" means nothing for a card lying on a table).
CARD_PHOTO_MESSAGES: dict[str, tuple[str, str]] = {
    "no_face": ("照片上找不到证件头像：请拍身份证印有头像的一面，整张证件入镜，避免反光遮住头像",
                "No portrait found on the card photo: photograph the side with the portrait, the whole card, "
                "without glare over the portrait"),
    "multiple_faces": ("照片中有不止一个人像：请只拍这一张身份证，不要拍到旁边的人或其他证件",
                       "More than one face in the photo: photograph only this ID card"),
    "face_too_small": ("证件头像太小：请靠近些拍，让身份证占满画面的大部分",
                       "The card's portrait is too small: come closer so the card fills most of the picture"),
    "face_at_border": ("证件头像被裁切或太靠边：请把整张身份证放在画面中央再拍",
                       "The card's portrait is cut off or at the edge: centre the whole card"),
    "face_tilted": ("证件拍歪了：请把身份证摆正，从正上方拍摄", "The card is tilted: lay it straight and shoot from above"),
    "face_turned": ("证件拍摄角度太斜：请从正上方垂直拍摄身份证", "The card is shot at an angle: shoot straight from above"),
    "too_dark": ("证件照片太暗：请到明亮处或打开灯再拍", "The card photo is too dark: move to a brighter place"),
    "backlit": ("证件头像太暗或反光：请避开强光直射，换个角度再拍",
                "The card's portrait is dark or has glare: avoid direct light, try another angle"),
    "blurred": ("证件照片模糊：请拿稳平板，等对焦清楚后再拍", "The card photo is blurred: hold the tablet still and focus"),
}


def card_photo_error(err: InvalidInput | PayloadTooLarge) -> InvalidInput | PayloadTooLarge:
    """The face service's error about the card's portrait side, told about the card (field ``id_front``)."""
    text = CARD_PHOTO_MESSAGES.get(err.code)
    if text is None:
        return _prefixed(err, "身份证人像面照片：", "ID card portrait side: ", "id_front")
    err.zh, err.en, err.field = f"身份证人像面照片：{text[0]}", f"ID card portrait side: {text[1]}", "id_front"
    return err


async def supplement_target(user: CurrentUser, project_id: int, entry_id: int) -> dict[str, Any]:
    """The person of an active roster entry the user may add a face or card data to (an editor of the project; a
    foreman only for their own teams — any other entry answers 404): what the card on record says (masked), the
    entry, whether a face is enrolled and an open registration if there is one."""
    await _editor(user, project_id)
    entry = await RosterEntry.select(RosterEntry.id, RosterEntry.person).where(
        (RosterEntry.id == entry_id) & (RosterEntry.project == project_id) & RosterEntry.exited_on.is_null()).first()
    people = await common.team_people(user, project_id) if entry is not None else None
    if entry is None or (people is not None and entry["person"] not in people):
        raise NotFound("花名册记录不存在或已退场", "Roster entry not found or exited", field="entry_id")
    person = await Person.select(
        Person.id, Person.name, Person.id_masked, Person.gender, Person.birth_date, Person.ethnicity,
        Person.address, Person.id_issuer, Person.id_valid_until,
    ).where(Person.id == entry["person"]).first()
    assert person is not None  # a roster entry's person is never deleted (on_delete=restrict)
    person["entry"] = entry_id
    person["enrolled"] = bool(await workforce.enrolled_person_ids([person["id"]]))
    running = await Registration.select(Registration.id).where(
        (Registration.project == project_id) & (Registration.person == person["id"])
        & Registration.status.is_in(sorted(OPEN_STATUSES))).first()
    person["open_registration"] = running["id"] if running else None
    return person


async def start_supplement(user: CurrentUser, project_id: int, entry_id: int, step: IdStep, *,
                           face_service: FaceService) -> dict[str, Any]:
    """采集人脸 / 补录证件 for a person already on the project's roster (imported, or enrolled elsewhere): a
    registration of that roster entry — the ID number and name are the ones on record (the form asks only for
    the card's photos and the fields a card shows beyond them), then the same 人证核验 (liveness, ID photo against
    the live face, the 1:N duplicate search and its review) and a completion that saves the enrolment on the
    same entry.  A person who already has a face gets a new one only through this check."""
    person = await supplement_target(user, project_id, entry_id)
    card = replace(step.card, id_number=await workforce.reveal_id_number(person["id"]), name=person["name"],
                   gender=None, birth_date=None)
    return await start_registration(user, project_id, replace(step, card=card), face_service=face_service,
                                    supplement_entry=entry_id)


async def start_registration(user: CurrentUser, project_id: int, step: IdStep, *,
                             face_service: FaceService, supplement_entry: int | None = None) -> dict[str, Any]:
    """``face_service``: the app's face workers (``AppServices.face``).  ``supplement_entry``: the roster entry
    this registration adds a face or card data to (``start_supplement``) — its person may already be enrolled."""
    rules = await _editor(user, project_id)
    today = local_today()
    checked = v.check_id_card(step.card, rules, today)
    front_type = v.check_upload(step.front, field="id_front", label="身份证人像面照片", allowed=IMAGE_TYPES,
                                max_bytes=rules.crew_document_max_bytes)
    back_type = v.check_upload(step.back, field="id_back", label="身份证国徽面照片", allowed=IMAGE_TYPES,
                               max_bytes=rules.crew_document_max_bytes)
    assert step.front is not None and step.back is not None
    number = checked.info.number
    person_id = await workforce.find_person_id(number)
    existing_entry: int | None = None
    if person_id is not None:
        entry = await workforce.active_entry(project_id, person_id)
        if entry is not None:
            if entry["id"] != supplement_entry and person_id in await workforce.enrolled_person_ids([person_id]):
                raise Conflict("此人已在本项目花名册中且已采集人脸，不能重复登记",
                               "This person is already on the project's roster and enrolled",
                               field="id_number", code="duplicate_roster_entry",
                               extra={"roster_entry_id": entry["id"]})
            existing_entry = entry["id"]  # imported without a face: this registration enrols them
        running = await Registration.select(Registration.id).where(
            (Registration.project == project_id) & (Registration.person == person_id)
            & Registration.status.is_in(sorted(OPEN_STATUSES))
        ).first()
        if running is not None:
            raise Conflict(f"此人在本项目已有进行中的登记（编号 {running['id']}），请继续该登记",
                           f"A registration of this person is already open (no. {running['id']})",
                           field="id_number", code="registration_open", extra={"registration_id": running["id"]})
    # The card's portrait: found and encoded before anything is written (face work is slow).
    try:
        face = await common.face_service(face_service).encode(step.front, purpose="verify", field="id_front",
                                                              rules=rules, max_bytes=rules.crew_document_max_bytes)
    except (InvalidInput, PayloadTooLarge) as e:
        raise card_photo_error(e) from None
    crop = await asyncio.to_thread(imaging.portrait_crop, step.front, face.box_in_original(),
                                   rules.gate_id_photo_max_bytes)
    visible = await visible_project_ids(user)
    elsewhere = await active_elsewhere(person_id, project_id, visible) if person_id is not None else []
    async with write_transaction():
        saved = await workforce.save_person(
            id_number=number, name=checked.name, ethnicity=checked.ethnicity, birth_date=checked.info.birth_date,
            gender=checked.info.gender, address=checked.address, id_issuer=checked.issuer,
            id_valid_until=checked.valid_until, project_id=project_id,
        )
        person_id = saved.person_id
        front_id = await _save_file(project_id, "id_front", step.front, front_type, step.front_name, user.id)
        back_id = await _save_file(project_id, "id_back", step.back, back_type, step.back_name, user.id)
        reg = Registration(
            project=project_id, person=person_id, status=RegistrationStatus.id_checked, created_by=user.id,
            id_front=front_id, id_back=back_id, id_valid_from=checked.valid_from, id_valid_until=checked.valid_until,
            id_long_term=checked.long_term, id_photo=crop, id_template=face.encoding, existing_entry=existing_entry,
            elsewhere=elsewhere,
        )
        await reg.save()
    log.info("registration %s started for %s on project %s", reg.id, mask_id(number), project_id)
    return {
        "id": reg.id, "status": RegistrationStatus.id_checked, "status_label": REG_STATUS[RegistrationStatus.id_checked], "person_id": person_id,
        "name": checked.name, "id_masked": mask_id(number), "gender": checked.info.gender,
        "birth_date": checked.info.birth_date.isoformat(), "elsewhere": elsewhere,
        "existing_entry": existing_entry, "kept_fields": list(saved.kept),
        "message": workforce.kept_message(saved.kept),
        # the district's age notice: told, never refused (seed 000 §六 应录尽录)
        "notices": workforce.age_notices(rules, checked.info.birth_date, checked.info.gender, today),
    }


