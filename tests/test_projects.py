"""Municipal projects: the service's checks (barriosms/staff/projects.py) and `barriosms projects` through click."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from barriosms.cli.projects import bolivianos
from barriosms.staff import projects as works
from barriosms.store.models import Project

D = dt.date


# --- the service -------------------------------------------------------------------------------

def test_add_parses_text_as_typed_and_reads_back(hoods):
    project = works.add(neighborhood="b-12", title="  Enlosetado   calle 3 ", description=" Tramo norte ",
                        budget="125000,50", start_date="2026-12-01", end_date="2027-03-31", lat="-16,5",
                        lon=-68.13)
    stored = Project.get_by_id(project.id)
    assert (stored.neighborhood.code, stored.title, stored.description, stored.status) == \
        ("B12", "Enlosetado calle 3", "Tramo norte", "planned")
    assert (stored.budget, stored.start_date, stored.end_date, stored.lat, stored.lon) == \
        (125000.5, D(2026, 12, 1), D(2027, 3, 31), -16.5, -68.13)
    assert works.get(str(project.id)).id == project.id


@pytest.mark.parametrize(("values", "says"), [
    ({"neighborhood": "B99"}, "unknown neighbourhood code 'B99': see the codes with `barriosms neighborhoods list`"),
    ({"neighborhood": ""}, "unknown neighbourhood code ''"),
    ({"title": "   "}, 'the title is empty: give the works a short name, e.g. "Enlosetado calle 3"'),
    ({"budget": -1}, "budget -1 is negative: give the amount in Bs as 0 or more"),
    ({"budget": "-125000"}, "budget -125000 is negative"),
    ({"budget": float("nan")}, "is not an amount"),
    ({"budget": "125.000"}, "write Bs without thousands separators, with at most two decimals (125000 or 125000.50)"),
    ({"budget": "1,250,000"}, "without thousands separators"),
    ({"budget": "mucho"}, "is not an amount"),
    ({"start_date": "2026-12-01", "end_date": "2026-11-30"},
     "the end date 2026-11-30 is before the start date 2026-12-01: correct one of them"),
    ({"start_date": "01/12/2026"}, "start date '01/12/2026' is not a date: write it as YYYY-MM-DD (2026-12-01)"),
    ({"end_date": "2026-02-30"}, "end date '2026-02-30' is not a date"),
    ({"lat": -16.5}, "a latitude without a longitude: give both (e.g. --lat -16.5 --lon -68.13) or neither"),
    ({"lon": -68.1}, "a longitude without a latitude: give both"),
    ({"lat": -91, "lon": -68.1}, "latitude -91 is out of range: it must be between -90 and 90"),
    ({"lat": -16.5, "lon": 181}, "longitude 181 is out of range: it must be between -180 and 180"),
    ({"lat": "sur", "lon": -68.1}, "latitude 'sur' is not a number: write decimal degrees"),
    ({"status": "finished"}, "unknown status 'finished': use one of planned, in_progress, done, suspended"),
])
def test_add_refuses_bad_values_saying_the_fix(hoods, values, says):
    with pytest.raises(works.ProjectError) as err:
        works.add(**{"neighborhood": "B12", "title": "Enlosetado", **values})
    assert says in str(err.value)
    assert Project.select().count() == 0


def test_budget_zero_and_same_day_are_fine(hoods):
    project = works.add(neighborhood="B12", title="Limpieza", budget="Bs 0", start_date=D(2026, 5, 1),
                        end_date="2026-05-01")
    assert (project.budget, project.start_date, project.end_date) == (0.0, D(2026, 5, 1), D(2026, 5, 1))


def test_update_checks_the_project_as_a_whole(hoods):
    project = works.add(neighborhood="B12", title="Enlosetado", start_date="2026-12-01", lat=-16.5, lon=-68.1,
                        budget=100)
    with pytest.raises(works.ProjectError, match="end date 2026-11-01 is before the start date 2026-12-01"):
        works.update(project.id, {"end_date": "2026-11-01"})
    with pytest.raises(works.ProjectError, match="a latitude without a longitude"):
        works.update(project.id, {"lon": None})
    with pytest.raises(works.ProjectError, match="the title of a project cannot be cleared"):
        works.update(project.id, {"title": None})
    with pytest.raises(works.ProjectError, match="no project field colour"):
        works.update(project.id, {"colour": "red"})
    with pytest.raises(works.ProjectError, match="nothing to change"):
        works.update(project.id, {})
    with pytest.raises(works.ProjectError, match=r"no project with id 99 \(list them with `barriosms projects list`\)"):
        works.update(99, {"title": "x"})
    later = dt.datetime(2030, 1, 1)
    changed = works.update(project.id, {"end_date": "2026-11-01", "start_date": None, "budget": None,
                                        "lat": None, "lon": None, "status": "done", "neighborhood": "B03"},
                           now=later)
    assert (changed.end_date, changed.start_date, changed.budget, changed.lat, changed.status) == \
        (D(2026, 11, 1), None, None, None, "done")
    assert (changed.neighborhood.code, changed.title, changed.updated_at) == ("B03", "Enlosetado", later)


def test_list_filters_by_neighbourhood_and_status(hoods):
    a = works.add(neighborhood="B12", title="A")
    b = works.add(neighborhood="B12", title="B", status="done")
    c = works.add(neighborhood="B03", title="C", status="done")
    assert [p.id for p in works.list_projects()] == [c.id, b.id, a.id]
    assert [p.id for p in works.list_projects(neighborhood="b12")] == [b.id, a.id]
    assert [p.id for p in works.list_projects(status="done")] == [c.id, b.id]
    assert [p.id for p in works.list_projects(neighborhood="B12", status="done", limit=1)] == [b.id]
    with pytest.raises(works.ProjectError, match="unknown neighbourhood code 'Z1'"):
        works.list_projects(neighborhood="Z1")
    with pytest.raises(works.ProjectError, match="unknown status 'open'"):
        works.list_projects(status="open")


def test_budgets_are_written_the_bolivian_way():
    assert [bolivianos(v) for v in (None, 0, 125000, 1250000.5, 999.99)] == \
        ["-", "Bs 0", "Bs 125.000", "Bs 1.250.000,50", "Bs 999,99"]


# --- the CLI -----------------------------------------------------------------------------------

def test_add_list_show_update_through_the_cli(ready):
    out = ready("projects", "add", "--neighborhood", "B12", "--title", "Enlosetado calle 3", "--budget", "125000",
                "--start", "2026-12-01", "--end", "2027-03-31", "--lat", "-16.5", "--lon", "-68.1").output
    assert "project 1 added" in out and "Bs 125.000" in out and "2026-12-01" in out and "-16.5, -68.1" in out
    added = json.loads(ready("projects", "add", "--neighborhood", "B03", "--title", "Parque", "--status",
                             "in_progress", "--description", "Juegos infantiles", "--json").output)
    assert added["id"] == 2 and added["status"] == "in_progress" and added["budget"] is None
    assert added["created_at"].endswith("-04:00")  # shown in America/La_Paz

    table = ready("projects", "list").output.splitlines()
    assert table[0].split() == ["ID", "HOOD", "STATUS", "BUDGET", "START", "END", "TITLE"]
    assert table[1].split()[:3] == ["2", "B03", "in_progress"]
    assert "Bs 125.000  2026-12-01  2027-03-31  Enlosetado calle 3" in table[2]
    [row] = json.loads(ready("projects", "list", "--neighborhood", "B12", "--json").output)
    assert row == {"id": 1, "neighborhood": "B12", "neighborhood_name": row["neighborhood_name"],
                   "title": "Enlosetado calle 3", "description": "", "status": "planned", "budget": 125000.0,
                   "start_date": "2026-12-01", "end_date": "2027-03-31", "lat": -16.5, "lon": -68.1,
                   "created_at": row["created_at"], "updated_at": row["updated_at"]}
    assert [p["id"] for p in json.loads(ready("projects", "list", "--status", "in_progress", "--json").output)] == [2]
    assert ready("projects", "list", "--status", "done").output.strip() == "no projects match"

    out = ready("projects", "update", "1", "--status", "done", "--budget", "140000.5", "--clear-place").output
    assert "project 1 updated" in out and "[done]" in out and "Bs 140.000,50" in out and "place:         -" in out
    shown = json.loads(ready("projects", "show", "1", "--json").output)
    assert (shown["status"], shown["budget"], shown["lat"], shown["lon"]) == ("done", 140000.5, None, None)
    cleared = json.loads(ready("projects", "update", "1", "--clear-budget", "--clear-start", "--clear-end",
                               "--json").output)
    assert (cleared["budget"], cleared["start_date"], cleared["end_date"]) == (None, None, None)
    assert json.loads(ready("projects", "update", "2", "--clear-description", "--json").output)["description"] == ""


def test_cli_errors_say_the_fix_and_exit_non_zero(ready):
    assert ready("projects", "list").output.strip().startswith("no projects yet")
    out = ready("projects", "add", "--neighborhood", "B99", "--title", "x", code=1).output
    assert "Error: unknown neighbourhood code 'B99': see the codes with `barriosms neighborhoods list`" in out
    out = ready("projects", "add", "--neighborhood", "B12", "--title", "x", "--budget", "125.000", code=1).output
    assert "without thousands separators" in out
    out = ready("projects", "add", "--neighborhood", "B12", "--title", "x", "--start", "2027-01-01",
                "--end", "2026-12-31", code=1).output
    assert "end date 2026-12-31 is before the start date 2027-01-01" in out
    assert "missing option(s) --title" in ready("projects", "add", "--neighborhood", "B12", code=2).output
    assert "'finished' is not one of" in ready("projects", "add", "--neighborhood", "B12", "--title", "x",
                                               "--status", "finished", code=2).output
    assert json.loads(ready("projects", "list", "--json").output) == []

    ready("projects", "add", "--neighborhood", "B12", "--title", "x", "--lat", "-16.5", "--lon", "-68.1")
    out = ready("projects", "update", "1", "--lat", "-16.4", "--clear-place", code=2).output
    assert "--clear-place and --lat contradict each other" in out
    assert "nothing to change" in ready("projects", "update", "1", code=1).output
    assert "no project with id 7" in ready("projects", "update", "7", "--title", "y", code=1).output
    assert "no project with id 7" in ready("projects", "show", "7", code=1).output
    assert "unknown neighbourhood code 'Q1'" in ready("projects", "list", "--neighborhood", "Q1", code=1).output
