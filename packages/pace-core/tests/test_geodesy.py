"""Great-circle distance and bearing: exact cases and properties."""

from __future__ import annotations

import math

import pyproj
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pace_core.geodesy import EARTH_RADIUS_M, bearing_deg, destination, distance_m

lats = st.floats(min_value=-90.0, max_value=90.0, allow_nan=False)
lons = st.floats(min_value=-180.0, max_value=180.0, allow_nan=False)
points = st.tuples(lats, lons)

_WGS84 = pyproj.Geod(ellps="WGS84")


def cosine_law_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The spherical law of cosines, an independent formula for the same sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return EARTH_RADIUS_M * math.acos(max(-1.0, min(1.0, c)))


def test_one_degree_of_latitude_is_a_360th_of_the_circumference() -> None:
    """One degree along a meridian is 2πR/360 on the mean sphere."""
    expected = 2 * math.pi * EARTH_RADIUS_M / 360
    assert distance_m(10.0, 20.0, 11.0, 20.0) == pytest.approx(expected, rel=1e-12)


def test_antipodes_are_half_the_circumference_apart() -> None:
    """Antipodal points give πR without a domain error."""
    assert distance_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_centimetre_hops_keep_their_precision() -> None:
    """A 1 cm hop is measured to within a micrometre (cosines would give 0)."""
    lat, lon = destination(51.5, -0.12, 37.0, 0.01)
    assert distance_m(51.5, -0.12, lat, lon) == pytest.approx(0.01, abs=1e-6)


def test_bearing_due_east_on_the_equator_is_ninety() -> None:
    """Heading east along the equator is a bearing of 90°."""
    assert bearing_deg(0.0, 0.0, 0.0, 1.0) == pytest.approx(90.0)


def test_bearing_due_south_is_one_eighty() -> None:
    """Heading south along a meridian is a bearing of 180°."""
    assert bearing_deg(46.0, 14.0, 45.0, 14.0) == pytest.approx(180.0)


def test_destination_wraps_longitude_across_the_antimeridian() -> None:
    """Going east from 179.99° lands near -179.99°, not at 180.01°."""
    _, lon = destination(0.0, 179.99, 90.0, 2000.0)
    assert -180.0 <= lon < -179.97


@given(points, points)
def test_distance_is_symmetric(a: tuple[float, float], b: tuple[float, float]) -> None:
    """d(a, b) == d(b, a)."""
    assert distance_m(*a, *b) == pytest.approx(distance_m(*b, *a), abs=1e-6)


@given(points)
def test_distance_to_itself_is_zero(a: tuple[float, float]) -> None:
    """d(a, a) == 0."""
    assert distance_m(*a, *a) == 0.0


@given(points, points, points)
def test_triangle_inequality(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    """d(a, c) <= d(a, b) + d(b, c), up to rounding."""
    assert distance_m(*a, *c) <= distance_m(*a, *b) + distance_m(*b, *c) + 1e-6


@given(points, points)
def test_distance_is_bounded_by_half_the_circumference(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    """No two points on the sphere are further apart than πR."""
    assert 0.0 <= distance_m(*a, *b) <= math.pi * EARTH_RADIUS_M + 1e-6


@given(points, points)
def test_agrees_with_the_spherical_law_of_cosines(
    a: tuple[float, float], b: tuple[float, float]
) -> None:
    """Haversine and the law of cosines agree to 1 m (cosines loses ~0.5 m)."""
    assert distance_m(*a, *b) == pytest.approx(cosine_law_m(*a, *b), abs=1.0)


@given(
    st.floats(min_value=-80.0, max_value=80.0),
    lons,
    st.floats(min_value=0.0, max_value=360.0),
    st.floats(min_value=1.0, max_value=5000.0),
)
def test_within_the_documented_error_of_the_ellipsoid(
    lat: float, lon: float, bearing: float, hop: float
) -> None:
    """A hop of up to 5 km is within 0.6 % of its WGS 84 geodesic length."""
    lon2, lat2, _ = _WGS84.fwd(lon, lat, bearing, hop)
    assert distance_m(lat, lon, lat2, lon2) == pytest.approx(hop, rel=0.006)


@given(points, st.floats(min_value=0.0, max_value=360.0), st.floats(0.0, 1e6))
def test_destination_lies_at_the_distance_asked(
    a: tuple[float, float], bearing: float, hop: float
) -> None:
    """distance_m(a, destination(a, θ, d)) == d for d up to 1000 km."""
    lat, lon = destination(*a, bearing, hop)
    assert distance_m(*a, lat, lon) == pytest.approx(hop, abs=1e-3)


def test_rounding_past_the_antipode_is_clamped() -> None:
    """A pair whose haversine rounds above 1 still gives πR, not a domain error."""
    d = distance_m(
        -9.926246029346359, -83.43333300624188, 9.926246029346359, 96.5666669937581
    )
    assert d == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_latitudes_beyond_the_pole_do_not_raise() -> None:
    """Nonsense latitudes whose haversine rounds below 0 give 0, not an error."""
    assert distance_m(146.31482736972487, 0.0, 33.68517263027513, 180.0) == 0.0
