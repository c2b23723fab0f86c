"""fsck: do the database and the blob store agree, in both directions?

Five kinds of problem: a content the database names but the store lacks (missing); a
blob whose size, or with ``deep`` its SHA-256, is not what its name says (corrupt); a
blob no row names (unreferenced); a staged file no upload is writing any more
(temporary); something in the store that the store did not put there (stray: a file
not named by a hash, a blob under the wrong prefix, a stray directory). Anything
younger than the cutoff is left out: an upload in flight has a placed blob and no row
yet, and must never look like litter.

Repairs only ever remove what nothing needs (unreferenced blobs, dead temporary files,
both older than the cutoff, each re-checked under the content's lock) and mark the
contents that are lost. They never delete a row and never rewrite content. Strays are
moved aside, never deleted: a misplaced file may be somebody's. Adoption turns an
unreferenced blob whose bytes verify into a private file tagged ``lost+found``, for a
row a crash lost while its blob survived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from filewallball.hashing import sha256_of_stream
from filewallball.models import Blob, FileInfo, utcnow
from filewallball.operations.blobs import is_referenced, lock_blob
from filewallball.operations.files import DEFAULT_MIME_TYPE, FileSpec, create_file
from filewallball.operations.system_settings import get_setting, set_setting
from filewallball.operations.tags import add_tags
from filewallball.sniffing import SNIFF_BYTES, sniff
from filewallball.storage import BlobStore

DEFAULT_CUTOFF = timedelta(hours=1)
LAST_REPORT_KEY = "last_fsck"
Kind = Literal["missing", "corrupt", "unreferenced", "temporary", "stray", "restored"]
KINDS: tuple[Kind, ...] = ("missing", "corrupt", "unreferenced", "temporary", "stray", "restored")
# The tag of adopted files; they belong in a folder of that name once folders exist.
LOST_AND_FOUND = "lost+found"


@dataclass(frozen=True)
class Finding:
    kind: Kind
    content_hash: str | None
    detail: str
    files: int = 0  # rows (live or deleted) that name this content


@dataclass
class Report:
    started_at: datetime
    deep: bool
    contents_checked: int = 0
    blobs_seen: int = 0
    findings: list[Finding] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)

    def count(self, kind: Kind) -> int:
        return sum(1 for finding in self.findings if finding.kind == kind)

    @property
    def clean(self) -> bool:
        return not any(f.kind != "restored" for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "deep": self.deep,
            "clean": self.clean,
            "contents_checked": self.contents_checked,
            "blobs_seen": self.blobs_seen,
            "counts": {kind: self.count(kind) for kind in KINDS},
            "repaired": self.repaired,
            "findings": [asdict(finding) for finding in self.findings],
        }


def count_contents(session: Session) -> int:
    """How many contents the file rows name: what ``scan`` will check."""
    return session.scalar(sa.select(sa.func.count(sa.func.distinct(FileInfo.file_hash)))) or 0


class Named(NamedTuple):
    content_hash: str
    size: int
    files: int  # rows, live or in the trash
    deleted_files: int


def _contents(session: Session) -> Iterator[Named]:
    """Every content a file row names, in hash order."""
    statement = (
        sa.select(
            FileInfo.file_hash,
            sa.func.max(FileInfo.file_size),
            sa.func.count(),
            sa.func.sum(sa.case((FileInfo.is_deleted, 1), else_=0)),
        )
        .group_by(FileInfo.file_hash)
        .order_by(FileInfo.file_hash)
    )
    for content_hash, size, rows, deleted in session.execute(statement):
        yield Named(content_hash, int(size), int(rows), int(deleted or 0))


@dataclass(frozen=True)
class Contents:
    """What the file rows need of the store (a backup copies exactly this)."""

    hashes: frozenset[str]
    files: int
    deleted_files: int
    content_bytes: int


def named_contents(session: Session) -> Contents:
    named = list(_contents(session))
    return Contents(
        hashes=frozenset(content.content_hash for content in named),
        files=sum(content.files for content in named),
        deleted_files=sum(content.deleted_files for content in named),
        content_bytes=sum(content.size for content in named),
    )


def scan(
    session: Session,
    store: BlobStore,
    *,
    deep: bool = False,
    cutoff: timedelta = DEFAULT_CUTOFF,
    now: datetime | None = None,
    progress: Callable[[int], None] = lambda _bytes: None,
) -> Report:
    """Compare the database and the store; changes nothing. ``progress`` is told how
    many bytes were re-hashed (``deep``) or 0 per content."""
    now = now or utcnow()
    report = Report(started_at=now, deep=deep)
    statuses = dict(session.execute(sa.select(Blob.content_hash, Blob.status)).all())
    named: set[str] = set()
    for content_hash, size, rows, _deleted in _contents(session):
        named.add(content_hash)
        report.contents_checked += 1
        problem = _check_blob(store, content_hash, size, deep=deep, progress=progress)
        if problem is not None:
            kind, detail = problem
            report.findings.append(Finding(kind, content_hash, detail, rows))
        elif statuses.get(content_hash, "ok") != "ok":
            report.findings.append(
                Finding("restored", content_hash, "intact again in the store", rows)
            )
    old = now - cutoff
    for content_hash in store:
        report.blobs_seen += 1
        if content_hash in named:
            continue
        info = store.stat(content_hash)
        if info is not None and info.modified_at < old:
            report.findings.append(
                Finding("unreferenced", content_hash, f"{info.size} bytes, no file names it")
            )
    for name in store.dead_temporary(older_than=old):
        report.findings.append(Finding("temporary", None, name))
    for name in store.strays():
        report.findings.append(Finding("stray", None, name))
    return report


def _check_blob(
    store: BlobStore,
    content_hash: str,
    size: int,
    *,
    deep: bool,
    progress: Callable[[int], None],
) -> tuple[Kind, str] | None:
    info = store.stat(content_hash)
    if info is None:
        return "missing", "not in the store"
    if info.size != size:
        return "corrupt", f"{info.size} bytes in the store, {size} expected"
    if deep:
        with store.open(content_hash) as blob:
            actual, _ = sha256_of_stream(blob)
        progress(size)
        if actual != content_hash:
            return "corrupt", f"its content hashes to {actual}"
    else:
        progress(0)
    return None


def mark_lost(session: Session, store: BlobStore, finding: Finding, *, deep: bool = False) -> bool:
    """Record what is true of a finding's content now: missing or corrupt (the files
    naming it answer 410 until it is stored again), or intact ("ok"). Returns whether
    its status changed.

    The scan read everything without a lock, so the content is checked again under its
    lock: an upload of the same bytes may have stored it since (uploads place blobs
    holding that lock), or a purge removed the last file naming it (then there is
    nothing to mark, and no blob row is made for it)."""
    if finding.content_hash is None:
        return False
    blob = session.scalars(
        sa.select(Blob)
        .where(Blob.content_hash == finding.content_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    size = session.scalar(
        sa.select(sa.func.max(FileInfo.file_size)).where(FileInfo.file_hash == finding.content_hash)
    )
    if blob is None or size is None:
        return False
    problem = _check_blob(store, finding.content_hash, int(size), deep=deep, progress=_ignore)
    status = "ok" if problem is None else problem[0]
    if blob.status == status:
        return False
    blob.status, blob.checked_at = status, utcnow()
    session.flush()
    return True


def _ignore(_bytes: int) -> None:
    pass


def record_report(session: Session, report: Report) -> None:
    summary = {key: value for key, value in report.as_json().items() if key != "findings"}
    set_setting(session, LAST_REPORT_KEY, summary, setting_type="json", is_public=False)


def last_report(session: Session) -> dict[str, Any] | None:
    value = get_setting(session, LAST_REPORT_KEY)
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Adoption:
    """What an unreferenced blob becomes when it is adopted."""

    content_hash: str
    size: int
    original_filename: str
    mime_type: str


def adoption_of(store: BlobStore, content_hash: str) -> Adoption | str:
    """The file an unreferenced blob would become, named after its hash with the
    extension the sniffer recognises (else ``.bin``); or why it cannot be adopted (its
    bytes do not hash to its name, or it is gone)."""
    try:
        with store.open(content_hash) as blob:
            head = blob.read(SNIFF_BYTES)
            blob.seek(0)
            actual, size = sha256_of_stream(blob)
    except FileNotFoundError:
        return "no longer in the store"
    if actual != content_hash:
        return f"its content hashes to {actual}"
    extension, mime_type = sniff(head) or ("bin", DEFAULT_MIME_TYPE)
    return Adoption(content_hash, size, f"recovered-{content_hash[:12]}.{extension}", mime_type)


def adopt_blob(session: Session, store: BlobStore, adoption: Adoption) -> FileInfo | None:
    """A private file row, tagged ``lost+found``, for a verified unreferenced blob, under
    the content's lock as an upload would write it; None when a row names the content
    by now (an upload came first) or the blob went meanwhile. Never touches the blob."""
    blob = lock_blob(session, adoption.content_hash, adoption.size)
    if is_referenced(session, adoption.content_hash):
        return None
    info = store.stat(adoption.content_hash)
    if info is None or info.size != adoption.size:
        session.delete(blob)  # the row this lock created names nothing
        session.flush()
        return None
    blob.status, blob.checked_at = "ok", utcnow()
    file = create_file(
        session,
        FileSpec(
            original_filename=adoption.original_filename,
            file_size=adoption.size,
            file_hash=adoption.content_hash,
            storage_path=store.key(adoption.content_hash),
            mime_type=adoption.mime_type,
            is_public=False,
        ),
    )
    add_tags(session, file, [LOST_AND_FOUND], touch=False)
    session.flush()
    return file
