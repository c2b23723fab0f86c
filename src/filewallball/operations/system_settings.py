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

from filewallball.errors import InvalidInput
from filewallball.models import SystemSetting
from filewallball.models.system_settings import SETTING_TYPES

__all__ = ["KNOWN_SETTINGS", "get_setting", "list_settings", "set_setting"]

JSONValue = str | int | bool | float | list[Any] | dict[str, Any] | None


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
        raise InvalidInput(f"stored setting {key!r} is not a valid {setting_type}") from None
    return text


def _checked(key: str, value: JSONValue) -> JSONValue:
    known = KNOWN_SETTINGS.get(key)
    if known and not known.check(value):
        raise InvalidInput(f"setting {key!r} must be {known.rule}; got {value!r}")
    return value


def get_setting(session: Session, key: str, default: JSONValue = None) -> JSONValue:
    """The typed value of ``key``, or ``default`` when it is not set."""
    row = session.scalars(sa.select(SystemSetting).where(SystemSetting.setting_key == key)).first()
    if row is None:
        return default
    return _checked(key, _decode(key, row.setting_type, row.setting_value))


def set_setting(
    session: Session,
    key: str,
    value: JSONValue,
    *,
    setting_type: str | None = None,
    description: str | None = None,
    is_public: bool | None = None,
) -> SystemSetting:
    """Create or change a setting. A new one takes its type from ``setting_type``, else
    from the value; an existing one keeps its type and refuses values of another."""
    if not key or len(key) > 100:
        raise InvalidInput("setting key must be 1-100 characters")
    row = session.scalars(sa.select(SystemSetting).where(SystemSetting.setting_key == key)).first()
    known = KNOWN_SETTINGS.get(key)
    declared = row.setting_type if row else setting_type or (known and known.setting_type)
    kind = declared or _type_of(value)
    if kind not in SETTING_TYPES:
        raise InvalidInput(f"setting type {kind!r} is not one of {', '.join(SETTING_TYPES)}")
    if row and setting_type and setting_type != row.setting_type:
        raise InvalidInput(
            f"setting {key!r} is {row.setting_type}; it cannot become {setting_type}"
        )
    text = _encode(key, kind, value)
    _checked(key, value)
    if row is None:
        row = SystemSetting(setting_key=key, setting_type=kind)
        session.add(row)
    row.setting_value = text
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
