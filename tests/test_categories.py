"""Category rules: the default file, keyword matching, and errors a technician can make."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from barriosms.domain.categories import CategoryRules, categorize, fold
from barriosms.domain.errors import TemplateError
from barriosms.templates.loader import load_categories

ROOT = Path(__file__).resolve().parent.parent
CONFIG_COPY = ROOT / "config" / "categories.es.ini"


@pytest.fixture(scope="module")
def rules() -> CategoryRules:
    return load_categories()


def test_default_file_has_the_agreed_categories_in_priority_order(rules: CategoryRules) -> None:
    assert rules.rules == (
        ("riesgos", ("derrumbe", "deslizamiento", "mazamorra", "muro", "riada")),
        ("agua", ("agua", "alcantarilla", "desague", "drenaje", "sumidero", "cañeria")),
        ("alumbrado", ("luz", "poste", "foco", "alumbrado")),
        ("residuos", ("basura", "escombros", "contenedor")),
        ("vias", ("bache", "pavimento", "calle", "acera", "gradas")),
    )
    assert rules.default == "otros"
    assert rules.names == ("riesgos", "agua", "alumbrado", "residuos", "vias", "otros")


def test_default_file_labels_every_category_for_people(rules: CategoryRules) -> None:
    assert [rules.label(name) for name in rules.names] == [
        "Riesgos (derrumbes, riadas)", "Agua y alcantarillado", "Alumbrado público", "Basura y escombros",
        "Vías y aceras", "Otros",
    ]


def test_a_category_without_a_label_is_its_name_capitalised() -> None:
    rules = CategoryRules(rules=(("agua_potable", ("agua",)),), labels=(("otros", "Otras cosas"),))
    assert rules.label("agua_potable") == "Agua potable"
    assert rules.label("otros") == "Otras cosas"
    assert rules.label("antigua") == "Antigua"  # a category old cases have, no longer in the file


def test_config_copy_is_identical_to_package_default() -> None:
    packaged = resources.files("barriosms.templates").joinpath("categories.es.ini").read_bytes()
    assert CONFIG_COPY.read_bytes() == packaged
    assert load_categories(CONFIG_COPY) == load_categories()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # The generic word "calle" must not steal reports from specific categories.
        ("no hay luz en la calle", "alumbrado"),
        ("la calle esta sin agua", "agua"),
        ("bache en la calle 3", "vias"),
        ("hay un bache grande en la calle 3", "vias"),
        ("Hay BACHES en toda la avenida", "vias"),
        ("se rompio el pavimento", "vias"),
        ("las gradas de la calle Jaen estan rotas", "vias"),
        ("la acera esta hundida", "vias"),
        # Accents, capitals, missing accents, ñ typed as n.
        ("CAÑERÍA ROTA frente a la escuela", "agua"),
        ("caneria rota", "agua"),
        ("cañeria rota", "agua"),
        ("Se rebalsa el alcantarillado", "agua"),
        ("el desagüe esta tapado", "agua"),
        ("DESAGUE TAPADO", "agua"),
        ("sumideros tapados con basura y agua en la calle", "agua"),  # agua 2 vs residuos 1
        ("no hay agua desde el lunes", "agua"),
        # Lighting.
        ("Poste caido en la esquina", "alumbrado"),
        ("los focos de la plaza no prenden", "alumbrado"),
        ("no hay luces en el pasaje", "alumbrado"),  # plural of luz
        ("Alumbrado publico apagado", "alumbrado"),
        # Waste.
        ("botan basura en la calle", "residuos"),  # 1 - 1 tie: residuos is listed first
        ("hay escombros en la acera", "residuos"),
        ("dejaron escombro en la calle", "residuos"),  # singular of a plural keyword
        ("el contenedor esta lleno", "residuos"),
        ("BASURERO lleno", "otros"),  # "basurero" does not start with "basura": known limit
        # Risks.
        ("derrumbe en la ladera, la calle esta cerrada", "riesgos"),
        ("Mazamorra bajando por las gradas", "riesgos"),  # tie 1-1: riesgos first
        ("se esta cayendo el muro de contencion", "riesgos"),
        ("deslizamiento de tierra en Pampahasi", "riesgos"),
        ("riada en el rio Orkojahuira", "riesgos"),
        ("el muro se cae sobre la calle y el agua", "riesgos"),  # 1-1-1: first listed wins
        # Nothing: default.
        ("perros sueltos en la plaza", "otros"),
        ("", "otros"),
        ("???", "otros"),
        # Prefix match, not substring: "agua" inside a word does not count.
        ("paraguas olvidado", "otros"),
    ],
)
def test_categorize(text: str, category: str, rules: CategoryRules) -> None:
    assert categorize(text, rules) == category


def test_score_counts_words_not_keywords() -> None:
    rules = CategoryRules(rules=(("a", ("agua", "aguas")), ("b", ("luz",))), default="otros")
    # "aguas" matches both keywords of "a" but counts once: 1 - 1, "a" wins the tie as first.
    assert categorize("aguas luz", rules) == "a"
    assert categorize("aguas luz luces", rules) == "b"


def test_custom_default_and_names() -> None:
    rules = CategoryRules(rules=(("otros", ("varios",)), ("agua", ("agua",))), default="otros")
    assert rules.names == ("otros", "agua")
    assert categorize("nada", rules) == "otros"


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Cañería", "caneria"), ("DESAGÜE", "desague"), ("Árbol", "arbol"), ("ß", "ss")],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


# --- loading an edited file ---------------------------------------------------------------------

GOOD = """
[categories]
agua = agua, cañeria
vias = bache,
    calle

[options]
default = varios
"""


def write(tmp_path: Path, text: str, name: str = "categories.es.ini") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_edited_file(tmp_path: Path) -> None:
    rules = load_categories(write(tmp_path, GOOD))
    assert rules == CategoryRules(
        rules=(("agua", ("agua", "cañeria")), ("vias", ("bache", "calle"))), default="varios"
    )
    assert categorize("hola", rules) == "varios"
    assert categorize("caneria rota", rules) == "agua"


def test_options_section_is_optional(tmp_path: Path) -> None:
    assert load_categories(write(tmp_path, "[categories]\nagua = agua\n")).default == "otros"


def test_labels_section_is_optional(tmp_path: Path) -> None:
    rules = load_categories(write(tmp_path, GOOD))
    assert rules.labels == ()
    assert [rules.label(name) for name in rules.names] == ["Agua", "Vias", "Varios"]


def test_labels_may_have_accents_and_may_name_the_default(tmp_path: Path) -> None:
    text = GOOD + "\n[labels]\nvias = Vías  y\n  aceras\nvarios = Otros problemas\n"
    rules = load_categories(write(tmp_path, text))
    assert rules.labels == (("vias", "Vías y aceras"), ("varios", "Otros problemas"))
    assert [rules.label(name) for name in rules.names] == ["Agua", "Vías y aceras", "Otros problemas"]
    assert categorize("bache", rules) == "vias"  # labels change nothing in matching


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.ini"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_categories(path).default == "varios"


@pytest.mark.parametrize(
    ("text", "key", "words_in_message"),
    [
        ("[categorias]\nagua = agua\n", "[categories]", ["section is missing"]),
        ("[categories]\n", "[categories]", ["no categories"]),
        ("[categories]\nagua =\n", "agua", ["no keywords"]),
        ("[categories]\nagua = agua\nvias = bache, agua\n", "vias", ["'agua'", "only one category"]),
        ("[categories]\nagua = agua\nagua = desague\n", "agua", ["twice"]),
        ("[categories]\nvías = bache\n", "vías", ["without accents", "vias"]),
        ("[categories]\nagua = no hay agua\n", "agua", ["single word"]),
        ("[categories]\nagua = agua\n[options]\ndefecto = otros\n", "defecto", ["unknown option"]),
        ("[categories]\nagua = agua\n[options]\ndefault = Otros Mas\n", "default", ["not a valid"]),
        ("[categories]\nagua = agua\n[extra]\nx = y\n", "[extra]", ["unknown section"]),
        ("[categories]\nagua = agua\n[labels]\nvias = Vías y aceras\n", "[labels] vias",
         ["'vias' is not a category", "agua, otros", "delete this line"]),
        ("[categories]\nagua = agua\n[labels]\nagua =\n", "[labels] agua", ["label is empty", "agua = Agua"]),
        ("[categories]\nagua = agua\n[labels]\nagua = " + "x" * 61 + "\n", "[labels] agua", ["too long"]),
        ("[categories]\nagua = agua\n[labels]\nagua = Agua\nagua = Aguas\n", "agua", ["twice"]),
        ("agua = agua\n", "line 1", ["section header"]),
        ("[categories]\nagua agua\n", "line(s) 2", ["key = value"]),
    ],
)
def test_errors_name_file_key_and_fix(tmp_path: Path, text: str, key: str, words_in_message: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TemplateError) as excinfo:
        load_categories(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert key in message
    assert "Fix:" in message
    for words in words_in_message:
        assert words in message


def test_not_utf8_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "latin1.ini"
    path.write_bytes("[categories]\nagua = cañeria\n".encode("latin-1"))
    with pytest.raises(TemplateError, match=r"line 2 is not UTF-8.*Fix: save the file"):
        load_categories(path)


def test_missing_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"nope\.ini: cannot read the file"):
        load_categories(tmp_path / "nope.ini")


def test_staff_can_list_the_categories_their_labels_and_keywords(invoke):
    import json

    rows = json.loads(invoke("categories", "list", "--json").output)
    assert [r["category"] for r in rows] == ["riesgos", "agua", "alumbrado", "residuos", "vias", "otros"]
    assert rows[-1]["default"] and not rows[0]["default"]
    assert "bache" in rows[4]["keywords"] and rows[1]["label"] == "Agua y alcantarillado"
    assert "otros (default)" in invoke("categories", "list").output
