"""Distances and bearings on the Earth, small and fast enough for every fix.

Pace measures a runner's track as a chain of short hops (a few metres to a few
hundred metres, rarely more than a kilometre after a tunnel). For such hops the
haversine formula on a sphere of the mean Earth radius (IUGG, 6,371,008.8 m) is
accurate to about 0.5 % of the hop against the WGS 84 ellipsoid: the sphere's
radius of curvature differs from the ellipsoid's by at most that much between
the equator and the poles, and the error does not grow with the number of hops
beyond that relative bound. A 10 km race measured this way is within about
±50 m of its ellipsoidal length, usually much closer at mid latitudes. Where a
result must be exact to the metre (course certification), use
``pyproj.Geod(ellps="WGS84").inv``, which costs about 30 times more per call.

Every function takes degrees and returns metres or degrees; none raises on
finite input, including latitudes outside ±90 (the trigonometry still runs; the
result then has no geographic meaning, which the filters rule out earlier).
"""

from __future__ import annotations

from math import asin, atan2, cos, degrees, pi, radians, sin, sqrt

__all__ = ["EARTH_RADIUS_M", "bearing_deg", "destination", "distance_m"]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG R1), in metres."""

_DIAMETER_M = 2.0 * EARTH_RADIUS_M
_RAD = pi / 180.0
_HALF_RAD = pi / 360.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in degrees.

    Haversine rather than the spherical law of cosines because it stays exact
    for hops of a few centimetres, where the law of cosines loses every digit.
    Written out with constants instead of ``radians()`` calls: the engine
    calls it two or three times per fix.
    """
    phi1 = lat1 * _RAD
    phi2 = lat2 * _RAD
    half_dphi = sin((phi2 - phi1) * 0.5)
    half_dlmb = sin((lon2 - lon1) * _HALF_RAD)
    h = half_dphi * half_dphi + cos(phi1) * cos(phi2) * half_dlmb * half_dlmb

    # Rounding can push h a hair outside [0, 1] for antipodal points.
    if h > 1.0:
        h = 1.0
    elif h < 0.0:
        h = 0.0
    return _DIAMETER_M * asin(sqrt(h))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from the first point to the second, degrees in [0, 360)."""
    phi1 = radians(lat1)
    phi2 = radians(lat2)
    dlmb = radians(lon2 - lon1)
    y = sin(dlmb) * cos(phi2)
    x = cos(phi1) * sin(phi2) - sin(phi1) * cos(phi2) * cos(dlmb)
    bearing = degrees(atan2(y, x)) % 360.0
    return 0.0 if bearing == 360.0 else bearing


def destination(
    lat: float, lon: float, bearing: float, distance: float
) -> tuple[float, float]:
    """The point ``distance`` metres from (lat, lon) along ``bearing`` degrees.

    Used by tests and the simulator to lay out synthetic tracks; the longitude
    is normalised to [-180, 180).
    """
    delta = distance / EARTH_RADIUS_M
    theta = radians(bearing)
    phi1 = radians(lat)
    sin_phi2 = sin(phi1) * cos(delta) + cos(phi1) * sin(delta) * cos(theta)
    phi2 = asin(max(-1.0, min(1.0, sin_phi2)))

    y = sin(theta) * sin(delta) * cos(phi1)
    x = cos(delta) - sin(phi1) * sin_phi2
    lon2 = radians(lon) + atan2(y, x)
    return degrees(phi2), (degrees(lon2) + 540.0) % 360.0 - 180.0
