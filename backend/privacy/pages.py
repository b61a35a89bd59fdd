"""Pages of a person's privacy (issue 20 B): the person's consent, export and corrections
(``/privacy/people/{id}``) and the district's full-ID access log (``/privacy/id-access``).  Thin: the work is in
``privacy.people``, ``privacy.export`` and ``workforce.id_access``; htmx forms answer ``HX-Refresh`` or the app's
error fragment (crew.js puts it in the form's message box)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from backend.accounts.roles import ROLES
from backend.accounts.services import CurrentUser
from backend.auth import AuthUser
from backend.crew import forms
from backend.errors import invalid
from backend.privacy import people
from backend.privacy.controllers import read_access_log
from backend.vocabulary import (
    CONSENT_CHANNEL_ZH,
    CORRECTION_FIELD_ZH,
    ID_ACCESS_KIND_ZH,
    ConsentAction,
    ConsentChannel,
    local_time,
)

# Channels staff may name when recording a consent given outside the tablet and the phone.
STAFF_CHANNELS = (ConsentChannel.paper, ConsentChannel.gate, ConsentChannel.roster_api, ConsentChannel.import_,
                  ConsentChannel.staff)


def _ctx(user: CurrentUser, **kw: Any) -> dict[str, Any]:
    return {"user": user, "role_label": ROLES[user.role], **kw}


def _refresh() -> Response[str]:
    return Response("", headers={"HX-Refresh": "true"}, media_type="text/html")


def _date(raw: str, field: str) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise invalid(field, "日期格式应为 YYYY-MM-DD", "Dates are YYYY-MM-DD") from None


@get("/privacy/people/{person_id:int}", include_in_schema=False)
async def person_page(person_id: int, user: AuthUser, project_id: int | None = None) -> Template:
    pid = await people.scope(user, person_id, people.WITHDRAW_ROLES | people.EXPORT_ROLES, project_id)
    return Template("privacy/person.html", context=_ctx(
        user, person=await people.person_brief(person_id), project_id=pid,
        consent=await people.consent_state(person_id, pid), corrections=await people.corrections(person_id),
        can_record=user.role in people.CONSENT_ROLES, can_withdraw=user.role in people.WITHDRAW_ROLES,
        can_export=user.role in people.EXPORT_ROLES, can_correct=user.role in people.CORRECT_ROLES,
        channels={c: CONSENT_CHANNEL_ZH[c] for c in STAFF_CHANNELS}, fields=CORRECTION_FIELD_ZH))


@post("/privacy/people/{person_id:int}/consent", include_in_schema=False, status_code=200)
async def consent_submit(person_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Response[str]:
    """Staff record a consent given outside the tablet (a signed paper form …) or the person's withdrawal."""
    form = await request.form()
    action = forms.text(form, "action", 12)
    if action == ConsentAction.withdrawn and forms.text(form, "confirm", 8) != "on":
        raise invalid("confirm", "请勾选确认：撤回后将删除此人的人脸特征值和照片", "Confirm the withdrawal",
                      code="confirm_required")
    await people.record_consent(
        user, person_id, action=action, channel=forms.text(form, "channel", 16) or ConsentChannel.staff,
        version=forms.text(form, "consent_version", 16), note=forms.text(form, "note", 200),
        project_id=int(forms.text(form, "project_id", 12) or 0) or None)
    return _refresh()


@post("/privacy/people/{person_id:int}/correct", include_in_schema=False, status_code=200)
async def correct_submit(person_id: int, request: Request[Any, Any, Any], user: AuthUser) -> Response[str]:
    form = await request.form()
    await people.correct(user, person_id, field=forms.text(form, "field", 12), value=forms.text(form, "value", 60),
                         reason=forms.text(form, "reason", 200),
                         project_id=int(forms.text(form, "project_id", 12) or 0) or None)
    return _refresh()


@get("/privacy/id-access", include_in_schema=False)
async def id_access_page(user: AuthUser, username: str = "", since: str = "", until: str = "",
                         kind: str = "") -> Template:
    rows = await read_access_log(user, username=username, since=_date(since, "since"), until=_date(until, "until"),
                                 kind=kind)
    for r in rows:
        r["at_local"] = local_time(r["accessed_at"], seconds=True)
    return Template("privacy/id_access.html", context=_ctx(
        user, rows=rows, kinds=ID_ACCESS_KIND_ZH, roles=ROLES,
        filters={"username": username, "since": since, "until": until, "kind": kind}))


PRIVACY_PAGES = [person_page, consent_submit, correct_submit, id_access_page]
