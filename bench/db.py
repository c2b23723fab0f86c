"""Data-layer benchmark: the hot queries at a million files, and bulk insert vs the raw driver.

    .venv/bin/python -m bench.db                         # MariaDB, 1,000,000 files
    .venv/bin/python -m bench.db --dialect postgresql --dialect sqlite --files 200000

It creates a scratch database (``--database``, default ``fwb_bench`` on the servers,
/tmp/NAME.db for SQLite), fills it with files of a realistic shape (a long tail of
extensions and sizes, two years of dates, 0-5 tags each, 10% soft-deleted, view and
download events), then prints for each hot query the p50 and p95 latency over --runs runs,
keyset page 1 against page 1,000, and our bulk insert of --bulk rows as a ratio of the raw
driver's executemany in the same run (``--bulk 0`` leaves it out, as ``--reuse`` runs may
want: it adds four times as many files).
Timings depend on what else the machine is doing: compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import re
import statistics as stats
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from bench.databases import database_url, migrate, recreate, rendered
from filewallball.database import create_database_engine
from filewallball.models import (
    FileDownload,
    FileInfo,
    FileTag,
    FileTagRelation,
    FileView,
)
from filewallball.operations import activity, files, folders, records, statistics
from filewallball.operations.files import FileSpec
from filewallball.operations.search import FileQuery, search_files
from filewallball.settings import Settings

NOW = datetime(2026, 11, 1, tzinfo=UTC)
EXTENSIONS = [  # (extension, MIME type, weight): a few common, many rare
    ("jpg", "image/jpeg", 30),
    ("png", "image/png", 18),
    ("pdf", "application/pdf", 14),
    ("txt", "text/plain", 6),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 5),
    ("mp4", "video/mp4", 4),
    ("zip", "application/zip", 4),
    ("csv", "text/csv", 3),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 3),
    ("gif", "image/gif", 2),
    ("mp3", "audio/mpeg", 2),
    ("json", "application/json", 2),
    ("webp", "image/webp", 1),
    ("mov", "video/quicktime", 1),
    ("md", "text/markdown", 1),
] + [(f"x{n:02d}", "application/octet-stream", 0.1) for n in range(40)]
CATEGORIES = ["images", "documents", "spreadsheets", "audio", "video", "archives", "code", None]
WORDS = ["report", "photo", "scan", "Backup"]  # of the file names
TAGS = [f"tag-{n:03d}" for n in range(300)]
TAG_WEIGHTS = [1 / (rank + 1) for rank in range(len(TAGS))]  # Zipf: a few tags are everywhere


@dataclass
class Filled:
    uuids: list[str]
    hashes: list[str]
    ids: list[int]
    created: list[datetime]


def sample(engine: Engine) -> Filled:
    """Every hundredth file of an existing benchmark database."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                FileInfo.id, FileInfo.file_uuid, FileInfo.file_hash, FileInfo.created_at
            ).where(FileInfo.id % 100 == 0)
        ).all()
    return Filled(
        [r[1] for r in rows], [r[2] for r in rows], [r[0] for r in rows], [r[3] for r in rows]
    )


def scratch_url(dialect: str, name: str) -> URL:
    url = database_url(dialect, name)
    recreate(url)
    return url


def specs(rng: random.Random, count: int, contents: str = "content") -> Iterator[FileSpec]:
    """``count`` files of a realistic shape; 15% share their content with another. Specs
    with another ``contents`` name other contents."""
    extensions = rng.choices(EXTENSIONS, weights=[w for _, _, w in EXTENSIONS], k=count)
    for index, (extension, mime, _) in enumerate(extensions):
        digest = hashlib.sha256(
            f"{contents}-{rng.randrange(int(count * 0.85))}".encode()
        ).hexdigest()
        yield FileSpec(
            original_filename=f"file-{index:07d} {rng.choice(WORDS)}.{extension}",
            file_size=min(int(rng.lognormvariate(11, 2.5)), 8 * 1024**3),
            file_hash=digest,
            storage_path=f"{digest[:2]}/{digest[2:4]}/{digest}",
            mime_type=mime,
            category=rng.choice(CATEGORIES),
            folder=_folder(rng),
            is_public=rng.random() < 0.8,
            created_at=NOW
            - timedelta(seconds=rng.randrange(730 * 86_400), microseconds=rng.randrange(10**6)),
        )


def _folder(rng: random.Random) -> str:
    """A third of the files at the top, the others in 100 folders of 10 subfolders."""
    if rng.random() < 1 / 3:
        return ""
    return f"d{rng.randrange(100):02d}/s{rng.randrange(10)}"


def fill(engine: Engine, count: int, rng: random.Random) -> Filled:
    sessions = sessionmaker(engine)
    filled = Filled([], [], [], [])
    started = time.perf_counter()
    batch: list[FileSpec] = []
    for spec in specs(rng, count):
        batch.append(spec)
        if len(batch) == 10_000:
            _insert_batch(sessions, batch, filled)
            batch = []
    if batch:
        _insert_batch(sessions, batch, filled)
    with sessions.begin() as session:  # 10% soft-deleted, some days after upload
        deleted = rng.sample(filled.ids, count // 10)
        for chunk in _chunks(deleted, 10_000):
            session.execute(
                sa.update(FileInfo),
                [
                    {
                        "id": i,
                        "is_deleted": True,
                        "deleted_at": NOW - timedelta(days=rng.randrange(400)),
                    }
                    for i in chunk
                ],
            )
    _fill_links(sessions, filled, rng)
    _fill_events(sessions, filled.ids, rng)
    fold(engine)
    tables = ("files", "file_tag_relations", "file_tags", "file_views", "file_downloads")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("ANALYZE")
        elif engine.dialect.name == "postgresql":  # what autovacuum would do in a while
            for table in (*tables, "file_counts", "blobs"):
                connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
        else:
            for table in tables:
                connection.exec_driver_sql(f"ANALYZE TABLE {table}")
    print(f"  filled {count:,} files with tags and events in {time.perf_counter() - started:.0f} s")
    return filled


def fold(engine: Engine) -> None:
    """What the service does every 30 seconds, and the fill leaves a million rows for."""
    sessions = sessionmaker(engine)
    started, folded = time.perf_counter(), 0
    while True:
        with sessions.begin() as session:
            if not (went := statistics.fold_counts(session)):
                break
        folded += went
    print(f"  folded {folded:,} rows of file_counts in {time.perf_counter() - started:.1f} s")


def _insert_batch(sessions: sessionmaker[Session], batch: list[FileSpec], filled: Filled) -> None:
    with sessions.begin() as session:
        created = files.bulk_insert_files(session, batch)
    filled.ids += [row_id for row_id, _ in created]
    filled.uuids += [file_uuid for _, file_uuid in created]
    filled.hashes += [spec.file_hash for spec in batch]
    filled.created += [spec.created_at for spec in batch]  # type: ignore[misc]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fill_links(sessions: sessionmaker[Session], filled: Filled, rng: random.Random) -> None:
    now = NOW
    with sessions.begin() as session:
        session.execute(
            sa.insert(FileTag), [{"tag_name": name, "created_at": now} for name in TAGS]
        )
        tag_ids = dict(session.execute(sa.select(FileTag.tag_name, FileTag.id)).all())
    links = []
    for file_id, created in zip(filled.ids, filled.created, strict=True):
        for name in set(rng.choices(TAGS, weights=TAG_WEIGHTS, k=rng.randrange(6))):
            links.append(
                {
                    "file_id": file_id,
                    "tag_id": tag_ids[name],
                    "created_at": now,
                    "file_created_at": created,
                }
            )
    for chunk in _chunks(links, 50_000):
        with sessions.begin() as session:
            session.execute(sa.insert(FileTagRelation), chunk)


def _fill_events(sessions: sessionmaker[Session], ids: list[int], rng: random.Random) -> None:
    hot = ids[: len(ids) // 20]  # a few files get most of the traffic
    for model, count in ((FileView, len(ids)), (FileDownload, len(ids) * 3 // 10)):
        rows = [
            {
                "file_id": rng.choice(hot) if rng.random() < 0.6 else rng.choice(ids),
                "client_ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                "created_at": NOW - timedelta(seconds=rng.randrange(400 * 86_400)),
                **({"bytes_served": rng.randrange(10**7)} if model is FileDownload else {}),
            }
            for _ in range(count)
        ]
        for chunk in _chunks(rows, 50_000):
            with sessions.begin() as session:
                session.execute(sa.insert(model), chunk)


def timed(runs: int, work: Callable[[int], object]) -> tuple[float, float]:
    """p50 and p95 in milliseconds of ``work(run)`` over ``runs`` runs, after one warm-up."""
    work(-1)
    samples = []
    for run in range(runs):
        started = time.perf_counter()
        work(run)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return stats.median(samples), samples[int(len(samples) * 0.95) - 1]


def hot_queries(
    engine: Engine, filled: Filled, runs: int, rng: random.Random
) -> list[tuple[str, float, float]]:
    sessions = sessionmaker(engine)
    uuids = rng.sample(filled.uuids, runs + 1)
    hashes = rng.sample(filled.hashes, runs + 1)
    ids = rng.sample(filled.ids, runs + 1)
    common = ["jpg", "png", "pdf", "txt", "mp4"]
    results = []

    def measure(name: str, work: Callable[[Session, int], object]) -> None:
        with sessions() as session:
            p50, p95 = timed(runs, lambda run: work(session, run))
        results.append((name, p50, p95))

    measure(
        "file record by uuid (category, tags)",
        lambda s, r: records.file_record(s, uuids[r], include_deleted=True),
    )
    measure(
        "file detail by uuid (record and activity)",
        lambda s, r: records.file_detail(s, uuids[r], include_deleted=True),
    )
    measure("live files by hash", lambda s, r: files.find_by_hash(s, hashes[r]))
    measure("newest live files (page of 50)", lambda s, r: search_files(s, FileQuery()))
    measure(
        "live files by extension, newest first",
        lambda s, r: search_files(s, FileQuery(extension=[common[r % 5]])),
    )
    measure(
        "rare extension, newest first",
        lambda s, r: search_files(s, FileQuery(extension=[f"x{r % 40:02d}"])),
    )
    measure(
        "live files by category, newest first",
        lambda s, r: search_files(s, FileQuery(category=CATEGORIES[r % 7])),
    )
    measure(
        "live files by common tag, newest first",
        lambda s, r: search_files(s, FileQuery(tag=[TAGS[r % 3]])),
    )
    measure(
        "live files by rare tag, newest first",
        lambda s, r: search_files(s, FileQuery(tag=[TAGS[250 + r % 50]])),
    )
    measure(
        "one folder, newest first",
        lambda s, r: search_files(s, FileQuery(folder=f"d{r % 100:02d}/s{r % 10}")),
    )
    measure(
        "one folder, by name",
        lambda s, r: search_files(
            s, FileQuery(folder=f"d{r % 100:02d}/s{r % 10}", sort="original_filename")
        ),
    )
    measure(
        "a folder and everything under it, newest first",
        lambda s, r: search_files(s, FileQuery(folder_prefix=f"d{r % 100:02d}")),
    )
    measure(
        "subfolders of a folder, with counts",
        lambda s, r: folders.list_folders(s, f"d{r % 100:02d}"),
    )
    measure(
        "purge candidates (30 days, 100)",
        lambda s, r: files.purge_candidates(s, timedelta(days=30), now=NOW, limit=100),
    )
    measure("activity of one file", lambda s, r: activity.file_activity(s, s.get(FileInfo, ids[r])))  # type: ignore[arg-type]
    measure(
        "trends by day, 30 days",
        lambda s, r: statistics.upload_trends(
            s,
            statistics.Period.DAY,
            start=date(2026, 9, 1) + timedelta(days=r % 30),
            end=date(2026, 9, 30) + timedelta(days=r % 30),
        ),
    )
    aggregate_runs = max(runs // 10, 5)
    with sessions() as session:
        for name, work in (
            ("statistics per category (view)", lambda run: statistics.category_statistics(session)),
            ("totals", lambda run: statistics.totals(session)),
            ("subfolders of the top, with counts", lambda run: folders.list_folders(session, "")),
        ):
            p50, p95 = timed(aggregate_runs, work)
            results.append((f"{name} [{aggregate_runs} runs]", p50, p95))
    return results


def keyset_pages(engine: Engine, runs: int) -> tuple[float, float]:
    sessions = sessionmaker(engine)
    with sessions() as session:
        query = FileQuery()
        cursor = None
        for _ in range(999):
            cursor = search_files(session, query.model_copy(update={"cursor": cursor})).next_cursor
        first = timed(runs, lambda run: search_files(session, query))
        thousandth = timed(
            runs, lambda run: search_files(session, query.model_copy(update={"cursor": cursor}))
        )
    return first[1], thousandth[1]


def bulk_ratio(
    engine: Engine, count: int, rng: random.Random, rounds: int = 2
) -> tuple[float, float]:
    """Best seconds to insert ``count`` rows: the raw DBAPI executemany of prepared tuples,
    and our bulk_insert_files from FileSpecs (validation included). The two alternate and
    nothing is deleted in between, so neither pays for the other's clean-up. Each insert
    brings contents of its own, so both pay the same for their new blob rows."""

    def batch_of(contents: str) -> list[FileSpec]:
        return [
            FileSpec(**{**spec.__dict__, "category": None, "folder": ""})
            for spec in specs(rng, count, contents)
        ]

    columns = (
        "file_uuid",
        "original_filename",
        "stored_filename",
        "file_extension",
        "mime_type",
        "file_size",
        "file_hash",
        "storage_path",
        "is_public",
        "is_deleted",
        "created_at",
        "updated_at",
    )
    aware = engine.dialect.name == "postgresql"
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([marker] * len(columns))
    insert = f"INSERT INTO files ({', '.join(columns)}) VALUES ({values})"  # noqa: S608 (constants)
    sessions = sessionmaker(engine)
    raw_times, our_times = [], []
    for round_ in range(rounds):
        batch = batch_of(f"raw-{round_}")
        rows = [
            (
                str(uuid.uuid4()),
                spec.original_filename,
                spec.file_hash,
                spec.original_filename.rsplit(".")[-1],
                spec.mime_type,
                spec.file_size,
                spec.file_hash,
                spec.storage_path,
                spec.is_public,
                False,
                *[spec.created_at if aware else spec.created_at.replace(tzinfo=None)] * 2,  # type: ignore[union-attr]
            )
            for spec in batch
        ]
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            started = time.perf_counter()
            if engine.dialect.name == "sqlite":  # our engine leaves transactions to the caller
                cursor.execute("BEGIN")
            cursor.executemany(insert, rows)
            raw.commit()
            raw_times.append(time.perf_counter() - started)
        finally:
            raw.close()
        batch = batch_of(f"ours-{round_}")
        started = time.perf_counter()
        with sessions.begin() as session:
            files.bulk_insert_files(session, batch)
        our_times.append(time.perf_counter() - started)
    return min(raw_times), min(our_times)


def _database_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise argparse.ArgumentTypeError(f"{name!r}: lower-case letters, digits and _ only")
    return name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dialect", action="append", choices=["mariadb", "postgresql", "sqlite"])
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--database",
        default="fwb_bench",
        type=_database_name,
        help="scratch database on the servers (for SQLite, /tmp/NAME.db); default fwb_bench",
    )
    parser.add_argument(
        "--bulk",
        type=int,
        default=100_000,
        help="rows of the bulk insert comparison; 0 leaves it out (it adds 4x that many files)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--settle",
        type=float,
        default=30.0,
        help="seconds to let the server finish background work (purge, flush) after the fill",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the --database of an earlier run instead of filling a new one",
    )
    parser.add_argument(
        "--innodb-buffer-pool-mb",
        type=int,
        help="resize MariaDB's buffer pool first (SET GLOBAL; lasts until the server restarts)",
    )
    args = parser.parse_args()
    for dialect in args.dialect or ["mariadb"]:
        rng = random.Random(args.seed)
        url = (
            database_url(dialect, args.database)
            if args.reuse
            else scratch_url(dialect, args.database)
        )
        migrate(url)
        engine = create_database_engine(Settings(database_url=rendered(url)))
        with engine.begin() as connection:
            if dialect == "mariadb" and args.innodb_buffer_pool_mb:
                connection.exec_driver_sql(
                    "SET GLOBAL innodb_buffer_pool_size = "
                    f"{args.innodb_buffer_pool_mb * 1024 * 1024}"
                )
            memory = connection.exec_driver_sql(
                {
                    "mariadb": "SELECT @@innodb_buffer_pool_size DIV 1048576",
                    "postgresql": "SELECT current_setting('shared_buffers')",
                    "sqlite": "SELECT 'page cache'",
                }[dialect]
            ).scalar()
        print(f"\n== {dialect}: {args.files:,} files, {args.runs} runs per query; buffer: {memory}")
        if args.reuse:
            fold(engine)  # what the last run's bulk inserts left
            filled = sample(engine)
        else:
            filled = fill(engine, args.files, rng)
            time.sleep(args.settle if dialect != "sqlite" else 0)
        # A million objects from the fill would make every full garbage collection (and so
        # some of the timed runs) slow: take them out of the collector's sight.
        gc.collect()
        gc.freeze()
        print(f"  {'query':<52} {'p50 ms':>9} {'p95 ms':>9}")
        for name, p50, p95 in hot_queries(engine, filled, args.runs, rng):
            print(f"  {name:<52} {p50:>9.2f} {p95:>9.2f}")
        first, thousandth = keyset_pages(engine, args.runs)
        print(
            f"  keyset page 1 p95 {first:.2f} ms, page 1,000 p95 {thousandth:.2f} ms: "
            f"ratio {thousandth / first:.2f} (target <= 1.5)"
        )
        if not args.bulk:
            engine.dispose()
            continue
        raw_seconds, our_seconds = bulk_ratio(engine, args.bulk, rng)
        print(
            f"  bulk insert {args.bulk:,} rows: raw driver {raw_seconds:.2f} s, "
            f"ours {our_seconds:.2f} s: ratio {raw_seconds / our_seconds:.2f} (target >= 0.8)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
