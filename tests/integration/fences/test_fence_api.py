"""The fence API through HTTP: create / list / update (versions) / delete, GeoJSON export in WGS-84 and
GCJ-02, bad input → clear 4xx naming the field (swapped lat/lon, self-intersection repaired with a warning,
zero width, radius ≤ 0, out of range), import of GeoJSON / KML / KMZ, scope and roles, batch judgement,
the re-judging report, the page, the supervisor-map hook and the demo fence."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

import geofence
from backend.attendance.tables import Punch
from backend.fences import services
from tests.integration.conftest import login
from tests.integration.fences.kit import (
    ROAD,
    ROAD_WIDTH_M,
    beside_road,
    circle_body,
    new_site,
    phone_punch,
    road_body,
    square,
)

pytestmark = pytest.mark.integration

HALF = ROAD_WIDTH_M / 2


def url(pid: int, tail: str = "") -> str:
    return f"/api/projects/{pid}/fences{tail}"


@pytest.fixture(scope="module")
async def site(world: Any) -> Any:
    return await new_site(world, with_person=False)


async def create(client: Any, h: dict[str, str], pid: int, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = await client.post(url(pid, "/"), json=body, headers=h)
    assert r.status_code == status, r.text
    return r.json()


# --- create, list, export -------------------------------------------------------------------------


async def test_create_corridor_circle_polygon_and_list(client, admin_h, site):
    road = await create(client, admin_h, site.project_id, road_body("杜阮段"))
    assert road["kind"] == "corridor" and road["version"] == 1 and road["width_m"] == ROAD_WIDTH_M
    assert road["feature"]["geometry"]["type"] == "LineString" and road["warnings"] == []
    assert road["feature"]["properties"]["outline"]["type"] == "Polygon"
    c = await create(client, admin_h, site.project_id, circle_body(113.0105, 22.6478, 80.0, "搅拌站"))
    assert c["radius_m"] == 80.0 and c["feature"]["geometry"]["coordinates"] == [113.0105, 22.6478]
    p = await create(client, admin_h, site.project_id, {
        "name": "项目部", "kind": "polygon", "geometry": {"type": "Polygon", "coordinates": [square(113.012, 22.649, 40)]}})
    assert p["kind"] == "polygon" and not p["repaired"]

    r = await client.get(url(site.project_id, "/"), headers=admin_h)
    assert r.status_code == 200
    by_id = {f["id"]: f for f in r.json()}
    assert {road["id"], c["id"], p["id"]} <= set(by_id)
    assert by_id[road["id"]]["input_crs"] == "wgs84" and by_id[road["id"]]["valid_to"] is None


async def test_export_geojson_in_wgs84_and_gcj02(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, circle_body(113.0105, 22.6478, 80.0))
    w = (await client.get(url(s.project_id, "/export?crs=wgs84"), headers=admin_h)).json()
    g = (await client.get(url(s.project_id, "/export?crs=gcj02"), headers=admin_h)).json()
    assert w["type"] == g["type"] == "FeatureCollection" and w["crs_label"] == "WGS-84" and g["crs_label"] == "GCJ-02"
    [fw], [fg] = w["features"], g["features"]
    assert fw["id"] == fg["id"] == c["id"] and fw["properties"]["project_id"] == s.project_id
    assert fw["geometry"]["coordinates"] == [113.0105, 22.6478]
    assert fg["geometry"]["coordinates"] == pytest.approx(list(geofence.wgs84_to_gcj02(113.0105, 22.6478)))
    poly = (await client.get(url(s.project_id, "/export?as_polygon=true"), headers=admin_h)).json()
    assert poly["features"][0]["geometry"]["type"] == "Polygon"
    bad = await client.get(url(s.project_id, "/export?crs=bd09"), headers=admin_h)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_crs"


async def test_gcj02_input_stored_as_wgs84(client, admin_h, world):
    s = await new_site(world, with_person=False)
    glon, glat = geofence.wgs84_to_gcj02(113.0105, 22.6478)
    c = await create(client, admin_h, s.project_id, circle_body(glon, glat, 50.0, crs="gcj02"))
    assert c["input_crs"] == "gcj02"
    lon, lat = c["feature"]["geometry"]["coordinates"]
    assert lon == pytest.approx(113.0105, abs=1e-7) and lat == pytest.approx(22.6478, abs=1e-7)
    corridor = await create(client, admin_h, s.project_id, {
        **road_body(), "crs": "gcj02",
        "geometry": {"type": "LineString", "coordinates": [list(geofence.wgs84_to_gcj02(*p)) for p in ROAD]}})
    # Converted (and densified to 50 m): the stored centre line follows the WGS-84 road.
    stored = geofence.fence_from_geojson(corridor["feature"])
    for p in ROAD:
        assert geofence.distance_m(stored, *p) < 0.01  # centimetres: the exact inverse, then back
    wlon, wlat = beside_road(HALF - 3)
    j = await services.judge_fix(s.project_id, wlon, wlat, 2.0, datetime.now(UTC), rules=await _rules(s.project_id))
    assert j.reasons == ()


async def _rules(pid: int) -> Any:
    from backend.org.services import rules_for_project

    return await rules_for_project(pid)


# --- bad input: clear 4xx naming the field ------------------------------------------------------


async def test_swapped_lat_lon_polygon_refused(client, admin_h, site):
    swapped = [[lat, lon] for lon, lat in square(113.012, 22.649, 40)]
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={
        "name": "颠倒", "kind": "polygon", "geometry": {"type": "Polygon", "coordinates": [swapped]}})
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "swapped_lat_lon" and body["field"] == "geometry.coordinates[0]"
    assert "颠倒" in body["message"] and body["message_en"]


async def test_swapped_circle_and_corridor_refused(client, admin_h, site):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=circle_body(22.6478, 113.0105, 50.0))
    assert r.status_code == 400 and r.json()["code"] == "swapped_lat_lon"
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={
        **road_body(), "geometry": {"type": "LineString", "coordinates": [[b, a] for a, b in ROAD]}})
    assert r.status_code == 400 and r.json()["code"] == "swapped_lat_lon"
    assert r.json()["field"] == "geometry.coordinates"


async def test_self_intersecting_polygon_repaired_with_warning(client, admin_h, site):
    w, s = 113.010, 22.645
    e, n = 113.012, 22.647
    bowtie = [[w, s], [e, n], [e, s], [w, n], [w, s]]
    body = await create(client, admin_h, site.project_id, {
        "name": "蝴蝶结", "kind": "polygon", "geometry": {"type": "Polygon", "coordinates": [bowtie]}})
    assert body["repaired"] is True
    assert [x["code"] for x in body["warnings"]] == ["polygon_repaired"]
    assert "修复" in body["warnings"][0]["message"]
    assert body["feature"]["geometry"]["type"] == "MultiPolygon"


async def test_degenerate_polygon_refused(client, admin_h, site):
    line = [[113.0, 22.6], [113.01, 22.6], [113.02, 22.6], [113.0, 22.6]]
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={
        "name": "共线", "kind": "polygon", "geometry": {"type": "Polygon", "coordinates": [line]}})
    assert r.status_code == 400 and r.json()["code"] == "degenerate_geometry" and r.json()["field"] == "geometry"


@pytest.mark.parametrize("width", [0, 0.0, -5])
async def test_zero_or_negative_width_corridor_refused_naming_width(client, admin_h, site, width):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=road_body(width_m=width))
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_width" and r.json()["field"] == "width_m"


async def test_corridor_without_width_refused(client, admin_h, site):
    body = road_body()
    del body["width_m"]
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=body)
    assert r.status_code == 400 and r.json()["code"] == "missing_width" and r.json()["field"] == "width_m"


@pytest.mark.parametrize("radius", [0, -1, -0.5])
async def test_radius_not_positive_refused_naming_radius(client, admin_h, site, radius):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=circle_body(113.01, 22.64, radius))
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_radius" and r.json()["field"] == "radius_m"
    assert "半径" in r.json()["message"]


async def test_coordinates_out_of_range_refused_naming_the_vertex(client, admin_h, site):
    ring = square(113.012, 22.649, 40)
    ring[2] = [213.0, 22.65]
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={
        "name": "越界", "kind": "polygon", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_coordinates" and r.json()["field"] == "geometry.coordinates[0][2]"


async def test_outside_china_and_zero_zero_refused(client, admin_h, site):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=circle_body(2.35, 48.85, 50.0))
    assert r.status_code == 400 and r.json()["code"] == "outside_china"
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json=circle_body(0, 0, 50.0))
    assert r.status_code == 400 and r.json()["code"] == "invalid_coordinates"


@pytest.mark.parametrize(("patch", "field", "code"), [
    ({"kind": "hexagon"}, "kind", "invalid_kind"),
    ({"crs": "bd09"}, "crs", "invalid_crs"),
    ({"name": "  "}, "name", "invalid_input"),
    ({"kind": "circle"}, "geometry.type", "kind_mismatch"),
    ({"radius_m": 5.0}, "radius_m", "invalid_radius"),
    ({"geometry": {"type": "LineString", "coordinates": [[113.0, 22.6]]}}, "geometry.coordinates", "too_few_points"),
    ({"geometry": {"type": "Polygon", "coordinates": "x"}}, "geometry.type", "kind_mismatch"),
    ({"geometry": {"type": "LineString", "coordinates": "x"}}, "geometry.coordinates", "invalid_coordinates"),
    ({"geometry": {"type": "LineString", "coordinates": ROAD, "foo": 1}}, "geometry.foo", "invalid_input"),
])
async def test_bad_bodies_refused_naming_the_field(client, admin_h, site, patch, field, code):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={**road_body(), **patch})
    assert r.status_code == 400, r.text
    assert (r.json()["field"], r.json()["code"]) == (field, code)


async def test_unknown_body_field_refused(client, admin_h, site):
    r = await client.post(url(site.project_id, "/"), headers=admin_h, json={**road_body(), "colour": "red"})
    assert r.status_code == 400 and r.json()["field"] == "colour"


async def test_circle_shorthand_accepted(client, admin_h, site):
    body = await create(client, admin_h, site.project_id, {
        "name": "简写圆", "kind": "circle", "geometry": {"type": "circle", "center": [113.011, 22.648], "radius_m": 30}})
    assert body["radius_m"] == 30 and body["feature"]["geometry"]["type"] == "Point"


# --- update, versions, delete --------------------------------------------------------------------


async def test_update_makes_a_new_version_and_history_keeps_the_old(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, circle_body(113.0105, 22.6478, 80.0))
    r = await client.put(url(s.project_id, f"/{c['id']}"), headers=admin_h,
                         json=circle_body(113.0105, 22.6478, 120.0, name="扩大后", expected_version=1))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["name"] == "扩大后" and r.json()["radius_m"] == 120.0
    stale = await client.put(url(s.project_id, f"/{c['id']}"), headers=admin_h,
                             json=circle_body(113.0105, 22.6478, 90.0, expected_version=1))
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert stale.json()["field"] == "expected_version"
    hist = (await client.get(url(s.project_id, f"/{c['id']}/versions"), headers=admin_h)).json()
    assert [(h["version"], h["radius_m"], h["active"]) for h in hist] == [(2, 120.0, True), (1, 80.0, False)]
    assert hist[1]["valid_to"] == hist[0]["valid_from"]
    detail = (await client.get(url(s.project_id, f"/{c['id']}"), headers=admin_h)).json()
    assert detail["version"] == 2


async def test_update_with_bad_geometry_keeps_current_version(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, road_body())
    r = await client.put(url(s.project_id, f"/{c['id']}"), headers=admin_h, json=road_body(width_m=0))
    assert r.status_code == 400 and r.json()["field"] == "width_m"
    hist = (await client.get(url(s.project_id, f"/{c['id']}/versions"), headers=admin_h)).json()
    assert len(hist) == 1 and hist[0]["active"]


async def test_concurrent_edits_one_wins_the_other_conflicts(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, circle_body(113.0105, 22.6478, 80.0))
    results = await asyncio.gather(*(
        services.update_fence(s.project_id, c["id"], **circle_body(113.0105, 22.6478, r, expected_version=1))
        for r in (90.0, 100.0)), return_exceptions=True)
    ok = [x for x in results if isinstance(x, dict)]
    failed = [x for x in results if not isinstance(x, dict)]
    assert len(ok) == 1 and len(failed) == 1 and getattr(failed[0], "code", "") == "version_conflict"
    hist = await services.fence_history(s.project_id, c["id"])
    assert [h["version"] for h in hist] == [2, 1]


async def test_delete_closes_the_fence(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, circle_body(113.0105, 22.6478, 80.0))
    r = await client.delete(url(s.project_id, f"/{c['id']}"), headers=admin_h)
    assert r.status_code == 200 and r.json()["deleted"] is True and r.json()["valid_to"]
    assert c["id"] not in {f["id"] for f in (await client.get(url(s.project_id, "/"), headers=admin_h)).json()}
    listed = (await client.get(url(s.project_id, "/?include_deleted=true"), headers=admin_h)).json()
    assert [f["deleted"] for f in listed if f["id"] == c["id"]] == [True]
    again = await client.delete(url(s.project_id, f"/{c['id']}"), headers=admin_h)
    assert again.status_code == 409 and again.json()["code"] == "fence_deleted"
    edit = await client.put(url(s.project_id, f"/{c['id']}"), headers=admin_h, json=circle_body(113.0, 22.6, 9.0))
    assert edit.status_code == 409
    export = (await client.get(url(s.project_id, "/export"), headers=admin_h)).json()
    assert export["features"] == []


async def test_fence_of_another_project_not_found(client, admin_h, world, site):
    other = await new_site(world, with_person=False)
    c = await create(client, admin_h, other.project_id, circle_body(113.0105, 22.6478, 80.0))
    r = await client.get(url(site.project_id, f"/{c['id']}"), headers=admin_h)
    assert r.status_code == 404
    r = await client.put(url(site.project_id, f"/{c['id']}"), headers=admin_h, json=circle_body(113.0, 22.6, 9.0))
    assert r.status_code == 404


# --- scope and roles --------------------------------------------------------------------------------


async def test_scope_foreman_and_staff_of_a_cannot_see_fences_of_c(client, admin_h, world):
    c_fence = await create(client, admin_h, world.project_c, circle_body(116.30, 39.90, 50.0, name="乙区围栏"))
    for who in ("foreman_a", "staff_a", "supervisor_a"):
        h = await login(client, world.users[who])
        assert (await client.get(url(world.project_c, "/"), headers=h)).status_code == 404
        assert (await client.get(url(world.project_c, "/export"), headers=h)).status_code == 404
        assert (await client.get(url(world.project_c, f"/{c_fence['id']}"), headers=h)).status_code == 404
        assert (await client.get(f"/projects/{world.project_c}/fences", headers=h)).status_code == 404
    h = await login(client, world.users["foreman_c"])
    assert c_fence["id"] in {f["id"] for f in (await client.get(url(world.project_c, "/"), headers=h)).json()}


async def test_roles_staff_and_enterprise_edit_foreman_and_supervisor_read(client, world):
    body = circle_body(116.40, 39.91, 60.0, name="甲区围栏")
    staff = await login(client, world.users["staff_a"])
    made = await create(client, staff, world.project_a, body)
    ent = await login(client, world.users["enterprise_gc"])
    await create(client, ent, world.project_a, body)
    for who in ("foreman_a", "supervisor_a"):
        h = await login(client, world.users[who])
        assert (await client.get(url(world.project_a, "/"), headers=h)).status_code == 200
        r = await client.post(url(world.project_a, "/"), headers=h, json=body)
        assert r.status_code == 403 and r.json()["code"] == "role_forbidden"
        assert (await client.delete(url(world.project_a, f"/{made['id']}"), headers=h)).status_code == 403
    h = await login(client, world.users["supervisor_b"])
    assert (await client.get(url(world.project_a, "/"), headers=h)).status_code == 404
    h = await login(client, world.users["vendor"])
    assert (await client.get(url(world.project_a, "/"), headers=h)).status_code == 404


async def test_anonymous_refused(client, world):
    assert (await client.get(url(world.project_a, "/"))).status_code == 401


# --- import ---------------------------------------------------------------------------------------------


def geojson_file() -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "导入道路", "width_m": 40},
         "geometry": {"type": "LineString", "coordinates": ROAD[:4]}},
        {"type": "Feature", "properties": {"name": "导入圆", "radius_m": 70},
         "geometry": {"type": "Point", "coordinates": [113.02, 22.65]}},
        {"type": "Feature", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [square(113.015, 22.650, 30)]}},
    ]}, ensure_ascii=False).encode()


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
  <Placemark><name>KML道路</name>
    <ExtendedData><Data name="width_m"><value>30</value></Data></ExtendedData>
    <LineString><coordinates>113.0105,22.6478,0 113.0170,22.6510,0 113.0235,22.6552,0</coordinates></LineString>
  </Placemark>
  <Placemark><name>KML围挡</name><description>半径: 45 米</description>
    <Point><coordinates>113.0300,22.6600</coordinates></Point></Placemark>
</Document></kml>"""


async def test_import_geojson_preview_then_import(client, admin_h, world):
    s = await new_site(world, with_person=False)
    files = {"file": ("fences.geojson", geojson_file(), "application/geo+json")}
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files=files, data={"preview": "1"})
    assert r.status_code == 201, r.text
    assert r.json()["preview"] is True and r.json()["count"] == 3
    assert [f["kind"] for f in r.json()["fences"]] == ["corridor", "circle", "polygon"]
    assert (await client.get(url(s.project_id, "/"), headers=admin_h)).json() == []  # nothing stored

    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files=files)
    assert r.status_code == 201, r.text
    made = r.json()["fences"]
    assert [f["name"] for f in made] == ["导入道路", "导入圆", "导入围栏 3"]
    assert made[0]["width_m"] == 40 and made[1]["radius_m"] == 70
    listed = (await client.get(url(s.project_id, "/"), headers=admin_h)).json()
    assert len(listed) == 3


async def test_import_kml_and_kmz(client, admin_h, world):
    s = await new_site(world, with_person=False)
    r = await client.post(url(s.project_id, "/import"), headers=admin_h,
                          files={"file": ("road.kml", KML.encode(), "application/vnd.google-earth.kml+xml")})
    assert r.status_code == 201, r.text
    assert [(f["kind"], f["name"]) for f in r.json()["fences"]] == [("corridor", "KML道路"), ("circle", "KML围挡")]
    assert r.json()["fences"][1]["radius_m"] == 45
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", KML)
    r = await client.post(url(s.project_id, "/import"), headers=admin_h,
                          files={"file": ("road.kmz", buf.getvalue(), "application/vnd.google-earth.kmz")})
    assert r.status_code == 201 and r.json()["count"] == 2


async def test_import_gcj02_file_converted(client, admin_h, world):
    s = await new_site(world, with_person=False)
    glon, glat = geofence.wgs84_to_gcj02(113.02, 22.65)
    data = json.dumps({"type": "Feature", "properties": {"radius_m": 20},
                       "geometry": {"type": "Point", "coordinates": [glon, glat]}}).encode()
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files={"file": ("a.json", data)},
                          data={"crs": "gcj02"})
    assert r.status_code == 201
    lon, lat = r.json()["fences"][0]["feature"]["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((113.02, 22.65), abs=1e-7)


async def test_import_bad_feature_refuses_whole_file_naming_it(client, admin_h, world):
    s = await new_site(world, with_person=False)
    doc = json.loads(geojson_file())
    doc["features"][1]["properties"]["radius_m"] = 0
    r = await client.post(url(s.project_id, "/import"), headers=admin_h,
                          files={"file": ("f.geojson", json.dumps(doc).encode())})
    assert r.status_code == 400
    body = r.json()
    assert body["field"] == "file" and body["code"] == "invalid_radius"
    assert "features[1]" in body["message"] and body["extra"]["path"].startswith("features[1]")
    assert (await client.get(url(s.project_id, "/"), headers=admin_h)).json() == []  # all or nothing


async def test_import_swapped_file_refused(client, admin_h, world):
    s = await new_site(world, with_person=False)
    data = json.dumps({"type": "Feature", "properties": {"radius_m": 20},
                       "geometry": {"type": "Point", "coordinates": [22.65, 113.02]}}).encode()
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files={"file": ("a.geojson", data)})
    assert r.status_code == 400 and r.json()["code"] == "swapped_lat_lon"


async def test_import_limits_and_bad_files(client, admin_h, world):
    s = await new_site(world, with_person=False)
    big = b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}"
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files={"file": ("big.geojson", big)})
    assert r.status_code == 413 and r.json()["field"] == "file"
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files={"file": ("x.txt", b"hello")})
    assert r.status_code == 400 and r.json()["code"] == "unsupported_file"
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, files={"file": ("x.kmz", b"PK\x03\x04junk")})
    assert r.status_code == 400 and r.json()["code"] == "invalid_kml"
    r = await client.post(url(s.project_id, "/import"), headers=admin_h,
                          files={"file": ("x.kml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><kml/>")})
    assert r.status_code == 400 and r.json()["code"] == "invalid_kml"
    r = await client.post(url(s.project_id, "/import"), headers=admin_h, data={"crs": "wgs84"})
    assert r.status_code == 400 and r.json()["field"] == "file"
    foreman = await login(client, world.users["foreman_a"])
    r = await client.post(url(world.project_a, "/import"), headers=foreman,
                          files={"file": ("f.geojson", geojson_file())})
    assert r.status_code == 403


# --- batch judgement and re-judging ------------------------------------------------------------------


async def test_batch_judge_matches_judge_fix(client, admin_h, world):
    s = await new_site(world, with_person=False)
    await create(client, admin_h, s.project_id, road_body())
    pts = [(*beside_road(HALF - 3), 2.0), (*beside_road(HALF + 3), 2.0), (*beside_road(HALF + 3), 5.0),
           (*beside_road(0), 150.0), (0.0, 0.0, 5.0), (*beside_road(HALF + 500), 5.0)]
    r = await client.post(url(s.project_id, "/judge"), headers=admin_h, json={
        "points": [{"lon": a, "lat": b, "accuracy_m": c} for a, b, c in pts]})
    assert r.status_code == 200, r.text
    codes = [x["code"] for x in r.json()["results"]]
    assert codes == ["accepted", "outside_fence", "near_edge", "low_gps_accuracy", "invalid_coordinates",
                     "outside_fence"]
    rules = await _rules(s.project_id)
    for (lon, lat, acc), res in zip(pts, r.json()["results"], strict=True):
        j = await services.judge_fix(s.project_id, lon, lat, acc, datetime.now(UTC), rules=rules)
        assert j.code == res["code"]
        if j.distance_m is not None and res["distance_m"] is not None:
            assert res["distance_m"] == pytest.approx(j.distance_m, abs=0.01)
    assert r.json()["results"][1]["label"] == "不在电子围栏内"


async def test_rejudge_counts_changes_and_rewrites_nothing(client, admin_h, world):
    s = await new_site(world)
    narrow = await services.create_fence(s.project_id, **road_body(width_m=20.0),
                                         valid_from=datetime.now(UTC) - timedelta(days=2))
    base = datetime.now(UTC) - timedelta(hours=5)
    # 3 punches 20 m from the centre line (outside the 20 m road, inside a 60 m one), 2 on the line.
    offsets = [20.0, 20.7, 21.4, 0.3, 1.1]
    stored = []
    for i, off in enumerate(offsets):
        _, v = await phone_punch(s, *beside_road(off), 3.0 + i * 0.1, base + timedelta(minutes=37 * i))
        stored.append(v)
    assert [v.verdict for v in stored] == ["rejected"] * 3 + ["accepted"] * 2
    r = await client.put(url(s.project_id, f"/{narrow['id']}"), headers=admin_h, json=road_body(width_m=60.0))
    assert r.status_code == 200

    day = base.astimezone(services.ZoneInfo("Asia/Shanghai")).date()
    r = await client.post(url(s.project_id, "/rejudge"), headers=admin_h, json={
        "date_from": (day - timedelta(days=1)).isoformat(), "date_to": (day + timedelta(days=1)).isoformat()})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["report_only"] is True and "未作任何修改" in rep["message"]
    assert rep["total"] == 5 and rep["changed"] == 3 and rep["unchanged"] == 2
    assert rep["fence_transitions"] == [{"from": "outside_fence", "to": "accepted", "from_label": "不在电子围栏内",
                                         "to_label": "围栏内（通过）", "count": 3}]
    assert rep["verdict_transitions"][0]["from"] == "rejected" and rep["verdict_transitions"][0]["count"] == 3
    assert {e["punch_id"] for e in rep["examples"]} == {v.punch_id for v in stored[:3]}
    assert rep["fences"] == [{"id": narrow["id"], "version": 2, "name": "道路施工段"}]
    rows = await Punch.select(Punch.id, Punch.verdict).where(Punch.id.is_in([v.punch_id for v in stored]))
    assert sorted(r["verdict"] for r in rows) == sorted(v.verdict for v in stored)  # nothing rewritten


async def test_rejudge_range_checked(client, admin_h, site, world):
    r = await client.post(url(site.project_id, "/rejudge"), headers=admin_h,
                          json={"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert r.status_code == 400 and r.json()["field"] == "date_to"
    r = await client.post(url(site.project_id, "/rejudge"), headers=admin_h,
                          json={"date_from": "2024-01-01", "date_to": "2026-01-01"})
    assert r.status_code == 400 and r.json()["code"] == "range_too_long"
    r = await client.post(url(site.project_id, "/rejudge"), headers=admin_h,
                          json={"date_from": "yesterday", "date_to": "2026-01-01"})
    assert r.status_code == 400 and r.json()["field"] == "date_from"
    sup = await login(client, world.users["supervisor_b"])
    r = await client.post(url(world.project_a, "/rejudge"), headers=sup,
                          json={"date_from": date.today().isoformat(), "date_to": date.today().isoformat()})
    assert r.status_code == 404


# --- page, map hook, demo ------------------------------------------------------------------------------


async def test_page_renders_map_shell(client, admin_h, site):
    r = await client.get(f"/projects/{site.project_id}/fences", headers=admin_h)
    assert r.status_code == 200
    html = r.text
    from backend.static_assets import static_url  # content-hashed names (backend/static_assets.py)

    hashed = [static_url(a) for a in ("vendor/leaflet/leaflet.js", "js/fences.js", "css/fences.css")]
    assert all(h in html for h in hashed), hashed
    assert "WGS-84" in html and "GCJ-02" in html
    assert "http://" not in html.replace("http://www.w3.org", "")  # no CDN
    for asset in ("/static/js/fences.js", "/static/css/fences.css", "/static/vendor/leaflet/leaflet.js", *hashed):
        assert (await client.get(asset)).status_code == 200


async def test_page_read_only_for_foreman(client, world):
    h = await login(client, world.users["foreman_a"])
    r = await client.get(f"/projects/{world.project_a}/fences", headers=h)
    assert r.status_code == 200 and '"canEdit": false' in r.text


async def test_map_features_hook_for_supervisor_map(client, admin_h, world):
    s = await new_site(world, with_person=False)
    c = await create(client, admin_h, s.project_id, road_body())
    feats = await services.map_features({s.project_id})
    assert [f["id"] for f in feats] == [c["id"]]
    assert feats[0]["properties"]["project_id"] == s.project_id
    assert feats[0]["properties"]["outline"]["type"] == "Polygon"
    from backend.supervision.services import fence_features

    assert [f["id"] for f in await fence_features({s.project_id})] == [c["id"]]


async def test_demo_fence_for_the_road_project(world):
    s = await new_site(world, with_person=False)
    ids = await services.create_demo_fences(s.project_id)
    [f] = await services.list_fences(s.project_id)
    assert [f["id"]] == ids and f["kind"] == "corridor" and f["width_m"] == 60.0
    fence = geofence.fence_from_geojson(f["feature"])
    line = fence.geometry
    length = sum(geofence.geodesic_distance_m(*a, *b) for a, b in zip(line.coords[:-1], line.coords[1:], strict=True))
    assert 5_000 < length < 6_000
    assert geofence.distance_m(fence, 113.0105, 22.6478) == 0.0  # the project's registered location
    assert datetime.fromisoformat(f["valid_from"]) < datetime.now(UTC) - timedelta(days=1)


async def test_ids_beyond_64_bits_are_not_found(client, admin_h, site):
    huge = 2**70
    assert (await client.get(url(huge, "/"), headers=admin_h)).status_code == 404
    assert (await client.get(url(site.project_id, f"/{huge}"), headers=admin_h)).status_code == 404
    assert (await client.delete(url(site.project_id, f"/{huge}"), headers=admin_h)).status_code == 404
