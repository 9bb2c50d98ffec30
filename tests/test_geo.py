"""domain.geo: great-circle distances."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from barriosms.domain.geo import EARTH_RADIUS_KM, haversine_km

lat = st.floats(-90, 90)
lon = st.floats(-180, 180)


def test_known_distances():
    assert haversine_km(-16.5, -68.15, -16.5, -68.15) == 0
    # One degree of latitude is 1/360 of a meridian circle.
    assert haversine_km(0, 0, 1, 0) == pytest.approx(2 * math.pi * EARTH_RADIUS_KM / 360)
    # Two points 0.0082° of latitude and 0.0296° of longitude apart at La Paz: 3.28 km.
    assert haversine_km(-16.4958, -68.1334, -16.5040, -68.1630) == pytest.approx(3.285, abs=0.01)


@given(lat, lon, lat, lon)
def test_symmetric_and_never_more_than_half_the_circumference(a, b, c, d):
    km = haversine_km(a, b, c, d)
    assert km == pytest.approx(haversine_km(c, d, a, b), abs=1e-6)
    assert 0 <= km <= math.pi * EARTH_RADIUS_KM + 1e-6
