"""CSV and GeoJSON exports, the atomic file, and `cases export`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import geojson
import pytest
from test_reports import NOW, add_case, merge

from barriosms.reporting import exports, reports
from barriosms.store.models import Neighborhood

ZONE = ZoneInfo("America/La_Paz")
HEADER = ["tracking", "status", "category", "neighborhood", "neighborhood_name", "district", "created_at",
          "updated_at", "reporters", "assignee", "text"]


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_header_and_rows(hoods):
    keep = add_case("B04", days=1, text="=HYPERLINK(\"x\") bache, grande")
    merge(keep)
    keep.assignee = "cuadrilla 3"
    keep.save()
    add_case("B12", "agua", status="in_progress")
    out = io.StringIO(newline="")
    written = exports.write_csv(reports.case_rows(), out, ZONE)
    assert written == exports.Written(cases=2)
    text = out.getvalue()
    assert text.splitlines()[0].split(",") == HEADER
    first, second = csv_rows(text)
    assert first == {"tracking": keep.tracking, "status": "received", "category": "vias", "neighborhood": "B04",
                     "neighborhood_name": "Villa Fátima", "district": "Periférica",
                     "created_at": "2026-11-23T08:00:00-04:00", "updated_at": "2026-11-23T08:00:00-04:00",
                     "reporters": "2", "assignee": "cuadrilla 3",
                     "text": "'=HYPERLINK(\"x\") bache, grande"}  # not a formula in a spreadsheet
    assert (second["neighborhood"], second["status"]) == ("B12", "in_progress")
    with_phone = csv_rows(_csv(reports.case_rows(), include_phone=True))
    assert with_phone[0]["phone"] == keep.phone and list(with_phone[0]) == HEADER[:-1] + ["phone", "text"]


def _csv(rows, include_phone=False) -> str:
    out = io.StringIO(newline="")
    exports.write_csv(rows, out, ZONE, include_phone)
    return out.getvalue()


def test_filters_and_unknown_codes(hoods):
    add_case("B12")
    add_case("B12", status="closed")
    add_case("B03")
    assert [r.code for r in reports.case_rows(neighborhood="b-12", status="closed")] == ["B12"]
    with pytest.raises(reports.ReportError, match="no neighbourhood with code 'B99'"):
        reports.case_rows(neighborhood="B99")
    with pytest.raises(reports.ReportError, match="unknown status 'done'"):
        reports.case_rows(status="done")


def test_geojson_is_valid_and_placed_at_the_neighbourhood(hoods):
    nowhere = Neighborhood.create(code="B99", name="Sin mapa", district="Norte")
    add_case("B12", reporters=2)
    add_case("B07", "basura")
    add_case("B99")
    out = io.StringIO()
    written = exports.write_geojson(reports.case_rows(), out, ZONE)
    assert written == exports.Written(cases=3, without_coordinates=1)
    collection = geojson.loads(out.getvalue())
    assert collection.is_valid and collection["type"] == "FeatureCollection"
    by_code = {f["properties"]["neighborhood"]: f for f in collection["features"]}
    for code in ("B12", "B07"):
        assert by_code[code]["geometry"]["coordinates"] == [hoods[code].lon, hoods[code].lat]
    assert by_code["B99"]["geometry"] is None and nowhere.lat is None
    assert by_code["B12"]["properties"]["reporters"] == 2
    assert "phone" not in by_code["B12"]["properties"]
    assert by_code["B12"]["id"] == by_code["B12"]["properties"]["tracking"]


def test_a_point_marked_on_the_web_map_places_the_case(hoods):
    from barriosms.pipeline.intake import IntakeRules
    from barriosms.staff.webreports import WebReport, submit
    from barriosms.templates.loader import load_categories, load_templates

    rules = IntakeRules(templates=load_templates(), categories=load_categories(None), region="BO")
    submit(WebReport("B12", "Poste caido en la esquina", lat="-16.50901", lon="-68.10222"), rules)
    out = io.StringIO()
    exports.write_geojson(reports.case_rows(), out, ZONE)
    [feature] = geojson.loads(out.getvalue())["features"]
    assert feature["geometry"]["coordinates"] == [-68.10222, -16.50901]


def test_atomic_file_refuses_to_overwrite_and_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    with exports.atomic_file(target) as out:
        out.write("one\n")
    assert target.read_text() == "one\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(exports.ExportError, match="already exists"):
        with exports.atomic_file(target) as out:
            out.write("two\n")
    with pytest.raises(RuntimeError):
        with exports.atomic_file(target, force=True) as out:
            out.write("half")
            raise RuntimeError("disk gone")
    assert target.read_text() == "one\n" and sorted(os.listdir(tmp_path)) == ["out.csv"]
    with exports.atomic_file(target, force=True) as out:
        out.write("three\n")
    assert target.read_text() == "three\n" and sorted(os.listdir(tmp_path)) == ["out.csv"]


def test_atomic_file_loses_a_race_cleanly(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(exports.ExportError, match="already exists"):
        with exports.atomic_file(target) as out:
            target.write_text("someone else's")  # appears while we write
            out.write("ours")
    assert target.read_text() == "someone else's" and sorted(os.listdir(tmp_path)) == ["out.csv"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_export_command_csv_to_stdout(ready):
    case = add_case("B12", text="hay un bache")
    add_case("B03", status="closed")
    result = ready("cases", "export")
    rows = csv_rows(result.stdout)
    assert list(rows[0]) == HEADER and len(rows) == 2
    assert "phone" not in result.stdout and case.phone not in result.stdout
    with_phone = csv_rows(ready("cases", "export", "--include-phone", "--status", "received").stdout)
    assert [(r["tracking"], r["phone"]) for r in with_phone] == [(case.tracking, case.phone)]
    assert [r["neighborhood"] for r in csv_rows(ready("cases", "export", "--neighborhood", "b03").stdout)] == ["B03"]


def test_export_command_geojson_to_a_file(ready, tmp_path):
    Neighborhood.create(code="B99", name="Sin mapa")
    add_case("B12")
    add_case("B99")
    target = tmp_path / "casos.geojson"
    result = ready("cases", "export", "--format", "geojson", "--output", str(target))
    assert f"wrote 2 case(s) to {target}" in result.stdout
    assert "exporting 2 case(s)" in result.stderr  # the progress bar
    assert "1 case(s) have no coordinates" in result.stderr
    collection = geojson.loads(target.read_text(encoding="utf-8"))
    assert collection.is_valid and len(collection["features"]) == 2
    assert ("already exists (use --force to replace it)"
            in ready("cases", "export", "--format", "geojson", "-o", str(target), code=1).output)
    ready("cases", "export", "--format", "geojson", "-o", str(target), "--force", "--include-phone")
    assert all("phone" in f["properties"] for f in json.loads(target.read_text())["features"])


def test_export_command_dash_is_standard_output(ready, tmp_path, monkeypatch):
    """`-o -` used to write a file named `-`; it is standard output, for CSV and GeoJSON alike."""
    monkeypatch.chdir(tmp_path)
    Neighborhood.create(code="B99", name="Sin mapa")
    case = add_case("B12", text="hay un bache")
    add_case("B99")
    result = ready("cases", "export", "-o", "-")
    rows = csv_rows(result.stdout)  # stdout is the document and nothing else
    assert list(rows[0]) == HEADER and sorted(r["tracking"] for r in rows) == sorted([case.tracking, rows[1]["tracking"]])
    assert "wrote 2 case(s) to standard output" in result.stderr
    result = ready("cases", "export", "--format", "geojson", "--output", "-", "--include-phone")
    collection = geojson.loads(result.stdout)
    assert collection.is_valid and len(collection["features"]) == 2
    assert case.phone in {f["properties"]["phone"] for f in collection["features"]}
    assert "1 case(s) have no coordinates" in result.stderr
    assert not (tmp_path / "-").exists()


def test_export_to_standard_output_from_a_real_process(ready, ini, tmp_path):
    add_case("B12", text="hay un bache en la esquina")
    proc = subprocess.run([sys.executable, "-m", "barriosms", "--config", str(ini), "cases", "export",
                           "--format", "geojson", "-o", "-"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    [feature] = geojson.loads(proc.stdout)["features"]
    assert feature["properties"]["text"] == "hay un bache en la esquina"
    assert not (tmp_path / "-").exists()


def test_export_command_errors(ready, tmp_path):
    assert "no neighbourhood with code 'Z9'" in ready("cases", "export", "--neighborhood", "Z9", code=1).output
    assert "Invalid value for '--status'" in ready("cases", "export", "--status", "done", code=2).output
    assert "no folder" in ready("cases", "export", "-o", str(tmp_path / "no" / "x.csv"), code=1).output


def test_merged_duplicates_are_not_exported(hoods):
    keep = add_case("B12")
    merge(keep)
    assert [(r.tracking, r.reporters) for r in reports.case_rows()] == [(keep.tracking, 2)]
    assert [r.tracking for r in reports.case_rows(status="closed")] == []


def test_times_are_local_iso_8601(hoods):
    add_case("B12")
    [row] = reports.case_rows()
    assert row.created_at == NOW
    assert exports.record(row, ZONE)["created_at"] == "2026-11-24T08:00:00-04:00"


def test_cases_are_read_as_the_export_consumes_them_oldest_first_with_their_count(hoods):
    """A million cases must not sit in memory: the rows come from an open query, one at a time."""
    older = add_case("B12", days=3, reporters=3)
    newer = add_case("B01", days=1, status="closed")
    add_case("B12", days=2, merged_into=older)
    rows = reports.case_rows()
    assert not isinstance(rows, (list, tuple))
    first = next(rows)
    assert (first.tracking, first.reporters, first.code) == (older.tracking, 3, "B12")
    assert [(r.tracking, r.status) for r in rows] == [(newer.tracking, "closed")]
    assert reports.count_case_rows() == 2
    assert reports.count_case_rows(status="closed") == len(list(reports.case_rows(status="closed"))) == 1
    assert reports.count_case_rows(neighborhood="B12") == 1


@pytest.mark.parametrize("either_db", ["sqlite", "postgresql"], indirect=True)
def test_export_rows_are_the_same_on_both_databases(either_db):
    # Rows come through each database's own cursor: SQLite's stored text and psycopg2's datetimes
    # must give the same times.
    from conftest import SAMPLE_CSV

    from barriosms.staff.neighborhoods import import_csv

    import_csv(SAMPLE_CSV)
    keep = add_case("B04", days=1, text="bache")
    merge(keep)
    [row] = reports.case_rows()
    assert (row.tracking, row.code, row.reporters) == (keep.tracking, "B04", 2)
    assert row.created_at == row.updated_at == NOW - dt.timedelta(days=1)
    assert exports.record(row, ZONE)["created_at"] == "2026-11-23T08:00:00-04:00"
