"""The data model: ten mapped classes over nine tables and one view (SPEC section 1)."""

from filewallball.models.activity import FileDownload, FileView
from filewallball.models.base import NAMING_CONVENTION, Base
from filewallball.models.files import FileCategory, FileExtension, FileInfo, FileUpload
from filewallball.models.statistics import FileStatistics, ReadOnlyViewError, views_metadata
from filewallball.models.system_settings import SystemSetting
from filewallball.models.tags import FileTag, FileTagRelation
from filewallball.models.types import UTCDateTime, generate_file_uuid, utcnow

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "FileCategory",
    "FileDownload",
    "FileExtension",
    "FileInfo",
    "FileStatistics",
    "FileTag",
    "FileTagRelation",
    "FileUpload",
    "FileView",
    "ReadOnlyViewError",
    "SystemSetting",
    "UTCDateTime",
    "generate_file_uuid",
    "utcnow",
    "views_metadata",
]
