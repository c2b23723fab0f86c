"""Uploads: what may be uploaded, and turning received bytes into a file.

An upload is three short transactions around the transfer, so that no transaction is
held open while bytes arrive over a slow network (``uploading.Upload`` runs them):

1. ``check_upload`` and ``begin_upload``: the policy is known and the attempt is
   recorded (``file_uploads``, status "started") before any byte is stored;
2. the bytes stream into a ``StagedBlob``, hashed, size-checked and sniffed on the way;
3. the staged blob is placed in the store, outside any transaction;
4. ``complete_upload``: under the lock of the content's blob row, the blob is checked
   to be still there (placed again if not) and the file row written; or
   ``fail_upload`` records the failure.

Blob first, then the row: a committed row always has its blob. When the last step
fails after placing a new blob, ``fail_upload`` removes it unless another row refers
to it.

Placing before the lock keeps the blob's fsyncs out of the database's write lock
(SQLite has one for the whole database), and it is safe. Placing is idempotent (the
name is the content's hash), and the blob row's lock is what orders uploads and
releases (``operations.blobs``): a release that ran between our placing and our lock
may have removed the blob, but once we hold the lock none can until our row is
committed, and the release commits its removal before we get the lock. So the check
under the lock sees the truth; it costs a ``stat`` when the blob is there, and the
staged copy, kept until the upload ends, is placed again when it is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from filewallball.database import off_the_event_loop
from filewallball.errors import NotFound
from filewallball.filenames import check_filename, check_folder
from filewallball.models import FileInfo, FileUpload, utcnow
from filewallball.operations.blobs import is_referenced, lock_blob, release_blob
from filewallball.operations.categories import category_for_type, is_active
from filewallball.operations.clients import Client
from filewallball.operations.extensions import UploadPolicy, upload_policy
from filewallball.operations.files import FileSpec, create_file, trash_namesakes
from filewallball.operations.system_settings import get_setting
from filewallball.operations.tags import add_tags, normalise_tags
from filewallball.storage import BlobStore, StagedBlob

DEFAULT_MAX_UPLOAD_BYTES = 8 * 1024**3


@dataclass(frozen=True)
class UploadPlan:
    """An upload that passed every check that needs no content: store it under these
    rules."""

    policy: UploadPolicy
    limit: int
    tags: tuple[str, ...] = ()
    category: str | None = None
    is_public: bool = True
    owner_id: int | None = None
    folder: str = ""
    replace: bool = False  # the live files of the same name in the folder go to the trash

    @property
    def filename(self) -> str:
        return self.policy.filename

    @property
    def mime_type(self) -> str:
        return self.policy.mime_type

    def check_content(self, head: bytes) -> None:
        self.policy.check_content(head)


def check_upload(
    session: Session,
    filename: str,
    *,
    tags: Sequence[str] = (),
    category: str | None = None,
    is_public: bool = True,
    owner_id: int | None = None,
    folder: str = "",
    replace: bool = False,
) -> UploadPlan:
    """Everything about an upload that can be refused before its bytes arrive: the name,
    the folder, the upload policy (UnsupportedType), the tags, the category (the type's
    when none is given: ``categories.category_for_type``); and its size limit, the
    smaller of the extension's (if it has one) and the global ``max_upload_bytes``."""
    folder = check_folder(folder)
    policy = upload_policy(session, check_filename(filename))
    if category is None:
        category = category_for_type(session, policy.mime_type)
    elif not is_active(session, category):
        raise NotFound(f"no active category named {category!r}")
    overall = get_setting(session, "max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES)
    assert isinstance(overall, int)  # the setting's declared type, checked on read
    return UploadPlan(
        policy=policy,
        limit=overall if policy.max_file_size is None else min(policy.max_file_size, overall),
        tags=tuple(normalise_tags(tags)),
        category=category,
        is_public=is_public,
        owner_id=owner_id,
        folder=folder,
        replace=replace,
    )


def begin_upload(session: Session, client: Client) -> int:
    """Record the attempt as started; returns its id for the later steps."""
    upload = FileUpload(
        upload_session_id=client.session_id,
        client_ip=client.ip,
        user_agent=client.user_agent,
        upload_status="started",
    )
    session.add(upload)
    session.flush()
    return upload.id


@dataclass(frozen=True)
class Completed:
    file: FileInfo
    duplicate: bool  # another file row (live or deleted) already had this content


def complete_upload(
    session: Session, store: BlobStore, plan: UploadPlan, staged: StagedBlob, upload_id: int
) -> Completed:
    """The file row for finished, staged content, its blob placed in the store: by now
    usually, by ``uploading.Upload`` before this transaction (see the module)."""
    if staged.content_hash is None:
        raise RuntimeError("finish() the staged blob first")
    blob = lock_blob(session, staged.content_hash, staged.size)
    duplicate = is_referenced(session, staged.content_hash)  # exact: we hold the lock
    # Placed again when a release removed it since it was placed; a content fsck found
    # lost or corrupt is stored again from these verified bytes.
    off_the_event_loop(session, store.place, staged, replace=blob.status != "ok")
    if blob.status != "ok":
        blob.status, blob.checked_at = "ok", utcnow()
    if plan.replace:
        trash_namesakes(session, plan.folder, plan.filename)
    file = create_file(
        session,
        FileSpec(
            original_filename=plan.filename,
            folder=plan.folder,
            file_size=staged.size,
            file_hash=staged.content_hash,
            storage_path=store.key(staged.content_hash),
            mime_type=plan.mime_type,
            category=plan.category,
            is_public=plan.is_public,
            owner_id=plan.owner_id,
        ),
    )
    if plan.tags:
        add_tags(session, file, plan.tags, touch=False)
    upload = session.get_one(FileUpload, upload_id)
    upload.file_id = file.id
    upload.upload_status = "completed"
    upload.upload_completed_at = utcnow()
    session.flush()
    return Completed(file, duplicate)


def fail_upload(
    session: Session, store: BlobStore, upload_id: int, content_hash: str | None = None
) -> None:
    """Record that an upload failed (its staged blob discarded already), and remove the
    blob it may have placed, ``content_hash``'s, unless a file row refers to it."""
    if content_hash is not None:
        release_blob(session, store, content_hash)
    upload = session.get(FileUpload, upload_id)
    if upload is not None:
        upload.upload_status = "failed"
        upload.upload_completed_at = utcnow()
        session.flush()
