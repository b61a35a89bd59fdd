"""GeoJSON for maps: fence summaries, cached map features, exports and the supervisor map."""

from __future__ import annotations

import json
from typing import Any

import geofence
from backend.fences.services.common import CRS_LABELS, KINDS, _check_crs, _iso
from backend.fences.services.versions import _FEATURES, active_versions, fences_for


def _summary(row: dict[str, Any], version: dict[str, Any] | None, fence: geofence.Fence | None,
             crs: str = "wgs84") -> dict[str, Any]:
    out = {
        "id": row["id"], "project_id": row["project"], "name": row["name"], "kind": row["kind"],
        "kind_label": KINDS.get(row["kind"], row["kind"]), "version": row["current_version"],
        "deleted": bool(row["deleted"]), "created_at": _iso(row.get("created_at")),
        "updated_at": _iso(row.get("updated_at")),
    }
    if version is not None:
        out.update({"valid_from": _iso(version["valid_from"]), "valid_to": _iso(version["valid_to"]),
                    "input_crs": version["input_crs"], "repaired": bool(version["repaired"])})
    if fence is not None:
        out["radius_m"] = fence.radius_m
        out["width_m"] = fence.width_m
        out["feature"] = _feature(row["id"], row["current_version"], row["project"], fence, crs)
    return out


def _feature(fence_id: int, version: int, project_id: int, fence: geofence.Fence, crs: str) -> dict[str, Any]:
    """GeoJSON Feature for maps: the fence's own geometry (circle → Point + radius_m, corridor →
    LineString + width_m) in ``crs``, with ``properties.outline`` (the area as a polygon) for circles and
    corridors.  Cached per (fence, version, crs)."""
    key = (fence_id, version, crs)
    cached = _FEATURES.get(key)
    if cached is None:
        cached = geofence.to_geojson(fence, crs=crs)
        cached["id"] = fence_id
        props = cached["properties"]
        props.update({"id": fence_id, "fence_id": fence_id, "version": version, "project_id": project_id,
                      "kind_label": KINDS[fence.kind.value], "crs_label": CRS_LABELS[crs]})
        if fence.kind is not geofence.FenceKind.POLYGON:
            props["outline"] = geofence.to_geojson(fence, crs=crs, as_polygon=True)["geometry"]
        _FEATURES.put(key, cached)
    return json.loads(json.dumps(cached))  # callers may change their copy


async def export_geojson(project_id: int, *, crs: str = "wgs84", as_polygon: bool = False) -> dict[str, Any]:
    """The project's current fences as a FeatureCollection (``crs`` for the base map: GCJ-02 on
    Amap/Tencent tiles).  ``as_polygon`` exports every fence's area as a polygon."""
    _check_crs(crs)
    versions = await active_versions([project_id])
    fences = await fences_for(versions)
    features = []
    for v, f in zip(versions, fences, strict=True):
        if as_polygon:
            feat = geofence.to_geojson(f, crs=crs, as_polygon=True)
            feat["id"] = v.fence_id
            feat["properties"].update({"fence_id": v.fence_id, "version": v.version, "project_id": project_id})
        else:
            feat = _feature(v.fence_id, v.version, project_id, f, crs)
        features.append(feat)
    return {"type": "FeatureCollection", "crs_name": crs, "crs_label": CRS_LABELS[crs], "features": features}


async def map_features(project_ids: set[int] | None, crs: str = "wgs84") -> list[dict[str, Any]]:
    """Current fences of these projects (None = all) as GeoJSON Features for the supervisor map:
    ``properties.project_id`` set; circles and corridors carry ``properties.outline`` (their area)."""
    versions = await active_versions(project_ids)
    fences = await fences_for(versions)
    return [_feature(v.fence_id, v.version, v.project_id, f, crs) for v, f in zip(versions, fences, strict=True)]


