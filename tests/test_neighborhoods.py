from __future__ import annotations

import pytest

from barriosms.neighborhoods import ImportProblem, import_csv, list_all
from barriosms.store.models import Neighborhood

from conftest import SAMPLE_CSV


def write(tmp_path, text, name="n.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_sample_file_imports(db):
    result = import_csv(SAMPLE_CSV)
    assert result.added == 15 and result.updated == 0
    b12 = Neighborhood.get(Neighborhood.code == "B12")
    assert b12.name == "Villa San Antonio" and b12.lat == pytest.approx(-16.5082)


def test_reimport_updates_existing_codes(db, tmp_path):
    import_csv(write(tmp_path, "code,name,district,lat,lon\nB12,Villa San Antonio,San Antonio,,\n"))
    result = import_csv(write(tmp_path, "code,name,district,lat,lon\nb-12,Villa San Antonio Alto,San Antonio,-16.5,-68.1\nB13,Mallasa,Mallasa,,\n"))
    assert (result.added, result.updated) == (1, 1)
    assert [(n.code, n.name) for n in list_all()] == [("B12", "Villa San Antonio Alto"), ("B13", "Mallasa")]


def test_bad_file_imports_nothing_and_names_every_line(db, tmp_path):
    text = ("code,name,district,lat,lon\n"
            "B01,San Pedro,Centro,-16.5,-68.1\n"
            "12B,Mal,Centro,,\n"
            "B02,,Cotahuma,,\n"
            "B01,Otra vez,Centro,,\n"
            "B03,Miraflores,Centro,lat,-68.1\n"
            "B04,Fatima,Periferica,-95,-68.1\n")
    with pytest.raises(ImportProblem) as err:
        import_csv(write(tmp_path, text))
    message = str(err.value)
    for expected in ("line 3: code '12B'", "line 4: the name is empty", "line 5: code B01 already on line 2",
                     "line 6: lat 'lat' is not a number", "line 7: lat -95 is out of range"):
        assert expected in message
    assert "nothing imported" in message
    assert Neighborhood.select().count() == 0


@pytest.mark.parametrize("text, expected", [
    ("codigo,nombre\nB1,x\n", "missing column(s) code, name"),
    ("code,name,colour\nB1,x,red\n", "unknown column(s) colour"),
    ("code,name\n", "no neighbourhoods"),
    ("code,name\nB1,\"San, Pedro\",extra\n", "more fields than columns"),
])
def test_header_and_shape_errors(db, tmp_path, text, expected):
    with pytest.raises(ImportProblem, match=expected.replace("(", r"\(").replace(")", r"\)")):
        import_csv(write(tmp_path, text))


def test_spreadsheet_bom_and_decimal_commas(db, tmp_path):
    p = tmp_path / "excel.csv"
    p.write_bytes("\ufeffcode,name,district,lat,lon\nB05,Pampahasi,San Antonio,\"-16,5037\",\"-68,0967\"\n".encode())
    import_csv(p)
    assert Neighborhood.get().lat == pytest.approx(-16.5037)


def test_not_utf8_is_explained(db, tmp_path):
    p = tmp_path / "latin1.csv"
    p.write_bytes("code,name\nB04,Villa F\xe1tima\n".encode("latin-1"))
    with pytest.raises(ImportProblem, match="save the CSV as UTF-8"):
        import_csv(p)
