"""Municipal projects (works in a neighbourhood) that staff keep and the website shows.

Staff add and update them from the CLI; every value is checked here, so another front end (a
web form) gets the same rules and the same messages. Values may come as text as typed (budget
"125000.50", date "2026-12-01", latitude "-16,5") or already parsed; a bad one raises
ProjectError with a message that says what to write instead.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from barriosms.cases.lookup import NeighborhoodNotFound, find_neighborhood
from barriosms.store.models import PROJECT_STATUSES, Neighborhood, Project, utcnow, write_tx

# What update() may change; None clears the optional ones (description becomes empty).
FIELDS = ("neighborhood", "title", "description", "status", "budget", "start_date", "end_date", "lat", "lon")
REQUIRED = ("neighborhood", "title", "status")

# An amount as staff type it: digits, then at most one decimal separator and one or two decimals.
# "125.000" or "1,250,000" are refused: thousands separators differ between Bolivia and
# elsewhere, and reading one as a decimal point would store a thousandth of the budget.
_AMOUNT = re.compile(r"\d+(?:[.,]\d{1,2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ProjectError(Exception):
    """A project value or action that cannot be accepted; the message says how to fix it."""


def parse_budget(value: Any) -> float | None:
    """Bolivianos as a float (None stays None); refuses negative, non-finite and ambiguous amounts."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("bs"):
            text = text[2:].lstrip(". ")
        if text.startswith("-") and _AMOUNT.fullmatch(text[1:]):
            raise ProjectError(f"budget {value} is negative: give the amount in Bs as 0 or more")
        if not _AMOUNT.fullmatch(text):
            raise ProjectError(f"budget {value!r} is not an amount: write Bs without thousands separators, "
                               "with at most two decimals (125000 or 125000.50)")
        number = float(text.replace(",", "."))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise ProjectError(f"budget {value!r} is not an amount: give a number of Bs (125000)")
    if not math.isfinite(number):
        raise ProjectError(f"budget {value} is not an amount: give a number of Bs (125000)")
    if number < 0:
        raise ProjectError(f"budget {value:g} is negative: give the amount in Bs as 0 or more")
    return number


def parse_date(value: Any, what: str) -> dt.date | None:
    """A calendar date from a date or 'YYYY-MM-DD' (None stays None)."""
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    text = str(value).strip()
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ProjectError(f"{what} {value!r} is not a date: write it as YYYY-MM-DD (2026-12-01)") from None


def parse_coordinate(value: Any, what: str, limit: float) -> float | None:
    """A latitude (limit 90) or longitude (limit 180) in decimal degrees (None stays None)."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ProjectError(f"{what} {value!r} is not a number: write decimal degrees, "
                           "e.g. --lat -16.5 --lon -68.13") from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ProjectError(f"{what} {value} is out of range: it must be between {-limit:g} and {limit:g} "
                           "(La Paz is near latitude -16.5, longitude -68.1)")
    return number


def _neighborhood(code: Any) -> Neighborhood:
    try:
        return find_neighborhood(str(code or ""), by_name=False)
    except NeighborhoodNotFound:
        raise ProjectError(f"unknown neighbourhood code {str(code or '').strip()!r}: "
                           "see the codes with `barriosms neighborhoods list`") from None


def _check_status(status: Any) -> str:
    if status not in PROJECT_STATUSES:
        raise ProjectError(f"unknown status {status!r}: use one of {', '.join(PROJECT_STATUSES)}")
    return status


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """The given fields parsed and checked one by one (the rules between fields come after)."""
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ProjectError(f"no project field {', '.join(unknown)}: the fields are {', '.join(FIELDS)}")
    for name in REQUIRED:
        if name in values and values[name] is None:
            raise ProjectError(f"the {name} of a project cannot be cleared, only changed")
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name == "neighborhood":
            clean[name] = value if isinstance(value, Neighborhood) else _neighborhood(value)
        elif name == "title":
            clean[name] = " ".join(str(value).split())
            if not clean[name]:
                raise ProjectError('the title is empty: give the works a short name, e.g. "Enlosetado calle 3"')
        elif name == "description":
            clean[name] = (value or "").strip()
        elif name == "status":
            clean[name] = _check_status(value)
        elif name == "budget":
            clean[name] = parse_budget(value)
        elif name in ("start_date", "end_date"):
            clean[name] = parse_date(value, "start date" if name == "start_date" else "end date")
        elif name == "lat":
            clean[name] = parse_coordinate(value, "latitude", 90)
        else:
            clean[name] = parse_coordinate(value, "longitude", 180)
    return clean


def _check_together(start: dt.date | None, end: dt.date | None, lat: float | None, lon: float | None) -> None:
    if start is not None and end is not None and end < start:
        raise ProjectError(f"the end date {end:%Y-%m-%d} is before the start date {start:%Y-%m-%d}: "
                           "correct one of them (the end may be the same day as the start)")
    if (lat is None) != (lon is None):
        given, missing = ("latitude", "longitude") if lon is None else ("longitude", "latitude")
        raise ProjectError(f"a {given} without a {missing}: give both (e.g. --lat -16.5 --lon -68.13) "
                           "or neither")


def add(*, neighborhood: Any, title: Any, description: str = "", status: str = "planned", budget: Any = None,
        start_date: Any = None, end_date: Any = None, lat: Any = None, lon: Any = None,
        now: dt.datetime | None = None) -> Project:
    """Check every value and store a new project."""
    clean = _clean(dict(neighborhood=neighborhood, title=title, description=description, status=status,
                        budget=budget, start_date=start_date, end_date=end_date, lat=lat, lon=lon))
    _check_together(clean["start_date"], clean["end_date"], clean["lat"], clean["lon"])
    now = now or utcnow()
    with write_tx():
        project = Project.create(created_at=now, updated_at=now, **clean)
    return get(project.id)


def get(project_id: Any) -> Project:
    try:
        number = int(project_id)
    except (TypeError, ValueError):
        number = None
    project = None
    if number is not None:
        project = (Project.select(Project, Neighborhood).join(Neighborhood)
                   .where(Project.id == number).first())
    if project is None:
        raise ProjectError(f"no project with id {project_id} (list them with `barriosms projects list`)")
    return project


def list_projects(*, neighborhood: str | None = None, status: str | None = None,
                  limit: int | None = None) -> list[Project]:
    """Projects, newest first, of one neighbourhood and/or in one status."""
    q = Project.select(Project, Neighborhood).join(Neighborhood).order_by(Project.id.desc())
    if neighborhood:
        q = q.where(Project.neighborhood == _neighborhood(neighborhood))
    if status:
        q = q.where(Project.status == _check_status(status))
    if limit:
        q = q.limit(limit)
    return list(q)


def update(project_id: Any, changes: dict[str, Any], *, now: dt.datetime | None = None) -> Project:
    """Change the given fields (None clears an optional one) and check the project as a whole."""
    if not changes:
        raise ProjectError("nothing to change: give at least one new value "
                           "(see `barriosms projects update --help`)")
    clean = _clean(changes)
    with write_tx():
        project = get(project_id)
        merged = {name: getattr(project, name) for name in ("start_date", "end_date", "lat", "lon")}
        merged.update({k: v for k, v in clean.items() if k in merged})
        _check_together(merged["start_date"], merged["end_date"], merged["lat"], merged["lon"])
        for name, value in clean.items():
            setattr(project, name, value)
        project.updated_at = now or utcnow()
        project.save()
    return get(project.id)
