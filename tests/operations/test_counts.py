"""The counts the database keeps (migration 0005's triggers) always equal a recount of the
files: after every kind of write, on every database, folded or not, and with writers and
folds running at the same time."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from filewallball.database import create_database_engine
from filewallball.migrations import alembic_config
from filewallball.models import FileCategory, FileCount, FileInfo, utcnow
from filewallball.operations import files, statistics
from filewallball.operations.statistics import CountsMoved, Totals
from tests import factories
from tests.conftest import upgrade
from tests.servers import Server, require_server, settings_for

CONTENTS = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(12)]


def recount(session: Session) -> tuple[Totals, dict[str | None, tuple[int, int]]]:
    """What the counts must say, counted the slow way."""
    session.flush()
    rows = session.execute(
        sa.select(
            FileInfo.file_hash, FileInfo.file_size, FileInfo.is_deleted, FileCategory.name
        ).outerjoin(FileCategory)
    ).all()
    live = [row for row in rows if not row.is_deleted]
    gone = [row for row in rows if row.is_deleted]
    totals = Totals(
        files=len(live),
        bytes=sum(row.file_size for row in live),
        distinct_contents=len({row.file_hash for row in live}),
        deleted_files=len(gone),
        deleted_bytes=sum(row.file_size for row in gone),
    )
    per_category: dict[str | None, tuple[int, int]] = {}
    for name in {row.name for row in live}:
        mine = [row for row in live if row.name == name]
        per_category[name] = (len(mine), sum(row.file_size for row in mine))
    return totals, per_category


def counted(session: Session) -> tuple[Totals, dict[str | None, tuple[int, int]]]:
    session.flush()
    session.expire_all()
    per_category = {
        row.category_name: (row.file_count, row.total_size)
        for row in statistics.category_statistics(session)
        if row.file_count
    }
    return statistics.totals(session), per_category


def _baseline(session: Session) -> tuple[Totals, Counter[str | None], Counter[str | None]]:
    """The shared test database may hold other tests' committed rows: compare changes."""
    totals, per_category = counted(session)
    return (
        totals,
        Counter({k: v[0] for k, v in per_category.items()}),
        Counter({k: v[1] for k, v in per_category.items()}),
    )


def test_every_kind_of_write_keeps_the_counts(session: Session) -> None:
    """Two hundred random writes of every kind the product makes (and two it doesn't:
    raw SQL, a category deleted under its files); after each batch of writes the counts
    equal a recount, folded or not."""
    assert counted(session) == recount(session)
    rng = random.Random(5)
    categories = [factories.category() for _ in range(3)]
    session.add_all(categories)
    session.flush()
    names: list[str | None] = [category.name for category in categories] + [None]

    def new_spec() -> files.FileSpec:
        return factories.spec(
            file_hash=rng.choice(CONTENTS),
            file_size=rng.randrange(10_000),
            category=rng.choice(names),
        )

    def some_file(*, deleted: bool | None = None) -> FileInfo | None:
        query = sa.select(FileInfo).where(FileInfo.file_hash.in_(CONTENTS))
        if deleted is not None:
            query = query.where(FileInfo.is_deleted == deleted)
        found = session.scalars(query.order_by(FileInfo.id)).all()
        return rng.choice(found) if found else None

    def create() -> None:
        files.create_file(session, new_spec())

    def bulk() -> None:
        files.bulk_insert_files(session, [new_spec() for _ in range(rng.randrange(1, 8))])

    def delete() -> None:
        if file := some_file(deleted=False):
            files.soft_delete_file(session, file.file_uuid)

    def restore() -> None:
        if file := some_file(deleted=True):
            files.restore_file(session, file.file_uuid)

    def recategorise() -> None:
        if file := some_file(deleted=False):
            files.update_file(session, file.file_uuid, category=rng.choice(names))

    def bulk_recategorise() -> None:
        live = session.scalars(
            sa.select(FileInfo.id).where(
                FileInfo.file_hash.in_(CONTENTS), FileInfo.is_deleted == sa.false()
            )
        ).all()
        chosen = rng.sample(list(live), min(len(live), 3))
        ids = {c.name: c.id for c in categories}
        files.bulk_update_files(
            session,
            [{"id": i, "file_category_id": ids.get(rng.choice(names) or "")} for i in chosen],
        )

    def purge() -> None:
        if file := some_file(deleted=True):
            files.delete_for_good(session, [file], deleted_before=utcnow() + timedelta(seconds=1))

    def resize() -> None:  # what no operation does, a database administrator might
        if file := some_file():
            session.execute(
                sa.update(FileInfo)
                .where(FileInfo.id == file.id)
                .values(file_size=rng.randrange(10_000), file_hash=rng.choice(CONTENTS))
                .execution_options(synchronize_session=False)
            )

    def fold() -> None:
        statistics.fold_counts(session)

    writes: list[Callable[[], None]] = [
        create,
        create,
        bulk,
        delete,
        delete,
        restore,
        recategorise,
        bulk_recategorise,
        purge,
        resize,
        fold,
    ]
    for step in range(200):
        rng.choice(writes)()
        if step % 10 == 9:
            session.expire_all()
            assert counted(session) == recount(session), f"after step {step}"

    # Deleting a category leaves its files uncategorised (ON DELETE SET NULL; MariaDB
    # fires no trigger for it, the view counts the orphaned key as uncategorised).
    session.execute(sa.delete(FileCategory).where(FileCategory.id == categories[0].id))
    session.expire_all()
    assert counted(session) == recount(session)
    statistics.fold_counts(session)
    assert counted(session) == recount(session)


_COLUMNS_AT_0004 = (
    "file_uuid",
    "original_filename",
    "stored_filename",
    "file_extension",
    "mime_type",
    "file_size",
    "file_hash",
    "storage_path",
    "file_category_id",
    "is_public",
    "is_deleted",
    "created_at",
    "updated_at",
)


def test_the_migration_counts_the_files_already_there(scratch_engine: Engine) -> None:
    """A database filled before revision 0005 (no triggers yet, some contents without a
    blob row) is counted by the migration itself."""
    with scratch_engine.connect() as connection:
        command.upgrade(alembic_config(connection), "0004")
    sessions = sessionmaker(scratch_engine)
    shared = factories.spec(file_size=5)
    rows = [  # (spec, category, deleted), written with the columns revision 0004 has
        (shared, "documents", False),
        (factories.spec(file_size=5, file_hash=shared.file_hash), "documents", False),
        (factories.spec(file_size=7), "images", False),
        (factories.spec(file_size=11), None, False),
        (factories.spec(file_size=13), None, True),
    ]
    with sessions.begin() as session:
        category_ids = dict(session.execute(sa.select(FileCategory.name, FileCategory.id)).all())
        now = utcnow()
        session.execute(
            sa.table("files", *map(sa.column, _COLUMNS_AT_0004)).insert(),
            [
                {
                    "file_uuid": str(uuid.uuid4()),
                    "original_filename": spec.original_filename,
                    "stored_filename": spec.file_hash,
                    "file_extension": "jpg",
                    "mime_type": spec.mime_type,
                    "file_size": spec.file_size,
                    "file_hash": spec.file_hash,
                    "storage_path": spec.storage_path,
                    "file_category_id": category_ids[category] if category else None,
                    "is_public": True,
                    "is_deleted": deleted,
                    "created_at": now.replace(tzinfo=None),
                    "updated_at": now.replace(tzinfo=None),
                }
                for spec, category, deleted in rows
            ],
        )
    upgrade(scratch_engine)
    with sessions() as session:
        totals, per_category = recount(session)
        assert totals == Totals(
            files=4, bytes=28, distinct_contents=3, deleted_files=1, deleted_bytes=13
        )
        assert counted(session) == (totals, per_category)


def test_folding_keeps_the_sums_in_one_row_per_category(session: Session) -> None:
    photos = factories.category()
    session.add(photos)
    session.flush()
    before, per_category_before, bytes_before = _baseline(session)
    for size in (10, 20, 30):
        files.create_file(session, factories.spec(file_size=size, category=photos.name))
    doomed = files.create_file(session, factories.spec(file_size=5))
    files.soft_delete_file(session, doomed.file_uuid)

    statistics.fold_counts(session)
    assert statistics.fold_counts(session) == 0  # nothing left to fold
    keys = session.scalars(sa.select(FileCount.category_key)).all()
    assert len(keys) == len(set(keys))
    totals, per_category = counted(session)
    assert totals.files - before.files == 3
    assert totals.bytes - before.bytes == 60
    assert totals.deleted_files - before.deleted_files == 1
    assert totals.deleted_bytes - before.deleted_bytes == 5
    assert per_category[photos.name] == (3, 60)
    assert per_category_before[photos.name] == bytes_before[photos.name] == 0


def test_a_backlog_folds_a_bounded_batch_at_a_time(session: Session) -> None:
    """Each fold reads at most ``limit`` rows (one bounded transaction); repeated until it
    returns 0, a backlog ends as one row per category with the same sums."""
    photos = factories.category()
    session.add(photos)
    session.flush()
    for size in range(1, 30):
        files.create_file(
            session, factories.spec(file_size=size, category=photos.name if size % 2 else None)
        )
    expected = counted(session)
    rounds = []
    while folded := statistics.fold_counts(session, limit=4):
        assert 0 < folded <= 4 - 1  # 4 rows read, at least one row per key written back
        rounds.append(folded)
    assert len(rounds) > 5
    keys = session.scalars(sa.select(FileCount.category_key)).all()
    assert len(keys) == len(set(keys))
    assert counted(session) == expected


@pytest.fixture(
    params=[pytest.param(d, marks=getattr(pytest.mark, d), id=d) for d in ("mariadb", "postgresql")]
)
def overlapping(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at head where two write transactions can overlap (not SQLite's one
    writer at a time)."""
    require_server(request.param)
    server = Server(request.param, tmp_path)
    url = server.create_database()
    engine = upgrade(create_database_engine(settings_for(url)))
    yield engine
    engine.dispose()
    server.drop_database(url)


def test_a_fold_that_lost_a_race_refuses_to_write(overlapping: Engine) -> None:
    """Another fold deletes the rows this one summed just before this one deletes them:
    this one raises CountsMoved (and is rolled back) instead of adding the sums twice."""
    sessions = sessionmaker(overlapping)
    with sessions.begin() as session:
        for size in (1, 2, 3):
            files.create_file(session, factories.spec(file_size=size))
    with sessions() as session:
        expected = statistics.totals(session)

    def other_fold_first(
        _connection: sa.Connection, _cursor: object, statement: str, *_args: object
    ) -> None:
        if statement.startswith("DELETE FROM file_counts") and not raced.is_set():
            raced.set()
            with sessions.begin() as other:
                assert statistics.fold_counts(other) > 0

    raced = threading.Event()
    with sessions() as session:
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", other_fold_first)
        with pytest.raises(CountsMoved):
            statistics.fold_counts(session)
        session.rollback()
    assert raced.is_set()
    with sessions() as session:
        assert statistics.totals(session) == expected
        assert statistics.fold_counts(session) == 0


def test_writers_and_folds_at_the_same_time(migrated: Engine) -> None:
    """Writers creating, deleting and restoring files of the same few contents, and a
    folder folding all the while: no deadlock, no error, and the counts equal a recount.
    (On MariaDB, before the triggers read the blob's count into a variable, this
    deadlocked on the AUTO-INC lock that an INSERT with a subquery holds.)"""
    writers = 4
    sessions = sessionmaker(migrated)
    with sessions.begin() as session:
        category = factories.category()
        session.add(category)
        session.flush()
        name = category.name
    errors: list[BaseException] = []
    done = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(40):
                with sessions.begin() as session:
                    spec = factories.spec(
                        file_hash=rng.choice(CONTENTS[:4]),
                        file_size=rng.randrange(100),
                        category=rng.choice([name, None]),
                    )
                    file = files.create_file(session, spec)
                    if rng.random() < 0.4:
                        files.soft_delete_file(session, file.file_uuid)
                    if rng.random() < 0.2:
                        files.restore_file(session, file.file_uuid)
        except BaseException as error:
            errors.append(error)

    def fold() -> None:
        while not done.is_set():
            try:
                with sessions.begin() as session:
                    statistics.fold_counts(session)
            except CountsMoved:
                continue
            except DBAPIError as error:
                errors.append(error)
                return

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    folder = threading.Thread(target=fold)
    folder.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    folder.join(timeout=60)
    assert errors == []
    with sessions() as session:
        assert counted(session) == recount(session)
        assert statistics.totals(session).files + statistics.totals(session).deleted_files == (
            writers * 40
        )


def test_purge_candidates_are_counted_as_deleted_until_purged(session: Session) -> None:
    before, _, _ = _baseline(session)
    file = files.create_file(session, factories.spec(file_size=7))
    files.soft_delete_file(session, file.file_uuid)
    totals, _ = counted(session)
    assert (totals.deleted_files, totals.deleted_bytes) == (
        before.deleted_files + 1,
        before.deleted_bytes + 7,
    )
    candidates = files.purge_candidates(
        session, timedelta(0), now=file.deleted_at + timedelta(seconds=1)
    )
    purged = [c for c in candidates if c.id == file.id]
    assert (
        files.delete_for_good(
            session, purged, deleted_before=file.deleted_at + timedelta(seconds=1)
        )
        == 1
    )
    assert counted(session)[0] == before
