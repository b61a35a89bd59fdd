"""Coordinates: China bounding box checks and WGS-84 ⇄ GCJ-02.

Everything here works on (lon, lat) in degrees, lon first (= x in shapely).

GCJ-02 ("Mars coordinates") is the obfuscated datum that Chinese map providers
(Amap/Gaode, Tencent, Google China tiles) use.  The forward transform below is the
public "eviltransform" / "coordtransform" algorithm (Krasovsky semi-major axis
a = 6378245.0 m, ee = 0.00669342162296594323); points outside the rough China box
used by those libraries are returned unchanged.  The inverse has no closed form:
:func:`gcj02_to_wgs84` iterates the forward transform until the residual is below
1e-7 degrees (about 1 cm), which takes 2–4 rounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

Crs = Literal["wgs84", "gcj02"]
CRS_VALUES: tuple[str, ...] = ("wgs84", "gcj02")

# Bounding box used to accept punch and fence coordinates (mainland, Hainan,
# Taiwan and the South China Sea islands down to 3.8° N).
CHINA_LON_MIN = 73.5
CHINA_LON_MAX = 135.1
CHINA_LAT_MIN = 3.8
CHINA_LAT_MAX = 53.6

# The box of the eviltransform family: outside it GCJ-02 == WGS-84.
_GCJ_LON_MIN = 72.004
_GCJ_LON_MAX = 137.8347
_GCJ_LAT_MIN = 0.8293
_GCJ_LAT_MAX = 55.8271

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_PI = math.pi

# Metres per degree of latitude never exceed this (111,694 m at the poles); a
# degree of longitude is never longer than a degree of latitude is at most.
_MAX_M_PER_DEG = 111_700.0

GCJ_INVERSE_TOLERANCE_DEG = 1e-7
_GCJ_INVERSE_MAX_ITER = 30

G = TypeVar("G", bound=BaseGeometry)

_GEOD = Geod(ellps="WGS84")


def geodesic_distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """WGS-84 ellipsoidal (geodesic) distance in metres."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def geodesic_offset(lon: float, lat: float, azimuth_deg: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` metres from (lon, lat) along ``azimuth_deg`` (0 = north, 90 = east)."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, azimuth_deg, distance)
    return float(lon2), float(lat2)


def geodesic_azimuth(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Forward azimuth in degrees (0 = north, clockwise) from point 1 towards point 2."""
    return float(_GEOD.inv(lon1, lat1, lon2, lat2)[0])


def in_china(lon: float, lat: float) -> bool:
    """True when (lon, lat) lies in the China bounding box used for punches and fences."""
    return CHINA_LON_MIN <= lon <= CHINA_LON_MAX and CHINA_LAT_MIN <= lat <= CHINA_LAT_MAX


def in_wgs84_range(lon: float, lat: float) -> bool:
    return -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def gcj_out_of_china(lon: float, lat: float) -> bool:
    """True outside the box where GCJ-02 applies (the eviltransform box)."""
    return not (_GCJ_LON_MIN <= lon <= _GCJ_LON_MAX and _GCJ_LAT_MIN <= lat <= _GCJ_LAT_MAX)


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 offset (dlon, dlat) in degrees at a WGS-84 point (no box check)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = math.sqrt(abs(x))
    common = (20.0 * math.sin(6.0 * x * _PI) + 20.0 * math.sin(2.0 * x * _PI)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * math.sin(y * _PI) + 40.0 * math.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * _PI) + 320.0 * math.sin(y * _PI / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * math.sin(x * _PI) + 40.0 * math.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * _PI) + 300.0 * math.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * _PI
    magic = 1.0 - _GCJ_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * _PI)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * math.cos(rad_lat) * _PI)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS-84 (lon, lat) → GCJ-02 (lon, lat).  Unchanged outside China."""
    if gcj_out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float, *, tolerance_deg: float = GCJ_INVERSE_TOLERANCE_DEG) -> tuple[float, float]:
    """GCJ-02 (lon, lat) → WGS-84 (lon, lat), exact inverse by fixed-point iteration.

    Iterates w ← w − (gcj(w) − g) until |gcj(w) − g| < ``tolerance_deg`` in both axes.
    Unchanged outside China.
    """
    if gcj_out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(_GCJ_INVERSE_MAX_ITER):
        dlon, dlat = _gcj_delta(wlon, wlat)
        rlon = wlon + dlon - lon
        rlat = wlat + dlat - lat
        wlon -= rlon
        wlat -= rlat
        if abs(rlon) < tolerance_deg and abs(rlat) < tolerance_deg:
            break
    return wlon, wlat


# --- vectorised (numpy) versions -------------------------------------------------


def _gcj_delta_arrays(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * _PI) + 20.0 * np.sin(2.0 * x * _PI)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * _PI) + 40.0 * np.sin(y / 3.0 * _PI)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * _PI) + 320.0 * np.sin(y * _PI / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * _PI) + 40.0 * np.sin(x / 3.0 * _PI)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * _PI) + 300.0 * np.sin(x / 30.0 * _PI)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * _PI
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * _PI)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * _PI)
    return dlon, dlat


def _gcj_box_mask(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (lon >= _GCJ_LON_MIN) & (lon <= _GCJ_LON_MAX) & (lat >= _GCJ_LAT_MIN) & (lat <= _GCJ_LAT_MAX)


def wgs84_to_gcj02_arrays(lons: ArrayLike, lats: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised :func:`wgs84_to_gcj02`."""
    lon = np.asarray(lons, dtype=np.float64)
    lat = np.asarray(lats, dtype=np.float64)
    inside = _gcj_box_mask(lon, lat)
    dlon, dlat = _gcj_delta_arrays(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84_arrays(
    lons: ArrayLike, lats: ArrayLike, *, tolerance_deg: float = GCJ_INVERSE_TOLERANCE_DEG
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Vectorised :func:`gcj02_to_wgs84` (iterates until every point has converged)."""
    glon = np.asarray(lons, dtype=np.float64)
    glat = np.asarray(lats, dtype=np.float64)
    inside = _gcj_box_mask(glon, glat)
    wlon = glon.copy()
    wlat = glat.copy()
    for _ in range(_GCJ_INVERSE_MAX_ITER):
        dlon, dlat = _gcj_delta_arrays(wlon, wlat)
        rlon = wlon + dlon - glon
        rlat = wlat + dlat - glat
        wlon -= rlon
        wlat -= rlat
        if np.all((np.abs(rlon) < tolerance_deg) & (np.abs(rlat) < tolerance_deg)):
            break
    return np.where(inside, wlon, glon), np.where(inside, wlat, glat)


# --- geometries -----------------------------------------------------------------


def densify(geometry: G, max_segment_m: float = 50.0) -> G:
    """Insert vertices so that no segment is longer than ``max_segment_m`` metres.

    Works on lon/lat geometries.  The degree step is chosen conservatively (a degree
    is never longer than 111.7 km), so segments may end up a little shorter than
    asked, never longer.  Points are returned unchanged.
    """
    if max_segment_m <= 0 or not math.isfinite(max_segment_m):
        raise ValueError("max_segment_m must be a positive number")
    if geometry.is_empty or geometry.geom_type in ("Point", "MultiPoint"):
        return geometry
    return shapely.segmentize(geometry, max_segment_m / _MAX_M_PER_DEG)


def _transform_geometry(geometry: G, fn: Callable[[NDArray, NDArray], tuple[NDArray, NDArray]]) -> G:
    def apply(xy: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = fn(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, apply)


def geometry_wgs84_to_gcj02(geometry: G, *, max_segment_m: float = 50.0) -> G:
    """Densify, then convert every vertex WGS-84 → GCJ-02 (for Chinese base maps)."""
    return _transform_geometry(densify(geometry, max_segment_m), wgs84_to_gcj02_arrays)


def geometry_gcj02_to_wgs84(geometry: G, *, max_segment_m: float = 50.0) -> G:
    """Densify, then convert every vertex GCJ-02 → WGS-84 (exact inverse).

    The GCJ-02 offset varies along a long edge, so a straight GCJ-02 edge is not a
    straight WGS-84 edge; densifying first keeps the converted edge within a few
    centimetres of the true curve.
    """
    return _transform_geometry(densify(geometry, max_segment_m), gcj02_to_wgs84_arrays)


def geometry_to_wgs84(geometry: G, crs: str, *, max_segment_m: float = 50.0) -> G:
    """Bring a lon/lat geometry given in ``crs`` ("wgs84" or "gcj02") to WGS-84."""
    if crs == "wgs84":
        return geometry
    if crs == "gcj02":
        return geometry_gcj02_to_wgs84(geometry, max_segment_m=max_segment_m)
    raise ValueError(f"unknown crs {crs!r}; expected one of {CRS_VALUES}")
