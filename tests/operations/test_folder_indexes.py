"""A folder's page is one walk of one index, by every sort key, and everything else about
folders (a subtree, its listing, a move, a replace) reads an index range, never the whole
table: EXPLAIN of the statements really emitted, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.models import FileInfo
from filewallball.operations import files, folders
from filewallball.operations.files import FileSpec
from filewallball.operations.search import FileQuery, search_files
from tests.operations.test_explain import (
    _full_scans,
    _indexes,
    _plan,
    _sorts,
    migrated_database,
)
from tests.servers import DIALECTS
from tests.statements import emitted

pytestmark = pytest.mark.slow

FILES = 20_000
NOW = datetime(2026, 11, 1, tzinfo=UTC)
# 40 top folders of 5 subfolders each, and the top itself: about 80 files a folder.
FOLDERS = ["", *(f"t{n}" for n in range(40)), *(f"t{n}/s{m}" for n in range(40) for m in range(5))]
RARE = ["rare", "rare/deeper"]  # 20 files: a planner reads this range rather than walk by time


@pytest.fixture(
    scope="module",
    params=[pytest.param(d, marks=getattr(pytest.mark, d), id=d) for d in DIALECTS],
)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with migrated_database(request.param, tmp_path_factory.mktemp("folders")) as engine:
        _fill(engine)
        yield engine


def _fill(engine: Engine) -> None:
    rng = random.Random(5)
    specs = []
    for index in range(FILES):
        digest = f"{rng.randrange(FILES):064x}"
        specs.append(
            FileSpec(
                original_filename=f"file {rng.randrange(FILES)}.txt",
                folder=rng.choice(FOLDERS) if index % 1000 else rng.choice(RARE),
                file_size=rng.randrange(10**7),
                file_hash=digest,
                storage_path=digest,
                created_at=NOW - timedelta(seconds=index),
            )
        )
    with sessionmaker(engine).begin() as session:
        ids = [row_id for row_id, _ in files.bulk_insert_files(session, specs)]
        session.execute(
            sa.update(FileInfo),
            [
                {"id": i, "is_deleted": True, "deleted_at": NOW}
                for i in rng.sample(ids, FILES // 10)
            ],
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(
            {"sqlite": "ANALYZE", "postgresql": "VACUUM ANALYZE files"}.get(
                engine.dialect.name, "ANALYZE TABLE files"
            )
        )


def _next_page(session: Session, query: FileQuery) -> FileQuery:
    cursor = search_files(session, query).next_cursor
    assert cursor
    return query.model_copy(update={"cursor": cursor})


# name: (the work, the index its page must be read from in order)
Work = Callable[[Session], object]
PAGES: dict[str, tuple[Work, str]] = {
    "newest in a folder": (
        lambda s: search_files(s, FileQuery(folder="t7")),
        "ix_files_folder_live_created",
    ),
    "newest in a folder, page 2": (
        lambda s: search_files(s, _next_page(s, FileQuery(folder="t7", limit=20))),
        "ix_files_folder_live_created",
    ),
    "oldest at the top": (
        lambda s: search_files(s, FileQuery(folder="", order="asc")),
        "ix_files_folder_live_created",
    ),
    "largest in a folder": (
        lambda s: search_files(s, FileQuery(folder="t7/s2", sort="file_size")),
        "ix_files_folder_live_size",
    ),
    "largest in a folder, page 2": (
        lambda s: search_files(
            s, _next_page(s, FileQuery(folder="t7/s2", sort="file_size", limit=20))
        ),
        "ix_files_folder_live_size",
    ),
}
# By name, the name index has no id (MariaDB's key length): PostgreSQL walks it and
# sorts each run of equal names (Incremental Sort); SQLite's rowid is in every index;
# MariaDB reads the folder's range of a folder index and sorts it.
BY_NAME: dict[str, Work] = {
    "by name in a folder": lambda s: search_files(
        s, FileQuery(folder="t7", sort="original_filename", order="asc")
    ),
    "by name in a folder, page 2": lambda s: search_files(
        s, _next_page(s, FileQuery(folder="t7", sort="original_filename", order="asc", limit=20))
    ),
}
RANGES: dict[str, Work] = {
    "a folder and everything under it": lambda s: search_files(s, FileQuery(folder_prefix="rare")),
    "the subfolders of a folder": lambda s: folders.list_folders(s, "t7"),
    "moving a folder": lambda s: folders.move_folder(s, "t7", "moved/t7"),
    "replacing a name": lambda s: files.trash_namesakes(s, "t7", "file 12.txt"),
}


def _plans(engine: Engine, work: Work) -> list[tuple[str, list[dict[str, object]]]]:
    """The plan of each statement ``work`` emits; what it wrote is rolled back."""
    with Session(engine) as session:
        statements = emitted(session, work)
        plans = [
            (statement, _plan(session, statement, parameters))
            for statement, parameters in statements
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE"))
        ]
        session.rollback()
    return plans


@pytest.mark.parametrize("name", PAGES)
def test_a_folders_page_is_one_index_walk(filled: Engine, name: str) -> None:
    work, index = PAGES[name]
    plans = _plans(filled, work)
    # page 1, its tags, then page 2 and its tags
    statement, plan = plans[2] if "page 2" in name else plans[0]
    problems = _full_scans(plan, {"files"}) + _sorts(plan)
    if index not in _indexes(plan):
        problems.append(f"{index} not used: {_indexes(plan)}")
    assert problems == [], f"{name}: {problems}\n{statement}\n{plan}"


@pytest.mark.parametrize("name", BY_NAME)
def test_a_folders_page_by_name_reads_the_folders_range(filled: Engine, name: str) -> None:
    plans = _plans(filled, BY_NAME[name])
    statement, plan = plans[2] if "page 2" in name else plans[0]
    problems = _full_scans(plan, {"files"})
    dialect = filled.dialect.name
    allowed = {"sqlite": set(), "postgresql": {"Incremental Sort"}}.get(dialect, {"filesort"})
    problems += [sort for sort in _sorts(plan) if sort not in allowed]
    used = _indexes(plan)
    if dialect not in ("mysql", "mariadb") and "ix_files_folder_live_name" not in used:
        problems.append(f"ix_files_folder_live_name not used: {used}")
    if not any(index.startswith("ix_files_folder_") for index in used):
        problems.append(f"no folder index used: {used}")
    assert problems == [], f"{name}: {problems}\n{statement}\n{plan}"


@pytest.mark.parametrize("name", RANGES)
def test_folder_ranges_read_an_index(filled: Engine, name: str) -> None:
    problems, used = [], set()
    for _statement, plan in _plans(filled, RANGES[name]):
        problems += _full_scans(plan, {"files"})
        used |= _indexes(plan)
    if not any(index.startswith("ix_files_folder_") for index in used):
        problems.append(f"no folder index used: {used}")
    assert problems == [], f"{name}: {problems}"
