"""domain.words: folding, splitting and stemming a resident's words."""

from hypothesis import given
from hypothesis import strategies as st

from barriosms.domain.words import fold, stem, stems, words


def test_words_are_folded_and_a_glued_code_comes_apart():
    assert words("B12hay un BACHE en la Cañería!!") == ["b", "12", "hay", "un", "bache", "en", "la", "caneria"]
    assert words("") == [] and words("¿?¡! 😀") == []


def test_forms_of_one_word_share_a_stem():
    assert stem("baches") == stem("bache")
    assert stem("alcantarillado") == stem("alcantarilla")
    assert stem("postes") == stem("poste")
    assert stems("3 FOCOS") == ["3", stem("foco")]


@given(st.text(max_size=80))
def test_any_text_gives_folded_ascii_words_and_one_stem_each(text):
    found = words(text)
    assert all(w.isascii() and w.isalnum() and w == fold(w) for w in found)
    assert len(stems(text)) == len(found)
