"""Upload policies, one per extension: its MIME type, whether it is allowed, its size cap;
and the decision an upload asks for (``upload_policy``).

Any file can be uploaded on a fresh install (SPEC section 12): a name without an
extension, or with one no policy names, is stored as ``application/octet-stream`` (never
served inline) while the system setting ``unknown_extensions`` is ``allow``. A policy
that denies its extension also denies content sniffed as that type under a name no
policy knows: an EXE named ``setup`` is still an EXE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from filewallball.errors import Conflict, InvalidInput, UnsupportedType
from filewallball.filenames import extension_of
from filewallball.models import FileExtension
from filewallball.models.types import DESCRIPTION_LENGTH, EXTENSION_LENGTH
from filewallball.operations.files import DEFAULT_MIME_TYPE, check_mime_type
from filewallball.operations.system_settings import UNKNOWN_EXTENSIONS, get_setting
from filewallball.sniffing import check_content, sniff


class ExtensionPolicy(BaseModel):
    """An extension's upload policy as clients see it (the API and ``policies --json``)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    extension: str
    mime_type: str
    is_allowed: bool
    max_file_size: int | None = Field(description="bytes; null: no cap of its own")
    description: str | None


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload of one name is stored as, its own size cap (None: only
    ``max_upload_bytes``), and the content it must not turn out to be."""

    filename: str
    extension: str
    mime_type: str
    max_file_size: int | None
    known: bool  # a policy names the extension: the content must agree with it
    denied: frozenset[str] = frozenset()  # for an unknown one: the types refused anyway

    def check_content(self, head: bytes) -> None:
        """UnsupportedType when the first bytes contradict the extension's policy, or,
        under a name no policy knows, are a type whose policy is denied."""
        if self.known:
            check_content(self.filename, self.extension, head)
            return
        sniffed = sniff(head)
        if sniffed is not None and sniffed[0] in self.denied:
            extension, mime_type = sniffed
            raise UnsupportedType(
                f"the content of {self.filename!r} is {mime_type} (.{extension}), and "
                f".{extension} files are not allowed{_how_to_allow(extension)}"
            )


def upload_policy(session: Session, filename: str) -> UploadPolicy:
    """The policy an upload of ``filename`` (already checked) is held to, or
    UnsupportedType saying why it is refused and how an admin would allow it."""
    extension = extension_of(filename)
    policy = get_policy(session, extension) if extension else None
    if policy is not None:
        if not policy.is_allowed:
            raise UnsupportedType(f".{extension} files are not allowed{_how_to_allow(extension)}")
        return UploadPolicy(filename, extension, policy.mime_type, policy.max_file_size, known=True)
    if get_setting(session, UNKNOWN_EXTENSIONS, "allow") != "allow":
        what = f".{extension} files" if extension else "names without an extension"
        how = f"filewallball policies set {extension} --mime TYPE --allow, or " if extension else ""
        raise UnsupportedType(
            f"{what} are not accepted (no upload policy, and {UNKNOWN_EXTENSIONS} is deny); "
            f"an admin can allow them: {how}the setting {UNKNOWN_EXTENSIONS} = allow"
        )
    denied = session.scalars(
        sa.select(FileExtension.extension).where(sa.not_(FileExtension.is_allowed))
    ).all()
    return UploadPolicy(
        filename, extension, DEFAULT_MIME_TYPE, None, known=False, denied=frozenset(denied)
    )


def _how_to_allow(extension: str) -> str:
    return (
        f"; an admin can allow them: filewallball policies set {extension} --allow "
        f"(or PUT /api/v1/extensions/{extension})"
    )


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
    """The policy of an extension, or None (``unknown_extensions`` decides)."""
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
    max_file_size: int | None = None,
    description: str | None = None,
) -> FileExtension:
    """Create or replace the policy of an extension (``max_file_size`` None: no cap of its
    own). Everything is checked before anything changes; two requests creating the same
    new policy: the second gets Conflict."""
    wanted = _check_extension(extension)
    values = {
        "mime_type": check_mime_type(mime_type),
        "is_allowed": is_allowed,
        "max_file_size": max_file_size,
        "description": description,
    }
    if max_file_size is not None and max_file_size < 0:
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
