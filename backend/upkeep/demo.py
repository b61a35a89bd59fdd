"""Demo data of device upkeep (issue 20): on the demo gate, one repair ticket open (reported 3 hours ago), one
overdue and escalated to the district (opened 30 hours ago), and one repaired in 6 hours — so the vendor's, the
project's and the district's upkeep pages and the vendor figures are not empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.upkeep import services


async def seed(*, terminals: dict[str, int], reporter_user_id: int | None = None,
               now: datetime | None = None) -> list[int]:
    """Tickets on the demo terminals (``{"in": id, "out": id}``); returns their ids."""
    now = now or datetime.now(UTC)
    repaired = await services.report_fault(terminals["in"], "识别缓慢，偶尔黑屏", user_id=reporter_user_id,
                                           now=now - timedelta(days=5))
    await services.close_ticket(repaired, "更换电源适配器，已恢复", user_id=None, now=now - timedelta(days=5, hours=-6))
    overdue = await services.report_fault(terminals["in"], "闸机不开闸", user_id=reporter_user_id,
                                          now=now - timedelta(hours=30))
    await services.escalate_overdue(now)
    fresh = await services.report_fault(terminals["out"], "屏幕有裂纹", user_id=reporter_user_id,
                                        now=now - timedelta(hours=3))
    return [repaired, overdue, fresh]
