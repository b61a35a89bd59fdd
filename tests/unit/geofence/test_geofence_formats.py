"""GeoJSON / KML parsing, map export, and the storage round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely

from geofence import (
    FenceError,
    FenceKind,
    FenceVersion,
    circle_fence,
    contains,
    corridor_fence,
    display_polygon,
    distance_m,
    fence_from_dict,
    fence_from_geojson,
    fence_to_dict,
    fences_from_geojson,
    fences_from_kml,
    geodesic_distance_m,
    geodesic_offset,
    polygon_fence,
    to_geojson,
    version_from_dict,
    version_to_dict,
    wgs84_to_gcj02,
)

SHELL = [[113.07, 22.57], [113.09, 22.57], [113.09, 22.59], [113.07, 22.59], [113.07, 22.57]]
HOLE = [[113.078, 22.578], [113.082, 22.578], [113.082, 22.582], [113.078, 22.582], [113.078, 22.578]]
LINE = [[113.06, 22.565], [113.068, 22.57], [113.075, 22.576]]


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def error_of(fn: Callable[..., object], *args: object, **kwargs: object) -> FenceError:
    with pytest.raises(FenceError) as info:
        fn(*args, **kwargs)
    return info.value


def test_geojson_polygon_feature_with_hole_becomes_a_polygon_fence() -> None:
    fence = fence_from_geojson(feature({"type": "Polygon", "coordinates": [SHELL, HOLE]}, name="一号地块", id="A1"))
    assert fence.kind is FenceKind.POLYGON and fence.id == "A1" and fence.name == "一号地块"
    assert contains(fence, 113.075, 22.575) and not contains(fence, 113.08, 22.58)


def test_geojson_linestring_with_width_becomes_a_corridor() -> None:
    fence = fence_from_geojson(feature({"type": "LineString", "coordinates": LINE}, width_m=30))
    assert fence.kind is FenceKind.CORRIDOR and fence.width_m == 30.0


def test_geojson_point_with_radius_becomes_a_circle() -> None:
    fence = fence_from_geojson(
        {
            "type": "Feature",
            "id": 7,
            "geometry": {"type": "Point", "coordinates": [113.08, 22.58]},
            "properties": {"radius_m": "150"},
        }
    )
    assert fence.kind is FenceKind.CIRCLE and fence.radius_m == 150.0 and fence.id == "7"


def test_geojson_multipolygon_becomes_one_polygon_fence() -> None:
    a = [[[113.07, 22.57], [113.075, 22.57], [113.075, 22.575], [113.07, 22.57]]]
    b = [[[113.08, 22.58], [113.085, 22.58], [113.085, 22.585], [113.08, 22.58]]]
    fence = fence_from_geojson({"type": "MultiPolygon", "coordinates": [a, b]}, fence_id="yards")
    assert fence.id == "yards" and len(fence.geometry.geoms) == 2


def test_geojson_feature_collection_gives_every_fence_with_default_ids() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature({"type": "Polygon", "coordinates": [SHELL]}),
            feature({"type": "Point", "coordinates": [113.08, 22.58]}, radius_m=100),
        ],
    }
    fences = fences_from_geojson(json.dumps(collection))
    assert [f.id for f in fences] == ["fence-1", "fence-2"]
    assert error_of(fence_from_geojson, collection).code == "invalid_geojson"


def test_geojson_in_gcj02_is_converted_to_wgs84() -> None:
    wgs = (113.08, 22.58)
    gcj = wgs84_to_gcj02(*wgs)
    fence = fence_from_geojson(feature({"type": "Point", "coordinates": list(gcj)}, radius_m=50), crs="gcj02")
    assert geodesic_distance_m(fence.geometry.x, fence.geometry.y, *wgs) < 0.01


def test_geojson_linestring_without_width_is_refused_missing_width() -> None:
    err = error_of(fence_from_geojson, feature({"type": "LineString", "coordinates": LINE}))
    assert err.code == "missing_width" and err.field == "feature.properties.width_m"
    bad_width = feature({"type": "LineString", "coordinates": LINE}, width_m="wide")
    err = error_of(fence_from_geojson, {"type": "FeatureCollection", "features": [bad_width]})
    assert err.code == "invalid_width" and err.field == "features[0].properties.width_m"
    negative = feature({"type": "LineString", "coordinates": LINE}, width_m=-5)
    assert error_of(fence_from_geojson, negative).field == "feature.properties.width_m"


def test_geojson_point_without_radius_is_refused_missing_radius() -> None:
    assert error_of(fence_from_geojson, {"type": "Point", "coordinates": [113.08, 22.58]}).code == "missing_radius"


def test_geojson_error_names_the_feature_and_vertex() -> None:
    bad = {
        "type": "FeatureCollection",
        "features": [
            feature({"type": "Polygon", "coordinates": [SHELL]}),
            feature({"type": "Polygon", "coordinates": [[[113.07, 22.57], [113.09, 22.57], [113.09, 95.0]]]}),
        ],
    }
    err = error_of(fences_from_geojson, bad)
    assert err.code == "invalid_coordinates"
    assert err.field == "features[1].geometry.coordinates.shell[2]"


def test_geojson_swapped_polygon_is_refused_swapped_lat_lon() -> None:
    swapped = [[lat, lon] for lon, lat in SHELL]
    assert error_of(fence_from_geojson, {"type": "Polygon", "coordinates": [swapped]}).code == "swapped_lat_lon"


def test_geojson_unsupported_types_and_bad_json_are_refused() -> None:
    assert error_of(fence_from_geojson, {"type": "MultiLineString", "coordinates": []}).code == "unsupported_geometry"
    assert error_of(fence_from_geojson, "{not json").code == "invalid_geojson"
    assert error_of(fence_from_geojson, {"type": "Topology"}).code == "invalid_geojson"


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
  <Document>
    <Folder>
      <Placemark id="yard">
        <name>项目红线</name>
        <Polygon>
          <outerBoundaryIs><LinearRing><coordinates>
            113.07,22.57,0 113.09,22.57,0 113.09,22.59,0 113.07,22.59,0 113.07,22.57,0
          </coordinates></LinearRing></outerBoundaryIs>
          <innerBoundaryIs><LinearRing><coordinates>
            113.078,22.578 113.082,22.578 113.082,22.582 113.078,22.582 113.078,22.578
          </coordinates></LinearRing></innerBoundaryIs>
        </Polygon>
      </Placemark>
      <Placemark>
        <name>施工便道</name>
        <ExtendedData><Data name="width_m"><value>24</value></Data></ExtendedData>
        <LineString><coordinates>113.06,22.565 113.068,22.57 113.075,22.576</coordinates></LineString>
      </Placemark>
      <Placemark>
        <name>沿江路</name>
        <description>道路宽度：30 米</description>
        <LineString><coordinates>113.06,22.575 113.07,22.58</coordinates></LineString>
      </Placemark>
      <Placemark>
        <name>大门</name>
        <ExtendedData><SchemaData><SimpleData name="radius">80</SimpleData></SchemaData></ExtendedData>
        <Point><coordinates>113.08,22.58,12</coordinates></Point>
      </Placemark>
    </Folder>
  </Document>
</kml>
"""


def test_kml_placemarks_become_polygon_corridor_and_circle_fences() -> None:
    yard, track, road, gate = fences_from_kml(KML)
    assert (yard.id, yard.kind, yard.name) == ("yard", FenceKind.POLYGON, "项目红线")
    assert not contains(yard, 113.08, 22.58)  # in the inner boundary
    assert (track.kind, track.width_m, track.id) == (FenceKind.CORRIDOR, 24.0, "kml-2")
    assert (road.kind, road.width_m) == (FenceKind.CORRIDOR, 30.0)  # width from the description
    assert (gate.kind, gate.radius_m) == (FenceKind.CIRCLE, 80.0)


def test_kml_line_without_width_is_refused_naming_the_placemark() -> None:
    kml = KML.replace('<ExtendedData><Data name="width_m"><value>24</value></Data></ExtendedData>', "")
    err = error_of(fences_from_kml, kml)
    assert err.code == "missing_width" and err.field.startswith("Placemark[1]")


def test_kml_with_a_dtd_or_broken_xml_is_refused() -> None:
    assert error_of(fences_from_kml, '<!DOCTYPE kml [<!ENTITY x "y">]><kml/>').code == "invalid_kml"
    assert error_of(fences_from_kml, "<kml><Placemark>").code == "invalid_kml"
    assert error_of(fences_from_kml, "<kml></kml>").code == "invalid_kml"


def test_kml_multigeometry_of_polygons_becomes_a_multipolygon_fence() -> None:
    kml = """<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><MultiGeometry>
      <Polygon><outerBoundaryIs><LinearRing><coordinates>113.07,22.57 113.075,22.57 113.075,22.575 113.07,22.57</coordinates></LinearRing></outerBoundaryIs></Polygon>
      <Polygon><outerBoundaryIs><LinearRing><coordinates>113.08,22.58 113.085,22.58 113.085,22.585 113.08,22.58</coordinates></LinearRing></outerBoundaryIs></Polygon>
    </MultiGeometry></Placemark></kml>"""
    (fence,) = fences_from_kml(kml)
    assert fence.kind is FenceKind.POLYGON and len(fence.geometry.geoms) == 2


def test_to_geojson_exports_circle_as_point_with_radius_and_corridor_as_line_with_width() -> None:
    circle = to_geojson(circle_fence("gate", 113.08, 22.58, 80.0))
    assert circle["geometry"] == {"type": "Point", "coordinates": [113.08, 22.58]}
    assert circle["properties"]["radius_m"] == 80.0 and circle["properties"]["kind"] == "circle"
    road = to_geojson(corridor_fence("road", LINE, 30.0))
    assert road["geometry"]["type"] == "LineString" and road["properties"]["width_m"] == 30.0
    json.dumps(road)  # JSON-safe


def test_to_geojson_round_trips_through_the_parser() -> None:
    for fence in (
        circle_fence("gate", 113.08, 22.58, 80.0),
        corridor_fence("road", LINE, 30.0, name="路"),
        polygon_fence("yard", SHELL, [HOLE]),
    ):
        assert fence_from_geojson(to_geojson(fence)) == fence


def test_to_geojson_in_gcj02_shifts_coordinates_for_chinese_base_maps() -> None:
    exported = to_geojson(circle_fence("gate", 113.08, 22.58, 80.0), crs="gcj02")
    lon, lat = exported["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx(wgs84_to_gcj02(113.08, 22.58))
    assert exported["properties"]["crs"] == "gcj02"


def test_display_polygon_of_a_circle_follows_the_radius() -> None:
    fence = circle_fence("gate", 113.08, 22.58, 80.0)
    area = display_polygon(fence)
    for lon, lat in list(area.exterior.coords)[::7]:
        assert geodesic_distance_m(113.08, 22.58, lon, lat) == pytest.approx(80.0, abs=0.2)
    exported = to_geojson(fence, as_polygon=True)
    assert exported["geometry"]["type"] == "Polygon" and exported["properties"]["display_only"]


def test_display_polygon_of_a_corridor_contains_points_inside_the_corridor() -> None:
    fence = corridor_fence("road", LINE, 30.0)
    area = display_polygon(fence)
    inside = geodesic_offset(113.064, 22.5675, 0.0, 5.0)
    assert shapely.contains_xy(area, *inside)
    assert distance_m(fence, *inside) == 0.0


def test_fence_to_dict_is_json_safe_and_round_trips_exactly() -> None:
    for fence in (
        circle_fence("gate", 113.08, 22.58, 80.0, name="大门"),
        corridor_fence("road", LINE, 30.0),
        polygon_fence("yard", SHELL, [HOLE]),
        polygon_fence("bow", [(113.07, 22.57), (113.08, 22.58), (113.08, 22.57), (113.07, 22.58)]),
    ):
        stored = json.loads(json.dumps(fence_to_dict(fence)))
        restored = fence_from_dict(stored)
        assert restored == fence
        assert restored.repaired == fence.repaired


def test_fence_from_dict_revalidates() -> None:
    stored = fence_to_dict(circle_fence("gate", 113.08, 22.58, 80.0))
    stored["radius_m"] = -1
    assert error_of(fence_from_dict, stored).code == "invalid_radius"
    stored = fence_to_dict(circle_fence("gate", 113.08, 22.58, 80.0))
    stored["schema"] = 99
    assert error_of(fence_from_dict, stored).code == "invalid_fence_data"


def test_fence_version_round_trips_through_its_dict() -> None:
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    version = FenceVersion(circle_fence("gate", 113.08, 22.58, 80.0), start, start + timedelta(days=3), version=4)
    assert version_from_dict(json.loads(json.dumps(version_to_dict(version)))) == version
