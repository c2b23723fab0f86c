"""Upload policies, one per extension: its MIME type, whether it is allowed, its size cap."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput
from filewallball.filenames import extension_of
from filewallball.models import FileExtension
from filewallball.models.types import DESCRIPTION_LENGTH, EXTENSION_LENGTH
from filewallball.operations.files import check_mime_type

__all__ = ["get_policy", "list_policies", "set_policy"]


def _check_extension(extension: str) -> str:
    cleaned = extension.strip().lstrip(".").lower()
    if not cleaned or extension_of(f"x.{cleaned}") != cleaned:
        raise InvalidInput(
            f"extension {extension!r} must be 1-{EXTENSION_LENGTH} letters or digits"
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
    """Create or replace the policy of an extension. Everything is checked before anything
    changes; two requests creating the same new policy: the second gets Conflict."""
    wanted = _check_extension(extension)
    values = {
        "mime_type": check_mime_type(mime_type),
        "is_allowed": is_allowed,
        "max_file_size": max_file_size,
        "description": description,
    }
    if max_file_size < 0:
        raise InvalidInput(f"max_file_size {max_file_size} is negative")
    if description is not None and len(description) > DESCRIPTION_LENGTH:
        raise InvalidInput(f"description is longer than {DESCRIPTION_LENGTH} characters")
    policy = get_policy(session, wanted)
    if policy is not None:
        for field, value in values.items():
            setattr(policy, field, value)
        session.flush()
        return policy
    session.flush()
    try:
        with session.begin_nested():
            policy = FileExtension(extension=wanted, **values)
            session.add(policy)
    except IntegrityError:
        raise Conflict(f"a policy for {wanted!r} was created at the same time") from None
    return policy
