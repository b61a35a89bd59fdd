"""单独同意 to biometric processing (PIPL §28–29: faces are sensitive personal information; issue 20 B.1).

One place for the consent text (``CONSENT_TEXTS``, versioned: a new wording is a new version, never an edit) and
for the consent records (``biometric_consent``, one row per event, never updated).  A person's consent is in force
when their latest given/withdrawn event is ``given``.  ``crew.enrolment.save_enrolment`` — the one enrolment
write — refuses a face without it (``require_consent``: 409 ``consent_missing``).

Channels (``vocabulary.ConsentChannel``): the tablet's registration step, the phone's self-enrolment (demo mode),
and the means staff record on the person's page (a signed paper form, the text shown on a terminal's screen
before a gate 852 enrolment, the roster API or an import that carried the person's consent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.errors import Conflict, NotFound, invalid
from backend.rules import DEFAULT_RULES, Rules
from backend.validators import clean_text
from backend.vocabulary import ConsentAction, ConsentChannel, label
from backend.workforce.tables import ConsentRecord, Person

# seed 002 §三(二)2 and seed 004 §三(五): data kept at least 2 years after the project's completion; the text
# names the district's number (``Rules.retention_years``), filled in when the text is rendered.
CONSENT_TEXTS: dict[str, str] = {
    "2026-12": (
        "人脸信息采集告知与单独同意书\n"
        "一、采集什么：您的人脸照片、由照片计算出的人脸特征值（模板），以及身份证上的照片。\n"
        "二、为什么采集：仅用于工地实名制考勤——闸机刷脸进出和手机刷脸打卡时确认是您本人，"
        "以及按规定核对工资发放。不用于其他目的。\n"
        "三、保存多久：工程竣工后保存 {years} 年（按住建主管部门规定），期满后删除人脸照片和特征值，"
        "身份证号只保留遮挡后的号码。\n"
        "四、谁能看到：本项目的管理人员、您所在班组的班组长，以及住建主管部门的监管人员；"
        "项目的考勤设备只保存本项目在场人员的人脸。\n"
        "五、怎样撤回：您可以随时向项目劳务员或主管部门申请撤回同意，撤回后系统停止使用并删除您的人脸特征值和照片，"
        "您仍可按规定用其他方式考勤。不同意或撤回不影响您进场务工和领取工资。\n"
        "我已阅读并理解上述内容，同意采集和使用我的人脸信息。"
    ),
}
CURRENT_CONSENT_VERSION = "2026-12"
NOTE_MAX = 200


def consent_text(version: str = CURRENT_CONSENT_VERSION, *, rules: Rules = DEFAULT_RULES) -> str:
    """The text shown for ``version`` with the district's retention years (``rules.retention_years``) filled in."""
    try:
        return CONSENT_TEXTS[version].format(years=rules.retention_years)
    except KeyError:
        raise invalid("consent_version", "同意书版本不存在", "Unknown consent text version",
                      code="consent_version_unknown") from None


def check_version(version: str) -> str:
    version = (version or "").strip()
    if version not in CONSENT_TEXTS:
        raise invalid("consent_version", "同意书版本不存在，请刷新页面后重新确认",
                      "Unknown consent text version; reload and confirm again", code="consent_version_unknown")
    return version


async def record(person_id: int, action: str, *, channel: str, version: str = CURRENT_CONSENT_VERSION,
                 project_id: int | None = None, user_id: int | None = None, username: str = "",
                 note: str = "", at: datetime | None = None) -> int:
    """Store one consent event.  ``given`` needs a known text version; ``withdrawn`` only follows a given one."""
    action = ConsentAction(action)
    channel = ConsentChannel(channel)
    if action != ConsentAction.withdrawn:
        version = check_version(version)
    note = clean_text(note, "note", "说明", max_len=NOTE_MAX) or ""
    if not await Person.exists().where(Person.id == person_id):
        raise NotFound("人员不存在", "Person not found", field="person_id")
    if action == ConsentAction.withdrawn:
        state = await current(person_id)
        if state is None or state["action"] != ConsentAction.given:
            raise Conflict("此人没有有效的人脸采集同意，无需撤回", "No consent in force to withdraw",
                           field="person_id", code="consent_missing")
        version = state["version"]
    row = ConsentRecord(person=person_id, action=action, version=version, channel=channel, project=project_id,
                        recorded_by=user_id, recorded_by_name=username[:64], note=note)
    if at is not None:
        row.recorded_at = at
    await row.save()
    return int(row.id)


async def current(person_id: int) -> dict[str, Any] | None:
    """The latest given/withdrawn event of the person (the state of their consent), or None."""
    return await ConsentRecord.select().where(
        (ConsentRecord.person == person_id)
        & ConsentRecord.action.is_in([ConsentAction.given, ConsentAction.withdrawn])
    ).order_by(ConsentRecord.id, ascending=False).first()


async def has_consent(person_id: int) -> bool:
    state = await current(person_id)
    return state is not None and state["action"] == ConsentAction.given


async def consenting(person_ids: list[int]) -> set[int]:
    """Those of ``person_ids`` whose consent is in force."""
    if not person_ids:
        return set()
    rows = await ConsentRecord.select(ConsentRecord.person, ConsentRecord.action).where(
        ConsentRecord.person.is_in(sorted(set(person_ids)))
        & ConsentRecord.action.is_in([ConsentAction.given, ConsentAction.withdrawn])
    ).order_by(ConsentRecord.id)
    last: dict[int, str] = {}
    for r in rows:
        last[r["person"]] = r["action"]
    return {p for p, a in last.items() if a == ConsentAction.given}


def refusal() -> Conflict:
    return Conflict("此人尚未签署人脸信息采集同意（单独同意），不能采集人脸；请先向本人展示同意书并确认",
                    "No biometric consent on record for this person: no face is enrolled without it",
                    field="consent", code="consent_missing")


async def require_consent(person_id: int) -> None:
    """Refuse (409 ``consent_missing``) unless the person's consent to biometric processing is in force."""
    if not await has_consent(person_id):
        raise refusal()


async def history(person_id: int) -> list[dict[str, Any]]:
    """Every consent event of the person, newest first, with Chinese labels."""
    rows = await ConsentRecord.select().where(ConsentRecord.person == person_id).order_by(
        ConsentRecord.id, ascending=False)
    for r in rows:
        r["action_label"] = label(r["action"], ConsentAction)
        r["channel_label"] = label(r["channel"], ConsentChannel)
    return rows
