"""Validation at the edge: request bodies into typed requests, or `Invalid` naming the field.

Plaintext values pass through here on their way to Transit; nothing here logs them, and
error messages never quote them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaultfront import layout
from vaultfront.errors import Invalid

MAX_DESCRIPTION = 1000
MAX_VALUE_BYTES = 64 * 1024
MAX_USER_ID = 2**31 - 1  # the user table's integer key
MAX_VERSION_DIGITS = 18  # a version is a 64-bit counter; longer is none we issued
MAX_SHOWN_KEY = 64

UNSET: Any = object()  # a PATCH field the body does not name


@dataclass(frozen=True)
class CreateSecret:
    name: str
    description: str
    values: dict[layout.Environment, str] = field(repr=False)


@dataclass(frozen=True)
class UpdateSecret:
    name: str | None = None
    description: str | None = None
    # env -> new value, or None to clear; an environment not named keeps its value
    values: dict[layout.Environment, str | None] = field(default_factory=dict, repr=False)
    owner_id: int | None = None  # transfer of ownership (an admin action)

    @property
    def empty(self) -> bool:
        return (
            self.name is None
            and self.description is None
            and not self.values
            and self.owner_id is None
        )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.", field="body")
    return body


def is_text(text: str) -> bool:
    """Whether the string can be stored and sent back: JSON's `"\\ud800"` decodes to a lone
    surrogate, which no UTF-8 database column (nor any UTF-8 response) can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_key(key: str) -> str:
    """An unknown key as an error can name it: UTF-8 safe, and short."""
    shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown if len(shown) <= MAX_SHOWN_KEY else shown[:MAX_SHOWN_KEY] + "..."


def _unknown(body: dict[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in body:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            where = prefix + shown_key(key)
            raise Invalid(f"Unknown field {where}: use {names}.", field=where)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not layout.SECRET_NAME_PATTERN.fullmatch(name):
        raise Invalid(
            "A name is 1 to 128 characters: an uppercase letter, then uppercase letters, "
            "digits or underscores (like STRIPE_API_KEY).",
            field="name",
        )
    return name


def check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise Invalid("The description must be text.", field="description")
    if not is_text(description):
        raise Invalid(
            "The description is not valid text (it holds a lone UTF-16 surrogate, like "
            "\\ud800); send it as UTF-8.",
            field="description",
        )
    if "\x00" in description:
        raise Invalid("The description contains a NUL character; remove it.", field="description")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(
            f"The description is {len(description)} characters; the limit is {MAX_DESCRIPTION}.",
            field="description",
        )
    return description


def check_value(env: str, value: Any) -> str:
    where = f"values.{env}"
    if not isinstance(value, str):
        raise Invalid(f"The {env} value must be text.", field=where)
    if value == "":
        raise Invalid(
            f"The {env} value is empty: leave it out to keep it unset, or send null to clear it.",
            field=where,
        )
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise Invalid(f"The {env} value is not valid UTF-8 text.", field=where) from None
    if size > MAX_VALUE_BYTES:
        raise Invalid(
            f"The {env} value is {size} bytes; the limit is 65,536 bytes (64 KiB).", field=where
        )
    if "\x00" in value:
        # No environment variable can carry a NUL, so `vaultfront run` could not pass it on.
        raise Invalid(
            f"The {env} value contains a NUL character, which no environment variable can "
            "hold; remove it.",
            field=where,
        )
    return value


def _values(body: dict[str, Any], allow_null: bool) -> dict[layout.Environment, str | None]:
    raw = body.get("values", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Invalid('values must be an object like {"production": "..."}.', field="values")
    _unknown(raw, set(layout.ENVIRONMENTS), prefix="values.")
    values: dict[layout.Environment, str | None] = {}
    for env in layout.ENVIRONMENTS:
        if env not in raw:
            continue
        if raw[env] is None:
            if allow_null:
                values[env] = None
            continue
        values[env] = check_value(env, raw[env])
    return values


def parse_create(body: Any) -> CreateSecret:
    data = _object(body)
    _unknown(data, {"name", "description", "values"})
    if "name" not in data:
        raise Invalid("A name is required (like STRIPE_API_KEY).", field="name")
    values = _values(data, allow_null=False)
    return CreateSecret(
        name=check_name(data["name"]),
        description=check_description(data.get("description")),
        values={env: v for env, v in values.items() if v is not None},
    )


def parse_update(body: Any) -> UpdateSecret:
    data = _object(body)
    _unknown(data, {"name", "description", "values", "owner_id"})
    owner_id = data.get("owner_id")
    if "owner_id" in data and (
        not isinstance(owner_id, int)
        or isinstance(owner_id, bool)
        or not 1 <= owner_id <= MAX_USER_ID
    ):
        raise Invalid(
            "owner_id must be the new owner's user id (a whole number, like 42).",
            field="owner_id",
        )
    return UpdateSecret(
        name=check_name(data["name"]) if "name" in data else None,
        description=check_description(data["description"]) if "description" in data else None,
        values=_values(data, allow_null=True),
        owner_id=owner_id,
    )


def parse_if_match(header: str | None) -> int | None:
    """`If-Match: "3"` (or `3`, or `W/"3"`) -> 3; no header -> None.

    ASCII digits only (`"²".isdigit()` is true and int() refuses it), and at most 18 of
    them: no version has more, and int() refuses over 4,300 digits.
    """
    if header is None or header.strip() == "*":
        return None
    text = header.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not (text.isascii() and text.isdigit()):
        raise Invalid('If-Match must be the version in quotes, like "3".', field="If-Match")
    if len(text) > MAX_VERSION_DIGITS:
        raise Invalid(
            "If-Match names no version this secret has had: send the ETag of the secret "
            'as you loaded it, like "3".',
            field="If-Match",
        )
    return int(text)
