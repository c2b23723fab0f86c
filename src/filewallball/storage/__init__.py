"""Where file contents live: a content-addressed blob store.

A blob is named by the SHA-256 of its bytes, so identical uploads share one blob and a
blob's name proves its content. Callers see the small interface below; the local
filesystem store implements it, and an object-storage store can later do the same
without a change to the callers.
"""

from filewallball.storage.base import BlobInfo, BlobStore, StagedBlob
from filewallball.storage.local import LocalBlobStore

__all__ = ["BlobInfo", "BlobStore", "LocalBlobStore", "StagedBlob"]
