"""The data model: the mapped classes of SPEC sections 1 and 8, and the blob store's contents."""

from filewallball.models.accounts import ApiKey, User
from filewallball.models.activity import FileDownload, FileView
from filewallball.models.base import NAMING_CONVENTION, Base
from filewallball.models.blobs import Blob
from filewallball.models.files import FileCategory, FileExtension, FileInfo, FileUpload
from filewallball.models.housekeeping import HousekeepingJob
from filewallball.models.statistics import (
    FileCount,
    FileStatistics,
    ReadOnlyViewError,
    views_metadata,
)
from filewallball.models.system_settings import SystemSetting
from filewallball.models.tags import FileTag, FileTagRelation
from filewallball.models.types import UTCDateTime, generate_file_uuid, utcnow

__all__ = [
    "NAMING_CONVENTION",
    "ApiKey",
    "Base",
    "Blob",
    "FileCategory",
    "FileCount",
    "FileDownload",
    "FileExtension",
    "FileInfo",
    "FileStatistics",
    "FileTag",
    "FileTagRelation",
    "FileUpload",
    "FileView",
    "HousekeepingJob",
    "ReadOnlyViewError",
    "SystemSetting",
    "UTCDateTime",
    "User",
    "generate_file_uuid",
    "utcnow",
    "views_metadata",
]
