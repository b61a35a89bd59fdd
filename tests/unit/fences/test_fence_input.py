"""Pure logic of the fence store: API input → geofence.Fence (fields named the way the API body names
them), upload decoding (GeoJSON / KML / KMZ, size limit), the stored fence outcome of a punch and what
re-judging would make of it, and the default coordinate system for a tile server."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

import geofence
from backend.errors import InvalidInput, PayloadTooLarge
from backend.fences.pages import default_crs
from backend.fences.services import (
    FenceSpec,
    _overall,
    api_field,
    build_fence,
    parse_import,
    stored_fence_code,
)

ROAD = [[113.0105, 22.6478], [113.0170, 22.6510], [113.0235, 22.6552]]
RING = [[113.010, 22.645], [113.012, 22.645], [113.012, 22.647], [113.010, 22.647], [113.010, 22.645]]


def spec(**kw) -> FenceSpec:
    base = {"name": "围栏", "kind": "corridor", "geometry": {"type": "LineString", "coordinates": ROAD}, "width_m": 30.0}
    base.update(kw)
    return FenceSpec(**base)


def refused(s: FenceSpec) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        build_fence(s)
    return exc.value


@pytest.mark.parametrize(("library", "api"), [
    ("feature.geometry.coordinates.shell", "geometry.coordinates[0]"),
    ("feature.geometry.coordinates.shell[3]", "geometry.coordinates[0][3]"),
    ("feature.geometry.coordinates.holes[0][2]", "geometry.coordinates[1][2]"),
    ("feature.geometry.coordinates.holes[1]", "geometry.coordinates[2]"),
    ("feature.geometry.coordinates.polygons[1].shell[4]", "geometry.coordinates[1][0][4]"),
    ("feature.geometry.coordinates.polygons[0].holes[0][1]", "geometry.coordinates[0][1][1]"),
    ("feature.geometry.coordinates.centre_line", "geometry.coordinates"),
    ("feature.geometry.coordinates.centre_line[1]", "geometry.coordinates[1]"),
    ("feature.geometry.coordinates.centre[0]", "geometry.coordinates"),
    ("feature.geometry.coordinates.geometry", "geometry"),
    ("feature.properties.width_m", "width_m"),
    ("feature.properties.radius_m", "radius_m"),
    ("feature.geometry.type", "geometry.type"),
    ("", "geometry"),
])
def test_library_error_fields_become_api_body_paths(library, api):
    assert api_field(library) == api


def test_corridor_built_in_wgs84():
    f = build_fence(spec())
    assert f.kind is geofence.FenceKind.CORRIDOR and f.width_m == 30.0 and f.name == "围栏"


def test_gcj02_corridor_converted_to_wgs84():
    gcj = [list(geofence.wgs84_to_gcj02(*p)) for p in ROAD]
    f = build_fence(spec(geometry={"type": "LineString", "coordinates": gcj}, crs="gcj02"))
    for p in ROAD:
        assert geofence.distance_m(f, *p) < 0.01


@pytest.mark.parametrize(("kw", "field", "code"), [
    ({"kind": "square"}, "kind", "invalid_kind"),
    ({"crs": "bd09"}, "crs", "invalid_crs"),
    ({"name": ""}, "name", "invalid_input"),
    ({"name": "长" * 101}, "name", "invalid_input"),
    ({"width_m": 0.0}, "width_m", "invalid_width"),
    ({"width_m": -3.0}, "width_m", "invalid_width"),
    ({"width_m": None}, "width_m", "missing_width"),
    ({"width_m": 20_000.0}, "width_m", "invalid_width"),
    ({"radius_m": 10.0}, "radius_m", "invalid_radius"),
    ({"kind": "polygon"}, "geometry.type", "kind_mismatch"),
    ({"geometry": {"type": "LineString", "coordinates": [[b, a] for a, b in ROAD]}}, "geometry.coordinates",
     "swapped_lat_lon"),
    ({"geometry": {"type": "LineString", "coordinates": [[113.0, 22.6], [213.0, 22.6]]}}, "geometry.coordinates[1]",
     "invalid_coordinates"),
    ({"geometry": {"type": "LineString", "coordinates": [[113.0, 22.6], [113.0, 22.6]]}}, "geometry.coordinates",
     "too_few_points"),
    ({"geometry": {"type": "LineString", "coordinates": ROAD, "width_m": 40.0}}, "width_m", "invalid_input"),
    ({"geometry": {"type": "LineString", "coordinates": ROAD, "bbox": [1, 2]}}, "geometry.bbox", "invalid_input"),
    ({"geometry": "LINESTRING (1 2, 3 4)"}, "geometry", "invalid_geojson"),
    ({"geometry": {"type": "GeometryCollection", "geometries": []}}, "geometry.geometries", "invalid_input"),
])
def test_bad_input_names_the_field(kw, field, code):
    err = refused(spec(**kw))
    assert (err.field, err.code) == (field, code)
    assert err.zh and err.en


def test_radius_not_positive_names_radius():
    for r in (0.0, -1.0):
        err = refused(FenceSpec(name="圆", kind="circle", geometry={"type": "Point", "coordinates": [113.0, 22.6]},
                                radius_m=r))
        assert (err.field, err.code) == ("radius_m", "invalid_radius")


def test_circle_shorthand_and_radius_inside_geometry():
    f = build_fence(FenceSpec(name="圆", kind="circle",
                              geometry={"type": "circle", "center": [113.0, 22.6], "radius_m": 25}))
    assert f.radius_m == 25.0 and (f.geometry.x, f.geometry.y) == (113.0, 22.6)


def test_swapped_polygon_names_its_ring():
    swapped = [[b, a] for a, b in RING]
    err = refused(FenceSpec(name="多边形", kind="polygon", geometry={"type": "Polygon", "coordinates": [swapped]}))
    assert (err.field, err.code) == ("geometry.coordinates[0]", "swapped_lat_lon")


def test_bow_tie_repaired_and_collinear_refused():
    bowtie = [[113.010, 22.645], [113.012, 22.647], [113.012, 22.645], [113.010, 22.647], [113.010, 22.645]]
    f = build_fence(FenceSpec(name="蝴蝶结", kind="polygon", geometry={"type": "Polygon", "coordinates": [bowtie]}))
    assert f.repaired and f.geometry.geom_type == "MultiPolygon"
    line = [[113.0, 22.6], [113.01, 22.6], [113.02, 22.6], [113.0, 22.6]]
    err = refused(FenceSpec(name="线", kind="polygon", geometry={"type": "Polygon", "coordinates": [line]}))
    assert (err.field, err.code) == ("geometry", "degenerate_geometry")


# --- uploads ---------------------------------------------------------------------------------------

LIMIT = 64 * 1024
KML = """<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>路</name>
<ExtendedData><Data name="width_m"><value>30</value></Data></ExtendedData>
<LineString><coordinates>113.0105,22.6478 113.0170,22.6510</coordinates></LineString></Placemark></kml>""".encode()


def kmz(name: str = "doc.kml", data: bytes = KML) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def test_upload_formats_detected_by_content_and_name():
    gj = json.dumps({"type": "Feature", "properties": {"radius_m": 10},
                     "geometry": {"type": "Point", "coordinates": [113.0, 22.6]}}).encode()
    assert parse_import(gj, "", "wgs84", LIMIT)[0].kind is geofence.FenceKind.CIRCLE
    assert parse_import(b"\xef\xbb\xbf" + gj, "a.json", "wgs84", LIMIT)[0].radius_m == 10.0  # UTF-8 BOM
    assert parse_import(KML, "x", "wgs84", LIMIT)[0].width_m == 30.0
    assert parse_import(kmz(), "a.kmz", "wgs84", LIMIT)[0].name == "路"
    assert parse_import(kmz("files/other.kml"), "a.bin", "wgs84", LIMIT)[0].name == "路"


@pytest.mark.parametrize(("data", "name", "code"), [
    (b"", "a.geojson", "missing_file"),
    (b"hello", "a.txt", "unsupported_file"),
    (b"PK\x03\x04broken", "a.kmz", "invalid_kml"),
    (b"{not json", "a.geojson", "invalid_geojson"),
    (b'{"type": "FeatureCollection", "features": []}', "a.geojson", "empty_file"),
    (b"\xff\xfe{", "a.geojson", "invalid_geojson"),
])
def test_bad_uploads_refused_on_the_file_field(data, name, code):
    with pytest.raises(InvalidInput) as exc:
        parse_import(data, name, "wgs84", LIMIT)
    assert (exc.value.field, exc.value.code) == ("file", code)


def test_kmz_without_kml_refused():
    with pytest.raises(InvalidInput) as exc:
        parse_import(kmz("readme.txt", b"x"), "a.kmz", "wgs84", LIMIT)
    assert exc.value.code == "invalid_kml"


def test_upload_size_limits():
    with pytest.raises(PayloadTooLarge):
        parse_import(b"{" + b" " * LIMIT + b"}", "a.geojson", "wgs84", LIMIT)
    bomb = kmz(data=KML + b" " * (LIMIT * 11))
    assert len(bomb) < LIMIT
    with pytest.raises(PayloadTooLarge):
        parse_import(bomb, "a.kmz", "wgs84", LIMIT)


def test_bad_feature_in_file_names_its_path():
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"width_m": 30}, "geometry": {"type": "LineString", "coordinates": ROAD}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": ROAD}},
    ]}
    with pytest.raises(InvalidInput) as exc:
        parse_import(json.dumps(doc).encode(), "a.geojson", "wgs84", LIMIT)
    assert exc.value.code == "missing_width" and exc.value.extra["path"] == "features[1].properties.width_m"
    assert "features[1]" in exc.value.zh


# --- re-judging arithmetic ---------------------------------------------------------------------------


@pytest.mark.parametrize(("reasons", "flags", "code"), [
    ((), (), "accepted"),
    ((), ("near_edge", "late_upload"), "near_edge"),
    (("outside_fence",), (), "outside_fence"),
    (("face_mismatch", "low_gps_accuracy"), (), "low_gps_accuracy"),
    (("invalid_coordinates",), ("swapped_lat_lon",), "invalid_coordinates"),
    (("no_fence",), (), "no_fence"),
    (("face_mismatch",), (), "accepted"),
])
def test_stored_fence_code(reasons, flags, code):
    assert stored_fence_code(reasons, flags) == code


@pytest.mark.parametrize(("reasons", "flags", "fence_code", "verdict"), [
    (("outside_fence",), (), "accepted", "accepted"),
    (("outside_fence",), ("late_upload",), "accepted", "flagged"),
    (("outside_fence", "face_mismatch"), (), "accepted", "rejected"),
    ((), (), "near_edge", "flagged"),
    ((), ("near_edge",), "accepted", "accepted"),
    ((), (), "outside_fence", "rejected"),
])
def test_verdict_after_rejudging(reasons, flags, fence_code, verdict):
    assert _overall(reasons, flags, fence_code) == verdict


@pytest.mark.parametrize(("url", "crs"), [
    ("", "wgs84"),
    ("https://tiles.example.cn/{z}/{x}/{y}.png", "wgs84"),
    ("http://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY", "wgs84"),
    ("https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}", "gcj02"),
    ("https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={y}", "gcj02"),
])
def test_default_crs_follows_the_tile_provider(url, crs):
    assert default_crs(url) == crs
