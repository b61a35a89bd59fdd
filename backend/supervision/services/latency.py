"""Upload latency compliance: the share of punches within their source's limit (``Rules.max_latency_s``:
seed 000 附件3 §三.4 phone, seed 002 附件1 §二(17) gate), per project and per gate terminal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.attendance.tables import Punch
from backend.devices.tables import Terminal
from backend.rules import DEFAULT_RULES
from backend.supervision import metrics
from backend.supervision.services.common import _ids_in, _int_list, _iso
from backend.supervision.services.projects import ProjectCtx, project_contexts
from backend.vocabulary import Source


@dataclass(slots=True)
class LatencyRow:
    project_id: int
    project_name: str
    terminal_id: int | None
    terminal_serial: str
    source: str
    limit_s: float
    total: int = 0
    within: int = 0
    avg_s: float = 0.0
    max_s: float = 0.0

    @property
    def share(self) -> float | None:
        return metrics.rate(self.within, self.total)


# The punch sources that have an upload latency limit (make-ups have none): ``Rules.max_latency_s`` decides.
LATENCY_SOURCES: tuple[str, ...] = tuple(str(s.value) for s in Source if DEFAULT_RULES.max_latency_s(s) is not None)


def _limit_groups(ctxs: dict[int, ProjectCtx]) -> dict[tuple[str, float], list[int]]:
    """Projects grouped by (source, that source's latency limit under the project's rules)."""
    groups: dict[tuple[str, float], list[int]] = defaultdict(list)
    for pid, c in ctxs.items():
        for source in LATENCY_SOURCES:
            limit = c.rules.max_latency_s(source)
            if limit is not None:
                groups[(source, limit)].append(pid)
    return groups


async def fetch_latency_groups(pids: list[int], source: str, limit_s: float, first: date,
                               last: date) -> list[dict[str, Any]]:
    """Per project and terminal, for one source: punches, within ``limit_s`` (the source's limit from the projects'
    rules, ``Rules.max_latency_s``, passed as a parameter), average and maximum latency."""
    return await Punch.raw(
        "SELECT project, terminal, COUNT(*) AS n, SUM(CASE WHEN latency_s <= {} THEN 1 ELSE 0 END) AS within, "
        "AVG(latency_s) AS avg_s, MAX(latency_s) AS max_s FROM punch "
        "WHERE source = {} AND local_date >= {} AND local_date <= {} "
        f"AND project IN ({_int_list(pids)}) GROUP BY project, terminal",
        limit_s, source, _iso(first), _iso(last))


def _merge_into(row: LatencyRow, n: int, within: int, avg: float, mx: float) -> None:
    row.avg_s = (row.avg_s * row.total + avg * n) / (row.total + n)
    row.total += n
    row.within += within
    row.max_s = max(row.max_s, mx)


async def latency_compliance(project_ids: set[int] | None, first: date, last: date) -> tuple[list[LatencyRow],
                                                                                             list[LatencyRow]]:
    """Share of punches uploaded within the limit, per project and source, and per gate terminal.  Make-up
    punches have no upload latency and are left out.  One grouped query per source and distinct limit."""
    ctxs = await project_contexts(project_ids)
    if not ctxs:
        return [], []
    groups = _limit_groups(ctxs)
    serials = {t["id"]: t["serial"] for t in await Terminal.select(Terminal.id, Terminal.serial).where(
        _ids_in(Terminal.project, ctxs))}
    by_project: dict[tuple[int, str], LatencyRow] = {}
    by_terminal: dict[int, LatencyRow] = {}
    for (source, limit), pids in groups.items():
        for r in await fetch_latency_groups(pids, source, limit, first, last):
            r["source"] = source
            ctx = ctxs[r["project"]]
            n, within = int(r["n"]), int(r["within"] or 0)
            avg, mx = float(r["avg_s"] or 0), float(r["max_s"] or 0)
            _merge_into(by_project.setdefault((r["project"], r["source"]), LatencyRow(
                project_id=r["project"], project_name=ctx.name, terminal_id=None, terminal_serial="",
                source=r["source"], limit_s=limit)), n, within, avg, mx)
            if r["source"] == Source.gate and r["terminal"] is not None:
                by_terminal[r["terminal"]] = LatencyRow(
                    project_id=r["project"], project_name=ctx.name, terminal_id=r["terminal"],
                    terminal_serial=serials.get(r["terminal"], str(r["terminal"])), source=Source.gate, limit_s=limit,
                    total=n, within=within, avg_s=avg, max_s=mx)
    return (sorted(by_project.values(), key=lambda r: (r.project_id, r.source)),
            sorted(by_terminal.values(), key=lambda r: (r.project_id, r.terminal_serial)))
