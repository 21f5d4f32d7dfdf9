"""`layout.find_committed`: the executor's lookup of a few names in an index map's JSON
text, compared with the full parse it replaces (`committed_items(json.loads(text))`).

The maps here are raw JSON, as Vault may hold them: besides what the facade writes today,
documents written by vaultfront 0.1 may still carry `pending` objects and entries without a
value (a staged create); the executor must read those right too."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultfront import layout

CT = "vault:v1:Zm9vYmFyYmF6cXV4K2FzZC9hc2RmPT0xMjM0NTY3ODkwYWJjZGVmZ2hpams="


def full_parse(text: str, names: list[str]) -> dict[str, Any]:
    committed = layout.committed_items(json.loads(text))
    return {name: committed[name] for name in names if name in committed}


def entry(**fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "version": fields.pop("version", 1), **fields}


def pending(name: str, **fields: Any) -> dict[str, Any]:
    return {"op": str(uuid.uuid4()), "name": name, "version": 2, **fields}


def compact(raw: dict[str, dict[str, Any]]) -> str:
    """The map as the facade writes it: compact, names sorted (`layout.encode_index`)."""
    return json.dumps({name: raw[name] for name in sorted(raw)}, separators=(",", ":"))


ADVERSARIAL = {
    "A": entry(ct=CT),
    "AB": entry(ct=CT.replace("v1", "v2")),
    "ABC": entry(ref="orgs/acme/staging/large/x-1"),
    # A create not committed yet: only `pending`, no value.
    "NEW_ONE": entry(pending=pending("NEW_ONE", ct=CT)),
    # A pending rename of OLD_NAME to RENAMED: the new name is only a string value.
    "OLD_NAME": entry(ct=CT, pending=pending("RENAMED", ct=CT)),
    # A pending clear: the committed value is still the current one.
    "CLEARING": entry(ct=CT, pending=pending("CLEARING", gone=True)),
    "XAB": entry(ct=CT),  # AB and B are suffixes of it
    "Z": entry(ct=CT),
}


def test_finds_exact_names_never_prefixes_or_suffixes_and_only_committed_values() -> None:
    text = compact(ADVERSARIAL)
    names = ["A", "AB", "ABC", "ABCD", "NEW_ONE", "OLD_NAME", "RENAMED", "CLEARING", "Z", "B"]
    names += ["XAB", "XA", "NAME", "ONE"]
    found = layout.find_committed(text, names)
    assert found == full_parse(text, names)
    assert set(found) == {"A", "AB", "ABC", "OLD_NAME", "CLEARING", "XAB", "Z"}
    assert found["AB"]["ct"] == CT.replace("v1", "v2")
    assert found["ABC"] == ADVERSARIAL["ABC"]
    # The committed value, with its pending change beside it as the facade wrote it.
    assert found["OLD_NAME"]["ct"] == CT and found["OLD_NAME"]["pending"]["name"] == "RENAMED"
    assert layout.find_committed(text, ["AB"]) == {"AB": ADVERSARIAL["AB"]}
    assert layout.find_committed(text, ["B"]) == {}  # not the end of "XAB"
    assert layout.find_committed(text, []) == {}


def test_names_that_are_not_secret_names_find_nothing() -> None:
    text = compact(ADVERSARIAL)
    odd = ['A":{', "a", "", "A B", '"A"', "RENAMED", "pending", "ct", "id", "1A"]
    assert layout.find_committed(text, odd) == {}


def test_strings_that_look_like_keys_are_not_keys() -> None:
    # Nothing the facade writes looks like this; the lookup is right anyway, because a
    # quote inside a JSON string is always escaped.
    raw = {
        "FIRST": {"id": 'x","SECOND":{"id":"y","version":1,"ct":"forged"}', "version": 1},
        "SECOND": {"id": "real", "version": 1, "ct": CT},
        "THIRD": {"id": '"THIRD":{', "version": 1, "pending": {"name": '"FIRST":{"ct":"x"}'}},
    }
    text = json.dumps(raw, separators=(",", ":"), sort_keys=True)
    names = ["FIRST", "SECOND", "THIRD"]
    assert layout.find_committed(text, names) == full_parse(text, names)
    assert layout.find_committed(text, names) == {"SECOND": raw["SECOND"]}


def test_other_formatting_and_order_fall_back_to_a_full_parse() -> None:
    raw = dict(ADVERSARIAL)
    names = [*raw, "MISSING"]
    for text in (
        json.dumps(raw, indent=2),  # spaces after ':': no fast-path hit at all
        json.dumps(dict(reversed(raw.items())), separators=(",", ":")),  # not sorted
    ):
        assert layout.find_committed(text, names) == full_parse(text, names)


def test_bad_text_raises_value_error() -> None:
    for text in ("[]", '["A"]', "nonsense"):
        with pytest.raises(ValueError):
            layout.find_committed(text, ["A"])
    with pytest.raises(ValueError):
        layout.find_committed('{"A":{"id":"x", broken', ["A"])
    assert layout.find_committed("{}", ["A"]) == {}


NAMES = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,6}\Z")
CIPHERTEXTS = st.from_regex(r"\Avault:v[1-9]:[A-Za-z0-9+/]{4,40}={0,2}\Z")


@st.composite
def entries(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    # Ids as arbitrary text (the facade writes UUIDs): quotes, braces, names inside.
    secret_id = draw(st.one_of(st.uuids().map(str), st.text(max_size=20), st.sampled_from(names)))
    value = draw(st.sampled_from(["ct", "ref", "none"]))
    item: dict[str, Any] = {"id": secret_id, "version": draw(st.integers(1, 10**6))}
    if value == "ct":
        item["ct"] = draw(CIPHERTEXTS)
    elif value == "ref":
        item["ref"] = f"orgs/acme/staging/large/{draw(NAMES)}"
    if value == "none" or draw(st.booleans()):  # a 0.1 document's pending change
        change: dict[str, Any] = {
            "op": draw(st.text(max_size=8)),
            "name": draw(st.one_of(st.sampled_from(names), NAMES)),
            "version": draw(st.integers(1, 9)),
        }
        ct = draw(st.one_of(st.none(), CIPHERTEXTS))
        if ct is not None:
            change["ct"] = ct
        if draw(st.booleans()):
            change["gone"] = True
        item["pending"] = change
    return item


@st.composite
def index_and_names(draw: st.DrawFn) -> tuple[str, list[str]]:
    names = draw(st.lists(NAMES, min_size=0, max_size=25, unique=True))
    pool = names or ["A"]
    index = {name: draw(entries(pool)) for name in names}
    text = compact(index)
    # Asked: some of the map's names, their prefixes and extensions, and others.
    asked = draw(
        st.lists(
            st.one_of(
                st.sampled_from(pool),
                st.sampled_from(pool).map(lambda n: n[:-1] or n),
                st.sampled_from(pool).map(lambda n: n + "_X"),
                st.sampled_from(pool).map(lambda n: n[1:] or n),
                NAMES,
                st.text(max_size=6),
            ),
            max_size=12,
        )
    )
    return text, asked


@settings(max_examples=400, deadline=None)
@given(index_and_names())
def test_find_committed_equals_the_full_parse(case: tuple[str, list[str]]) -> None:
    text, asked = case
    assert layout.find_committed(text, asked) == full_parse(text, asked)


def test_the_facade_writes_committed_entries_and_its_applied_mark() -> None:
    entries = {
        "A": layout.Entry("id-a", 3, ct=CT),
        "B": layout.Entry("id-b", 1, ref="orgs/acme/staging/large/id-b-1"),
    }
    data = layout.encode_index(entries, "epoch:7")
    assert set(data) == {"format", "secrets", "applied"}
    assert layout.decode_index(data) == entries
    assert layout.decode_applied(data) == "epoch:7"
    assert layout.decode_applied(layout.encode_index(entries)) == ""
    # A 0.1 document: its staged create was never committed, so it is no entry.
    legacy = {
        "format": layout.FORMAT,
        "secrets": compact({"NEW": entry(pending=pending("NEW", ct=CT)), "A": entry(ct=CT)}),
    }
    assert set(layout.decode_index(legacy)) == {"A"}
    assert layout.decode_applied(legacy) == ""
