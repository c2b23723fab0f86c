"""Typed system settings on every database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import CorruptData, InvalidInput
from filewallball.models import SystemSetting
from filewallball.operations.system_settings import (
    MAX_JSON_DEPTH,
    get_setting,
    list_settings,
    read_setting,
    set_setting,
)


@pytest.mark.parametrize(
    ("value", "kind", "stored"),
    [
        ("hello", "string", "hello"),
        (42, "integer", "42"),
        (True, "boolean", "true"),
        (False, "boolean", "false"),
        ({"b": [1, 2], "a": None}, "json", '{"a":null,"b":[1,2]}'),
        ([1, "x"], "json", '[1,"x"]'),
    ],
)
def test_round_trip_by_type(session: Session, value: object, kind: str, stored: str) -> None:
    row = set_setting(session, "custom_key", value)  # type: ignore[arg-type]
    assert (row.setting_type, row.setting_value) == (kind, stored)
    session.expire_all()
    assert get_setting(session, "custom_key") == value


def test_missing_key_gives_the_default(session: Session) -> None:
    assert get_setting(session, "never_set") is None
    assert get_setting(session, "never_set", 7) == 7


def test_seeded_settings_are_typed(session: Session) -> None:
    assert get_setting(session, "max_upload_bytes") == 8 * 1024**3
    assert get_setting(session, "trash_retention_days") == 30


def test_an_existing_setting_keeps_its_type(session: Session) -> None:
    set_setting(session, "retries", 3)
    with pytest.raises(InvalidInput, match="'retries' is integer"):
        set_setting(session, "retries", "three")
    with pytest.raises(InvalidInput, match="cannot become string"):
        set_setting(session, "retries", "3", setting_type="string")
    with pytest.raises(InvalidInput, match="is integer"):
        set_setting(session, "retries", True)  # a bool is not an integer here


@pytest.mark.parametrize(
    ("key", "bad"),
    [
        ("max_upload_bytes", 0),
        ("log_retention_days", -1),
        ("trash_retention_days", -5),
        ("max_upload_bytes", "big"),
    ],
)
def test_known_settings_have_ranges(session: Session, key: str, bad: object) -> None:
    before = get_setting(session, key)
    with pytest.raises(InvalidInput, match=repr(key)):
        set_setting(session, key, bad)  # type: ignore[arg-type]
    assert get_setting(session, key) == before


def test_a_corrupt_stored_value_is_reported_on_read(session: Session) -> None:
    session.add(SystemSetting(setting_key="broken", setting_type="integer", setting_value="12abc"))
    session.flush()
    with pytest.raises(CorruptData, match="stored setting 'broken' is not a valid integer"):
        get_setting(session, "broken")


def test_known_settings_keep_their_declared_type(session: Session) -> None:
    with pytest.raises(InvalidInput, match="must be integer"):
        set_setting(session, "max_upload_bytes", "10", setting_type="string")
    session.execute(
        sa.delete(SystemSetting).where(SystemSetting.setting_key == "trash_retention_days")
    )
    session.add(
        SystemSetting(setting_key="trash_retention_days", setting_type="string", setting_value="7")
    )
    session.flush()
    with pytest.raises(CorruptData, match="'trash_retention_days' must be integer"):
        get_setting(session, "trash_retention_days")
    set_setting(session, "trash_retention_days", 7)  # rewriting it repairs the type
    assert get_setting(session, "trash_retention_days") == 7


def test_unknown_types_are_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="'yaml' is not one of"):
        set_setting(session, "fancy", "x", setting_type="yaml")


def test_public_and_private_listing(session: Session) -> None:
    set_setting(session, "shown", "yes", is_public=True)
    set_setting(session, "secret_ish", "no")
    public = list_settings(session)
    everything = list_settings(session, include_private=True)
    assert public["shown"] == "yes"
    assert "secret_ish" not in public
    assert "log_retention_days" not in public  # seeded private
    assert everything["secret_ish"] == "no"
    assert everything["log_retention_days"] == 90
    count = session.scalar(sa.select(sa.func.count()).select_from(SystemSetting))
    assert len(everything) == count


@pytest.mark.parametrize("key", ["k ", " k", "k\t", "\u3000k"])
def test_keys_with_white_space_at_either_end_are_refused(session: Session, key: str) -> None:
    """MariaDB compares with PAD SPACE: "k " would find, and overwrite, "k"."""
    set_setting(session, "k", "kept")
    with pytest.raises(InvalidInput, match="white space"):
        set_setting(session, key, "other")
    with pytest.raises(InvalidInput, match="white space"):
        read_setting(session, key)
    assert list_settings(session, include_private=True)["k"] == "kept"


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (_nested(MAX_JSON_DEPTH + 1), "nested deeper"),
        (_nested(300), "nested deeper"),  # 600 bytes: answering it failed, and the list too
        ({"a": [1, {"b": _nested(MAX_JSON_DEPTH)}]}, "nested deeper"),
        (float("nan"), "NaN"),
        ([1.0, float("inf")], "Infinity"),
        ({"x": float("-inf")}, "-Infinity"),
    ],
    ids=["just-too-deep", "600-bytes", "deep-in-a-dict", "nan", "infinity", "minus-infinity"],
)
def test_values_that_could_not_be_read_back_are_refused(
    session: Session, value: object, words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        set_setting(session, "odd", value)  # type: ignore[arg-type]
    assert get_setting(session, "odd") is None


def test_a_value_at_the_depth_limit_round_trips(session: Session) -> None:
    set_setting(session, "deep", {"a": _nested(MAX_JSON_DEPTH - 1)})
    session.expire_all()
    assert read_setting(session, "deep") == {"a": _nested(MAX_JSON_DEPTH - 1)}


def test_an_unreadable_value_is_left_out_of_the_list_with_a_warning(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    deep = "[" * 300 + "]" * 300
    session.add(SystemSetting(setting_key="deep", setting_type="json", setting_value=deep))
    session.add(SystemSetting(setting_key="nan", setting_type="json", setting_value="NaN"))
    set_setting(session, "fine", 1)

    with caplog.at_level("WARNING", "filewallball"):
        listed = list_settings(session, include_private=True)

    assert listed["fine"] == 1
    assert "deep" not in listed
    assert "nan" not in listed
    assert "stored setting 'deep' is not a valid json" in caplog.text
    with pytest.raises(CorruptData, match="nested deeper"):
        read_setting(session, "deep")
    set_setting(session, "deep", [1])  # rewriting it repairs it
    assert list_settings(session, include_private=True)["deep"] == [1]
