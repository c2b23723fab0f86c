"""Sizes for people: binary units, as ``ls -lh`` and file managers show them."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def human_size(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; whole bytes below 1 KiB; one decimal, trailing ``.0`` dropped."""
    if size < 0:
        raise ValueError(f"a size cannot be negative: {size}")
    value, unit = float(size), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{size} B"
    text = f"{value:.1f}"
    if text == "1024.0" and unit < len(_UNITS) - 1:  # 1023.96 KiB rounds up into the next unit
        text, unit = "1", unit + 1
    return f"{text.removesuffix('.0')} {_UNITS[unit]}"
