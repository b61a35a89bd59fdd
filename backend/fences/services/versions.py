"""Fence versions active at a time, and the per-process caches of built fences and indexes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import geofence
from backend.fences.services.common import _aware, _json
from backend.fences.tables import ProjectFenceVersion


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        self.data.move_to_end(key)
        while len(self.data) > self.size:
            self.data.popitem(last=False)

    def clear(self) -> None:
        self.data.clear()


_FENCES = _Lru(4096)  # (fence id, version) → geofence.Fence (projection cached on the object)
_INDEXES = _Lru(64)  # tuple of (fence id, version) → geofence.FenceIndex
_FEATURES = _Lru(4096)  # (fence id, version, crs) → GeoJSON Feature for maps


def clear_caches() -> None:
    """Drop every cached fence, index and map feature of this process (tests, benchmarks)."""
    _FENCES.clear()
    _INDEXES.clear()
    _FEATURES.clear()


@dataclass(frozen=True, slots=True)
class ActiveVersion:
    row_id: int
    fence_id: int
    version: int
    project_id: int
    valid_from: datetime
    valid_to: datetime | None

    @property
    def key(self) -> tuple[int, int]:
        return (self.fence_id, self.version)


def _active(row: dict[str, Any]) -> ActiveVersion:
    return ActiveVersion(row["id"], row["fence"], row["version"], row["project"], _aware(row["valid_from"]),  # type: ignore[arg-type]
                         _aware(row["valid_to"]))


_VERSION_COLUMNS = (ProjectFenceVersion.id, ProjectFenceVersion.fence, ProjectFenceVersion.version,
                    ProjectFenceVersion.project, ProjectFenceVersion.valid_from, ProjectFenceVersion.valid_to)


async def active_versions(project_ids: Iterable[int] | None, at: datetime | None = None) -> list[ActiveVersion]:
    """The version of every fence of these projects (None = all) active at ``at`` (None = now:
    the current versions).  Ordered by fence id."""
    q = ProjectFenceVersion.select(*_VERSION_COLUMNS).order_by(ProjectFenceVersion.fence)
    if at is None:
        where = ProjectFenceVersion.valid_to.is_null()
    else:
        at = _aware(at).astimezone(UTC)  # type: ignore[union-attr]
        where = (ProjectFenceVersion.valid_from <= at) & (
            ProjectFenceVersion.valid_to.is_null() | (ProjectFenceVersion.valid_to > at))
    if project_ids is not None:
        ids = sorted(set(project_ids))
        if not ids:
            return []
        where = where & (ProjectFenceVersion.project.is_in(ids) if len(ids) > 1
                         else ProjectFenceVersion.project == ids[0])
    return [_active(r) for r in await q.where(where)]


async def fences_for(versions: Sequence[ActiveVersion]) -> list[geofence.Fence]:
    """Built fences for these versions, from the cache; missing definitions in one query."""
    missing = [v for v in versions if _FENCES.get(v.key) is None]
    if missing:
        rows = await ProjectFenceVersion.select(
            ProjectFenceVersion.fence, ProjectFenceVersion.version, ProjectFenceVersion.definition
        ).where(ProjectFenceVersion.id.is_in([v.row_id for v in missing]))
        for r in rows:
            fence = geofence.fence_from_dict(_json(r["definition"]))
            _FENCES.put((r["fence"], r["version"]), fence)
    out = []
    for v in versions:
        fence = _FENCES.get(v.key)
        if fence is None:  # evicted between the two steps (cache smaller than the set): build again
            row = await ProjectFenceVersion.select(ProjectFenceVersion.definition).where(
                ProjectFenceVersion.id == v.row_id).first()
            fence = geofence.fence_from_dict(_json(row["definition"]))  # type: ignore[index]
        out.append(fence)
    return out


async def fences_at(project_id: int, at: datetime) -> tuple[list[ActiveVersion], list[geofence.Fence]]:
    versions = await active_versions([project_id], at)
    return versions, await fences_for(versions)


def index_for(versions: Sequence[ActiveVersion], fences: Sequence[geofence.Fence]) -> geofence.FenceIndex:
    key = tuple(v.key for v in versions)
    index = _INDEXES.get(key)
    if index is None:
        # A project's few fences: a coarser grid that resolves fixes up to 500 m away in one lookup (the
        # library's defaults, 50 / 100 m, suit city-wide sets; far fixes then take its slower ring search).
        index = geofence.FenceIndex(fences, cell_m=100.0, search_m=500.0)
        _INDEXES.put(key, index)
    return index


