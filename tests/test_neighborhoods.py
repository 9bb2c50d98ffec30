from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_CSV

from barriosms.cli import cli
from barriosms.domain.matching import Place
from barriosms.staff.neighborhoods import ImportProblem, import_csv, list_all, places, read_csv
from barriosms.store.models import Neighborhood


def write(tmp_path, text, name="n.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_sample_file_imports(db):
    result = import_csv(SAMPLE_CSV)
    assert result.added == 15 and result.updated == 0
    b12 = Neighborhood.get(Neighborhood.code == "B12")
    assert b12.name == "Villa San Antonio" and b12.lat == pytest.approx(-16.5082)
    assert b12.alias_list == ["San Antonio"]
    assert Neighborhood.get(Neighborhood.code == "B09").aliases == "Tacagua; Tacagua Alto"
    assert Neighborhood.get(Neighborhood.code == "B01").aliases == ""


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


# --- aliases -----------------------------------------------------------------------------------

HEADER = "code,name,district,lat,lon,aliases\n"


def test_aliases_are_split_trimmed_and_deduplicated(db, tmp_path):
    rows = read_csv(write(tmp_path, HEADER + "B04,Villa Fátima,,,, Fatima ;;villa fatima;FÁTIMA; Fátima Alta \n"
                                            "B05,Pampahasi,,,,\n"))
    # The spelling of the name itself is allowed (harmless); the same alias twice is kept once.
    assert rows[0].aliases == ("Fatima", "villa fatima", "Fátima Alta")
    assert rows[1].aliases == ()


def test_files_without_the_aliases_column_still_import(db, tmp_path):
    result = import_csv(write(tmp_path, "name,code\nSopocachi,B02\n"))
    assert (result.added, result.updated) == (1, 0)
    assert [(p.code, p.name, p.aliases) for p in places()] == [("B02", "Sopocachi", ())]


def test_reimport_replaces_aliases(db, tmp_path):
    import_csv(write(tmp_path, HEADER + "B04,Villa Fátima,,,,Fatima;Fatimita\n"))
    assert places() == [Place("B04", "Villa Fátima", ("Fatima", "Fatimita"))]
    import_csv(write(tmp_path, HEADER + "B04,Villa Fátima,,,,Fatima\n"))
    assert places() == [Place("B04", "Villa Fátima", ("Fatima",))]
    import_csv(write(tmp_path, HEADER + "B04,Villa Fátima,,,,\n"))
    assert Neighborhood.get().aliases == "" and Neighborhood.get().alias_list == []


@pytest.mark.parametrize("rows, expected", [
    # An alias that is another neighbourhood's name, before or after it, accents and case aside.
    ("B03,Centro,,,,\nB04,Villa Fátima,,,,Fatima;centro\n",
     ["line 3: alias 'centro' is also the name of B03 on line 2"]),
    ("B04,Villa Fátima,,,,Céntro\nB03,Centro,,,,\n",
     ["line 2: alias 'Céntro' is also the name of B03 on line 3"]),
    ("B04,Villa Fátima,,,,Sopocachi\nB02,Sopocachi,,,,\nB05,Pampahasi,,,,villa FATIMA\n",
     ["line 2: alias 'Sopocachi' is also the name of B02 on line 3",
      "line 4: alias 'villa FATIMA' is also the name of B04 on line 2"]),
    # The same alias for two neighbourhoods: said once, on the later line.
    ("B04,Villa Fátima,,,,Kantutani\nB05,Pampahasi,,,,\nB06,Obrajes,,,,KANTUTANI\n",
     ["line 4: alias 'KANTUTANI' is also an alias of B04 on line 2"]),
    # Aliases that name no place.
    ("B04,Villa Fátima,,,,Villa\nB05,Pampahasi,,,,la zona\n",
     ["line 2: alias 'Villa' is too general", "line 3: alias 'la zona' is too general"]),
])
def test_alias_clashes_name_both_lines_and_import_nothing(db, tmp_path, rows, expected):
    with pytest.raises(ImportProblem) as err:
        import_csv(write(tmp_path, HEADER + rows))
    problems = err.value.errors
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problems
    assert Neighborhood.select().count() == 0


def test_two_neighbourhoods_may_share_a_name(db, tmp_path):
    import_csv(write(tmp_path, HEADER + "B20,San Pedro,,,,\nB21,San Pedro,,,,\n"))
    assert [p.code for p in places()] == ["B20", "B21"]


def test_alias_clash_with_a_neighbourhood_already_imported(db, tmp_path):
    import_csv(SAMPLE_CSV)
    with pytest.raises(ImportProblem) as err:
        import_csv(write(tmp_path, HEADER + "B30,Sopocachi Alto,,,,Tejar\nB31,Fatima,,,,\n"))
    assert err.value.errors == [
        "line 2: alias 'Tejar' is also an alias of B08 (already imported, not in this file)",
        "line 3: name 'Fatima' is also an alias of B04 (already imported, not in this file)",
    ]
    assert Neighborhood.select().count() == 15
    # Moving an alias from one neighbourhood to another in the same file is fine.
    import_csv(write(tmp_path, HEADER + "B08,El Tejar,,,,\nB30,Sopocachi Alto,,,,Tejar\n"))
    assert Neighborhood.get(Neighborhood.code == "B30").alias_list == ["Tejar"]


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path, db):
    ini = tmp_path / "barriosms.ini"
    ini.write_text(f"[database]\npath = {db}\n[modem]\ndevice = /dev/ttyUSB0\n")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(cli, ["--config", str(ini), *args], catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result
    return invoke


def test_cli_list_shows_aliases(run):
    run("neighborhoods", "import", str(SAMPLE_CSV))
    out = run("neighborhoods", "list").stdout
    assert "ALIASES" in out.splitlines()[0]
    assert any(line.startswith("B09") and line.endswith("Tacagua; Tacagua Alto") for line in out.splitlines())
    rows = {n["code"]: n for n in json.loads(run("neighborhoods", "list", "--json").stdout)}
    assert rows["B09"]["aliases"] == ["Tacagua", "Tacagua Alto"] and rows["B01"]["aliases"] == []


def test_cli_find_says_what_matched_and_how(run):
    run("neighborhoods", "import", str(SAMPLE_CSV))
    lines = run("neighborhoods", "find", "villa fatma").stdout.splitlines()
    assert lines[0].split() == ["CODE", "NAME", "BY", "MATCHED", "HOW", "TYPED"]
    assert lines[1].split() == ["B04", "Villa", "Fátima", "name", "Villa", "Fátima", "1", "typo", "villa", "fatma"]
    found = json.loads(run("neighborhoods", "find", "--json", "bache en b-12 y tejar").stdout)
    assert found == {"text": "bache en b-12 y tejar", "by": "code", "exact": True, "typos": 0,
                     "ambiguous": False, "start": 9, "end": 13, "typed": "b-12",
                     "places": [{"code": "B12", "name": "Villa San Antonio", "matched": "B12"}]}
    alias = json.loads(run("neighborhoods", "find", "--json", "derrumbe en tacagua alto").stdout)
    assert alias["places"] == [{"code": "B09", "name": "Alto Tacagua", "matched": "Tacagua Alto"}]
    result = run("neighborhoods", "find", "hay un bache en la calle 3", code=1)
    assert result.stdout == "" and "no neighbourhood found in 'hay un bache en la calle 3'" in result.stderr


def test_cli_find_shows_every_place_of_an_ambiguous_name(run, tmp_path):
    run("neighborhoods", "import", str(write(tmp_path, HEADER + "B20,San Pedro,,,,\nB21,San Pedro,,,,\n")))
    out = run("neighborhoods", "find", "basura en san pedro").stdout
    assert out.startswith("ambiguous: 2 neighbourhoods fit 'san pedro' equally well")
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["B20", "B21"]
    assert json.loads(run("neighborhoods", "find", "--json", "san pedro").stdout)["ambiguous"] is True


def test_cli_import_of_a_big_file_shows_progress_and_keeps_all_or_nothing(run, tmp_path):
    good = HEADER + "".join(f"Z{i},Zona {i},,,,\n" for i in range(1, 252))
    result = run("neighborhoods", "import", "--json", str(write(tmp_path, good)))
    assert json.loads(result.stdout) == {"added": 251, "updated": 0}  # stdout stays pure JSON
    assert "importing" in result.stderr
    small = run("neighborhoods", "import", str(write(tmp_path, HEADER + "Z1,Zona 1,,,,\n", "small.csv")))
    assert "importing" not in small.stderr and "0 added, 1 updated" in small.stdout
    # A clash found while importing (against what is stored) leaves everything as it was.
    bad = HEADER + "".join(f"Y{i},Nueva {i},,,,\n" for i in range(1, 251)) + "Y300,Otra,,,,Zona 7\n"
    result = run("neighborhoods", "import", str(write(tmp_path, bad, "bad.csv")), code=1)
    assert "line 252: alias 'Zona 7' is also the name of Z7 (already imported" in result.stderr
    assert Neighborhood.select().count() == 251
