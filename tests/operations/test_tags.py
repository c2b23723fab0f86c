"""Tag operations on every database, and concurrent tagging on the servers."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.models import FileInfo, FileTag, FileTagRelation
from filewallball.operations import files, tags
from tests import factories


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("tab\tinside", "tab inside"),
        ("Holiday", "holiday"),
        ("  Road   Trip ", "road trip"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),
        ("c++", "c++"),
        ("v1.2", "v1.2"),
        ("日本", "日本"),
        ("e\u0301", "é"),
    ],
)
def test_normalise(given: str, stored: str) -> None:
    assert tags.normalise_tag(given) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 51, "limit is 50"),
        ("a,b", "letters"),
        ("a/b", "letters"),
        ("50%", "letters"),
        ("_x", "letters"),
        ("-x", "letters"),
        ("nul\x00", "letters"),
        ("'; DROP TABLE file_tags; --", "letters"),
    ],
)
def test_normalise_refuses(given: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        tags.normalise_tag(given)


def _names(file: FileInfo) -> set[str]:
    return {tag.tag_name for tag in file.tags}


def test_add_creates_missing_tags_and_is_idempotent(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, ["Travel", "travel ", "Paris"])
    tags.add_tags(session, file, ["paris", "Summer"])
    assert _names(file) == {"travel", "paris", "summer"}
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(FileTag)
        .where(FileTag.tag_name.in_(["travel", "paris", "summer"]))
    )
    assert count == 3


def test_add_refuses_a_bad_name_without_tagging_anything(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    with pytest.raises(InvalidInput):
        tags.add_tags(session, file, ["fine", "not/fine"])
    assert _names(file) == set()


def test_remove(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, ["a1", "b2", "c3"])
    assert tags.remove_tags(session, file, ["A1", "c3", "never-existed"]) == 2
    assert _names(file) == {"b2"}
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(FileTag).where(FileTag.tag_name == "a1")
        )
        == 1
    )


def test_popular_tags_count_live_files_only(session: Session) -> None:
    made = [files.create_file(session, factories.spec()) for _ in range(4)]
    for file in made:
        tags.add_tags(session, file, ["pop-common"])
    tags.add_tags(session, made[0], ["pop-rare"])
    tags.add_tags(session, made[1], ["pop-rare"])
    files.soft_delete_file(session, made[1].file_uuid)
    tags.add_tags(session, made[2], ["pop-hidden"])
    tags.deactivate_tag(session, "pop-hidden")
    counts = {tag.tag_name: n for tag, n in tags.popular_tags(session, limit=None)}
    assert counts["pop-common"] == 3
    assert counts["pop-rare"] == 1
    assert "pop-hidden" not in counts
    ordered = [name for name in counts if name.startswith("pop-")]
    assert ordered == ["pop-common", "pop-rare"]


def test_rename(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, ["colour", "color"])
    with pytest.raises(Conflict, match="'color' already exists"):
        tags.rename_tag(session, "colour", "Color")
    tags.remove_tags(session, file, ["color"])
    session.execute(sa.delete(FileTag).where(FileTag.tag_name == "color"))
    tags.rename_tag(session, "Colour", "Color")
    session.expire(file)
    assert _names(file) == {"color"}
    with pytest.raises(NotFound):
        tags.rename_tag(session, "colour", "anything")


def test_a_deactivated_tag_is_refused_for_new_tagging(session: Session) -> None:
    first, second = (files.create_file(session, factories.spec()) for _ in range(2))
    tags.add_tags(session, first, ["retired"])
    tags.deactivate_tag(session, "retired")
    with pytest.raises(InvalidInput, match="deactivated"):
        tags.add_tags(session, second, ["retired"])
    assert _names(first) == {"retired"}


def _lock_waits(engine: Engine) -> int | None:
    """Transactions of this database waiting for a lock now; None on SQLite, which waits
    inside BEGIN where no catalog shows it."""
    query = {
        "mysql": "SELECT COUNT(*) FROM information_schema.innodb_trx"
        " WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN (SELECT id FROM"
        " information_schema.processlist WHERE db = DATABASE())",
        "postgresql": "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE NOT l.granted AND a.datname = current_database()",
    }.get("mysql" if engine.dialect.name == "mariadb" else engine.dialect.name)
    if query is None:
        return None
    with engine.connect() as connection:
        return int(connection.exec_driver_sql(query).scalar() or 0)


def test_two_sessions_create_the_same_new_tag_at_once(migrated: Engine) -> None:
    """Session A has inserted the tag but not committed; session B then tags another file
    with it and must wait for A (on the unique index, or for SQLite's write lock), then
    still succeed, using A's tag."""
    sessions = sessionmaker(migrated)
    first_uuid, second_uuid = _new_files(sessions, 2)

    errors: list[BaseException] = []
    started = threading.Event()

    def tag_second() -> None:
        try:
            started.set()
            with sessions.begin() as other:
                tags.add_tags(other, files.get_file(other, second_uuid), ["brand new"])
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    with sessions.begin() as session:
        tags.add_tags(session, files.get_file(session, first_uuid), ["brand new"])
        racer = threading.Thread(target=tag_second)
        racer.start()
        assert started.wait(timeout=10)
        racer.join(timeout=1.0)
        assert racer.is_alive(), "B should be waiting for A"
        assert _lock_waits(migrated) in (None, 1)
    racer.join(timeout=30)
    assert not racer.is_alive()
    assert errors == []

    assert _counts(sessions) == (1, 2)


def _new_files(sessions: sessionmaker[Session], count: int) -> list[str]:
    with sessions.begin() as session:
        return [files.create_file(session, factories.spec()).file_uuid for _ in range(count)]


def _tag_at_once(sessions: sessionmaker[Session], jobs: list[tuple[str, list[str]]]) -> None:
    """Each job (file, tag names) in its own thread and transaction, all released together."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def tag(file_uuid: str, names: list[str]) -> None:
        try:
            start.wait()
            with sessions.begin() as session:
                tags.add_tags(session, files.get_file(session, file_uuid), names)
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    threads = [threading.Thread(target=tag, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def _counts(sessions: sessionmaker[Session]) -> tuple[int | None, int | None]:
    with sessions() as session:
        return (
            session.scalar(sa.select(sa.func.count()).select_from(FileTag)),
            session.scalar(sa.select(sa.func.count()).select_from(FileTagRelation)),
        )


def test_opposite_orders_do_not_deadlock(migrated: Engine) -> None:
    sessions = sessionmaker(migrated)
    first, second = _new_files(sessions, 2)
    for round_number in range(5):
        names = [f"first {round_number}", f"second {round_number}", f"third {round_number}"]
        _tag_at_once(sessions, [(first, names), (second, names[::-1])])
    assert _counts(sessions) == (15, 30)


def test_many_threads_tag_files_with_the_same_new_tags(migrated: Engine) -> None:
    sessions = sessionmaker(migrated)
    uuids = _new_files(sessions, 8)
    _tag_at_once(sessions, [(file_uuid, ["alpha", "beta", "gamma"]) for file_uuid in uuids])
    assert _counts(sessions) == (3, 24)


def test_a_deactivated_tag_refuses_the_whole_request_before_creating_anything(
    session: Session,
) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, ["old"])
    tags.deactivate_tag(session, "old")
    with pytest.raises(InvalidInput, match="deactivated"):
        tags.add_tags(session, file, ["brand-new-one", "old"])
    assert session.scalar(sa.select(FileTag).where(FileTag.tag_name == "brand-new-one")) is None


def test_the_file_links_are_fresh_after_tagging(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    assert file.tag_links == []
    tags.add_tags(session, file, ["x1", "x2"])
    assert len(file.tag_links) == 2
    tags.remove_tags(session, file, ["x1"])
    assert [link.tag.tag_name for link in file.tag_links] == ["x2"]


def test_tagging_and_untagging_change_updated_at_and_a_no_op_does_not(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    created = file.updated_at
    tags.add_tags(session, file, ["moved"])
    tagged = file.updated_at
    assert tagged > created
    tags.add_tags(session, file, ["Moved"])
    tags.remove_tags(session, file, ["never-there"])
    assert file.updated_at == tagged
    tags.remove_tags(session, file, ["moved"])
    assert file.updated_at > tagged


def test_the_tags_a_file_is_created_with_are_part_of_its_creation(session: Session) -> None:
    file = files.create_file(session, factories.spec())
    tags.add_tags(session, file, ["fresh"], touch=False)
    session.flush()
    session.expire_all()
    assert _names(file) == {"fresh"}
    assert file.updated_at == file.created_at


def test_two_sessions_link_the_same_tag_to_the_same_file(migrated: Engine) -> None:
    sessions = sessionmaker(migrated)
    [file_uuid] = _new_files(sessions, 1)
    with sessions.begin() as session:  # the tag exists; only the link races
        tags.add_tags(session, files.create_file(session, factories.spec()), ["shared"])
    for _ in range(3):
        _tag_at_once(sessions, [(file_uuid, ["shared"]), (file_uuid, ["shared"])])
    assert _counts(sessions) == (1, 2)
