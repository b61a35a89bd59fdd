"""Registration step 1: the ID card (``start_registration``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
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
from backend.errors import Conflict, InvalidInput, PayloadTooLarge
from backend.face.service import FaceService
from backend.validators import mask_id
from backend.vocabulary import RegistrationStatus, local_today
from backend.workforce import services as workforce

log = logging.getLogger("smz.crew")

@dataclass(frozen=True)
class IdStep:
    card: v.IdCard
    front: bytes | None
    back: bytes | None
    front_name: str = ""
    back_name: str = ""


async def start_registration(user: CurrentUser, project_id: int, step: IdStep, *,
                             face_service: FaceService) -> dict[str, Any]:
    """``face_service``: the app's face workers (``AppServices.face``)."""
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
            if person_id in await workforce.enrolled_person_ids([person_id]):
                raise Conflict("此人已在本项目花名册中且已采集人脸，不能重复登记",
                               "This person is already on the project's roster and enrolled",
                               field="id_number", code="duplicate_roster_entry")
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
        raise _prefixed(e, "身份证人像面照片：", "ID card portrait side: ", "id_front") from None
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


