from neco.corpus.normalise import escape_undecodable, has_undecodable, normalise_text


def test_normalise_nfc_composes_accents():
    decomposed = "Cafe\u0301"
    assert normalise_text(decomposed) == "Caf\u00e9"
    assert len(normalise_text(decomposed)) == 4


def test_normalise_removes_controls_and_collapses_whitespace():
    assert normalise_text("\ta\x00b\u200b  c\r\n\n d\u00a0e ") == "ab c d e"


def test_normalise_keeps_emoji_joiner():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalise_text(f" {family} ") == family


def test_normalise_removes_c1_controls_and_bom_but_next_line_is_a_space():
    # U+0085 NEXT LINE is whitespace (collapsed to a space); U+009F is a control (removed).
    assert normalise_text("\ufeffx\x85y\x9fz") == "x yz"


def test_undecodable_detection_and_escape():
    text = b"Caf\xe9".decode("utf-8", "surrogateescape")
    assert has_undecodable(text)
    assert not has_undecodable("Café")
    assert escape_undecodable(text) == "Caf\\xe9"
