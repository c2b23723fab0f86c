"""The server settings a 2xx depends on are read, and a weak one is named."""

from __future__ import annotations

import sqlalchemy as sa

from filewallball.durability import durability_warnings
from tests.servers import only_on


def test_the_test_servers_keep_what_a_commit_promises(connection: sa.Connection) -> None:
    assert durability_warnings(connection) == []


# A session-level setting exists on PostgreSQL only (MariaDB's are global).
@only_on("postgresql")
def test_a_postgresql_session_that_commits_without_waiting_is_named(
    connection: sa.Connection,
) -> None:
    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
    [warning] = durability_warnings(connection)
    assert warning.startswith("synchronous_commit = off")
