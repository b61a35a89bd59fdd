"""Import limits of the pure parsers (security issue items 4 and 12): fence count, vertices per fence and in
total, checked on the raw input before any geometry is built; DTDs and entities refused after decoding,
whatever the encoding."""

from __future__ import annotations

import json

import pytest

from geofence import FenceError, ImportLimits, fences_from_geojson, fences_from_kml

CIRCLE = {"type": "Feature", "properties": {"radius_m": 50}, "geometry": {"type": "Point", "coordinates": [113.0, 22.6]}}


def _ring(n: int) -> list[list[float]]:
    import math

    pts = [[113.0 + 0.01 * math.cos(2 * math.pi * k / n), 22.6 + 0.01 * math.sin(2 * math.pi * k / n)] for k in range(n)]
    return [*pts, pts[0]]


def _polygon(n: int) -> dict:
    return {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [_ring(n)]}}


def _kml(placemarks: list[str]) -> str:
    return '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>' + "".join(placemarks) + "</Document></kml>"


def _kml_circle() -> str:
    return "<Placemark><description>半径 50 米</description><Point><coordinates>113.0,22.6</coordinates></Point></Placemark>"


def _kml_polygon(n: int) -> str:
    coords = " ".join(f"{x:.6f},{y:.6f}" for x, y in _ring(n))
    return (f"<Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>{coords}</coordinates>"
            "</LinearRing></outerBoundaryIs></Polygon></Placemark>")


def test_geojson_over_the_feature_limit_is_refused_before_building():
    doc = {"type": "FeatureCollection", "features": [CIRCLE] * 11}
    with pytest.raises(FenceError) as exc:
        fences_from_geojson(json.dumps(doc), limits=ImportLimits(max_features=10))
    assert exc.value.code == "too_many_features" and "11" in exc.value.message_zh and "10" in exc.value.message_en
    assert len(fences_from_geojson(doc, limits=ImportLimits(max_features=11))) == 11


def test_geojson_over_the_vertex_limits_is_refused_naming_the_feature():
    doc = {"type": "FeatureCollection", "features": [_polygon(10), _polygon(100)]}
    with pytest.raises(FenceError) as exc:
        fences_from_geojson(doc, limits=ImportLimits(max_feature_vertices=50))
    assert (exc.value.code, exc.value.field) == ("too_many_vertices", "features[1].geometry")
    assert "101" in exc.value.message_zh
    with pytest.raises(FenceError) as exc:
        fences_from_geojson(doc, limits=ImportLimits(max_vertices=100))
    assert exc.value.code == "too_many_vertices" and "100" in exc.value.message_en
    assert len(fences_from_geojson(doc, limits=ImportLimits(max_feature_vertices=101, max_vertices=112))) == 2


def test_bare_geojson_geometry_and_feature_are_held_to_the_vertex_limit():
    limits = ImportLimits(max_feature_vertices=20)
    with pytest.raises(FenceError) as exc:
        fences_from_geojson(_polygon(30)["geometry"], limits=limits)
    assert exc.value.code == "too_many_vertices"
    with pytest.raises(FenceError):
        fences_from_geojson(_polygon(30), limits=limits)


def test_kml_over_the_placemark_limit_is_refused():
    with pytest.raises(FenceError) as exc:
        fences_from_kml(_kml([_kml_circle()] * 6), limits=ImportLimits(max_features=5))
    assert (exc.value.code, exc.value.field) == ("too_many_features", "Placemark")
    assert len(fences_from_kml(_kml([_kml_circle()] * 5), limits=ImportLimits(max_features=5))) == 5


def test_kml_over_the_vertex_limits_is_refused():
    kml = _kml([_kml_polygon(10), _kml_polygon(60)])
    with pytest.raises(FenceError) as exc:
        fences_from_kml(kml, limits=ImportLimits(max_feature_vertices=50))
    assert (exc.value.code, exc.value.field) == ("too_many_vertices", "Placemark[1]")
    with pytest.raises(FenceError) as exc:
        fences_from_kml(kml, limits=ImportLimits(max_vertices=60))
    assert exc.value.code == "too_many_vertices"
    assert len(fences_from_kml(kml, limits=ImportLimits(max_feature_vertices=61, max_vertices=72))) == 2


def test_no_limits_by_default():
    assert len(fences_from_geojson({"type": "FeatureCollection", "features": [CIRCLE] * 600})) == 600


DTD_KML = """<?xml version="1.0" encoding="{enc}"?>
<!DOCTYPE kml [<!ENTITY r "100">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark>
<ExtendedData><Data name="radius_m"><value>&r;</value></Data></ExtendedData>
<Point><coordinates>113.0,22.6</coordinates></Point></Placemark></kml>"""


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8"])
def test_kml_dtd_is_refused_in_any_encoding(encoding):
    data = DTD_KML.format(enc="UTF-8" if encoding == "utf-8" else "UTF-16").encode(encoding)
    with pytest.raises(FenceError) as exc:
        fences_from_kml(data)
    assert exc.value.code == "invalid_kml" and "DTD" in exc.value.message_zh


def test_kml_in_an_encoding_the_parser_cannot_read_is_refused():
    with pytest.raises(FenceError) as exc:
        fences_from_kml(DTD_KML.format(enc="UTF-32").encode("utf-32"))
    assert exc.value.code == "invalid_kml"


def test_kml_external_entity_and_billion_laughs_are_refused():
    xxe = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           "<kml><Placemark><name>&x;</name></Placemark></kml>")
    laughs = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
              '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><kml><Placemark><name>&c;</name></Placemark></kml>')
    for doc in (xxe, laughs, xxe.encode("utf-16"), laughs.encode("utf-16")):
        with pytest.raises(FenceError) as exc:
            fences_from_kml(doc)
        assert exc.value.code == "invalid_kml"


def test_utf16_kml_without_a_dtd_still_parses():
    clean = DTD_KML.format(enc="UTF-16").replace('<!DOCTYPE kml [<!ENTITY r "100">]>\n', "").replace("&r;", "100")
    (fence,) = fences_from_kml(clean.encode("utf-16"))
    assert fence.radius_m == 100.0
