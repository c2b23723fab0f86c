"""Search: every filter, sort and page on every database, checked against plain Python."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput
from filewallball.filenames import searchable_name
from filewallball.models import FileInfo
from filewallball.operations import files, tags
from filewallball.operations.search import FileQuery, Page, files_by_tags, search_files
from tests import factories
from tests.servers import only_on
from tests.statements import emitted

T0 = datetime(2026, 3, 1, tzinfo=UTC)
NAMES = [
    "report.pdf",
    "Report-final.PDF",
    "photo.jpg",
    "100%_real.txt",
    "back-slash.txt",
    "under_score.md",
    "holiday photo.jpg",
    "notes",
    "data.csv",
    "Ünïcode.txt",
]
TAGS = ["red", "green", "blue"]


def _make(session: Session, count: int = 60, seed: int = 1) -> list[FileInfo]:
    """Files with deliberate ties in time, size and name, so tie-breaks matter."""
    rng = random.Random(seed)
    made = []
    for index in range(count):
        file = files.create_file(
            session,
            factories.spec(
                original_filename=NAMES[index % len(NAMES)],
                mime_type=rng.choice(["image/jpeg", "application/pdf", "text/plain", "image/png"]),
                category=rng.choice([None, "images", "documents"]),
                is_public=rng.random() < 0.7,
                created_at=T0 + timedelta(hours=rng.randrange(0, 12)),
            ),
        )
        file.file_size = rng.choice([0, 10, 10, 500, 4096, 10**9])
        tags.add_tags(session, file, rng.sample(TAGS, rng.randrange(0, 3)))
        if rng.random() < 0.15:
            files.soft_delete_file(session, file.file_uuid)
        made.append(file)
    session.flush()
    return made


def _expected(made: list[FileInfo], query: FileQuery) -> list[int]:
    def keep(f: FileInfo) -> bool:
        names = {t.tag_name for t in f.tags}
        return all(
            [
                query.include_deleted or not f.is_deleted,
                not query.q or searchable_name(query.q) in searchable_name(f.original_filename),
                not query.name_prefix
                or searchable_name(f.original_filename).startswith(
                    searchable_name(query.name_prefix)
                ),
                not query.extension
                or f.file_extension in {e.lower().lstrip(".") for e in query.extension},
                not query.mime or f.mime_type.startswith(query.mime),
                not query.category
                or (f.category is not None and f.category.name == query.category),
                query.min_size is None or f.file_size >= query.min_size,
                query.max_size is None or f.file_size <= query.max_size,
                query.created_after is None or f.created_at >= query.created_after,
                query.created_before is None or f.created_at <= query.created_before,
                query.is_public is None or f.is_public == query.is_public,
                not query.tag
                or (any if query.tag_mode == "any" else all)(t in names for t in query.tag),
            ]
        )

    chosen = sorted(
        (f for f in made if keep(f)),
        key=lambda f: (getattr(f, query.sort), f.id),
        reverse=query.order == "desc",
    )
    return [f.id for f in chosen]


def _all_pages(session: Session, query: FileQuery) -> tuple[list[int], list[Page]]:
    pages = [search_files(session, query)]
    while pages[-1].next_cursor:
        pages.append(
            search_files(session, query.model_copy(update={"cursor": pages[-1].next_cursor}))
        )
        assert len(pages) < 100
    return [f.id for page in pages for f in page.items], pages


queries = st.builds(
    FileQuery,
    q=st.sampled_from([None, "report", "PHOTO", "%", "_", "\\", "ü", "xyz"]),
    name_prefix=st.sampled_from([None, "re", "RÉPORT", "100%", "h", "un", "z"]),
    extension=st.sampled_from([[], ["pdf"], ["JPG", ".txt"]]),
    mime=st.sampled_from([None, "image/", "text/plain", "application/"]),
    category=st.sampled_from([None, "images", "documents", "nope"]),
    tag=st.sampled_from([[], ["red"], ["red", "blue"]]),
    tag_mode=st.sampled_from(["any", "all"]),
    min_size=st.sampled_from([None, 0, 10, 501]),
    max_size=st.sampled_from([None, 10**9, 4096]),
    created_after=st.sampled_from([None, T0 + timedelta(hours=3)]),
    created_before=st.sampled_from([None, T0 + timedelta(hours=8)]),
    is_public=st.sampled_from([None, True, False]),
    include_deleted=st.booleans(),
    sort=st.sampled_from(["created_at", "file_size", "original_filename"]),
    order=st.sampled_from(["asc", "desc"]),
    limit=st.sampled_from([1, 7, 50]),
    with_total=st.just(True),
).filter(lambda q: q.min_size is None or q.max_size is None or q.min_size <= q.max_size)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=queries)
def test_any_query_matches_python(session: Session, query: FileQuery) -> None:
    made = session.info.get("made")
    if made is None:
        made = session.info["made"] = _make(session)
    found, pages = _all_pages(session, query)
    expected = _expected(made, query)
    assert found == expected
    assert {page.total for page in pages} == {len(expected)}
    assert all(len(page.items) <= query.limit for page in pages)


def test_like_wildcards_and_backslash_are_literal(session: Session) -> None:
    for name in NAMES:
        files.create_file(session, factories.spec(original_filename=name))

    def found(text: str) -> set[str]:
        return {f.original_filename for f in search_files(session, FileQuery(q=text)).items}

    assert found("%") == {"100%_real.txt"}
    assert found("%_r") == {"100%_real.txt"}
    assert found("o_o") == set()  # "_" is not "any one character": "photo" does not match
    assert found("der_sc") == {"under_score.md"}
    assert found("\\") == set()  # a backslash escapes nothing
    assert found("\\%") == set()


def test_total_counts_each_file_once_with_several_matching_tags(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, TAGS)
    page = search_files(session, FileQuery(tag=TAGS, tag_mode="any", with_total=True))
    assert ([f.id for f in page.items], page.total) == ([file.id], 1)
    assert [f.id for f in files_by_tags(session, ["RED", "green"], mode="all").items] == [file.id]


def test_soft_deleted_files_only_when_asked(session: Session) -> None:
    kept, gone = (files.create_file(session, factories.spec()) for _ in range(2))
    files.soft_delete_file(session, gone.file_uuid)
    assert [f.id for f in search_files(session, FileQuery()).items] == [kept.id]
    everything = search_files(session, FileQuery(include_deleted=True)).items
    assert {f.id for f in everything} == {kept.id, gone.id}


def test_pages_do_not_drift_when_rows_are_added(session: Session) -> None:
    _make(session, count=30)
    first = search_files(session, FileQuery(limit=10))
    newest = files.create_file(session, factories.spec(created_at=T0 + timedelta(days=1)))
    second = search_files(session, FileQuery(limit=10, cursor=first.next_cursor))
    assert newest not in second.items
    assert not set(first.items) & set(second.items)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_size": -1}, "min_size"),
        ({"min_size": 10, "max_size": 5}, "above max_size"),
        ({"created_after": T0, "created_before": T0 - timedelta(seconds=1)}, "later than"),
        ({"created_after": datetime(2026, 1, 1)}, "created_after"),  # noqa: DTZ001 - the point
        ({"sort": "password"}, "sort"),
        ({"order": "sideways"}, "order"),
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"tag_mode": "some"}, "tag_mode"),
        ({"colour": "red"}, "colour"),
        ({"min_size": 2**63}, "min_size"),
        ({"created_after": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))}, "out of range"),
    ],
)
def test_bad_parameters_are_one_clear_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        FileQuery.from_params(**params)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        _b64("not json"),
        _b64("[1,2]"),
        _b64('["file_size","desc",10,1]'),
        _b64('["created_at","desc","2026-01-01T00:00:00",1]'),
        _b64('["created_at","desc","yesterday",1]'),
        _b64('["created_at","desc","2026-01-01T00:00:00+00:00","1"]'),
        _b64("{}"),
        _b64('["created_at","desc","2026-01-01T00:00:00+00:00",99999999999999999999999]'),
        _b64('["created_at","desc","0001-01-01T00:00:00+05:00",1]'),
        _b64('["file_size","desc",-1,1]'),
    ],
)
def test_forged_cursors_are_refused(session: Session, cursor: str) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        search_files(session, FileQuery(cursor=cursor))


def test_cursors_of_another_sort_are_refused(session: Session) -> None:
    _make(session, count=5)
    by_size = search_files(session, FileQuery(sort="file_size", limit=2))
    assert by_size.next_cursor
    with pytest.raises(InvalidInput, match="cursor"):
        search_files(session, FileQuery(limit=2, cursor=by_size.next_cursor))


def test_bad_tag_names_in_a_search_are_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="tag"):
        search_files(session, FileQuery(tag=["50%"]))


@pytest.mark.parametrize("names", [[], "ab"])
def test_files_by_tags_needs_a_list_of_names(session: Session, names: Any) -> None:
    with pytest.raises(InvalidInput, match="list of one or more"):
        files_by_tags(session, names)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tag": [f"t{n}" for n in range(21)]}, "tag"),
        ({"extension": ["x"] * 21}, "extension"),
        ({"tag": ["x" * 51]}, "tag"),
        ({"extension": ["x" * 22]}, "extension"),
    ],
)
def test_filter_lists_have_limits(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        FileQuery.from_params(**params)


def test_tag_pages_follow_each_other(session: Session) -> None:
    tagged = []
    for hour in range(7):
        file = files.create_file(session, factories.spec(created_at=T0 + timedelta(hours=hour % 3)))
        tags.add_tags(session, file, ["paged"])
        tagged.append(file)
    found, _ = _all_pages(session, FileQuery(tag=["paged"], limit=2))
    expected = sorted(tagged, key=lambda f: (f.created_at, f.id), reverse=True)
    assert found == [f.id for f in expected]
    window = search_files(session, FileQuery(tag=["paged"], created_after=T0 + timedelta(hours=2)))
    assert {f.id for f in window.items} == {
        f.id for f in tagged if f.created_at >= T0 + timedelta(hours=2)
    }


def _names(session: Session, **params: Any) -> set[str]:
    return {f.original_filename for f in search_files(session, FileQuery(**params)).items}


def test_q_finds_names_whatever_their_case_accents_and_compatibility_forms(
    session: Session,
) -> None:
    wide = "\uff26\uff35\uff2c\uff2c \ufb01le.pdf"  # fullwidth FULL, the fi ligature
    for name in ("Résumé.txt", wide, "한국어 문서.txt", "Straße.md", "notes.txt"):
        files.create_file(session, factories.spec(original_filename=name))
    assert _names(session, q="resume") == {"Résumé.txt"}
    assert _names(session, q="RÉSUMÉ") == {"Résumé.txt"}
    assert _names(session, q="full file") == {wide}
    assert _names(session, q="strasse") == {"Straße.md"}
    assert _names(session, q="국어") == {"한국어 문서.txt"}
    # Hangul stays composed: 하 is part of 한's jamo, not a syllable of the name
    assert _names(session, q="하") == set()


def test_name_prefix_matches_the_start_of_the_name_only(session: Session) -> None:
    for name in ("Résumé 2026.txt", "resume.md", "my résumé.txt", "RESUMES.zip", "rest.txt"):
        files.create_file(session, factories.spec(original_filename=name))
    assert _names(session, name_prefix="résumé") == {"Résumé 2026.txt", "resume.md", "RESUMES.zip"}
    assert _names(session, name_prefix="Resume ") == {"Résumé 2026.txt"}
    assert _names(session, name_prefix="resume", q="zip") == {"RESUMES.zip"}
    assert _names(session, name_prefix="my résumé.txt") == {"my résumé.txt"}
    assert _names(session, name_prefix="résumés!") == set()


def test_name_prefix_ranges_end_at_the_edges_of_unicode(session: Session) -> None:
    """The range's end grows the prefix's last character, past the surrogates, and drops
    a last U+10FFFF, which nothing follows."""
    names = ["\ud7ff.txt", "\ud7ffa.txt", "\ue000.txt", "x\U0010ffff.txt", "y.txt"]
    for name in names:
        files.create_file(session, factories.spec(original_filename=name))
    assert _names(session, name_prefix="\ud7ff") == {"\ud7ff.txt", "\ud7ffa.txt"}
    assert _names(session, name_prefix="x\U0010ffff") == {"x\U0010ffff.txt"}
    assert _names(session, name_prefix="\U0010ffff") == set()


def test_every_way_of_naming_a_file_keeps_its_search_name(session: Session) -> None:
    made = files.create_file(session, factories.spec(original_filename="Café.jpg"))
    [(bulk_id, _)] = files.bulk_insert_files(
        session, [factories.spec(original_filename="Crème brûlée.jpg")]
    )
    files.update_file(session, made.file_uuid, original_filename="Thé vert.jpg")
    session.flush()
    stored = dict(session.execute(sa.select(FileInfo.id, FileInfo.search_name)).all())
    assert stored == {made.id: "the vert.jpg", bulk_id: "creme brulee.jpg"}
    assert _names(session, q="cafe") == set()
    assert _names(session, q="THE") == {"Thé vert.jpg"}


CODE_POINT_ORDER = {"sqlite": None, "postgresql": "C", "mysql": "utf8mb4_nopad_bin"}


def test_search_names_compare_in_code_point_order_whatever_the_database_default(
    session: Session,
) -> None:
    """A name prefix is one range only in code point order: a language's collation
    would put "a-b" beside "ab", and MariaDB's PAD SPACE "a " beside "a"."""
    for name in ("ab.txt", "a-b.txt", "a b.txt", "a_b.txt", "\ue000.txt", "z.txt", "µ.txt"):
        files.create_file(session, factories.spec(original_filename=name))
    stored = session.scalars(sa.select(FileInfo.search_name).order_by(FileInfo.search_name)).all()
    assert stored == sorted(stored)
    [column] = [
        c
        for c in sa.inspect(session.connection()).get_columns("files")
        if c["name"] == "search_name"
    ]
    dialect = session.connection().dialect.name
    assert getattr(column["type"], "collation", None) == CODE_POINT_ORDER[dialect]


@only_on("sqlite")
def test_a_name_prefix_is_an_index_range_on_sqlite(session: Session) -> None:
    """SQLite's LIKE 'x%' takes no index (it folds ASCII case); the range does. MariaDB
    and PostgreSQL: test_explain."""
    files.bulk_insert_files(
        session, [factories.spec(original_filename=f"file {n}.txt") for n in range(300)]
    )
    statement, parameters = emitted(
        session, lambda s: search_files(s, FileQuery(name_prefix="File 12"))
    )[0]
    connection = session.connection()
    plan = [
        row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    ]
    assert any(
        "USING INDEX ix_files_search_name (search_name>? AND search_name<?)" in step
        for step in plan
    ), plan
