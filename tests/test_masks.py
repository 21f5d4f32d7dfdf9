"""Masks (SPEC section 3) against a reference written here from the SPEC's words.

"For a value of n characters (code points): r = 0 if n < 8 else min(12, n // 4) characters
are revealed, s = min(4, r // 2) of them at the end and r - s at the start, joined by `***`;
with r = 0 the mask is `***`."
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultfront.masks import mask_value

ALPHABETS = {
    "ascii letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits and symbols": "0123456789_-+/=.:*",
    "latin-1": "éàüßøñçÉÀÜ",
    "cjk": "鍵秘密値設定環境本番開発",
    "astral (emoji, outside the BMP)": "😀🔑🗝🚀🦀\U0001d518\U0001d52b\U0001d526",
    "combining marks": "e\u0301a\u0300o\u0308",
    "mixed": "aé鍵😀_1\u0301*",
}


def reference_mask(value: str) -> str:
    characters = list(value)  # code points, whatever their UTF-8 or UTF-16 length
    n = len(characters)
    revealed = 0 if n < 8 else min(12, n // 4)
    if revealed == 0:
        return "***"
    at_end = min(4, revealed // 2)
    at_start = revealed - at_end
    start = "".join(characters[:at_start])
    end = "".join(characters[n - at_end :])
    return start + "***" + end


def sample(alphabet: str, length: int, rng: random.Random) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


@pytest.mark.parametrize("alphabet", list(ALPHABETS.values()), ids=list(ALPHABETS))
def test_every_length_from_0_to_200(alphabet: str) -> None:
    rng = random.Random(f"masks-{alphabet}")
    for length in range(201):
        for _ in range(3):
            value = sample(alphabet, length, rng)
            assert mask_value(value) == reference_mask(value), (length, value)
        # Distinct characters at every position catch off-by-one slicing.
        distinct = "".join(chr(0x4E00 + i) for i in range(length))
        assert mask_value(distinct) == reference_mask(distinct), length


@pytest.mark.parametrize(
    ("length", "start", "end"),
    [
        (0, 0, 0),
        (7, 0, 0),
        (8, 1, 1),  # r = 2
        (11, 1, 1),
        (12, 2, 1),  # r = 3
        (16, 2, 2),  # r = 4
        (20, 3, 2),  # r = 5
        (32, 4, 4),  # r = 8
        (36, 5, 4),  # r = 9
        (47, 7, 4),  # r = 11
        (48, 8, 4),  # r = 12, the most ever revealed
        (200, 8, 4),
    ],
)
def test_worked_examples(length: int, start: int, end: int) -> None:
    value = "".join(chr(ord("A") + i % 26) for i in range(length))
    expected = value[:start] + "***" + (value[length - end :] if end else "")
    assert mask_value(value) == expected, (length, mask_value(value))


def test_the_spec_example() -> None:
    key = "sk_live_" + "x" * 95 + "RgA1"
    assert len(key) == 107
    assert mask_value(key) == "sk_live_***RgA1"


def test_a_short_value_reveals_nothing() -> None:
    for value in ("", "a", "hunter2", "😀" * 7):
        assert mask_value(value) == "***", value


@given(st.text(max_size=300))
def test_property_matches_the_spec(value: str) -> None:
    mask = mask_value(value)
    assert mask == reference_mask(value)
    n = len(value)
    shown = len(mask) - 3
    assert mask.count("***") >= 1
    assert shown == (0 if n < 8 else min(12, n // 4))
    # Never more than a quarter of the value, never more than 12 characters.
    assert shown <= n // 4 and shown <= 12
    if n >= 8:
        assert value.startswith(mask[: mask.index("***")])
        assert value.endswith(mask[mask.index("***") + 3 :])


@given(st.text(alphabet=st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), min_size=8))
def test_property_counts_code_points_not_bytes(value: str) -> None:
    # Every character here is 4 bytes of UTF-8 and 2 units of UTF-16: the mask must cut
    # between code points, so it re-encodes cleanly and reveals exactly r characters.
    mask = mask_value(value)
    assert mask == reference_mask(value)
    mask.encode("utf-8")
    assert len(mask) - 3 == min(12, len(value) // 4)
