"""Where file contents live: a content-addressed blob store.

A blob is named by the SHA-256 of its bytes, so identical uploads share one blob and a
blob's name proves its content. Callers hold a ``BlobStore`` (``storage.base``) and never
learn which store it is: the local filesystem's today (``storage.local``), an object
store's later.
"""

from filewallball.settings import Settings
from filewallball.storage.base import BlobInfo, BlobStore, Space, StagedBlob
from filewallball.storage.local import LocalBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore", "Space", "StagedBlob", "open_store"]


def open_store(settings: Settings) -> BlobStore:
    """The blob store the settings name."""
    return LocalBlobStore(settings.data_dir / "blobs")
