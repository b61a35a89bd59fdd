"""Fault detection (seed 002 §五.1: 设备故障应实时诊断自动告警), from stored data only — the gate's punch path is not
touched.  Run every minute by ``smz serve`` and once by ``smz nightly`` (``upkeep.jobs``).

A terminal is watched while it is enabled, its project is under construction or suspended, it has been seen at least
once (a terminal being hooked up is not faulty) and no removal or move of it is under way.  Faults:

- ``offline``: offline (or recorded online with no sign of life past the devices' stale limit) for
  ``fault_offline_minutes``;
- ``heartbeat_gap``: recorded online, no sign of life for ``fault_heartbeat_gap_minutes``;
- ``punch_failures``: ``fault_punch_failures`` rejected gate punches within ``fault_window_minutes``;
- ``gate_alarms``: ``fault_gate_alarms`` gate alarms (refused logins, ``TerminalAlarm``) within the window;
- ``clock_drift``: within the window, ``fault_clock_min_punches`` gate punches captured more than
  ``fault_clock_drift_s`` ahead of the server clock, or at least that many punches all captured more than that behind
  (a device uploading its offline store also arrives late: the vendor checks and closes).

Each fault opens one repair ticket (``services.open_ticket``: once per terminal and kind while open).  After the
vendor closes a ticket, the same kind is looked at afresh: events from before the close no longer count, and an
outage counts from the close.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count, Max, Min

from backend.attendance.tables import Punch
from backend.devices.services import OUTAGE_PROJECT_STATUSES, STALE_ONLINE, offline_since
from backend.devices.tables import Terminal, TerminalAlarm
from backend.supervision.sms import SmsSender
from backend.upkeep import services
from backend.upkeep.tables import RepairTicket
from backend.vocabulary import FaultKind, PunchVerdict, Source, TicketStatus, local_time


@dataclass(slots=True)
class DetectionSummary:
    terminals: int = 0
    opened: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    acceptances_late: list[int] = field(default_factory=list)


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else (at if at.tzinfo is not None else at.replace(tzinfo=UTC))


async def _last_closed(terminal_ids: list[int]) -> dict[tuple[int, str], datetime]:
    """(terminal, kind) → when its last ticket of that kind was closed."""
    out: dict[tuple[int, str], datetime] = {}
    if not terminal_ids:
        return out
    rows = await RepairTicket.select(RepairTicket.terminal, RepairTicket.kind, Max(RepairTicket.closed_at, alias="last_closed")).where(
        (RepairTicket.status == TicketStatus.closed) & RepairTicket.terminal.is_in(terminal_ids)
    ).group_by(RepairTicket.terminal, RepairTicket.kind)
    for r in rows:
        raw = r["last_closed"]
        at = _aware(datetime.fromisoformat(raw) if isinstance(raw, str) else raw)  # SQLite's MAX gives text
        if at is not None:
            out[(r["terminal"], r["kind"])] = at
    return out


async def watched_terminals(now: datetime) -> list[dict[str, Any]]:
    rows = await Terminal.select(
        Terminal.id, Terminal.serial, Terminal.project, Terminal.vendor, Terminal.enabled, Terminal.channel,
        Terminal.online, Terminal.last_seen_at, Terminal.last_offline_at, Terminal.created_at,
        Terminal.project.name.as_alias("project_name"), Terminal.project.district.as_alias("district"),
        Terminal.project.timezone.as_alias("timezone"), Terminal.vendor.name.as_alias("vendor_name"),
    ).where((Terminal.enabled == True) & Terminal.project.status.is_in(list(OUTAGE_PROJECT_STATUSES)))  # noqa: E712
    moving = await services.removal_in_progress(now)
    return [r for r in rows if r["id"] not in moving and (r["last_seen_at"] or r["last_offline_at"])]


def _recent_days(now: datetime) -> list[str]:
    """Capture days (``Punch.local_date``, indexed) a punch received in the last window can have: two days either side
    of today, whatever the project's zone — so the minute's queries read a few days' punches, not the whole table.
    A punch captured earlier and uploaded only now (an offline store) is left out: it says nothing of the device now."""
    return [(now + timedelta(days=k)).date().isoformat() for k in range(-2, 3)]


def _minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)


async def detect_faults(now: datetime | None = None, *, sms: SmsSender | None = None) -> DetectionSummary:
    """Look at every watched terminal once; open a ticket per new fault; escalate overdue tickets; find late
    compliance acceptances.  Idempotent: running it twice opens nothing new."""
    now = now or datetime.now(UTC)
    summary = DetectionSummary()
    terminals = await watched_terminals(now)
    summary.terminals = len(terminals)
    by_id = {t["id"]: t for t in terminals}
    ids = list(by_id)
    closed = await _last_closed(ids)
    rules = services.RulesCache()
    found: list[tuple[dict[str, Any], str, str]] = []
    widest = timedelta(minutes=1)
    for t in terminals:
        r = await rules.of(t["district"])
        widest = max(widest, timedelta(minutes=r.fault_window_minutes))
        began = offline_since(t, now)
        if began is not None and not began[1]:
            start = max(began[0], closed.get((t["id"], FaultKind.offline), began[0]))
            if now - start >= timedelta(minutes=r.fault_offline_minutes):
                found.append((t, FaultKind.offline, f"离线已 {_minutes(now - began[0])} 分钟（自 "
                                                    f"{local_time(began[0], t['timezone'])}）"))
        elif began is None and t["online"] and t["last_seen_at"] is not None:
            seen = _aware(t["last_seen_at"])
            start = max(seen, closed.get((t["id"], FaultKind.heartbeat_gap), seen))  # type: ignore[type-var]
            gap = timedelta(minutes=r.fault_heartbeat_gap_minutes)
            if now - start >= gap and now - seen <= STALE_ONLINE:  # type: ignore[operator]
                found.append((t, FaultKind.heartbeat_gap,
                              f"显示在线但已 {_minutes(now - seen)} 分钟没有心跳或数据"))  # type: ignore[operator]
    if ids:
        floor = now - widest
        recent = _recent_days(now)
        failures: dict[int, list[datetime]] = defaultdict(list)
        for p in await Punch.select(Punch.terminal, Punch.received_at).where(
                Punch.terminal.is_in(ids) & (Punch.source == Source.gate) & (Punch.verdict == PunchVerdict.rejected)
                & Punch.local_date.is_in(recent) & (Punch.received_at >= floor)):
            failures[p["terminal"]].append(_aware(p["received_at"]))  # type: ignore[arg-type]
        alarms: dict[int, list[datetime]] = defaultdict(list)
        for a in await TerminalAlarm.select(TerminalAlarm.terminal, TerminalAlarm.at).where(
                TerminalAlarm.terminal.is_in(ids) & (TerminalAlarm.at >= floor)):
            alarms[a["terminal"]].append(_aware(a["at"]))  # type: ignore[arg-type]
        for tid, t in by_id.items():
            r = await rules.of(t["district"])
            window_start = now - timedelta(minutes=r.fault_window_minutes)
            for kind, events, limit, text in (
                    (FaultKind.punch_failures, failures.get(tid, []), r.fault_punch_failures, "次打卡被拒绝"),
                    (FaultKind.gate_alarms, alarms.get(tid, []), r.fault_gate_alarms, "次登录告警")):
                start = max(window_start, closed.get((tid, kind), window_start))
                n = sum(1 for at in events if at > start)
                if n >= limit:
                    found.append((t, kind, f"{r.fault_window_minutes} 分钟内 {n} {text}"))
        found.extend(await _clock_drift(by_id, closed, rules, now))
    already = {r["open_key"] for r in await RepairTicket.select(RepairTicket.open_key).where(
        RepairTicket.open_key.is_not_null())}
    for t, kind, detail in found:
        if services.open_key(t["id"], kind) in already:  # open_ticket checks again, in its transaction
            continue
        made = await services.open_ticket(t, kind, detail, now=now, rules=await rules.of(t["district"]), sms=sms)
        if made is not None:
            summary.opened.append(made)
    summary.escalated = await services.escalate_overdue(now, sms=sms)
    summary.acceptances_late = await services.check_acceptances(now, sms=sms)
    return summary


async def _clock_drift(by_id: dict[int, dict[str, Any]], closed: dict[tuple[int, str], datetime],
                       rules: services.RulesCache, now: datetime) -> list[tuple[dict[str, Any], str, str]]:
    """Per terminal, over its window (from the last close of a clock_drift ticket): the gate punches, how many were
    captured more than the drift ahead of the server, and the smallest lateness."""
    out: list[tuple[dict[str, Any], str, str]] = []
    groups: dict[tuple[int, int, float, int], list[int]] = defaultdict(list)
    for tid, t in by_id.items():
        r = await rules.of(t["district"])
        groups[(r.fault_window_minutes, r.fault_clock_min_punches, r.fault_clock_drift_s, t["district"])].append(tid)
    for (window, min_punches, drift, _district), tids in groups.items():
        floor = now - timedelta(minutes=window)
        base = (Punch.terminal.is_in(tids) & (Punch.source == Source.gate) & Punch.local_date.is_in(_recent_days(now))
                & (Punch.received_at >= floor))
        after_close = [tid for tid in tids if (tid, FaultKind.clock_drift) in closed
                       and closed[(tid, FaultKind.clock_drift)] > floor]
        plain = [tid for tid in tids if tid not in after_close]
        stats: dict[int, dict[str, Any]] = {}
        if plain:
            for row in await Punch.select(Punch.terminal, Count(alias="n"), Min(Punch.latency_s, alias="min_latency"),
                                          Max(Punch.latency_s, alias="max_latency")).where(
                    base & Punch.terminal.is_in(plain)).group_by(Punch.terminal):
                stats[row["terminal"]] = row
            for row in await Punch.select(Punch.terminal, Count(alias="ahead")).where(
                    base & Punch.terminal.is_in(plain) & (Punch.latency_s < -drift)).group_by(Punch.terminal):
                stats.setdefault(row["terminal"], {})["ahead"] = row["ahead"]
        for tid in after_close:  # few: read their punches since the close
            since = closed[(tid, FaultKind.clock_drift)]
            lat = [p["latency_s"] for p in await Punch.select(Punch.latency_s).where(
                base & (Punch.terminal == tid) & (Punch.received_at > since))]
            if lat:
                stats[tid] = {"n": len(lat), "min_latency": min(lat), "max_latency": max(lat),
                              "ahead": sum(1 for x in lat if x < -drift)}
        for tid, s in stats.items():
            n, ahead = int(s.get("n") or 0), int(s.get("ahead") or 0)
            if ahead >= min_punches:
                out.append((by_id[tid], FaultKind.clock_drift,
                            f"{ahead} 条打卡的设备时间比服务器快 {drift:g} 秒以上（最多快 {-float(s['min_latency']):.0f} 秒）"))
            elif n >= min_punches and s.get("min_latency") is not None and float(s["min_latency"]) > drift:
                out.append((by_id[tid], FaultKind.clock_drift,
                            f"{window} 分钟内 {n} 条打卡的设备时间都比服务器慢 {float(s['min_latency']):.0f} 秒以上"))
    return out
