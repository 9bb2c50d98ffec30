"""Finding things staff and residents name: the case a merged duplicate lives in, a neighbourhood.

One lookup of a neighbourhood for every caller (CLI reports and projects, the web form, Open311):
each turns the two failures below into its own message, in its own language.
"""

from __future__ import annotations

from barriosms.domain.categories import fold
from barriosms.domain.geo import haversine_km
from barriosms.domain.matching import Place, find_place, normalize_code
from barriosms.store.models import Case, Neighborhood


class NeighborhoodNotFound(LookupError):
    """No neighbourhood has this code or name (`text` as typed); each caller words the message."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class NeighborhoodAmbiguous(LookupError):
    """Several neighbourhoods answer to this name: `choices` lists (code, name) to pick from."""

    def __init__(self, text: str, choices: tuple[tuple[str, str], ...]):
        super().__init__(text)
        self.text = text
        self.choices = choices


def find_neighborhood(text: str, *, by_name: bool = True) -> Neighborhood:
    """The neighbourhood named by its code ("B12", "b-12") or, with `by_name`, by its name or an
    alias, typos forgiven as in an SMS (domain.matching.find_place never guesses one the text
    does not name).

    Raises NeighborhoodNotFound or NeighborhoodAmbiguous.
    """
    text = " ".join(str(text or "").split())
    code = normalize_code(text) if text else ""
    exact = Neighborhood.get_or_none(Neighborhood.code == code) if code else None
    if exact is not None:
        return exact
    if not text or not by_name:
        raise NeighborhoodNotFound(text)
    hoods = list(Neighborhood.select())
    folded = fold(text)
    same_name = [n for n in hoods if fold(n.name) == folded or folded in (fold(a) for a in n.alias_list)]
    if len(same_name) == 1:
        return same_name[0]
    match = find_place(text, [Place(n.code, n.name, tuple(n.alias_list)) for n in hoods])
    if match is None:
        raise NeighborhoodNotFound(text)
    by_code = {n.code: n for n in hoods}
    if len(match.codes) > 1:
        raise NeighborhoodAmbiguous(text, tuple((c, by_code[c].name) for c in match.codes))
    return by_code[match.codes[0]]


def surviving(case: Case) -> Case:
    """The case a merged duplicate now lives in (itself when not merged)."""
    seen = {case.id}
    while case.merged_into_id is not None:
        case = Case.select(Case, Neighborhood).join(Neighborhood).where(Case.id == case.merged_into_id).get()
        if case.id in seen:  # cannot happen through merge(); never loop on a hand-edited database
            break
        seen.add(case.id)
    return case


def nearest_neighborhood(lat: float, lon: float, within_km: float) -> Neighborhood | None:
    """The neighbourhood whose coordinates are nearest the point, if within `within_km`."""
    best: tuple[float, Neighborhood] | None = None
    for hood in Neighborhood.select().where(Neighborhood.lat.is_null(False), Neighborhood.lon.is_null(False)):
        assert hood.lat is not None and hood.lon is not None  # the query keeps only placed neighbourhoods
        km = haversine_km(lat, lon, hood.lat, hood.lon)
        if km <= within_km and (best is None or km < best[0]):
            best = (km, hood)
    return best[1] if best else None
