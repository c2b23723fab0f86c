"""Never-crash properties: a call either answers or refuses in the one way it may."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)


def answer_or_refusal(call: Callable[[], T], refusal: type[E]) -> T | E:
    """What ``call`` returns, or the ``refusal`` it raises; any other exception fails the
    test as it is."""
    try:
        return call()
    except refusal as refused:
        return refused
