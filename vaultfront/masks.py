"""Masks of secret values (SPEC section 3), computed once, when a value is written."""

from __future__ import annotations


def mask_value(value: str) -> str:
    """`sk_live_` + `***` + `RgA1` for a 107-character key; `***` under 8 characters.

    Counts code points: r = 0 if n < 8 else min(12, n // 4) characters are revealed,
    s = min(4, r // 2) of them at the end and r - s at the start.
    """
    n = len(value)
    revealed = 0 if n < 8 else min(12, n // 4)
    if revealed == 0:
        return "***"
    suffix = min(4, revealed // 2)
    head = value[: revealed - suffix]
    tail = value[n - suffix :] if suffix else ""
    return f"{head}***{tail}"
