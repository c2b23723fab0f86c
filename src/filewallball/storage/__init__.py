"""Where file contents live: a content-addressed blob store.

A blob is named by the SHA-256 of its bytes, so identical uploads share one blob and a
blob's name proves its content. Callers hold a ``BlobStore`` (``storage.base``) and never
learn which store it is: the local filesystem's (``storage.local``) or an S3 bucket's
(``storage.s3``).
"""

from pathlib import Path
from urllib.parse import unquote

from filewallball.settings import Settings
from filewallball.storage.base import BlobInfo, BlobStore, Space, StagedBlob
from filewallball.storage.local import LocalBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore", "Space", "StagedBlob", "open_store"]


def open_store(settings: Settings) -> BlobStore:
    """The blob store the settings name (``storage_url``); a bucket that is not there is
    said at once, in one line."""
    url = settings.storage
    if url.scheme == "file":
        return LocalBlobStore(Path(unquote(url.path)))
    # Imported here: boto3 takes a while to load, and only an S3 store needs it.
    from filewallball.storage.s3 import S3BlobStore, client_for  # noqa: PLC0415

    store = S3BlobStore(client_for(settings), url.netloc, unquote(url.path))
    store.check_bucket()
    return store
