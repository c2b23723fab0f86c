"""Rules every model must keep, checked over the whole metadata so new columns obey them too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from filewallball.models import Base, UTCDateTime, views_metadata

TABLES = list(Base.metadata.tables.values())
COLUMNS = [column for table in TABLES for column in table.columns]
# Each rule is parametrised over the columns it concerns, so that every case asserts
# (and a rule that concerned nothing would fail at collection: empty_parameter_set_mark).
STRINGS = [c for c in COLUMNS if isinstance(c.type, sa.String) and not isinstance(c.type, sa.Text)]
MOMENTS = [
    c for c in COLUMNS if isinstance(c.type, sa.DateTime | UTCDateTime) or c.name.endswith("_at")
]
FOREIGN_KEYS = [key for table in TABLES for key in table.foreign_keys]


@pytest.mark.parametrize("column", STRINGS, ids=str)
def test_strings_have_a_length(column: sa.Column[str]) -> None:
    assert isinstance(column.type, sa.String)
    assert column.type.length, f"{column} needs a length (MariaDB VARCHAR)"


@pytest.mark.parametrize("column", MOMENTS, ids=str)
def test_datetimes_are_utc(column: sa.Column[object]) -> None:
    """A plain DateTime, or a moment (``*_at``) of another type, is a naive time waiting
    to move by hours."""
    assert isinstance(column.type, UTCDateTime), f"{column} must use the UTCDateTime type"


@pytest.mark.parametrize("key", FOREIGN_KEYS, ids=lambda key: str(key.parent))
def test_every_foreign_key_leads_an_index(key: sa.ForeignKey) -> None:
    """MariaDB silently adds an index for an unindexed foreign key: untracked schema."""
    table = key.parent.table
    assert isinstance(table, sa.Table)
    leading = {index.columns[0].name for index in table.indexes}
    leading |= {
        constraint.columns[0].name
        for constraint in table.constraints
        if isinstance(constraint, sa.UniqueConstraint)
    }
    assert key.parent.name in leading, f"{table.name}.{key.parent.name} has no index"


def test_no_index_on_is_deleted_alone() -> None:
    """SPEC section 6: MariaDB would prefer it to the composite indexes that lead with filters."""
    files = Base.metadata.tables["files"]
    assert not [
        index for index in files.indexes if [c.name for c in index.columns] == ["is_deleted"]
    ]
    composites = {tuple(c.name for c in index.columns) for index in files.indexes}
    assert ("file_extension", "is_deleted", "created_at", "id") in composites


@pytest.mark.parametrize("table", TABLES, ids=str)
def test_constraint_names_follow_the_convention(table: sa.Table) -> None:
    prefixes = {
        sa.PrimaryKeyConstraint: "pk_",
        sa.UniqueConstraint: "uq_",
        sa.ForeignKeyConstraint: "fk_",
        sa.CheckConstraint: "ck_",
    }
    for constraint in [*table.constraints, *table.indexes]:
        name = str(constraint.name)
        prefix = "ix_" if isinstance(constraint, sa.Index) else prefixes[type(constraint)]
        assert name.startswith(f"{prefix}{table.name}_") or name == f"pk_{table.name}", name
        assert len(name) <= 63, f"{name} is too long for PostgreSQL"


def test_seed_spec_hash_and_extension_widths() -> None:
    files = Base.metadata.tables["files"]
    assert files.c.file_hash.type.length == 64  # a SHA-256 hex digest
    assert files.c.file_extension.type.length == 20
    assert Base.metadata.tables["file_extensions"].c.extension.type.length == 20
    assert Base.metadata.tables["file_uploads"].c.client_ip.type.length == 45  # IPv6


def test_the_view_is_outside_the_migrated_metadata() -> None:
    assert "file_statistics" not in Base.metadata.tables
    assert "file_statistics" in views_metadata.tables


def test_every_table_has_the_mariadb_options() -> None:
    for table in TABLES:
        assert table.dialect_options["mysql"]["collate"] == "utf8mb4_bin", table.name
        assert table.dialect_options["mariadb"]["engine"] == "InnoDB", table.name
