"""The SQL an operation really sends, to EXPLAIN it with its real parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session


def emitted(session: Session, work: Callable[[Session], object]) -> list[tuple[str, Any]]:
    """Every statement and its parameters that ``work(session)`` sends, in order."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        work(session)
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    return statements
