"""Many fixes at once: vectorised judging and the re-judge report over stored punches."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

import geofence
from backend.attendance.tables import Punch
from backend.errors import invalid
from backend.fences.services.common import CODE_ZH, FENCE_FLAGS, FENCE_REJECTIONS, VERDICT_ZH, _check_crs, _iso, _json
from backend.fences.services.versions import active_versions, fences_for, index_for
from backend.org.services import rules_for_project
from backend.rules import Rules
from backend.vocabulary import PunchVerdict, Source

log = logging.getLogger("smz.fences")

@dataclass(frozen=True)
class ManyJudgements:
    codes: list[str]
    distance_m: list[float | None]
    fence_id: list[int | None]
    fences: list[dict[str, Any]] = field(default_factory=list)


async def judge_many(project_id: int, lons: Sequence[float], lats: Sequence[float], accuracies: Sequence[float], *,
                     rules: Rules, crs: str = "wgs84", at: datetime | None = None) -> ManyJudgements:
    """Judge many fixes at once (vectorised, ``geofence.FenceIndex``) against the fences active at ``at``
    (None = the current ones) — for the supervisor map and what-if checks."""
    _check_crs(crs)
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    acc = np.asarray(accuracies, dtype=np.float64)
    if crs == "gcj02":
        lon, lat = geofence.gcj02_to_wgs84_arrays(lon, lat)
    versions = await active_versions([project_id], at)
    fences = await fences_for(versions)
    index = index_for(versions, fences)
    r = index.judge(lon, lat, acc, max_accuracy_m=rules.gps_max_accuracy_m, edge_margin_m=rules.fence_edge_margin_m)
    ids = [v.fence_id for v in versions]
    return ManyJudgements(
        codes=[str(c) for c in r.codes()],
        distance_m=[None if not math.isfinite(d) else round(float(d), 2) for d in r.distance_m],
        fence_id=[ids[i] if i >= 0 else None for i in r.fence_idx],
        fences=[{"id": v.fence_id, "version": v.version, "name": f.name} for v, f in zip(versions, fences, strict=True)],
    )


def stored_fence_code(reasons: Sequence[str], flags: Sequence[str]) -> str:
    """The fence outcome a stored punch carries: its fence rejection, else near_edge, else accepted."""
    for code in FENCE_REJECTIONS:
        if code in reasons:
            return code
    return "near_edge" if "near_edge" in flags else "accepted"


def _overall(reasons: Sequence[str], flags: Sequence[str], fence_code: str) -> str:
    other_reasons = [r for r in reasons if r not in FENCE_REJECTIONS]
    other_flags = [f for f in flags if f not in FENCE_FLAGS and f not in FENCE_REJECTIONS]
    if other_reasons or fence_code in FENCE_REJECTIONS:
        return PunchVerdict.rejected
    if other_flags or fence_code == "near_edge":
        return PunchVerdict.flagged
    return PunchVerdict.accepted


def _local_dates(value: str | date, field_name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise invalid(field_name, "日期格式应为 YYYY-MM-DD", "Date must be YYYY-MM-DD") from None


REJUDGE_CHUNK = 20_000
REJUDGE_EXAMPLES = 50


async def rejudge(project_id: int, date_from: str | date, date_to: str | date) -> dict[str, Any]:
    """Re-judge the project's mobile punches of [date_from, date_to] (local capture days) against the
    CURRENT fences and count how their fence outcome would change.  A report only: stored verdicts are
    not rewritten (a punch's verdict is what applied when it was made)."""
    d0, d1 = _local_dates(date_from, "date_from"), _local_dates(date_to, "date_to")
    if d1 < d0:
        raise invalid("date_to", "结束日期不能早于开始日期", "date_to is before date_from")
    rules = await rules_for_project(project_id)
    if (d1 - d0).days + 1 > rules.fence_rejudge_max_days:
        raise invalid("date_to", f"一次最多复核 {rules.fence_rejudge_max_days} 天",
                      f"At most {rules.fence_rejudge_max_days} days at a time", code="range_too_long")
    versions = await active_versions([project_id])
    fences = await fences_for(versions)
    index = index_for(versions, fences)
    tally = _Tally(fence_ids=[v.fence_id for v in versions])
    last_id = 0
    where = (Punch.project == project_id) & (Punch.source == Source.mobile) & (Punch.local_date >= d0.isoformat()) & (
        Punch.local_date <= d1.isoformat())
    while True:
        rows = await Punch.select(
            Punch.id, Punch.captured_at, Punch.lon, Punch.lat, Punch.accuracy_m, Punch.reasons, Punch.flags,
            Punch.verdict,
        ).where(where & (Punch.id > last_id)).order_by(Punch.id).limit(REJUDGE_CHUNK)
        if not rows:
            break
        last_id = rows[-1]["id"]
        result = index.judge(*_fix_columns(rows), max_accuracy_m=rules.gps_max_accuracy_m,
                             edge_margin_m=rules.fence_edge_margin_m)
        tally.add(rows, result)
    log.info("rejudge project %s %s..%s: %d punches, %d would change", project_id, d0, d1, tally.total,
             tally.changed)
    return {
        "project_id": project_id, "date_from": d0.isoformat(), "date_to": d1.isoformat(),
        "fences": [{"id": v.fence_id, "version": v.version, "name": f.name} for v, f in zip(versions, fences,
                                                                                              strict=True)],
        **tally.report(),
        "report_only": True,
        "message": "仅为复核报告：按当前电子围栏重新判定的结果，已保存的考勤结果未作任何修改",
        "message_en": "Report only: punches re-judged against the current fences; stored verdicts were not changed",
    }


def _fix_columns(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lon, lat and accuracy of the rows as float arrays (NaN where missing)."""
    def column(name: str) -> np.ndarray:
        return np.fromiter((np.nan if r[name] is None else r[name] for r in rows), dtype=np.float64, count=len(rows))

    return column("lon"), column("lat"), column("accuracy_m")


@dataclass
class _Tally:
    """How the fence outcome (and with it the verdict) of re-judged punches would move."""

    fence_ids: list[int]
    total: int = 0
    changed: int = 0
    fence_moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    verdict_moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rows: list[dict[str, Any]], result: geofence.BatchJudgement) -> None:
        codes = result.codes()
        for i, r in enumerate(rows):
            reasons = tuple(_json(r["reasons"]) or ())
            flags = tuple(_json(r["flags"]) or ())
            before = stored_fence_code(reasons, flags)
            after = str(codes[i])
            self.total += 1
            if before == after:
                continue
            self.changed += 1
            self.fence_moves[(before, after)] += 1
            new_verdict = _overall(reasons, flags, after)
            if new_verdict != r["verdict"]:
                self.verdict_moves[(r["verdict"], new_verdict)] += 1
            if len(self.examples) < REJUDGE_EXAMPLES:
                self.examples.append(self._example(r, before, after, new_verdict, result, i))

    def _example(self, r: dict[str, Any], before: str, after: str, new_verdict: str, result: geofence.BatchJudgement,
                 i: int) -> dict[str, Any]:
        dist = float(result.distance_m[i])
        k = int(result.fence_idx[i])
        return {
            "punch_id": r["id"], "captured_at": _iso(r["captured_at"]), "from": before, "to": after,
            "from_label": CODE_ZH.get(before, before), "to_label": CODE_ZH.get(after, after),
            "verdict": r["verdict"], "new_verdict": new_verdict,
            "distance_m": round(dist, 2) if math.isfinite(dist) else None,
            "fence_id": self.fence_ids[k] if k >= 0 else None,
        }

    def report(self) -> dict[str, Any]:
        return {
            "total": self.total, "changed": self.changed, "unchanged": self.total - self.changed,
            "fence_transitions": [{"from": a, "to": b, "from_label": CODE_ZH.get(a, a),
                                   "to_label": CODE_ZH.get(b, b), "count": c}
                                  for (a, b), c in sorted(self.fence_moves.items(), key=lambda kv: -kv[1])],
            "verdict_transitions": [{"from": a, "to": b, "from_label": VERDICT_ZH.get(a, a),
                                     "to_label": VERDICT_ZH.get(b, b), "count": c}
                                    for (a, b), c in sorted(self.verdict_moves.items(), key=lambda kv: -kv[1])],
            "examples": self.examples,
        }
