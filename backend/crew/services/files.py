"""Uploaded files of a project (ID card photos, contracts, exit confirmations): storing and opening them."""

from __future__ import annotations

import hashlib
from typing import Any

from backend.accounts.services import CurrentUser, require_project
from backend.crew.services.common import team_people
from backend.crew.tables import CrewFile, ExitConfirmation, LabourContract, Registration
from backend.errors import Forbidden, NotFound
from backend.validators import sanitize_filename
from backend.vocabulary import Role


async def _save_file(project_id: int, kind: str, data: bytes, content_type: str, filename: str,
                     user_id: int | None) -> int:
    f = CrewFile(project=project_id, kind=kind, content_type=content_type, size=len(data),
                 sha256=hashlib.sha256(data).hexdigest(), filename=sanitize_filename(filename), data=data,
                 uploaded_by=user_id)
    await f.save()
    return f.id


async def get_file(user: CurrentUser, project_id: int, file_id: int) -> dict[str, Any]:
    await require_project(user, project_id)
    if user.role == Role.worker:
        raise Forbidden("工人不能查看项目文件", "Workers may not open project files")
    row = await CrewFile.select(CrewFile.id, CrewFile.kind, CrewFile.content_type, CrewFile.filename,
                                CrewFile.data).where((CrewFile.id == file_id) & (CrewFile.project == project_id)).first()
    if row is None or (user.role == Role.foreman and not await _foreman_may_open(user, project_id, file_id)):
        raise NotFound("文件不存在", "File not found", field="file_id")
    return row


async def _foreman_may_open(user: CurrentUser, project_id: int, file_id: int) -> bool:
    """A foreman opens the files of their own teams' people and of the registrations they started."""
    people = await team_people(user, project_id) or set()
    if people:
        if await LabourContract.exists().where((LabourContract.file == file_id) & LabourContract.person.is_in(sorted(people))):
            return True
        if await ExitConfirmation.exists().where(
                (ExitConfirmation.file == file_id) & ExitConfirmation.roster_entry.person.is_in(sorted(people))):
            return True
    mine = Registration.created_by == user.id
    who = mine | Registration.person.is_in(sorted(people)) if people else mine
    return await Registration.exists().where(
        (Registration.project == project_id) & ((Registration.id_front == file_id) | (Registration.id_back == file_id))
        & who)


