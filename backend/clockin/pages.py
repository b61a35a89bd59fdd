"""The worker's phone app (PWA) pages under /m/, and the two files that make it installable.

Pages (Jinja + htmx, Chinese UI for a 360 px phone; the logged-in account must be linked to a person):

- ``/m/``          home: projects, last punch, the offline outbox, links
- ``/m/clock``     打卡: location with its accuracy → liveness challenge → burst of frames → result
- ``/m/history``   the worker's own punches (htmx: ``HX-Request`` gets the list fragment only)
- ``/m/makeup``    补卡 request with a photo taken with the live camera, and the worker's requests
- ``/m/punches/{id}``  result fragment of one of the worker's punches, reasons in plain Chinese

Root scope (public, see ``backend.auth.PUBLIC_PATHS``):

- ``/manifest.webmanifest``  ``application/manifest+json``
- ``/favicon.ico``  the 32 px app icon
- ``/sw.js``  the service worker, with the app-shell list and a content hash of the shell injected,
  so that any change of a shell file installs a new worker (and a fresh cache).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.response import Template

from backend.accounts.services import CurrentUser
from backend.attendance.reasons import REASON_ZH, VERDICT_ZH
from backend.auth import AuthUser
from backend.clockin import services
from backend.face.liveness import ACTION_LABELS, ACTIONS
from backend.org import services as org
from backend.rules import DEFAULT_RULES, Rules
from backend.settings import get_settings
from backend.vocabulary import DEFAULT_TZ, MakeupStatus, label, local_time
from backend.workforce import consent
from geofence.decision import format_metres_zh

PWA_DIR = Path(__file__).resolve().parents[2] / "pwa"
STATIC_DIR = PWA_DIR / "static"

# The app shell the service worker caches at install (URL → file under pwa/static).
SHELL: dict[str, str] = {
    "/static/css/app.css": "css/app.css",
    "/static/css/m.css": "css/m.css",
    "/static/vendor/htmx/htmx.min.js": "vendor/htmx/htmx.min.js",
    "/static/js/outbox.js": "js/outbox.js",
    "/static/js/clock.js": "js/clock.js",
    "/static/js/m.js": "js/m.js",
    "/static/icons/icon-192.png": "icons/icon-192.png",
    "/static/icons/icon-512.png": "icons/icon-512.png",
    "/static/icons/maskable-192.png": "icons/maskable-192.png",
    "/static/icons/maskable-512.png": "icons/maskable-512.png",
    "/static/icons/apple-touch-icon.png": "icons/apple-touch-icon.png",
    "/static/icons/icon-32.png": "icons/icon-32.png",
    "/manifest.webmanifest": "manifest.webmanifest",
}
# Pages cached at install when the worker is logged in (network-first afterwards).
PAGES = ("/m/", "/m/clock", "/m/history", "/m/makeup")


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _local(dt: datetime | None, tz: str = DEFAULT_TZ) -> str:
    return local_time(dt, tz, seconds=True)


def reason_texts(row: dict[str, Any], rules: Rules = DEFAULT_RULES) -> list[str]:
    """Plain Chinese for each reason and flag of a punch, with the numbers that explain it
    (e.g. "不在电子围栏内，距离 120 米")."""
    out: list[str] = []
    distance, accuracy, latency = row.get("fence_distance_m"), row.get("accuracy_m"), row.get("latency_s")
    for code in [*row.get("reasons", []), *row.get("flags", [])]:
        text = REASON_ZH.get(code, code)
        if code == "outside_fence" and distance is not None:
            text = f"{text}，距离 {format_metres_zh(distance)}"
        elif code == "near_edge" and distance is not None:
            text = f"{text}，距围栏 {format_metres_zh(distance)}"
        elif code == "low_gps_accuracy" and accuracy is not None:
            text = f"{text}（±{accuracy:.0f} 米，要求不超过 {rules.gps_max_accuracy_m:.0f} 米），请到开阔处重新定位"
        elif code == "late_upload" and latency is not None and (limit := rules.max_latency_s(row.get("source", ""))):
            # the punch's own source's limit (gate 5 s, phone 30 s under the baseline): Rules.max_latency_s
            text = f"{text}：拍摄 {latency:.0f} 秒后才上传（限 {limit:g} 秒），已记录，待复核"
        elif code == "not_enrolled":
            text = f"{text}，请联系班组长或劳务员采集人脸"
        out.append(text)
    return out


def _punch_view(row: dict[str, Any], tz: str, rules: Rules = DEFAULT_RULES) -> dict[str, Any]:
    limit = rules.max_latency_s(row.get("source", ""))
    return {
        **row,
        # the upload delay is shown when it passes the source's limit (none for make-ups)
        "latency_limit_s": limit,
        "late": limit is not None and row.get("latency_s") is not None and row["latency_s"] > limit,
        "verdict_label": VERDICT_ZH.get(row["verdict"], row["verdict"]),
        "texts": reason_texts(row, rules),
        "captured_local": _local(row.get("captured_at"), tz),
        "received_local": _local(row.get("received_at"), tz),
    }


def _no_person(user: CurrentUser) -> Template:
    return Template("m/no_person.html", context={"user": user}, status_code=403)


async def _projects(user: CurrentUser) -> list[dict[str, Any]]:
    return await services.my_projects(user.person_id) if user.person_id else []


async def _zone(projects: list[dict[str, Any]]) -> str:
    """The zone the phone shows times in (the banner of uploaded punches, like the lists): the first project's."""
    if not projects:
        return DEFAULT_TZ
    return (await org.get_project(projects[0]["id"])).get("timezone") or DEFAULT_TZ


async def _history(user: CurrentUser, limit: int = 50) -> list[dict[str, Any]]:
    rows = await services.my_history(user, limit=limit)
    tzs: dict[int, str] = {}
    project_rules: dict[int, Rules] = {}
    for r in rows:
        if r["project"] not in tzs:
            tzs[r["project"]] = (await org.get_project(r["project"])).get("timezone") or DEFAULT_TZ
            project_rules[r["project"]] = await org.rules_for_project(r["project"])
    return [_punch_view(r, tzs[r["project"]], project_rules[r["project"]]) for r in rows]


@get("/m/", include_in_schema=False)
async def m_home(user: AuthUser) -> Template:
    if user.person_id is None:
        return _no_person(user)
    projects = await _projects(user)
    return Template("m/home.html", context={
        "user": user, "projects": projects, "recent": await _history(user, limit=3), "page": "home",
        "enrolled": await services.is_enrolled(user.person_id), "demo_mode": get_settings().demo_mode,
        "tz": await _zone(projects),
    })


@get("/m/clock", include_in_schema=False)
async def m_clock(user: AuthUser) -> Template:
    if user.person_id is None:
        return _no_person(user)
    projects = await _projects(user)
    rules = await org.rules_for_project(projects[0]["id"]) if projects else DEFAULT_RULES
    config = {
        "maxAccuracyM": rules.gps_max_accuracy_m,
        "maxFrames": rules.liveness_max_frames,
        "maxFrameBytes": rules.mobile_max_frame_bytes,
        "actions": list(ACTIONS),
        "labels": ACTION_LABELS,
        "actionCount": rules.liveness_action_count,
        "demoMode": get_settings().demo_mode,
    }
    # What is known without a position (face, roster, project, fence): shown at once, also from the offline cache.
    check = await services.precheck(user, demo_mode=get_settings().demo_mode) if projects else None
    return Template("m/clock.html", context={
        "user": user, "projects": projects, "config": json.dumps(config, ensure_ascii=False), "page": "clock",
        "precheck": check, "tz": await _zone(projects), "demo_mode": get_settings().demo_mode,
        # 单独同意 before the demo self-enrolment (issue 20 B.1)
        "consent_version": consent.CURRENT_CONSENT_VERSION, "consent_text": consent.consent_text(rules=rules),
    })


@get("/m/history", include_in_schema=False)
async def m_history(request: Request[Any, Any, Any], user: AuthUser, limit: int = 50) -> Template:
    """``limit`` (1–50): the home page refreshes its three recent punches with the same fragment."""
    if user.person_id is None:
        return _no_person(user)
    rows = await _history(user, limit=max(1, min(limit, 50)))
    name = "m/_history_list.html" if _is_htmx(request) else "m/history.html"
    return Template(name, context={"user": user, "rows": rows, "page": "history",
                                   "tz": await _zone(await _projects(user))})


@get("/m/makeup", include_in_schema=False)
async def m_makeup(request: Request[Any, Any, Any], user: AuthUser) -> Template:
    if user.person_id is None:
        return _no_person(user)
    projects = await _projects(user)
    requests = [r for r in await services.list_makeups({p["id"] for p in projects} or set())
                if r["person"] == user.person_id]
    zones: dict[int, str] = {}
    for r in requests:
        if r["project"] not in zones:
            zones[r["project"]] = (await org.get_project(r["project"])).get("timezone") or DEFAULT_TZ
        r["punch_local"] = local_time(r["punch_time"], zones[r["project"]])
        r["status_label"] = label(r["status"], MakeupStatus)
    if _is_htmx(request):
        return Template("m/_makeup_list.html", context={"requests": requests})
    tz = await _zone(projects)
    today = datetime.now(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")
    return Template("m/makeup.html", context={
        "user": user, "projects": projects, "reasons": services.MAKEUP_REASONS, "requests": requests,
        "now_local": today, "page": "makeup", "tz": tz,
    })


@get("/m/punches/{punch_id:int}", include_in_schema=False)
async def m_punch(punch_id: int, user: AuthUser) -> Template:
    """The result card of one punch (an htmx fragment)."""
    row = await services.my_punch(user, punch_id)
    rules = await org.rules_for_project(row["project"])
    return Template("m/_punch_result.html", context={"p": _punch_view(row, row["timezone"], rules)})


# --- Installability: manifest and service worker from the root scope -----------------------------


def shell_version() -> str:
    """A hash of every app-shell file and of the worker itself: a new version installs a new worker."""
    h = hashlib.sha256()
    for rel in [*SHELL.values(), "sw.js"]:
        path = STATIC_DIR / rel
        h.update(rel.encode())
        h.update(path.read_bytes() if path.is_file() else b"-")
    return h.hexdigest()[:16]


@get("/manifest.webmanifest", include_in_schema=False, sync_to_thread=False)
def manifest() -> Response[bytes]:
    return Response((STATIC_DIR / "manifest.webmanifest").read_bytes(), media_type="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


@get("/sw.js", include_in_schema=False, sync_to_thread=False)
def service_worker() -> Response[bytes]:
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    body = (source.replace("__SHELL_VERSION__", shell_version())
            .replace("__SHELL_URLS__", json.dumps(list(SHELL)))
            .replace("__PAGE_URLS__", json.dumps(list(PAGES))))
    return Response(body.encode("utf-8"), media_type="text/javascript", headers={
        "Service-Worker-Allowed": "/", "Cache-Control": "no-cache",
    })


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> Response[bytes]:
    return Response((STATIC_DIR / "icons" / "icon-32.png").read_bytes(), media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})


CLOCKIN_PAGES: list[Any] = [m_home, m_clock, m_history, m_makeup, m_punch, manifest, service_worker, favicon]
