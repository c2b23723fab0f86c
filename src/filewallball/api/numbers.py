"""Numbers read from a request's headers, bounded before they are converted.

``int()`` takes time quadratic in the number of digits and refuses more than 4,300 of
them (``ValueError``), and ``str.isdigit()`` accepts ``"²"``, which ``int()`` refuses
too: a header is counted and checked as ASCII digits first, so that an absurd number
is an answer the caller chose (ignored, 400, 413, 416), never an exception.
"""

from __future__ import annotations


def bounded_decimal(text: str, ceiling: int) -> int | None:
    """The value of ``text`` (ASCII digits only, leading zeros allowed), or ``ceiling``
    when it is larger; None when ``text`` is not a number. Every caller has a value
    past which all numbers mean the same (past the end of the file, above any size
    limit, not a port): that value is the ceiling."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0") or "0"
    if len(significant) > len(str(ceiling)):
        return ceiling
    return min(int(significant), ceiling)
