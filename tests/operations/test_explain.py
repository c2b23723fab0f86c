"""Every hot query uses an index: EXPLAIN of the statements the ORM really emits, with their
real parameters, on MariaDB and PostgreSQL, over enough rows that the planners care."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.database import create_database_engine
from filewallball.migrations import alembic_config
from filewallball.models import FileDownload, FileInfo, FileTag, FileTagRelation, FileView
from filewallball.operations import activity, files, records, statistics
from filewallball.operations.files import FileSpec
from filewallball.operations.search import FileQuery, search_files
from tests.servers import Server, require_server, settings_for
from tests.statements import emitted

# Filling each database with FILES rows takes most of a minute.
pytestmark = pytest.mark.slow

FILES = 30_000
NOW = datetime(2026, 11, 1, tzinfo=UTC)
EXTENSIONS = ["jpg"] * 30 + ["png"] * 15 + ["pdf"] * 10 + [f"x{n}" for n in range(40)]
CATEGORIES = ["images", "documents", "video", "audio", "archives", "code", None, None]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(d, marks=getattr(pytest.mark, d), id=d) for d in ("mariadb", "postgresql")
    ],
)
def filled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with migrated_database(request.param, tmp_path_factory.mktemp("explain")) as engine:
        _fill(engine)
        yield engine


@contextmanager
def migrated_database(dialect: str, workdir: Path) -> Iterator[Engine]:
    """A scratch database at head on ``dialect``, dropped afterwards."""
    require_server(dialect)
    server = Server(dialect, workdir)
    url = server.create_database()
    engine = create_database_engine(settings_for(url))
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), "head")
    try:
        yield engine
    finally:
        engine.dispose()
        server.drop_database(url)


def _fill(engine: Engine) -> None:
    rng = random.Random(3)
    sessions = sessionmaker(engine)
    specs = []
    for index in range(FILES):
        digest = f"{rng.randrange(FILES):064x}"
        specs.append(
            FileSpec(
                original_filename=f"file {index}.{rng.choice(EXTENSIONS)}",
                file_size=rng.randrange(10**7),
                file_hash=digest,
                storage_path=digest,
                category=rng.choice(CATEGORIES),
                created_at=NOW - timedelta(seconds=rng.randrange(730 * 86_400)),
            )
        )
    with sessions.begin() as session:
        ids = [row_id for row_id, _ in files.bulk_insert_files(session, specs)]
        session.execute(
            sa.update(FileInfo),
            [
                {"id": i, "is_deleted": True, "deleted_at": NOW - timedelta(days=rng.randrange(90))}
                for i in rng.sample(ids, FILES // 10)
            ],
        )
        session.execute(
            sa.insert(FileTag), [{"tag_name": f"t{n}", "created_at": NOW} for n in range(100)]
        )
        tag_ids = session.scalars(sa.select(FileTag.id).order_by(FileTag.id)).all()
        links = {
            (i, rng.choice(tag_ids[: 5 if rng.random() < 0.5 else 100]))
            for i in ids
            for _ in range(2)
        }
        created = {row_id: spec.created_at for row_id, spec in zip(ids, specs, strict=True)}
        session.execute(
            sa.insert(FileTagRelation),
            [
                {"file_id": f, "tag_id": t, "created_at": NOW, "file_created_at": created[f]}
                for f, t in links
            ],
        )
        for model in (FileView, FileDownload):
            session.execute(
                sa.insert(model),
                [
                    {
                        "file_id": rng.choice(ids),
                        "created_at": NOW - timedelta(days=rng.randrange(400)),
                    }
                    for _ in range(FILES)
                ],
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in (
            "files",
            "file_tags",
            "file_tag_relations",
            "file_views",
            "file_downloads",
            "file_categories",
        ):
            connection.exec_driver_sql(
                f"ANALYZE TABLE {table}"
                if engine.dialect.name in ("mysql", "mariadb")
                else f"VACUUM ANALYZE {table}"
            )


def _plan(session: Session, statement: str, parameters: Any) -> list[dict[str, Any]]:
    """The plan as a flat list of steps: MariaDB's EXPLAIN rows, PostgreSQL's plan nodes,
    SQLite's EXPLAIN QUERY PLAN lines (as ``detail``)."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        result = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return [{"detail": row[3]} for row in result]
    if connection.dialect.name in ("mysql", "mariadb"):
        result = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return [dict(row._mapping) for row in result]
    [[document]] = connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {statement}", parameters
    ).all()
    nodes, pending = (
        [],
        [(json.loads(document) if isinstance(document, str) else document)[0]["Plan"]],
    )
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def _full_scans(plan: list[dict[str, Any]], tables: set[str]) -> list[str]:
    found = []
    for step in plan:
        if step.get("type") == "ALL" and step.get("table") in tables:
            found.append(f"full scan of {step['table']}")
        if step.get("Node Type") == "Seq Scan" and step.get("Relation Name") in tables:
            found.append(f"Seq Scan on {step['Relation Name']}")
        if (scan := _SQLITE_SCAN.match(step.get("detail", ""))) and scan[1] in tables:
            found.append(step["detail"])
    return found


# SQLite reads a whole table (or a whole index: "SCAN files USING INDEX ...").
_SQLITE_SCAN = re.compile(r"SCAN (\w+)")
_SQLITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)")


def _sorts(plan: list[dict[str, Any]]) -> list[str]:
    return [
        "filesort" if "Extra" in step else step.get("Node Type") or step["detail"]
        for step in plan
        if "filesort" in (step.get("Extra") or "")
        or step.get("Node Type") in ("Sort", "Incremental Sort")
        or "TEMP B-TREE" in step.get("detail", "")
    ]


@dataclass(frozen=True)
class Sample:
    file_uuid: str
    file_hash: str
    busy_file_id: int  # a file with views and downloads
    busy_file_uuid: str
    newest_cursor: str  # page 2 of the newest files
    tag_cursor: str  # page 2 of the newest files with a common tag


def _sample(engine: Engine) -> Sample:
    with Session(engine) as session:
        file_uuid, file_hash = session.execute(
            sa.select(FileInfo.file_uuid, FileInfo.file_hash).where(FileInfo.id == 4242)
        ).one()
        busy = session.scalar(
            sa.select(FileView.file_id)
            .where(FileView.file_id.in_(sa.select(FileDownload.file_id)))
            .limit(1)
        )
        busy_uuid = session.scalar(sa.select(FileInfo.file_uuid).where(FileInfo.id == busy))
        newest = search_files(session, FileQuery()).next_cursor
        tagged = search_files(session, FileQuery(tag=["t1"])).next_cursor
    assert busy is not None
    assert busy_uuid is not None
    assert newest
    assert tagged
    return Sample(file_uuid, file_hash, busy, busy_uuid, newest, tagged)


@dataclass(frozen=True)
class Hot:
    work: Callable[[Session, Sample], object]
    indexes: frozenset[str]  # the plan must use these
    tables: frozenset[str] = frozenset({"files"})  # and never scan these whole
    listing: bool = False  # the page must come off the index in order, unsorted


def _activity(session: Session, key: Sample) -> object:
    file = session.get(FileInfo, key.busy_file_id)
    assert file is not None
    return activity.file_activity(session, file)


HOT_QUERIES = {
    "file by uuid": Hot(
        lambda s, k: records.file_record(s, k.file_uuid), frozenset({"uq_files_file_uuid"})
    ),
    "file detail by uuid": Hot(
        lambda s, k: records.file_detail(s, k.busy_file_uuid, include_deleted=True),
        frozenset(
            {
                "uq_files_file_uuid",
                "ix_file_views_file_id_created_at",
                "ix_file_downloads_file_id_created_at",
            }
        ),
        tables=frozenset({"files", "file_views", "file_downloads", "file_tag_relations"}),
    ),
    "live files by hash": Hot(
        lambda s, k: files.find_by_hash(s, k.file_hash), frozenset({"ix_files_file_hash"})
    ),
    "newest live files": Hot(
        lambda s, k: search_files(s, FileQuery()), frozenset({"ix_files_created_at"}), listing=True
    ),
    "newest live files, page 2": Hot(
        lambda s, k: search_files(s, FileQuery(cursor=k.newest_cursor)),
        frozenset({"ix_files_created_at"}),
        listing=True,
    ),
    "live files by common tag, page 2": Hot(
        lambda s, k: search_files(s, FileQuery(tag=["t1"], cursor=k.tag_cursor)),
        frozenset({"ix_file_tag_relations_tag_newest"}),
        tables=frozenset({"files", "file_tag_relations"}),
        listing=True,
    ),
    "live files by extension": Hot(
        lambda s, k: search_files(s, FileQuery(extension=["pdf"])),
        frozenset({"ix_files_extension_live_created"}),
        listing=True,
    ),
    "rare extension": Hot(
        lambda s, k: search_files(s, FileQuery(extension=["x7"])),
        frozenset({"ix_files_extension_live_created"}),
        listing=True,
    ),
    "live files by category": Hot(
        lambda s, k: search_files(s, FileQuery(category="documents")),
        frozenset({"ix_files_category_live_created"}),
        listing=True,
    ),
    "live files by rare tag": Hot(
        lambda s, k: search_files(s, FileQuery(tag=["t77"])),
        frozenset({"ix_file_tag_relations_tag_newest"}),
        tables=frozenset({"files", "file_tag_relations"}),
        listing=True,
    ),
    "live files by common tag": Hot(
        lambda s, k: search_files(s, FileQuery(tag=["t1"])),
        frozenset({"ix_file_tag_relations_tag_newest"}),
        tables=frozenset({"files", "file_tag_relations"}),
        listing=True,
    ),
    "live files with two tags": Hot(  # the planner may join the second tag and sort
        lambda s, k: search_files(s, FileQuery(tag=["t2", "t3"], tag_mode="all")),
        frozenset({"ix_file_tag_relations_tag_newest"}),
        tables=frozenset({"files", "file_tag_relations"}),
    ),
    "live files by name prefix": Hot(  # a range of names, sorted by time: the few it finds
        lambda s, k: search_files(s, FileQuery(name_prefix="FILE 123")),
        frozenset({"ix_files_search_name"}),
    ),
    "statistics by category": Hot(
        lambda s, k: statistics.category_statistics(s),
        frozenset({"ix_files_category_live_created"}),
    ),
    "trends by day": Hot(
        lambda s, k: statistics.upload_trends(
            s, statistics.Period.DAY, start=date(2026, 9, 1), end=date(2026, 9, 30)
        ),
        frozenset({"ix_files_created_at"}),
    ),
    "purge candidates": Hot(  # a batch job: the planner may read the range and sort it
        lambda s, k: files.purge_candidates(s, timedelta(days=30), now=NOW),
        frozenset({"ix_files_deleted_at"}),
    ),
    "activity of one file": Hot(
        _activity,
        frozenset({"ix_file_views_file_id_created_at", "ix_file_downloads_file_id_created_at"}),
        tables=frozenset({"file_views", "file_downloads"}),
    ),
}


def _indexes(plan: list[dict[str, Any]]) -> set[str]:
    found = {name for step in plan if (name := step.get("key") or step.get("Index Name"))}
    return found | {m[1] for step in plan if (m := _SQLITE_INDEX.search(step.get("detail", "")))}


@pytest.mark.parametrize("name", HOT_QUERIES)
def test_hot_queries_use_indexes(filled: Engine, name: str) -> None:
    hot = HOT_QUERIES[name]
    key = _sample(filled)
    with Session(filled) as session:
        statements = [
            s
            for s in emitted(session, lambda s: hot.work(s, key))
            if s[0].lstrip().upper().startswith("SELECT")
        ]
        assert statements
        problems, used = [], set()
        for position, (statement, parameters) in enumerate(statements):
            plan = _plan(session, statement, parameters)
            used |= _indexes(plan)
            problems += _full_scans(plan, set(hot.tables))
            if hot.listing and position == 0:  # the page itself; later statements load relations
                problems += _sorts(plan)
        problems += [f"{index} not used" for index in sorted(hot.indexes - used)]
        assert problems == [], f"{name}: {problems}\n{statements[0][0]}"
