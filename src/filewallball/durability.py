"""Whether the database server keeps what a 2xx promises (SPEC section 13): a
committed change survives a loss of power. SQLite is configured for it by the database
module (``synchronous = FULL``, or a group commit); MariaDB and PostgreSQL decide it in
their own settings, which FileWallBall can only read and report."""

from __future__ import annotations

import sqlalchemy as sa


def durability_warnings(connection: sa.Connection) -> list[str]:
    """One sentence for each server setting that lets a committed change be lost."""
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        return _mariadb(connection)
    if dialect == "postgresql":
        return _postgresql(connection)
    return []


def _mariadb(connection: sa.Connection) -> list[str]:
    rows = connection.exec_driver_sql(
        "SHOW VARIABLES WHERE Variable_name IN "
        "('innodb_flush_log_at_trx_commit', 'sync_binlog', 'log_bin')"
    )
    values = {str(name).lower(): str(value) for name, value in rows}
    warnings = []
    flush = values.get("innodb_flush_log_at_trx_commit")
    if flush is not None and flush != "1":
        warnings.append(
            f"innodb_flush_log_at_trx_commit = {flush}: a power cut can lose the last "
            "second of commits; set it to 1"
        )
    if values.get("log_bin", "OFF").upper() == "ON" and values.get("sync_binlog") != "1":
        warnings.append(
            f"sync_binlog = {values.get('sync_binlog')} with the binary log on: a power cut "
            "can lose commits from the binlog (replicas, point-in-time recovery); set it to 1"
        )
    return warnings


POSTGRESQL_REQUIRED = {
    "synchronous_commit": ("on", "remote_write", "remote_apply", "local"),
    "fsync": ("on",),
    "full_page_writes": ("on",),
}


def _postgresql(connection: sa.Connection) -> list[str]:
    warnings = []
    for name, good in POSTGRESQL_REQUIRED.items():
        value = str(connection.exec_driver_sql(f"SHOW {name}").scalar())
        if value not in good:
            warnings.append(f"{name} = {value}: a power cut can lose commits; set it to on")
    return warnings
