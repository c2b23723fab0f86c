"""How much room each table takes, from the database's own catalog."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.models import Base


@dataclass(frozen=True)
class TableSize:
    """``rows`` is exact on SQLite and the catalog's estimate on MariaDB and PostgreSQL."""

    table: str
    rows: int
    data_bytes: int
    index_bytes: int


_CATALOG = {
    "mysql": """
        SELECT table_name, table_rows, data_length, index_length
        FROM information_schema.tables
        WHERE table_schema = DATABASE() AND table_name IN :tables""",
    "postgresql": """
        SELECT c.relname, GREATEST(c.reltuples, 0)::bigint,
               pg_table_size(c.oid), pg_indexes_size(c.oid)
        FROM pg_class c
        WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
          AND c.relname IN :tables""",
}


def database_size(session: Session) -> list[TableSize]:
    tables = sorted(Base.metadata.tables)
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return [_sqlite_size(session, table) for table in tables]
    statement = sa.text(_CATALOG["mysql" if dialect == "mariadb" else dialect]).bindparams(
        sa.bindparam("tables", expanding=True)
    )
    found = {
        name: TableSize(name, int(rows or 0), int(data or 0), int(index or 0))
        for name, rows, data, index in session.execute(statement, {"tables": tables})
    }
    return [found[table] for table in tables if table in found]


def _sqlite_size(session: Session, table: str) -> TableSize:
    rows = session.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) or 0
    pages = session.execute(
        sa.text("""
            SELECT s.name = :table, COALESCE(SUM(s.pgsize), 0)
            FROM dbstat s JOIN sqlite_schema m ON m.name = s.name
            WHERE m.tbl_name = :table GROUP BY s.name = :table"""),
        {"table": table},
    ).all()
    sizes = {bool(is_table): int(size) for is_table, size in pages}
    return TableSize(table, rows, sizes.get(True, 0), sizes.get(False, 0))
