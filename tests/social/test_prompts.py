"""Tests of prompt-aware segmentation (neco.social.prompts); every example is hand-written."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from neco.social.prompts import (
    PromptParse,
    Specifier,
    artist_references,
    looks_like_prompts,
    parse_weights,
    segment_prompt,
)


def _items(text: str, negative_prompt: str | None = None) -> list[tuple[str, float, str]]:
    """(text, weight, kind) of every specifier, in order."""
    return [(s.text, s.weight, s.kind) for s in segment_prompt(text, negative_prompt).specifiers]


def _positive(text: str) -> list[tuple[str, float]]:
    return [(s.text, s.weight) for s in segment_prompt(text).specifiers if not s.negative]


def _negative(text: str, negative_prompt: str | None = None) -> list[tuple[str, float, int]]:
    parse = segment_prompt(text, negative_prompt)
    return [(s.text, s.weight, s.position) for s in parse.specifiers if s.negative]


# ----------------------------------------------------------------------------- weights


def test_prompts_weights_explicit_number():
    assert parse_weights("a (red:1.3) car") == [("a ", 1.0), ("red", 1.3), (" car", 1.0)]
    assert parse_weights("(fog: 0.6 )") == [("fog", 0.6)]


def test_prompts_weights_round_brackets_multiply_per_level():
    assert parse_weights("(word)") == [("word", 1.1)]
    assert parse_weights("((word))") == [("word", 1.21)]
    assert parse_weights("(((word)))") == [("word", 1.331)]


def test_prompts_weights_square_brackets_divide_per_level():
    assert parse_weights("[word]") == [("word", 0.909091)]
    assert parse_weights("[[word]]") == [("word", 0.826446)]


def test_prompts_weights_explicit_number_inside_parens_multiplies_outer_levels():
    # A1111: the explicit number replaces its own pair's 1.1, outer pairs still apply.
    assert parse_weights("((a (b:1.5)))") == [("a ", 1.21), ("b", 1.815)]
    assert parse_weights("[(a:2)]") == [("a", 1.818182)]


def test_prompts_weights_interleaved_pairs_follow_their_own_kind():
    assert parse_weights("(a [b) c]") == [("a ", 1.1), ("b", 1.0), (" c", 0.909091)]


def test_prompts_weights_zero_and_negative_numbers():
    assert parse_weights("(a:0) (b:-.5)") == [("a", 0.0), (" ", 1.0), ("b", -0.5)]


def test_prompts_weights_escaped_brackets_are_literal():
    assert parse_weights(r"\(a\) (b)") == [("(a) ", 1.0), ("b", 1.1)]
    assert parse_weights(r"\[x\]") == [("[x]", 1.0)]
    # An escaped backslash before "(" leaves the "(" to open a group.
    assert parse_weights(r"\\(x)") == [("\\", 1.0), ("x", 1.1)]
    # A lone backslash is literal.
    assert parse_weights(r"a \ b") == [("a \\ b", 1.0)]


def test_prompts_weights_unbalanced_brackets_are_literal():
    assert parse_weights("((a)") == [("(", 1.0), ("a", 1.1)]
    assert parse_weights("a)) b") == [("a)) b", 1.0)]
    assert parse_weights("[a") == [("[a", 1.0)]
    assert parse_weights("a:1.3) b") == [("a:1.3) b", 1.0)]


def test_prompts_weights_non_numeric_weight_is_literal_text_in_plain_parens():
    assert parse_weights("(a:b)") == [("a:b", 1.1)]
    assert parse_weights("(a:1.2.3)") == [("a:1.2.3", 1.1)]
    assert parse_weights("(a:" + "9" * 400 + ")") == [("a:" + "9" * 400, 1.1)]


def test_prompts_weights_adjacent_equal_runs_merge():
    assert parse_weights("(a)(b)") == [("ab", 1.1)]
    assert parse_weights("(a:1.0) b") == [("a b", 1.0)]


def test_prompts_weights_leave_separators_and_tags_as_text():
    assert parse_weights("a, (b|c:1.2) <lora:x:0.5>") == [
        ("a, ", 1.0),
        ("b|c", 1.2),
        (" <lora:x:0.5>", 1.0),
    ]


def test_prompts_weights_empty_text_has_no_runs():
    assert parse_weights("") == []


# -------------------------------------------------------------------------- specifiers


def test_prompts_split_on_commas_and_bars_dropping_empties():
    parse = segment_prompt("a cat | a dog, ,, red")
    assert [(s.text, s.position, s.negative, s.kind) for s in parse.specifiers] == [
        ("a cat", 0, False, "text"),
        ("a dog", 1, False, "text"),
        ("red", 2, False, "text"),
    ]


def test_prompts_split_on_newlines_and_keywords():
    assert _positive("a cat BREAK a dog AND a bird\nmoss") == [
        ("a cat", 1.0),
        ("a dog", 1.0),
        ("a bird", 1.0),
        ("moss", 1.0),
    ]
    # Only the upper-case whole words are separators.
    assert _positive("rock and roll, BREAKING waves") == [
        ("rock and roll", 1.0),
        ("BREAKING waves", 1.0),
    ]


def test_prompts_specifier_split_inside_group_inherits_its_weight():
    assert _positive("(red hair, blue eyes:1.2), smile") == [
        ("red hair", 1.2),
        ("blue eyes", 1.2),
        ("smile", 1.0),
    ]
    assert _positive("[[dusk | dawn]]") == [("dusk", 0.826446), ("dawn", 0.826446)]


def test_prompts_specifier_text_is_whitespace_normalised_without_syntax():
    assert _positive("  ((glowing \t eyes))  ,\\(sic\\)") == [
        ("glowing eyes", 1.21),
        ("(sic)", 1.0),
    ]


def test_prompts_mixed_weight_specifier_uses_word_weighted_mean():
    assert _positive("a (red:1.3) car") == [("a red car", 1.1)]
    # A word cut by the syntax counts once in each run: (2 x 1.0 + 1.2 + 1.0) / 4.
    assert _positive("a super(man:1.2) flying") == [("a superman flying", 1.05)]
    # "a very" 2 words x 1.0, "tall" x 2.0, "old" x 1/1.1, "tower" x 1.0 -> 5.909091 / 5.
    assert _positive("a very (tall:2) [old] tower") == [("a very tall old tower", 1.181818)]
    # Whitespace-only runs carry no weight.
    assert _positive("(moon:1.4) ") == [("moon", 1.4)]


def test_prompts_unbalanced_brackets_stay_in_specifier_text():
    # The unmatched "(" is text without a word, so it does not pull the weight of "castle".
    assert _positive("((castle), moat") == [("(castle", 1.1), ("moat", 1.0)]
    assert _positive("moat)), (keep)") == [("moat))", 1.0), ("keep", 1.1)]


# ------------------------------------------------------------------------------ add-ons


def test_prompts_lora_tag_becomes_lora_specifier_removed_from_text():
    parse = segment_prompt("a cat <lora:inkStyle:0.7>, masterpiece")
    assert [(s.text, s.weight, s.position, s.kind) for s in parse.specifiers] == [
        ("a cat", 1.0, 0, "text"),
        ("inkStyle", 0.7, 1, "lora"),
        ("masterpiece", 1.0, 2, "text"),
    ]


def test_prompts_lora_tag_before_words_comes_first():
    assert _items("<lyco:paper cut:0.4> a fox") == [
        ("paper cut", 0.4, "lora"),
        ("a fox", 1.0, "text"),
    ]


def test_prompts_lora_weight_defaults_and_ignores_brackets():
    assert _items(
        "<hypernet:sketch>, <LORA:grain:abc>, (<lora:x:0.5> cat:1.2), <lora:y:0.3:0.9>"
    ) == [
        ("sketch", 1.0, "lora"),
        ("grain", 1.0, "lora"),
        ("x", 0.5, "lora"),
        ("cat", 1.2, "text"),
        ("y", 0.3, "lora"),
    ]


def test_prompts_lora_tag_without_name_yields_nothing():
    assert _items("<lora:>") == []
    assert _items("owl, <lora::0.5>") == [("owl", 1.0, "text")]


def test_prompts_embeddings_known_names_and_prefix():
    neg = "EasyNegative, badhandv4, (ng_deepnegative_v1_75t:1.2), embedding:myNeg, bad hands"
    assert _items("a cat", neg) == [
        ("a cat", 1.0, "text"),
        ("EasyNegative", 1.0, "embedding"),
        ("badhandv4", 1.0, "embedding"),
        ("ng_deepnegative_v1_75t", 1.2, "embedding"),
        ("myNeg", 1.0, "embedding"),
        ("bad hands", 1.0, "text"),
    ]


def test_prompts_embeddings_need_the_whole_specifier():
    assert _items("easynegative, EasyNegative style, verybadimagenegative_v1.3, embedding:") == [
        ("easynegative", 1.0, "embedding"),
        ("EasyNegative style", 1.0, "text"),
        ("verybadimagenegative_v1.3", 1.0, "embedding"),
        ("embedding:", 1.0, "text"),
    ]


# ----------------------------------------------------------------------------- negative


INFOTEXT = (
    "castle, moat\n"
    "Negative prompt: blurry, (lowres:1.3)\n"
    "Steps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: 42"
)


def test_prompts_negative_inline_infotext():
    parse = segment_prompt(INFOTEXT)
    assert parse.prompt == "castle, moat"
    assert parse.negative == "blurry, (lowres:1.3)"
    assert parse.parameters == {}
    assert [(s.text, s.weight, s.position, s.negative) for s in parse.specifiers] == [
        ("castle", 1.0, 0, False),
        ("moat", 1.0, 1, False),
        ("blurry", 1.0, 0, True),
        ("lowres", 1.3, 1, True),
    ]


def test_prompts_negative_marker_is_case_insensitive():
    parse = segment_prompt("a fox NEGATIVE PROMPT: ugly")
    assert (parse.prompt, parse.negative) == ("a fox", "ugly")


def test_prompts_steps_block_dropped_without_negative():
    parse = segment_prompt("a cat\nSteps: 20, Seed: 5, Size: 512x512")
    assert (parse.prompt, parse.negative) == ("a cat", None)
    assert _items("a cat\nSteps: 20, Seed: 5") == [("a cat", 1.0, "text")]


def test_prompts_steps_line_needs_a_number():
    assert _positive("stone stairs\nSteps: leading up") == [
        ("stone stairs", 1.0),
        ("Steps: leading up", 1.0),
    ]


def test_prompts_negative_argument():
    parse = segment_prompt("a cat", negative_prompt=" ugly, [blurry] ")
    assert parse.negative == "ugly, [blurry]"
    assert _negative("a cat", " ugly, [blurry] ") == [("ugly", 1.0, 0), ("blurry", 0.909091, 1)]


def test_prompts_negative_argument_wins_over_inline_part():
    parse = segment_prompt("a cat\nNegative prompt: dogs", negative_prompt="mice")
    assert (parse.prompt, parse.negative) == ("a cat", "mice")
    assert _negative("a cat\nNegative prompt: dogs", "mice") == [("mice", 1.0, 0)]


def test_prompts_blank_negative_argument_is_absent():
    assert segment_prompt("a cat", negative_prompt="  ").negative is None
    assert segment_prompt("a cat\nNegative prompt: dogs", negative_prompt="").negative == "dogs"


def test_prompts_midjourney_no_adds_negative_specifiers_after_negative_part():
    assert _negative("a cat --no dogs, birds", "blurry") == [
        ("blurry", 1.0, 0),
        ("dogs", 1.0, 1),
        ("birds", 1.0, 2),
    ]
    parse = segment_prompt("a cat --no dogs, birds")
    assert parse.negative is None
    assert parse.parameters == {"no": "dogs, birds"}


# --------------------------------------------------------------------------- parameters


def test_prompts_midjourney_parameters():
    text = (
        "a lighthouse at dusk --ar 16:9 --v 6.1 --style raw --s 250 --chaos 20 --q 2"
        " --seed 123 --tile --niji 6"
    )
    parse = segment_prompt(text)
    assert parse.prompt == text
    assert parse.parameters == {
        "ar": "16:9",
        "v": "6.1",
        "style": "raw",
        "s": "250",
        "chaos": "20",
        "q": "2",
        "seed": "123",
        "tile": "",
        "niji": "6",
    }
    assert [(s.text, s.position, s.kind, s.negative) for s in parse.specifiers] == [
        ("a lighthouse at dusk", 0, "text", False),
        ("--ar 16:9", 1, "parameter", False),
        ("--v 6.1", 2, "parameter", False),
        ("--style raw", 3, "parameter", False),
        ("--s 250", 4, "parameter", False),
        ("--chaos 20", 5, "parameter", False),
        ("--q 2", 6, "parameter", False),
        ("--seed 123", 7, "parameter", False),
        ("--tile", 8, "parameter", False),
        ("--niji 6", 9, "parameter", False),
    ]


def test_prompts_midjourney_parameters_come_after_text_specifiers():
    assert _items("owl --ar 1:1 --tile moss, (fern:1.2)") == [
        ("owl", 1.0, "text"),
        ("moss", 1.0, "text"),
        ("fern", 1.2, "text"),
        ("--ar 1:1", 1.0, "parameter"),
        ("--tile", 1.0, "parameter"),
    ]


def test_prompts_midjourney_em_dash_and_case():
    parse = segment_prompt("a heron \u2014AR 3:2 \u2014no reeds")
    assert parse.parameters == {"ar": "3:2", "no": "reeds"}
    assert _items("a heron \u2014AR 3:2 \u2014no reeds") == [
        ("a heron", 1.0, "text"),
        ("--ar 3:2", 1.0, "parameter"),
        ("--no reeds", 1.0, "parameter"),
        ("reeds", 1.0, "text"),
    ]


def test_prompts_midjourney_repeated_key_keeps_last_value():
    parse = segment_prompt("x --sref a b --sref c")
    assert parse.parameters == {"sref": "c"}
    assert [s.text for s in parse.specifiers] == ["x", "--sref a b", "--sref c"]


def test_prompts_double_dash_inside_words_is_not_a_parameter():
    parse = segment_prompt("pre--war house, a cat -- sitting")
    assert parse.parameters == {}
    assert [s.text for s in parse.specifiers] == ["pre--war house", "a cat -- sitting"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("masterpiece:1.2", [("masterpiece", 1.2)]),
        ("sachin teng:4", [("sachin teng", 4.0)]),
        ("fog :0.5, rain: 2", [("fog", 0.5), ("rain", 2.0)]),
        ("((cat)):2", [("cat", 2.42)]),  # 1.1 x 1.1 from the brackets, x 2 from the suffix
        ("(red hair:1.2):2, owl", [("red hair", 2.4), ("owl", 1.0)]),
        ("a [dog]:.5", [("a dog", 0.477273)]),  # (1.0 + 0.909091) / 2 = 0.954545, x 0.5
        ("16:9, 12:30, ratio 4:3", [("16:9", 1.0), ("12:30", 1.0), ("ratio 4:3", 1.0)]),
        (":2", [(":2", 1.0)]),  # no word before the colon: text
    ],
)
def test_prompts_weight_suffix(text: str, expected: list[tuple[str, float]]) -> None:
    assert _positive(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cat::2 dog::-0.5", [("cat", 2.0), ("dog", -0.5)]),
        ("hot:: dog", [("hot", 1.0), ("dog", 1.0)]),
        ("space ship::3 sci-fi, dark", [("space ship", 3.0), ("sci-fi", 1.0), ("dark", 1.0)]),
        ("red fox, snow::1.5 (forest:1.2)::.5", [("red fox", 1.5), ("snow", 1.5),
                                                 ("forest", 0.6)]),
        ("owl <lora::0.5>::2", [("owl", 2.0)]),  # the "::" of a tag is not a separator
    ],
)  # fmt: skip
def test_prompts_midjourney_multi_prompt_weights(text: str, expected) -> None:
    assert _positive(text) == expected
    positions = [s.position for s in segment_prompt(text).specifiers]
    assert positions == list(range(len(positions)))


def test_prompts_multi_prompt_keeps_parameters_and_negative_part():
    parse = segment_prompt("cat::2 dog --ar 3:2 --no fur::3")
    assert [(s.text, s.weight, s.negative, s.kind) for s in parse.specifiers] == [
        ("cat", 2.0, False, "text"),
        ("dog", 1.0, False, "text"),
        ("--ar 3:2", 1.0, False, "parameter"),
        ("--no fur::3", 1.0, False, "parameter"),
        ("fur", 3.0, True, "text"),
    ]


# ------------------------------------------------------------------------------ artists


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("by alphonse mucha", ["alphonse mucha"]),
        ("portrait of a witch by Alphonse Mucha.", ["alphonse mucha"]),
        ("art by greg rutkowski and artgerm", ["greg rutkowski", "artgerm"]),
        ("artwork by Hokusai", ["hokusai"]),
        ("painted by caspar david friedrich", ["caspar david friedrich"]),
        ("in the style of John Singer Sargent", ["john singer sargent"]),
        ("style of hilma af klint", ["hilma af klint"]),
        ("inspired by edward hopper", ["edward hopper"]),
        ("a castle by the sea by john martin", ["john martin"]),
        ("a cottage lit by candles by thomas kinkade", ["thomas kinkade"]),
        ("a harbour in the style of J. M. W. Turner!", ["j. m. w. turner"]),
    ],
)
def test_prompts_artist_reference_positive(text: str, names: list[str]) -> None:
    (spec,) = segment_prompt(text).specifiers
    assert spec.artist == names[0]
    assert artist_references(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "a castle by the sea",
        "a cabin by a lake",
        "a city by night",
        "a man lit by candles",
        "a girl surrounded by wolves",
        "a car covered by snow",
        "pottery made by hand",
        "a boy followed by his dog",
        "a window framed by ivy",
        "a knight guarded by ghosts",
        "a ruin illuminated by moonlight",
        "side by side",
        "a grid 16 by 9",
        "Picasso style",
        "a dress in the style of the 1920s",
        "painted by someone who loved the quiet mornings of early spring",
    ],
)
def test_prompts_artist_reference_false_positive_guards(text: str) -> None:
    (spec,) = segment_prompt(text).specifiers
    assert spec.artist is None
    assert artist_references(text) == []


def test_prompts_artist_references_all_names_in_order_with_repeats():
    text = "a pond, by Monet, art by greg rutkowski & artgerm, (by monet:1.2), lit by candles"
    assert artist_references(text) == ["monet", "greg rutkowski", "artgerm", "monet"]


def test_prompts_artist_references_skip_negative_part_and_non_text_kinds():
    assert artist_references("a fox\nNegative prompt: by bad artist") == []
    parse = segment_prompt("by turner <lora:by mucha:0.5>")
    assert [(s.text, s.kind, s.artist) for s in parse.specifiers] == [
        ("by turner", "text", "turner"),
        ("by mucha", "lora", None),
    ]


def test_prompts_artist_second_name_failing_guard_is_dropped():
    assert artist_references("by claude monet and the sea") == ["claude monet"]


def _artists(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """(text, artists) of every positive text specifier."""
    return [(s.text, s.artists) for s in segment_prompt(text).specifiers if not s.negative]


def test_prompts_artist_every_name_of_one_specifier():
    (spec,) = segment_prompt("art by Greg Rutkowski and Artgerm").specifiers
    assert (spec.artist, spec.artists) == ("greg rutkowski", ("greg rutkowski", "artgerm"))
    (spec,) = segment_prompt("by hokusai & hiroshige + kuniyoshi").specifiers
    assert spec.artists == ("hokusai", "hiroshige", "kuniyoshi")


def test_prompts_artist_list_across_commas_closed_by_and():
    text = "a harbour, by monet, renoir, sisley, pissarro, morisot and cassatt, 8k"
    assert _artists(text) == [
        ("a harbour", ()),
        ("by monet", ("monet",)),
        ("renoir", ("renoir",)),
        ("sisley", ("sisley",)),
        ("pissarro", ("pissarro",)),
        ("morisot and cassatt", ("morisot", "cassatt")),
        ("8k", ()),
    ]
    assert artist_references(text) == [
        "monet", "renoir", "sisley", "pissarro", "morisot", "cassatt",
    ]  # fmt: skip
    # the Oxford comma, and "&" closing the list
    assert artist_references("by john constable, thomas girtin, and david cox") == [
        "john constable", "thomas girtin", "david cox",
    ]  # fmt: skip
    assert artist_references("style of klimt, schiele & kokoschka") == [
        "klimt", "schiele", "kokoschka",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [
        "by claude monet, dark fantasy, octane render",  # an open list: no closing "and"
        "by claude monet, highly detailed and intricate",  # descriptors, not names
        "by claude monet, 4k and 8k",  # digits
        "by claude monet, light and shadow",  # "light" cannot start a name
        "by claude monet, a fox and a hare",  # determiners
        "by claude monet, fox, portrait of a hare and a fox",  # a preposition
        "a castle by the sea, fox and hare",  # no artist to continue
        "by claude monet:1.2, 8k, fox and hare",  # "8k" interrupts the list
    ],
)
def test_prompts_artist_list_not_continued(text: str) -> None:
    assert artist_references(text) == (["claude monet"] if text.startswith("by claude") else [])


def test_prompts_artist_weight_suffix_does_not_leak_into_the_name():
    (spec,) = segment_prompt("by sachin teng:4").specifiers
    assert (spec.text, spec.weight, spec.artists) == ("by sachin teng", 4.0, ("sachin teng",))
    (spec,) = segment_prompt("by sachin teng:1.5 and artgerm").specifiers
    assert spec.artists == ("sachin teng", "artgerm")


# -------------------------------------------------------------------- looks_like_prompts


PROMPTS = [
    "masterpiece, best quality, 1girl, silver hair, (glowing eyes:1.3), night sky",
    "a cyberpunk alley in the rain, neon signs, highly detailed, octane render, 8k",
    "portrait of an old fisherman, dramatic light, art by greg rutkowski, trending on artstation",
    "cozy cabin in snowy woods, warm windows, smoke from chimney --ar 16:9 --v 6",
    "((red fox)), autumn forest, fallen leaves, soft morning mist",
    "a ceramic teapot shaped like a snail <lora:clayStyle:0.8>",
    "isometric island, tiny houses, waterfall, pastel colours, low poly",
    "cat astronaut floating in space, stars, planet earth, unreal engine",
    "a lighthouse on a cliff, stormy sea, crashing waves, oil painting",
    "knight in shining armour, castle gate, sunset, cinematic lighting",
]

CAPTIONS = [
    "A man riding a wave on top of a surfboard.",
    "Two dogs play with a frisbee in a grassy park.",
    "A plate of pasta sits next to a glass of red wine.",
    "This oil painting shows a harbour at dawn, with fishing boats returning to port.",
    "Portrait of a merchant, painted in Antwerp around 1530 and acquired by the museum in 1911.",
    "The mayor, left, greets residents, right, at the opening of the library, in Leeds, Monday.",
    "She bought apples, pears, plums, and figs at the market.",
    "Firefighters battle a blaze at a warehouse on the east side of the city (10:30).",
    "A bowl of fruit on a wooden kitchen table",
    "Children walk to school along a flooded road after heavy rain.",
]


def test_prompts_looks_like_prompts_on_prompt_lines():
    assert looks_like_prompts(PROMPTS)
    # Every hand-written prompt shows a signal on its own.
    assert [looks_like_prompts([p], threshold=1.0) for p in PROMPTS] == [True] * 10


def test_prompts_looks_like_prompts_false_on_captions():
    assert not looks_like_prompts(CAPTIONS)
    assert [looks_like_prompts([c], threshold=0.01) for c in CAPTIONS] == [False] * 10


def test_prompts_looks_like_prompts_share_against_threshold():
    mixed = PROMPTS[:3] + CAPTIONS[:7]  # 3 of 10 show a signal
    assert looks_like_prompts(mixed, threshold=0.3)
    assert not looks_like_prompts(mixed, threshold=0.31)


@pytest.mark.parametrize(
    "text",
    [
        "a cat (sleeping:0.8)",
        "a cat [[sleeping]]",
        "a cat <lyco:fur:1>",
        "a cat --niji 6",
        "a cat\nNegative prompt: dog",
        "a cat, Sharp Focus",
        "cat, sofa, lamp, rug",
    ],
)
def test_prompts_looks_like_prompts_each_signal(text: str) -> None:
    assert looks_like_prompts([text], threshold=1.0)


def test_prompts_looks_like_prompts_blank_and_non_strings_are_skipped():
    assert not looks_like_prompts([])
    assert not looks_like_prompts(["", "   "])
    assert looks_like_prompts(["", "masterpiece, cat", None, "A cat."], threshold=0.5)  # type: ignore[list-item]


def test_prompts_looks_like_prompts_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold"):
        looks_like_prompts(PROMPTS, threshold=1.5)


# --------------------------------------------------------------------------- robustness


ODD = [
    "",
    " ",
    "((((",
    "))",
    "]]][[[",
    ":1.3",
    ":1.3)",
    "(a:b)",
    "(:)",
    "()",
    "[]",
    "<lora:>",
    "<lora:",
    "<>",
    "--ar",
    "--",
    "\u2014",
    "Negative prompt:",
    "Negative prompt:\nSteps: 1",
    "\\",
    "\\(",
    "a\x00b\u200b",
    "BREAK",
    "AND AND",
    "by",
    "by and",
    "in the style of",
    ",|,|\n",
    "(a:1e400)",
    "(" * 50_000,
    ")" * 50_000,
    "(" * 2_000 + "x" + ")" * 2_000,
    "[" * 2_000 + "x" + "]" * 2_000,
    "word, " * 20_000,
]


@pytest.mark.parametrize("text", ODD)
def test_prompts_robust_on_odd_inputs(text: str) -> None:
    parse = segment_prompt(text, negative_prompt=text)
    assert isinstance(parse, PromptParse)
    for spec in parse.specifiers:
        assert spec.text == spec.text.strip()
        assert spec.text
    parse_weights(text)
    artist_references(text)
    looks_like_prompts([text])


def test_prompts_robust_exact_results_on_odd_inputs():
    assert segment_prompt("") == PromptParse("", None, (), {})
    assert _items("((((") == [("((((", 1.0, "text")]
    assert _items("))") == [("))", 1.0, "text")]
    assert _items(":1.3") == [(":1.3", 1.0, "text")]
    assert _items("(a:b)") == [("a:b", 1.1, "text")]
    assert _items("--ar") == [("--ar", 1.0, "parameter")]
    assert segment_prompt("--ar").parameters == {"ar": ""}
    assert _items("Negative prompt:") == []
    assert segment_prompt("Negative prompt:").negative == ""
    assert _items("AND AND") == []
    assert _items("(a:1e400)") == [("a:1e400", 1.1, "text")]


def test_prompts_robust_deep_nesting_weights():
    (spec,) = segment_prompt("(" * 300 + "x" + ")" * 300).specifiers
    assert spec.text == "x"
    assert spec.weight == pytest.approx(1.1**300, rel=1e-9)
    (spec,) = segment_prompt("[" * 300 + "x" + "]" * 300).specifiers
    assert spec.weight == 0.0  # 1.1 ** -300 rounds to 0 at six decimals


def test_prompts_robust_random_syntax_soup():
    rng = random.Random(20240611)
    alphabet = ["(", ")", "[", "]", ":", "1.2", ",", "|", "\\", "<lora:a:0.5>", " ", "by ", "x"]
    alphabet += ["--ar 1:1", "\n", "Negative prompt:", "BREAK", "0", "<", ">", "\u2014no"]
    for _ in range(2_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        parse = segment_prompt(text)
        positive = [s.position for s in parse.specifiers if not s.negative]
        negative = [s.position for s in parse.specifiers if s.negative]
        assert positive == list(range(len(positive)))
        assert negative == list(range(len(negative)))
        assert all(s.kind in {"text", "lora", "embedding", "parameter"} for s in parse.specifiers)
        assert all(s.text and s.text == s.text.strip() for s in parse.specifiers)
        runs = parse_weights(text)
        assert all(a[1] != b[1] for a, b in itertools.pairwise(runs))
        # The runs keep every character that is not weight syntax.
        joined = "".join(t for t, _ in runs)
        assert [joined.count(c) for c in "x,|<>ab"] == [text.count(c) for c in "x,|<>ab"]


def test_prompts_specifiers_are_frozen():
    spec = Specifier("owl", 1.0, 0, False, None, "text")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.weight = 2.0  # type: ignore[misc]
