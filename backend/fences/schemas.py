"""JSON inputs of the fence API.  Unknown fields are refused (``Strict``); kind, crs and the geometry are
checked by the service so that the error names the field in Chinese and English."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from backend.org.schemas import Strict
from backend.schemas import Out


class FenceIn(Strict):
    """A fence: ``kind`` polygon | circle | corridor; ``geometry`` a GeoJSON geometry (Polygon /
    MultiPolygon, Point = circle centre, LineString = corridor centre line) in ``crs`` (wgs84 | gcj02);
    ``radius_m`` for circles, ``width_m`` (total width) for corridors.  On update, ``expected_version``
    (the version the editor started from) turns a concurrent edit into 409."""

    name: str
    kind: str
    geometry: dict[str, Any]
    crs: str = "wgs84"
    radius_m: float | None = None
    width_m: float | None = None
    expected_version: int | None = None


class PointIn(Strict):
    lon: float
    lat: float
    accuracy_m: float = 0.0


class JudgeIn(Strict):
    """Batch judgement (the supervisor map, what-if checks): points in ``crs`` against the fences active
    at ``at`` (ISO 8601 with zone; default now)."""

    points: list[PointIn]
    crs: str = "wgs84"
    at: str | None = None


class RejudgeIn(Strict):
    """Local capture days, inclusive (YYYY-MM-DD)."""

    date_from: str
    date_to: str


# --- responses ---------------------------------------------------------------------------------------------


class FeatureOut(Out):
    """A GeoJSON Feature for maps: the fence's own geometry (circle → Point + ``properties.radius_m``,
    corridor → LineString + ``properties.width_m``), ``properties.outline`` (the area as a polygon) for circles
    and corridors, ``properties.fence_id`` / ``version`` / ``project_id`` / ``kind_label`` / ``crs_label``."""

    type: str
    geometry: dict[str, Any]
    properties: dict[str, Any]
    id: int | str | UnsetType = UNSET


class FenceWarningOut(Out):
    code: str
    field: str
    message: str
    message_en: str


class FenceOut(Out):
    """A fence and its current version.  The version fields and ``feature`` are absent when the version
    could not be read; ``warnings`` only in the reply of a create / update; ``previous_version`` of an update."""

    id: int
    project_id: int
    name: str
    kind: str
    kind_label: str
    version: int
    deleted: bool
    created_at: str | None
    updated_at: str | None
    valid_from: str | UnsetType | None = UNSET
    valid_to: str | UnsetType | None = UNSET
    input_crs: str | UnsetType = UNSET
    repaired: bool | UnsetType = UNSET
    radius_m: float | UnsetType | None = UNSET
    width_m: float | UnsetType | None = UNSET
    feature: FeatureOut | UnsetType = UNSET
    warnings: list[FenceWarningOut] | UnsetType = UNSET
    previous_version: int | UnsetType = UNSET


class FenceDeletedOut(Out):
    id: int
    project_id: int
    deleted: bool
    version: int
    valid_to: str | None


class FenceVersionOut(Out):
    fence_id: int
    version: int
    valid_from: str | None
    valid_to: str | None
    active: bool
    input_crs: str
    repaired: bool
    created_by: int | None
    created_at: str | None
    note: str
    name: str
    kind: str
    radius_m: float | None
    width_m: float | None
    feature: FeatureOut


class FeatureCollectionOut(Out):
    """GeoJSON FeatureCollection of the active fences, in ``crs_name``."""

    type: str
    crs_name: str
    crs_label: str
    features: list[FeatureOut]


class ImportedFenceOut(Out):
    """A fence of an imported file.  A preview (nothing stored) has ``source_id`` (the file's id) and no
    stored fields; a stored import has the fields of a stored fence (FenceOut) and no ``source_id``."""

    name: str
    kind: str
    kind_label: str
    repaired: bool
    warnings: list[FenceWarningOut]
    feature: FeatureOut
    source_id: str | UnsetType | None = UNSET
    id: int | UnsetType = UNSET
    project_id: int | UnsetType = UNSET
    version: int | UnsetType = UNSET
    deleted: bool | UnsetType = UNSET
    created_at: str | UnsetType | None = UNSET
    updated_at: str | UnsetType | None = UNSET
    valid_from: str | UnsetType | None = UNSET
    valid_to: str | UnsetType | None = UNSET
    input_crs: str | UnsetType = UNSET
    radius_m: float | UnsetType | None = UNSET
    width_m: float | UnsetType | None = UNSET


class ImportOut(Out):
    preview: bool
    count: int
    fences: list[ImportedFenceOut]


class FenceRefOut(Out):
    id: int
    version: int
    name: str


class JudgedPointOut(Out):
    code: str
    label: str
    distance_m: float | None
    fence_id: int | None


class JudgeOut(Out):
    """Batch judgement: the fences checked and one result per point, in order."""

    fences: list[FenceRefOut]
    results: list[JudgedPointOut]


class TransitionOut(Out):
    from_: str = msgspec.field(name="from")
    to: str = msgspec.field()
    from_label: str = msgspec.field()
    to_label: str = msgspec.field()
    count: int = msgspec.field()


class RejudgeExampleOut(Out):
    punch_id: int
    captured_at: str | None
    from_: str = msgspec.field(name="from")
    to: str = msgspec.field()
    from_label: str = msgspec.field()
    to_label: str = msgspec.field()
    verdict: str = msgspec.field()
    new_verdict: str = msgspec.field()
    distance_m: float | None = msgspec.field()
    fence_id: int | None = msgspec.field()


class RejudgeOut(Out):
    """A re-judging report (report only: stored verdicts are not changed)."""

    project_id: int
    date_from: str
    date_to: str
    fences: list[FenceRefOut]
    total: int
    changed: int
    unchanged: int
    fence_transitions: list[TransitionOut]
    verdict_transitions: list[TransitionOut]
    examples: list[RejudgeExampleOut]
    report_only: bool
    message: str
    message_en: str
