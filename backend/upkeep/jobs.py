"""The upkeep job: fault detection, escalation of overdue repairs, late acceptances — every minute while ``smz serve``
runs (``runtime.upkeep_lifespan``) and once in ``smz nightly`` / ``smz upkeep``."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from backend.supervision.sms import SmsSender
from backend.upkeep.faults import DetectionSummary, detect_faults

log = logging.getLogger("smz.upkeep.jobs")

EVERY_S = 60.0  # seed 002 §五.1 实时诊断: our choice, once a minute


async def run_once(now: datetime | None = None, *, sms: SmsSender | None = None) -> DetectionSummary:
    summary = await detect_faults(now, sms=sms)
    if summary.opened or summary.escalated or summary.acceptances_late:
        log.info("upkeep: %d terminals watched, %d tickets opened, %d escalated, %d acceptances late",
                 summary.terminals, len(summary.opened), len(summary.escalated), len(summary.acceptances_late))
    return summary


async def run_every(stop: asyncio.Event, *, sms: SmsSender | None = None, every_s: float = EVERY_S) -> None:
    """Run ``run_once`` every ``every_s`` seconds until ``stop`` is set; an error is logged and the next round runs."""
    while not stop.is_set():
        try:
            await run_once(sms=sms)
        except Exception:
            log.exception("upkeep detection failed")
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass


async def nightly_step() -> str:
    """The upkeep step of ``smz nightly`` (``supervision.jobs.cli_nightly(after=…)``): one run, its summary line."""
    s = await run_once()
    return (f"设备运维：检查 {s.terminals} 台设备，新维修工单 {len(s.opened)}，维修超时 {len(s.escalated)}，"
            f"合规验收逾期 {len(s.acceptances_late)}")
