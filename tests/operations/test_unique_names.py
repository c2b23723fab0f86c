"""Unique names on MariaDB's PAD SPACE collation: there "x " equals "x", elsewhere not.
Every unique string column is written only in a form without white space at either
end (normalised, or refused), so a name means the same row on every database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput
from filewallball.models import Base, FileTag
from filewallball.operations.categories import create_category
from filewallball.operations.extensions import get_policy, set_policy
from filewallball.operations.system_settings import read_setting, set_setting
from filewallball.operations.tags import add_tags
from tests import factories

# Each unique string column, and how its values are kept free of edge spaces.
GUARDED = {
    "blobs.content_hash": "a SHA-256 in lower-case hex (storage.key, files.SHA256_HEX)",
    "file_categories.name": "trimmed (categories._check_name)",
    "file_extensions.extension": "trimmed, letters and digits only (extensions._check_extension)",
    "file_tags.tag_name": "trimmed (tags.normalise_tag)",
    "files.file_uuid": "a canonical UUID (files.parse_file_uuid)",
    "housekeeping_jobs.job": "a name from maintenance.JOBS, never from a request",
    "system_settings.setting_key": "refused (system_settings.check_key)",
    "users.username": "only a-z 0-9 . _ - (users.check_username)",
    "api_keys.prefix": "8 of a-z 0-9, made by the server (keys.create_key)",
}


def test_every_unique_string_column_is_guarded() -> None:
    """A new unique name (usernames, say) fails here until its guard is written."""
    unique = set()
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                columns = list(constraint.columns)
                unique |= {f"{table.name}.{c.name}" for c in columns if _is_string(c)}
    assert unique == set(GUARDED)


def _is_string(column: sa.Column[object]) -> bool:
    return isinstance(column.type, sa.String)


def test_tag_names_are_stored_trimmed(session: Session) -> None:
    file = factories.file()
    session.add(file)
    session.flush()
    add_tags(session, file, ["edge "])
    add_tags(session, file, ["edge"])
    assert session.scalars(
        sa.select(FileTag.tag_name).where(FileTag.tag_name.like("edge%"))
    ).all() == ["edge"]


def test_category_names_are_stored_trimmed(session: Session) -> None:
    assert create_category(session, " padded ").name == "padded"
    with pytest.raises(Conflict):
        create_category(session, "padded")


def test_category_names_refuse_invisible_characters(session: Session) -> None:
    with pytest.raises(InvalidInput, match="U\\+3164"):
        create_category(session, "padded\u3164")


def test_extensions_are_stored_trimmed(session: Session) -> None:
    set_policy(session, "pad ", mime_type="text/plain", is_allowed=True, max_file_size=1)
    policy = get_policy(session, "pad")
    assert policy is not None
    assert policy.extension == "pad"


def test_setting_keys_with_edge_spaces_are_refused(session: Session) -> None:
    set_setting(session, "edge", 1)
    with pytest.raises(InvalidInput, match="white space"):
        set_setting(session, "edge ", 2)
    assert read_setting(session, "edge") == 1
