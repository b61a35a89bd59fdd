"""Demo data of a project's lifecycle (issue 15): a project in each state (筹备, 在建, 停工, 完工, 竣工) and a pending
request of each kind (变更开工日期, 停工, 复工, 完工) and several pending make-ups, so a new user finds the queues
filled.  Called at the end of ``backend.demo.load_demo`` with what it made; only services are used.  Make-ups
belong to a higher layer (clockin): the demo passes ``request_makeup`` (a closure over the demo worker's account),
so this module imports nothing above org."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.org import services as org
from backend.vocabulary import ChangeKind, ProjectStatus

_TZ = ZoneInfo("Asia/Shanghai")
def _png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (70, 110, 160)) -> bytes:
    """A small valid PNG (one colour): the make-up evidence the authority's queue shows as a picture."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


async def demo_lifecycle(
    *, district_id: int, projects: dict[str, int], enterprises: dict[str, int], requester_user_id: int,
    today: date, rng: random.Random, request_makeup: Callable[..., Awaitable[Any]] | None = None,
) -> dict[str, int]:
    """``projects``: the demo's ``building`` (在建), ``road`` (在建) and ``suspended`` (停工) projects; ``enterprises``:
    ``owner``, ``gc``, ``sup`` (建设、总包、监理).  Adds a 筹备, a 完工 and a 竣工 project; pending requests: a start-date
    change (筹备), a stop (building, unless one is open already), a resume (suspended) and a completion (road);
    and, with ``request_makeup(punch_time=, reason=, note=, direction=, evidence=, evidence_type=)`` (the demo
    worker's ``clockin.services.request_makeup`` on the road project), four pending make-ups.  Returns the new
    project ids by state."""
    made: dict[str, int] = {}
    specs = (
        ("preparing", "蓬江区青少年活动中心新建工程", 18_000, 30, None),
        ("finished", "蓬江区棠下镇中心小学教学楼", 9_800, -420, ProjectStatus.finished),
        ("accepted", "江门市滨江新区安置房一期工程", 52_000, -900, ProjectStatus.accepted),
    )
    for key, name, area, start_in_days, final in specs:
        pid = await org.create_project(
            name=name, district_id=district_id, category="building", floor_area_m2=area,
            contract_value_yuan=area * 4_000, planned_start=today + timedelta(days=start_in_days),
            lon=113.05 + rng.random() * 0.08, lat=22.57 + rng.random() * 0.06,
        )
        for ent_key, unit_type in (("owner", "owner"), ("gc", "general_contractor"), ("sup", "supervision_firm")):
            await org.add_unit(pid, enterprises[ent_key], unit_type, today + timedelta(days=min(start_in_days, 0)))
        if final is not None:
            started = today + timedelta(days=start_in_days)
            await org.change_status(pid, ProjectStatus.under_construction, effective_on=started, note="开工",
                                    user_id=None)
            finished_on = today - timedelta(days=60 if final == ProjectStatus.finished else 200)
            await org.change_status(pid, ProjectStatus.finished, effective_on=finished_on, note="完工", user_id=None)
            if final == ProjectStatus.accepted:
                await org.change_status(pid, ProjectStatus.accepted, effective_on=finished_on + timedelta(days=90),
                                        note="竣工验收", user_id=None)
        made[key] = pid

    asked = datetime.now(UTC) - timedelta(hours=3)
    preparing_start = today + timedelta(days=30)
    await org.request_change(made["preparing"], ChangeKind.planned_start,
                             (preparing_start + timedelta(days=45)).isoformat(),
                             reason="征地拆迁未完成，申请延期开工（演示：待审批）", user_id=requester_user_id, now=asked)
    open_stop = [r for r in await org.list_change_requests(projects["building"], open_only=True)
                 if r["kind"] == ChangeKind.status]
    if not open_stop:
        await org.request_change(projects["building"], ChangeKind.status, ProjectStatus.suspended,
                                 effective_on=today + timedelta(days=7), reason="春节前停工（演示：待审批）",
                                 user_id=requester_user_id, now=asked)
    await org.request_change(projects["suspended"], ChangeKind.status, ProjectStatus.under_construction,
                             reason="资金已到位，申请复工（演示：待审批）", user_id=requester_user_id, now=asked)
    await org.request_change(projects["road"], ChangeKind.status, ProjectStatus.finished,
                             effective_on=today + timedelta(days=3), reason="主体道路已完工（演示：待审批）",
                             user_id=requester_user_id, now=asked)

    if request_makeup is not None:
        for days_ago, hour, direction, reason, note in (
            (2, 7, "in", "rain", "暴雨，闸机断电"), (2, 18, "out", "rain", "暴雨，闸机断电"),
            (4, 7, "in", "network_failure", "工地网络中断"), (6, 17, "out", "device_failure", "手机定位失败"),
        ):
            at = datetime.combine(today - timedelta(days=days_ago), time(hour, rng.randrange(0, 50)), tzinfo=_TZ)
            await request_makeup(punch_time=at, reason=reason, note=note, direction=direction, evidence=_png(),
                                 evidence_type="image/png")
    return made
