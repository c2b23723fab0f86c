"""Categories and per-extension upload policies on every database."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from filewallball.errors import Conflict, InvalidInput, NotFound
from filewallball.operations import categories, extensions, files
from tests import factories


def test_the_defaults_are_seeded(session: Session) -> None:
    names = [c.name for c in categories.list_categories(session)]
    assert names == sorted(names)
    assert {"images", "documents", "video", "audio", "archives"} <= set(names)
    png = extensions.get_policy(session, ".PNG")
    assert png is not None
    assert (png.mime_type, png.is_allowed) == ("image/png", True)
    exe = extensions.get_policy(session, "exe")
    assert exe is not None
    assert exe.is_allowed is False
    assert extensions.get_policy(session, "unknownext") is None


def test_create_rename_describe_and_deactivate(session: Session) -> None:
    created = categories.create_category(session, "  Scans  of   receipts ", "paper")
    assert created.name == "Scans of receipts"
    with pytest.raises(Conflict, match="already exists"):
        categories.create_category(session, "Scans of receipts")
    categories.update_category(session, "Scans of receipts", new_name="Receipts", description=None)
    file = files.create_file(session, factories.spec(category="Receipts"))
    categories.update_category(session, "Receipts", is_active=False)
    assert "Receipts" not in [c.name for c in categories.list_categories(session)]
    assert "Receipts" in [
        c.name for c in categories.list_categories(session, include_inactive=True)
    ]
    assert file.category is not None
    assert file.category.name == "Receipts"  # its files stay in it...
    with pytest.raises(NotFound, match="no active category"):  # ...but no new ones
        files.create_file(session, factories.spec(category="Receipts"))


def test_category_errors(session: Session) -> None:
    with pytest.raises(InvalidInput, match="1-100"):
        categories.create_category(session, "   ")
    with pytest.raises(InvalidInput, match="1-100"):
        categories.create_category(session, "x" * 101)
    with pytest.raises(NotFound):
        categories.update_category(session, "nope", is_active=False)
    with pytest.raises(Conflict):
        categories.update_category(session, "images", new_name="documents")


def test_set_policy_creates_and_replaces(session: Session) -> None:
    created = extensions.set_policy(
        session,
        ".WebManifest",
        mime_type="application/manifest+json",
        is_allowed=True,
        max_file_size=1024,
    )
    assert created.extension == "webmanifest"
    replaced = extensions.set_policy(
        session,
        "webmanifest",
        mime_type="Application/JSON",
        is_allowed=False,
        max_file_size=0,
        description="off",
    )
    assert replaced.id == created.id
    assert (replaced.mime_type, replaced.is_allowed, replaced.max_file_size) == (
        "application/json",
        False,
        0,
    )
    assert [p.extension for p in extensions.list_policies(session)].count("webmanifest") == 1


@pytest.mark.parametrize(
    ("extension", "fields", "message"),
    [
        ("tar.gz", {}, "letters or digits"),
        ("x" * 21, {}, "letters or digits"),
        ("", {}, "letters or digits"),
        ("ok", {"max_file_size": -1}, "negative"),
        ("ok", {"mime_type": "nonsense"}, "MIME type"),
    ],
)
def test_set_policy_refuses_bad_input(
    session: Session, extension: str, fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {
        "mime_type": "text/plain",
        "is_allowed": True,
        "max_file_size": 1,
        **fields,
    }
    with pytest.raises(InvalidInput, match=message):
        extensions.set_policy(session, extension, **values)  # type: ignore[arg-type]


def test_a_conflict_leaves_the_session_usable(session: Session) -> None:
    with pytest.raises(Conflict):
        categories.create_category(session, "images")
    assert not session.new
    categories.create_category(session, "after the conflict")
    session.flush()


def test_names_are_looked_up_as_they_are_stored(session: Session) -> None:
    categories.create_category(session, "Tax  Returns")
    assert (
        categories.update_category(session, "  Tax Returns ", description="2026").name
        == "Tax Returns"
    )
    with pytest.raises(InvalidInput, match="printable"):
        categories.create_category(session, "bell\x07")


def test_descriptions_have_a_limit(session: Session) -> None:
    with pytest.raises(InvalidInput, match="longer than 255"):
        categories.create_category(session, "wordy", "x" * 256)
    with pytest.raises(InvalidInput, match="longer than 255"):
        extensions.set_policy(
            session,
            "txt",
            mime_type="text/plain",
            is_allowed=True,
            max_file_size=1,
            description="x" * 256,
        )


def test_a_refused_policy_leaves_nothing_pending(session: Session) -> None:
    with pytest.raises(InvalidInput):
        extensions.set_policy(session, "newext", mime_type="bad", is_allowed=True, max_file_size=1)
    assert not session.new
    session.flush()
    assert extensions.get_policy(session, "newext") is None


def _waits_for_a_lock(engine: Engine) -> bool:
    """Whether a transaction on this engine's database is waiting for a row lock."""
    if engine.dialect.name == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid) "
            "WHERE NOT granted AND datname = current_database()"
        )
    else:
        sql = (
            "SELECT count(*) FROM information_schema.innodb_trx JOIN "
            "information_schema.processlist ON id = trx_mysql_thread_id "
            "WHERE trx_state = 'LOCK WAIT' AND db = DATABASE()"
        )
    with engine.connect() as connection:
        return bool(connection.exec_driver_sql(sql).scalar())


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
        pytest.param("postgresql", marks=pytest.mark.postgresql, id="postgresql"),
    ],
    indirect=True,
)
def test_of_two_renames_of_one_category_at_once_the_second_finds_it_gone(
    migrated: Engine,
) -> None:
    """Both read the category named "a"; the first renames it to "c" and commits while
    the second waits: the second is NotFound, not a success that undoes the first."""
    sessions = sessionmaker(migrated)
    with sessions.begin() as session:
        categories.create_category(session, "a")
    outcome: list[BaseException | str] = []

    def rename_to_b() -> None:
        try:
            with sessions.begin() as session:
                outcome.append(categories.update_category(session, "a", new_name="b").name)
        except BaseException as error:  # reported by the main thread
            outcome.append(error)

    with sessions.begin() as session:
        categories.update_category(session, "a", new_name="c")
        second = threading.Thread(target=rename_to_b)
        second.start()
        # Commit once the second waits for our lock (or gave up): it read the category
        # before our rename committed. (Should a busy server hide the wait, the second
        # reads after our commit and finds no "a" either way: the test then proves less.)
        deadline = time.monotonic() + 10
        while not _waits_for_a_lock(migrated) and second.is_alive():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
    second.join(timeout=60)
    [result] = outcome
    assert isinstance(result, NotFound), result
    with sessions() as session:
        assert [c.name for c in categories.list_categories(session) if c.name in "abc"] == ["c"]


def test_every_seeded_allowed_type_has_a_seeded_category(session: Session) -> None:
    seeded = {c.name for c in categories.list_categories(session)}
    chosen = {
        policy.extension: categories.category_for_type(session, policy.mime_type)
        for policy in extensions.list_policies(session)
        if policy.is_allowed
    }
    assert {extension for extension, name in chosen.items() if name not in seeded} == set()
    assert chosen["png"] == chosen["heic"] != chosen["mp4"]
    assert chosen["csv"] == chosen["xlsx"] != chosen["pdf"]
    assert categories.category_for_type(session, "text/x-rust") == chosen["py"]
    assert categories.category_for_type(session, "application/octet-stream") is None


def test_a_renamed_seeded_category_is_no_longer_chosen_by_type(session: Session) -> None:
    name = categories.category_for_type(session, "video/mp4")
    assert name is not None
    categories.update_category(session, name, new_name="films")
    assert categories.category_for_type(session, "video/mp4") is None
