"""The supervisor's live map: projects with today's counters, gate terminals, fences, the day's latest punches
as live events, a project's day (side panel), and the cross-process publication (PostgreSQL NOTIFY: published by backend.attendance.live, re-exported here)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.attendance.live import LIVE_CHANNEL as LIVE_CHANNEL  # re-exported: the publisher lives in attendance
from backend.attendance.live import NOTIFY_MAX_BYTES as NOTIFY_MAX_BYTES
from backend.attendance.live import pg_notify as pg_notify
from backend.attendance.reasons import REASON_ZH
from backend.attendance.tables import Punch
from backend.devices.tables import Terminal
from backend.errors import NotFound
from backend.fences import services as fence_services
from backend.supervision.services.common import DEFAULT_TZ, _aware, _ids_in, _int_list, _iso, _json
from backend.supervision.services.people import _team_names
from backend.supervision.services.projects import project_contexts
from backend.supervision.services.punches import SOURCE_ZH
from backend.vocabulary import TERMINAL_STATE_ZH, PunchVerdict, TerminalState, local_time

FenceSource = Callable[[set[int] | None], Any]  # async (project_ids) -> list of GeoJSON Features

RECENT_PUNCHES = 20  # the live feed starts with the day's latest punches


# --- Fences --------------------------------------------------------------------------------------


async def fence_features(project_ids: set[int] | None, source: FenceSource | None = None) -> list[dict[str, Any]]:
    """The fences to draw on the map.

    ``source``: an async callable giving the map's GeoJSON Features (WGS-84, ``properties.project_id`` set) of
    the projects' current fences — the app's ``AppServices.fence_source`` (tests, other stores).  None: the
    fence store's ``backend.fences.services.map_features`` when it offers one; otherwise no fences."""
    if source is None:
        source = getattr(fence_services, "map_features", None)
    if source is None:
        return []
    features = await source(project_ids)
    if project_ids is not None:
        features = [f for f in features if (f.get("properties") or {}).get("project_id") in project_ids]
    return list(features)


# --- Map overview --------------------------------------------------------------------------------


async def fetch_today_counters(ids: list[int], day: date) -> dict[int, dict[str, int]]:
    """project → today's people (not rejected), late uploads, rejected punches and punches."""
    today: dict[int, dict[str, int]] = defaultdict(lambda: {"people": 0, "late": 0, "rejected": 0, "punches": 0})
    if ids:
        rows = await Punch.raw(
            "SELECT project, COUNT(DISTINCT CASE WHEN verdict <> 'rejected' THEN person END) AS people, "
            "SUM(CASE WHEN CAST(flags AS TEXT) LIKE '%late_upload%' THEN 1 ELSE 0 END) AS late, "
            "SUM(CASE WHEN verdict = 'rejected' THEN 1 ELSE 0 END) AS rejected, COUNT(*) AS punches "
            f"FROM punch WHERE local_date = {{}} AND project IN ({_int_list(ids)}) GROUP BY project",
            _iso(day))
        for r in rows:
            today[r["project"]] = {k: int(r[k] or 0) for k in ("people", "late", "rejected", "punches")}
    return today


async def fetch_map_terminals(ids: list[int]) -> list[dict[str, Any]]:
    terminals = []
    if ids:
        for t in await Terminal.select(
            Terminal.id, Terminal.serial, Terminal.project, Terminal.channel, Terminal.direction, Terminal.enabled,
            Terminal.online, Terminal.last_seen_at, Terminal.vendor.name.as_alias("vendor"),
            Terminal.project.timezone.as_alias("timezone"),
        ).where(_ids_in(Terminal.project, ids)).order_by(Terminal.id):
            seen = _aware(t.pop("last_seen_at"))
            state = (TerminalState.disabled if not t["enabled"]
                     else TerminalState.online if t["online"] else TerminalState.offline)
            terminals.append({**t, "last_seen_at": seen.isoformat() if seen else None,
                              "last_seen_local": local_time(seen, t["timezone"], seconds=True),
                              "state": state, "state_label": TERMINAL_STATE_ZH[state]})
    return terminals


async def map_overview(project_ids: set[int] | None, day: date, *,
                       fence_source: FenceSource | None = None) -> dict[str, Any]:
    """Projects (with today's counters), gate terminals (online state) and fences for the map."""
    ctxs = await project_contexts(project_ids)
    ids = sorted(ctxs)
    today = await fetch_today_counters(ids, day)
    projects = [{
        "id": c.id, "name": c.name, "district": c.district_name, "status": c.status, "status_label": c.status_label,
        "lon": c.lon, "lat": c.lat, "today": today[c.id], "timezone": c.timezone or DEFAULT_TZ,
    } for c in ctxs.values()]
    terminals = await fetch_map_terminals(ids)
    recent = await _punch_events(_ids_in(Punch.project, ids) & (Punch.local_date == _iso(day)), RECENT_PUNCHES) \
        if ids else []
    return {"day": _iso(day), "projects": projects, "terminals": terminals, "recent": recent[::-1],
            "fences": {"type": "FeatureCollection", "features": await fence_features(project_ids, fence_source)}}


# --- A project's day (side panel) ----------------------------------------------------------------


def _hms(dt: datetime, tz: ZoneInfo) -> str:
    return _aware(dt).astimezone(tz).strftime("%H:%M:%S")


async def project_today(project_id: int, day: date) -> dict[str, Any]:
    """A project's day: people on site, late uploads, rejected punches with reasons (map side panel).

    On site = people whose last accepted punch of the day is not an exit (phones have no direction)."""
    ctxs = await project_contexts({project_id})
    ctx = ctxs.get(project_id)
    if ctx is None:
        raise NotFound("项目不存在", "Project not found", field="project_id")
    tz = ZoneInfo(ctx.timezone or DEFAULT_TZ)
    rows = await Punch.select(
        Punch.id, Punch.person, Punch.person.name.as_alias("name"), Punch.source, Punch.direction,
        Punch.captured_at, Punch.latency_s, Punch.verdict, Punch.reasons, Punch.flags,
        Punch.terminal.serial.as_alias("terminal"),
    ).where((Punch.project == project_id) & (Punch.local_date == _iso(day))).order_by(Punch.captured_at)
    teams = await _team_names({(project_id, r["person"]) for r in rows if r["person"] is not None})
    last_ok: dict[int, dict[str, Any]] = {}
    first_ok: dict[int, datetime] = {}
    late: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for r in rows:
        r["time"] = _hms(r["captured_at"], tz)
        r["name"] = r["name"] or "（未识别）"
        r["source_label"] = SOURCE_ZH.get(r["source"], r["source"])
        flags = list(_json(r["flags"], []))
        reasons = list(_json(r["reasons"], []))
        r["labels"] = [REASON_ZH.get(c, c) for c in reasons + flags]
        if r["verdict"] == PunchVerdict.rejected:
            rejected.append(r)
        elif r["person"] is not None:
            last_ok[r["person"]] = r
            first_ok.setdefault(r["person"], r["captured_at"])
        if "late_upload" in flags:
            late.append(r)
    on_site = [{
        "person_id": pid, "name": r["name"], "team": teams.get((project_id, pid), ""), "last_time": r["time"],
        "first_time": _hms(first_ok[pid], tz), "source_label": r["source_label"],
    } for pid, r in last_ok.items() if r["direction"] != "out"]
    on_site.sort(key=lambda p: (p["team"], p["name"]))
    return {"project": {"id": ctx.id, "name": ctx.name, "status_label": ctx.status_label,
                        "district": ctx.district_name},
            "day": _iso(day), "on_site": on_site, "attended": len(last_ok), "late": late[::-1],
            "rejected": rejected[::-1], "punches": len(rows)}


# --- Live events ---------------------------------------------------------------------------------


def _event_of(r: dict[str, Any]) -> dict[str, Any]:
    """A punch row as a live event (the shape ``record_punch`` publishes)."""
    reasons, flags = list(_json(r["reasons"], [])), list(_json(r["flags"], []))
    return {
        "type": "punch", "id": r["id"], "project_id": r["project"], "person_id": r["person"], "name": r["name"],
        "source": r["source"], "verdict": r["verdict"], "reasons": reasons, "flags": flags,
        "message": "；".join(REASON_ZH.get(c, c) for c in (reasons or flags)), "lon": r["lon"], "lat": r["lat"],
        "captured_at": _aware(r["captured_at"]).isoformat(), "received_at": _aware(r["received_at"]).isoformat(),
        "latency_s": round(r["latency_s"], 1), "terminal_id": r["terminal"],
    }


async def _punch_events(where: Any, limit: int) -> list[dict[str, Any]]:
    """Committed punches as live events, newest first."""
    rows = await Punch.select(
        Punch.id, Punch.project, Punch.person, Punch.person.name.as_alias("name"), Punch.source, Punch.verdict,
        Punch.reasons, Punch.flags, Punch.lon, Punch.lat, Punch.captured_at, Punch.received_at, Punch.latency_s,
        Punch.terminal,
    ).where(where).order_by(Punch.id, ascending=False).limit(limit)
    return [_event_of(r) for r in rows]


async def punch_event(punch_id: int) -> dict[str, Any] | None:
    """A committed punch as a live event (for NOTIFY payloads too large to carry the event itself)."""
    events = await _punch_events(Punch.id == punch_id, 1)
    return events[0] if events else None


