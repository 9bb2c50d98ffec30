"""cases.lookup: the one neighbourhood lookup every caller uses, and the case a duplicate lives in."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from barriosms.cases.lookup import NeighborhoodAmbiguous, NeighborhoodNotFound, find_neighborhood
from barriosms.store.models import Neighborhood


@pytest.mark.parametrize("typed", ["B02", "b02", " b-02 ", "B 02", "Sopocachi", "SOPOCACHI", "sopocachy"])
def test_a_code_however_written_or_a_name_with_a_typo_finds_the_neighbourhood(hoods, typed):
    assert find_neighborhood(typed).code == "B02"


def test_an_alias_names_its_neighbourhood(hoods):
    assert find_neighborhood("fatima").code == "B04"


def test_staff_commands_take_codes_only_so_a_name_never_picks_a_neighbourhood_for_them(hoods):
    assert find_neighborhood("b02", by_name=False).code == "B02"
    with pytest.raises(NeighborhoodNotFound) as caught:
        find_neighborhood("Sopocachi", by_name=False)
    assert caught.value.text == "Sopocachi"


@pytest.mark.parametrize("typed", ["", "   ", "B99", "Z1", "la calle de mi casa", "999999"])
def test_what_names_no_neighbourhood_is_not_found(hoods, typed):
    with pytest.raises(NeighborhoodNotFound) as caught:
        find_neighborhood(typed)
    assert caught.value.text == " ".join(typed.split())


def test_a_name_two_neighbourhoods_share_offers_both(hoods):
    Neighborhood.create(code="B90", name="Sopocachi Alto", district="Cotahuma", aliases="Sopocachi")
    with pytest.raises(NeighborhoodAmbiguous) as caught:
        find_neighborhood("sopocachi")
    assert {code for code, _ in caught.value.choices} == {"B02", "B90"}


@given(st.text(alphabet="0123456789 .,;:-!?¿¡", max_size=30))
def test_digits_and_punctuation_never_pick_a_neighbourhood(hoods, typed):
    # Only a code (a letter and digits) or a name can name one; anything else is "not found", never a guess.
    with pytest.raises(NeighborhoodNotFound):
        find_neighborhood(typed)


def test_a_point_is_placed_in_the_nearest_neighbourhood_within_reach_only(hoods):
    from barriosms.cases.lookup import nearest_neighborhood

    sopocachi = hoods["B02"]
    assert nearest_neighborhood(sopocachi.lat + 0.001, sopocachi.lon, within_km=3).code == "B02"
    assert nearest_neighborhood(-17.5, -68.1, within_km=3) is None  # 100 km south of every one
