"""Typed runtime settings in ``system_settings``: checked when written and when read.

Values are stored as text with a declared type; the settings FileWallBall itself reads
(SPEC section 7) also have a range, so a typo cannot set the upload cap to -1. One
function (``_decode``) turns stored text into a value and says what is wrong with it;
a write stores only text that it accepts, so what was written can always be read.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import CorruptData, InvalidInput, InvalidValue, NotFound
from filewallball.models import SystemSetting
from filewallball.models.system_settings import SETTING_TYPES
from filewallball.models.types import SETTING_KEY_LENGTH
from filewallball.operations.upserts import insert_or_lock

log = logging.getLogger(__name__)

JSONValue = str | int | bool | float | list[Any] | dict[str, Any] | None
# Deeper values cannot be answered (pydantic stops serialising at a few hundred levels);
# no real setting nests beyond a handful.
MAX_JSON_DEPTH = 32
UNKNOWN_EXTENSIONS = "unknown_extensions"  # what uploads no policy names get: allow or deny
PUBLIC_LISTING = "public_listing"  # whether anonymous callers may list the public files


@dataclass(frozen=True)
class Known:
    setting_type: str
    check: Callable[[Any], bool]
    rule: str


KNOWN_SETTINGS: Final = {
    "max_upload_bytes": Known("integer", lambda v: v >= 1, "at least 1"),
    "log_retention_days": Known("integer", lambda v: v >= 1, "at least 1"),
    "trash_retention_days": Known("integer", lambda v: v >= 0, "0 or more"),
    UNKNOWN_EXTENSIONS: Known("string", lambda v: v in ("allow", "deny"), "allow or deny"),
    PUBLIC_LISTING: Known("boolean", lambda v: isinstance(v, bool), "true or false"),
}


def check_key(key: str) -> str:
    """``key``, or InvalidInput naming what is wrong with it. No space at either end:
    MariaDB compares with PAD SPACE, so ``"k "`` and ``"k"`` are one key there and two
    elsewhere; a key is an identifier, so it is refused rather than trimmed."""
    if not 1 <= len(key) <= SETTING_KEY_LENGTH:
        raise InvalidInput(f"setting key must be 1-{SETTING_KEY_LENGTH} characters")
    if key != key.strip():
        raise InvalidInput(f"setting key {key!r} starts or ends with white space")
    if not key.isprintable():
        raise InvalidInput(f"setting key {key!r} contains control characters")
    return key


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
        try:
            return json.dumps(value, separators=(",", ":"), sort_keys=True)
        except (ValueError, RecursionError) as error:
            raise InvalidInput(f"setting {key!r} cannot be stored as JSON: {error}") from None
    if _type_of(value) != setting_type:
        raise InvalidInput(f"setting {key!r} is {setting_type}; {value!r} is not")
    if setting_type == "boolean":
        return "true" if value else "false"
    return str(value)


class _Refused(ValueError):
    """What JSON itself allows but a setting does not."""


def _decode(key: str, setting_type: str, text: str | None) -> JSONValue:
    """The value stored as ``text``, or InvalidInput saying why it is not a valid one
    (a reader turns that into CorruptData: by then it is the operator's problem)."""
    try:
        value = _parse(setting_type, text)
    except (ValueError, KeyError, RecursionError) as error:
        why = f": {error}" if isinstance(error, _Refused) else ""
        raise InvalidInput(f"setting {key!r} is not a valid {setting_type}{why}") from None
    if problem := _breaks_rule(key, value):
        raise InvalidValue(problem)
    return value


def _parse(setting_type: str, text: str | None) -> JSONValue:
    if setting_type == "integer":
        return int(str(text))
    if setting_type == "boolean":
        return {"true": True, "false": False}[str(text)]
    if setting_type == "json":
        value = json.loads(str(text), parse_constant=_not_a_number, parse_float=_finite)
        _check_depth(value)
        return value  # type: ignore[no-any-return]
    return text


def _not_a_number(constant: str) -> NoReturn:
    # Python writes and reads NaN and Infinity; JSON has neither, and answers show null.
    raise _Refused(f"{constant} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"{text[:40]} is beyond the range of a JSON number")
    return number


def _check_depth(value: JSONValue) -> None:
    level, containers = 0, [value]
    while containers:
        level += 1
        if level > MAX_JSON_DEPTH:
            raise _Refused(f"nested deeper than {MAX_JSON_DEPTH} levels")
        containers = [
            item
            for container in containers
            if isinstance(container, (list, dict))
            for item in (container.values() if isinstance(container, dict) else container)
        ]


def _breaks_rule(key: str, value: JSONValue) -> str | None:
    """What is wrong with ``value`` for a setting FileWallBall reads itself, if anything."""
    known = KNOWN_SETTINGS.get(key)
    if known is None:
        return None
    if _type_of(value) != known.setting_type or not known.check(value):
        return f"setting {key!r} must be {known.setting_type}, {known.rule}; got {value!r}"
    return None


def _stored_value(row: SystemSetting) -> JSONValue:
    try:
        return _decode(row.setting_key, row.setting_type, row.setting_value)
    except InvalidInput as problem:
        raise CorruptData(f"stored {problem}") from None


def _row(session: Session, key: str) -> SystemSetting | None:
    statement = sa.select(SystemSetting).where(SystemSetting.setting_key == check_key(key))
    return session.scalars(statement).first()


def read_setting(session: Session, key: str) -> JSONValue:
    """The setting's value; NotFound when absent, CorruptData when what is stored breaks
    its rules (written behind FileWallBall's back)."""
    row = _row(session, key)
    if row is None:
        raise NotFound(f"no setting {key!r}")
    return _stored_value(row)


def get_setting(session: Session, key: str, default: JSONValue = None) -> JSONValue:
    """``default`` when the setting is absent; a stored value that breaks its rules is an
    error, never silently replaced by the default."""
    try:
        return read_setting(session, key)
    except NotFound:
        return default


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
    FileWallBall reads, else the stored one, else ``setting_type``, else the value's.
    Two first writes of one key at once: both succeed, one after the other."""
    check_key(key)
    if problem := _breaks_rule(key, value):
        raise InvalidValue(problem)
    known = KNOWN_SETTINGS.get(key)
    if known and setting_type and setting_type != known.setting_type:
        raise InvalidInput(f"setting {key!r} must be {known.setting_type}, not {setting_type}")
    kind = (known.setting_type if known else None) or setting_type or _type_of(value)
    if kind not in SETTING_TYPES:
        raise InvalidInput(f"setting type {kind!r} is not one of {', '.join(SETTING_TYPES)}")
    text = _checked_text(key, kind, value)
    values = {"setting_key": key, "setting_type": kind, "setting_value": text}
    row = insert_or_lock(session, SystemSetting, SystemSetting.setting_key, values)
    if row.setting_type != kind and known is None:  # it existed, with a type of its own
        if setting_type is not None:
            raise InvalidInput(f"setting {key!r} is {row.setting_type}; it cannot become {kind}")
        kind, text = row.setting_type, _checked_text(key, row.setting_type, value)
    row.setting_type, row.setting_value = kind, text
    if description is not None:
        row.description = description
    if is_public is not None:
        row.is_public = is_public
    session.flush()
    return row


def _checked_text(key: str, setting_type: str, value: JSONValue) -> str:
    """The text to store for ``value``: read back exactly as a reader will, first."""
    text = _encode(key, setting_type, value)
    _decode(key, setting_type, text)
    return text


def list_settings(session: Session, *, include_private: bool = False) -> dict[str, JSONValue]:
    """Every (public) setting with its typed value, by key. A stored value that breaks
    its rules is left out, with a warning in the log: one bad row must not hide the
    others (``read_setting`` of it reports the problem)."""
    statement = sa.select(SystemSetting).order_by(SystemSetting.setting_key)
    if not include_private:
        statement = statement.where(SystemSetting.is_public)
    settings = {}
    for row in session.scalars(statement):
        try:
            settings[row.setting_key] = _stored_value(row)
        except CorruptData as problem:
            log.warning("%s; left out of the list of settings", problem)
    return settings
