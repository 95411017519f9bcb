"""The tokenizer: lowercase, then split at every character that is not alphanumeric."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hive_core.memory import tokenize


def _by_definition(text: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    for ch in text.lower():
        if ch.isalnum():
            current.append(ch)
        elif current:
            pieces.append("".join(current))
            current = []
    if current:
        pieces.append("".join(current))
    return pieces


def test_lowercases_and_splits_on_non_alphanumerics() -> None:
    """Punctuation, whitespace and underscores separate terms; empties are dropped."""
    assert tokenize("Hello, World! foo_bar  x--y 42nd") == [
        "hello",
        "world",
        "foo",
        "bar",
        "x",
        "y",
        "42nd",
    ]


def test_empty_and_separator_only_texts_have_no_terms() -> None:
    """Nothing but separators gives no terms at all."""
    assert tokenize("") == []
    assert tokenize(" ,.;-_!? \n\t") == []


def test_unicode_letters_and_digits_are_kept() -> None:
    """Non-ASCII letters and digits belong to terms, and case folds per Unicode."""
    assert tokenize("Ça VA? Straße ÉTÉ ١٢٣ 東京") == [
        "ça",
        "va",
        "straße",
        "été",
        "١٢٣",
        "東京",
    ]


def test_lowercasing_happens_before_splitting() -> None:
    """'İ' lowercases to 'i' plus a combining dot, which then separates terms."""
    assert tokenize("İx") == ["i", "x"]


@given(st.text(max_size=60))
def test_matches_the_character_by_character_definition(text: str) -> None:
    """The regex tokenizer equals a literal reading of docs/memory.md for any text."""
    assert tokenize(text) == _by_definition(text)
