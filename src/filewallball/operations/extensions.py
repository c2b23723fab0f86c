"""Upload policies, one per extension: its MIME type, whether it is allowed, its size cap."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.errors import InvalidInput
from filewallball.filenames import MAX_EXTENSION_LENGTH, extension_of
from filewallball.models import FileExtension
from filewallball.operations.files import check_mime_type

__all__ = ["get_policy", "list_policies", "set_policy"]


def _check_extension(extension: str) -> str:
    cleaned = extension.strip().lstrip(".").lower()
    if not cleaned or extension_of(f"x.{cleaned}") != cleaned:
        raise InvalidInput(
            f"extension {extension!r} must be 1-{MAX_EXTENSION_LENGTH} letters or digits"
        )
    return cleaned


def list_policies(session: Session) -> Sequence[FileExtension]:
    return session.scalars(sa.select(FileExtension).order_by(FileExtension.extension)).all()


def get_policy(session: Session, extension: str) -> FileExtension | None:
    """The policy of an extension, or None: an extension without one is not allowed."""
    wanted = _check_extension(extension)
    return session.scalars(
        sa.select(FileExtension).where(FileExtension.extension == wanted)
    ).first()


def set_policy(
    session: Session,
    extension: str,
    *,
    mime_type: str,
    is_allowed: bool,
    max_file_size: int,
    description: str | None = None,
) -> FileExtension:
    """Create or replace the policy of an extension."""
    if max_file_size < 0:
        raise InvalidInput(f"max_file_size {max_file_size} is negative")
    policy = get_policy(session, extension)
    if policy is None:
        policy = FileExtension(extension=_check_extension(extension))
        session.add(policy)
    policy.mime_type = check_mime_type(mime_type)
    policy.is_allowed = is_allowed
    policy.max_file_size = max_file_size
    policy.description = description
    session.flush()
    return policy
