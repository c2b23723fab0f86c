"""Typed runtime settings in ``system_settings``: checked when written and when read.

Values are stored as text with a declared type; the settings FileWallBall itself reads
(SPEC section 7) also have a range, so a typo cannot set the upload cap to -1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import CorruptData, InvalidInput
from filewallball.models import SystemSetting
from filewallball.models.system_settings import SETTING_TYPES

__all__ = ["KNOWN_SETTINGS", "get_setting", "list_settings", "set_setting"]

JSONValue = str | int | bool | float | list[Any] | dict[str, Any] | None
KEY_LENGTH = 100


@dataclass(frozen=True)
class Known:
    setting_type: str
    check: Callable[[Any], bool]
    rule: str


KNOWN_SETTINGS: Final = {
    "max_upload_bytes": Known("integer", lambda v: v >= 1, "at least 1"),
    "log_retention_days": Known("integer", lambda v: v >= 1, "at least 1"),
    "trash_retention_days": Known("integer", lambda v: v >= 0, "0 or more"),
}


def _type_of(value: JSONValue) -> str:
    if isinstance(value, bool):  # before int: True is an int too
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, str):
        return "string"
    return "json"


def _encode(key: str, setting_type: str, value: JSONValue) -> str:
    if setting_type == "json":
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if _type_of(value) != setting_type:
        raise InvalidInput(f"setting {key!r} is {setting_type}; {value!r} is not")
    if setting_type == "boolean":
        return "true" if value else "false"
    return str(value)


def _decode(key: str, setting_type: str, text: str | None) -> JSONValue:
    try:
        if setting_type == "integer":
            return int(str(text))
        if setting_type == "boolean":
            return {"true": True, "false": False}[str(text)]
        if setting_type == "json":
            return json.loads(str(text))  # type: ignore[no-any-return]
    except (ValueError, KeyError):
        raise CorruptData(f"stored setting {key!r} is not a valid {setting_type}") from None
    return text


def _breaks_rule(key: str, value: JSONValue) -> str | None:
    """What is wrong with ``value`` for a setting FileWallBall reads itself, if anything."""
    known = KNOWN_SETTINGS.get(key)
    if known is None:
        return None
    if _type_of(value) != known.setting_type or not known.check(value):
        return f"setting {key!r} must be {known.setting_type}, {known.rule}; got {value!r}"
    return None


def get_setting(session: Session, key: str, default: JSONValue = None) -> JSONValue:
    """``default`` when the setting is absent; a stored value that breaks its rules is an
    error, never silently replaced by the default."""
    row = session.scalars(sa.select(SystemSetting).where(SystemSetting.setting_key == key)).first()
    if row is None:
        return default
    value = _decode(key, row.setting_type, row.setting_value)
    if problem := _breaks_rule(key, value):
        raise CorruptData(f"stored {problem}")
    return value


def set_setting(
    session: Session,
    key: str,
    value: JSONValue,
    *,
    setting_type: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> SystemSetting:
    """Create or change a setting. Its type is fixed: the declared one for the settings
    FileWallBall reads, else the stored one, else ``setting_type``, else the value's."""
    if not key or len(key) > KEY_LENGTH:
        raise InvalidInput(f"setting key must be 1-{KEY_LENGTH} characters")
    if problem := _breaks_rule(key, value):
        raise InvalidInput(problem)
    row = session.scalars(sa.select(SystemSetting).where(SystemSetting.setting_key == key)).first()
    known = KNOWN_SETTINGS.get(key)
    kind = (
        (known.setting_type if known else None)
        or (row.setting_type if row else None)
        or setting_type
        or _type_of(value)
    )
    if kind not in SETTING_TYPES:
        raise InvalidInput(f"setting type {kind!r} is not one of {', '.join(SETTING_TYPES)}")
    if setting_type and setting_type != kind:
        raise InvalidInput(f"setting {key!r} is {kind}; it cannot become {setting_type}")
    text = _encode(key, kind, value)
    if row is None:
        row = SystemSetting(setting_key=key)
        session.add(row)
    row.setting_type, row.setting_value = kind, text
    if description is not None:
        row.description = description
    if is_public is not None:
        row.is_public = is_public
    session.flush()
    return row


def list_settings(session: Session, *, include_private: bool = False) -> dict[str, JSONValue]:
    """Every (public) setting with its typed value, by key."""
    statement = sa.select(SystemSetting).order_by(SystemSetting.setting_key)
    if not include_private:
        statement = statement.where(SystemSetting.is_public)
    return {
        row.setting_key: _decode(row.setting_key, row.setting_type, row.setting_value)
        for row in session.scalars(statement)
    }
