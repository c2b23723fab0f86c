"""Counts the database keeps itself, so that statistics cost the same at any size.

Counting a million rows takes the better part of a second on every database we run on,
whatever the index; these counts are read in microseconds instead:

- ``file_counts``: rows of differences (live and soft-deleted files and bytes per
  category, and distinct live contents), one appended by a trigger for each row of
  ``files`` inserted, deleted, or changed in a way that moves a count. Appending never
  waits for another writer (a single counter row per category would serialise every
  upload of a category and deadlock against bulk writes). Readers sum the rows;
  ``operations.statistics.fold_counts`` sums them into one row per category now and then.
- ``blobs.live_files``: live rows per content, under the blob row's lock, so the
  triggers see the first and the last live file of a content (the distinct count).

Triggers, not application code, so that every path that writes ``files`` keeps the counts
right: operations, bulk SQL, a database administrator's UPDATE. Each trigger action is one
statement (MariaDB gets one trigger per statement, in order) so that ``db sql`` output runs
in any client without changing the statement delimiter.

MariaDB does not fire triggers for foreign-key actions: files left uncategorised by a
deleted category keep that category's key in ``file_counts``, so the view counts every key
that names no category as uncategorised. SQLite drops a table's triggers with the table: a
later migration that rebuilds ``files`` in batch mode must create them again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from filewallball.models.types import Identifier, UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE_OPTIONS: dict[str, Any] = {
    f"{prefix}_{option}": value
    for prefix in ("mysql", "mariadb")
    for option, value in (("engine", "InnoDB"), ("charset", "utf8mb4"), ("collate", "utf8mb4_bin"))
}
COUNTS = ("live_files", "live_bytes", "deleted_files", "deleted_bytes", "live_contents")
# A change to any other column of files moves no count and fires nothing.
COUNTED_COLUMNS = ("is_deleted", "file_category_id", "file_size", "file_hash")
EVENTS = ("insert", "update", "delete")
CATEGORY_INDEX = ("file_category_id", "is_deleted", "created_at", "id", "file_size")


def upgrade() -> None:
    with op.batch_alter_table("blobs", copy_from=_blobs()) as batch:
        batch.add_column(
            sa.Column("live_files", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.create_table(
        "file_counts",
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("category_key", Identifier, nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in COUNTS),
        **TABLE_OPTIONS,
    )
    _count_what_exists()
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        # Every fold leaves dead rows behind; the default (a fifth of the table) would let
        # a table of a few live rows drag a million dead ones through every sum.
        op.execute(
            "ALTER TABLE file_counts SET (autovacuum_vacuum_scale_factor = 0, "
            "autovacuum_vacuum_threshold = 1000)"
        )
    for event in EVENTS:
        for statement in _create_trigger(dialect, event):
            op.execute(statement)
    op.execute("DROP VIEW file_statistics")
    op.execute(f"CREATE VIEW file_statistics AS {_render(_file_statistics())}")
    _index_category(CATEGORY_INDEX[:-1])  # file_size served only the counting view


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for event in EVENTS:
        for statement in _drop_trigger(dialect, event):
            op.execute(statement)
    op.execute("DROP VIEW file_statistics")
    op.execute(f"CREATE VIEW file_statistics AS {_render(_counted_file_statistics())}")
    _index_category(CATEGORY_INDEX)
    op.drop_table("file_counts")
    after = _blobs(sa.Column("live_files", sa.BigInteger(), server_default="0", nullable=False))
    with op.batch_alter_table("blobs", copy_from=after) as batch:
        batch.drop_column("live_files")


def _index_category(columns: Sequence[str]) -> None:
    """Rebuild the index of live files per category with ``columns``. MariaDB refuses to
    drop the only index of a foreign key's column, so it swaps both in one ALTER."""
    name = "ix_files_category_live_created"
    if _is_mariadb(op.get_context().dialect.name):
        op.execute(f"ALTER TABLE files DROP INDEX {name}, ADD INDEX {name} ({', '.join(columns)})")
        return
    op.drop_index(name, table_name="files")
    op.create_index(name, "files", list(columns))


def _blobs(*extra: sa.Column[Any]) -> sa.Table:
    """The table as revision 0004 left it (SQLite's batch mode then needs no reflection)."""
    return sa.Table(
        "blobs",
        sa.MetaData(),
        sa.Column("id", Identifier, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(10), server_default="ok", nullable=False),
        sa.Column("checked_at", UTCDateTime()),
        *extra,
        sa.CheckConstraint("size >= 0", name="ck_blobs_size_non_negative"),
        sa.CheckConstraint("status IN ('ok', 'missing', 'corrupt')", name="ck_blobs_status_known"),
        sa.UniqueConstraint("content_hash", name="uq_blobs_content_hash"),
    )


_files = sa.table(
    "files",
    sa.column("id"),
    sa.column("file_hash"),
    sa.column("file_size"),
    sa.column("file_category_id"),
    sa.column("is_deleted"),
    sa.column("created_at"),
)
_categories = sa.table("file_categories", sa.column("id"), sa.column("name"))
_blob_counts = sa.table(
    "blobs", *map(sa.column, ("content_hash", "size", "created_at", "live_files"))
)
_counts = sa.table("file_counts", sa.column("category_key"), *map(sa.column, COUNTS))


def _count_what_exists() -> None:
    """Counts of the rows already there: a blob row for every content a row names (rows
    inserted without an upload have none yet), live rows per content, one count row per
    category."""
    files, blobs = _files, _blob_counts
    missing = (
        sa.select(
            files.c.file_hash, sa.func.max(files.c.file_size), sa.func.min(files.c.created_at)
        )
        .where(~sa.exists().where(blobs.c.content_hash == files.c.file_hash))
        .group_by(files.c.file_hash)
    )
    op.execute(blobs.insert().from_select(["content_hash", "size", "created_at"], missing))
    live = files.c.is_deleted == sa.false()
    op.execute(
        blobs.update().values(
            live_files=sa.select(sa.func.count())
            .where(files.c.file_hash == blobs.c.content_hash, live)
            .scalar_subquery()
        )
    )

    def total(condition: sa.ColumnElement[bool], value: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)

    per_category = sa.select(
        sa.func.coalesce(files.c.file_category_id, 0),
        total(live, 1),
        total(live, files.c.file_size),
        total(~live, 1),
        total(~live, files.c.file_size),
        sa.literal(0),
    ).group_by(files.c.file_category_id)
    op.execute(_counts.insert().from_select(["category_key", *COUNTS], per_category))
    contents = sa.select(
        sa.literal(0), *(sa.literal(0) for _ in COUNTS[:-1]), sa.func.count()
    ).where(blobs.c.live_files > 0)
    op.execute(_counts.insert().from_select(["category_key", *COUNTS], contents))


def _statements(dialect: str, event: str) -> list[str]:
    """What one row's insert, delete or counted change does, in order."""
    arrives = [_add_blob(dialect), *_count(dialect, "NEW", 1)]
    goes = [_remove_blob(), *_count(dialect, "OLD", -1)]
    return {"insert": arrives, "delete": goes, "update": goes + arrives}[event]


def _is_mariadb(dialect: str) -> bool:
    return dialect in ("mysql", "mariadb")


def _live(row: str) -> str:
    return f"(CASE WHEN {row}.is_deleted THEN 0 ELSE 1 END)"


def _changed(dialect: str) -> str:
    if dialect == "postgresql":
        same = "OLD.{0} IS DISTINCT FROM NEW.{0}"
    elif dialect == "sqlite":
        same = "OLD.{0} IS NOT NEW.{0}"
    else:
        same = "NOT (OLD.{0} <=> NEW.{0})"
    return " OR ".join(same.format(column) for column in COUNTED_COLUMNS)


def _add_blob(dialect: str) -> str:
    """NEW's content has a blob row, counting NEW when it is live."""
    insert = (
        "INSERT INTO blobs (content_hash, size, created_at, live_files) "
        f"VALUES (NEW.file_hash, NEW.file_size, NEW.created_at, {_live('NEW')})"
    )
    if _is_mariadb(dialect):
        return f"{insert} ON DUPLICATE KEY UPDATE live_files = live_files + VALUES(live_files)"
    return (
        f"{insert} ON CONFLICT (content_hash) "
        "DO UPDATE SET live_files = blobs.live_files + excluded.live_files"
    )


def _remove_blob() -> str:
    return (
        "UPDATE blobs SET live_files = live_files - 1 "
        f"WHERE content_hash = OLD.file_hash AND {_live('OLD')} = 1"
    )


def _count(dialect: str, row: str, sign: int) -> list[str]:
    """Append the difference ``row`` makes: ``sign`` 1 when it arrives, -1 when it goes.
    The content count moves when the blob row (already updated) says this was the first
    live file of its content, or the last.

    On MariaDB the blob's count is read into a variable first: an INSERT with a subquery
    takes the table's AUTO-INC lock until the triggering statement ends, and writers
    waiting on each other's blob rows then deadlock on it."""
    live, size, minus = _live(row), f"{row}.file_size", "-" if sign < 0 else ""
    read = f"SELECT live_files FROM blobs WHERE content_hash = {row}.file_hash"
    remaining = "remaining" if _is_mariadb(dialect) else f"({read})"
    first_or_last = (
        f"CASE WHEN {live} = 1 AND {remaining} = {1 if sign > 0 else 0} THEN 1 ELSE 0 END"
    )
    values = (
        f"COALESCE({row}.file_category_id, 0)",
        f"{minus}{live}",
        f"{minus}{live} * {size}",
        f"{minus}(1 - {live})",
        f"{minus}(1 - {live}) * {size}",
        f"{minus}({first_or_last})",
    )
    insert = (
        f"INSERT INTO file_counts (category_key, {', '.join(COUNTS)}) VALUES ({', '.join(values)})"
    )
    if _is_mariadb(dialect):
        return [read.replace(" FROM", " INTO remaining FROM", 1), insert]
    return [insert]


def _create_trigger(dialect: str, event: str) -> list[str]:
    name, statements = f"files_count_{event}", _statements(dialect, event)
    on = f"AFTER {event.upper()} ON files FOR EACH ROW"
    if _is_mariadb(dialect):
        body = "".join(f"    {statement};\n" for statement in statements)
        if event == "update":
            body = f"  IF {_changed(dialect)} THEN\n{body}  END IF;\n"
        trigger = f"CREATE TRIGGER {name} {on}\nBEGIN\n  DECLARE remaining BIGINT;\n{body}END"
        if op.get_context().as_sql:
            # The mysql client splits at every ';'. Alembic ends each statement with one,
            # which here lands in a '#' comment.
            return [f"DELIMITER $$\n{trigger}$$\nDELIMITER ;\n#"]
        return [trigger]
    if event == "update":
        on = f"AFTER UPDATE OF {', '.join(COUNTED_COLUMNS)} ON files FOR EACH ROW"
        on += f" WHEN ({_changed(dialect)})"
    body = "".join(f"    {statement};\n" for statement in statements)
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n{body}    RETURN NULL;\nEND\n$$",
            f"CREATE TRIGGER {name} {on} EXECUTE FUNCTION {name}()",
        ]
    return [f"CREATE TRIGGER {name} {on}\nBEGIN\n{body}END"]


def _drop_trigger(dialect: str, event: str) -> list[str]:
    name = f"files_count_{event}"
    if dialect == "postgresql":
        return [f"DROP TRIGGER {name} ON files", f"DROP FUNCTION {name}()"]
    return [f"DROP TRIGGER {name}"]


def _file_statistics() -> sa.CompoundSelect[Any]:
    """Every category and one uncategorised row, from the counts; the newest live upload
    of each is one step down an index of files."""
    files, categories, counts = _files, _categories, _counts
    live = files.c.is_deleted == sa.false()

    def summed(category: sa.ColumnElement[bool]) -> tuple[Any, ...]:
        file_count = sa.func.coalesce(sa.func.sum(counts.c.live_files), 0)
        total_size = sa.func.coalesce(sa.func.sum(counts.c.live_bytes), 0)
        # Not MAX(): MariaDB reads a correlated MAX over every entry of the category
        # (100,000s at a million files); the newest of an index walk is one entry.
        newest = (
            sa.select(files.c.created_at)
            .where(category, live)
            .order_by(files.c.created_at.desc())
            .limit(1)
        )
        return (
            sa.cast(file_count, sa.BigInteger).label("file_count"),
            sa.cast(total_size, sa.BigInteger).label("total_size"),
            (total_size * 1.0 / sa.func.nullif(file_count, 0)).label("avg_file_size"),
            newest.scalar_subquery().label("last_upload"),
        )

    per_category = (
        sa.select(
            categories.c.id.label("category_id"),
            categories.c.name.label("category_name"),
            *summed(files.c.file_category_id == categories.c.id),
        )
        .select_from(categories.outerjoin(counts, counts.c.category_key == categories.c.id))
        .group_by(categories.c.id, categories.c.name)
    )
    uncategorised = sa.select(
        sa.null().label("category_id"),
        sa.null().label("category_name"),
        *summed(files.c.file_category_id.is_(None)),
    ).where(counts.c.category_key.not_in(sa.select(categories.c.id)))
    return sa.union_all(per_category, uncategorised)


def _counted_file_statistics() -> sa.CompoundSelect[Any]:
    """Revision 0001's view, which counts the files each time."""
    initial = context.script.get_revision("0001")
    assert initial is not None
    view: sa.CompoundSelect[Any] = initial.module.counting_file_statistics()
    return view


def _render(statement: sa.CompoundSelect[Any]) -> str:
    dialect = op.get_context().dialect
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
