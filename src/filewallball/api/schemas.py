"""The JSON the API answers with; field names are fixed by SPEC section 7."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response

from filewallball.api.routes import API_PREFIX
from filewallball.models import FileCategory, FileExtension, FileTag
from filewallball.operations.activity import Activity
from filewallball.operations.records import FileRecord
from filewallball.operations.search import Page
from filewallball.operations.statistics import Totals, TrendPoint

__all__ = [
    "ActivityOut",
    "CategoryOut",
    "ExtensionOut",
    "FileDetail",
    "FileOut",
    "FilePage",
    "ModelJSON",
    "StatsOut",
    "TagCount",
]


class ModelJSON(Response):
    """A model's JSON, serialised once by pydantic-core. FastAPI would dump a returned
    model, validate the dump against the route's ``response_model`` and serialise it
    again: a fifth of the metadata GET. The route keeps its ``response_model``, which
    documents the answer."""

    media_type = "application/json"

    def __init__(self, model: BaseModel) -> None:
        super().__init__(model.model_dump_json().encode())


class FileOut(BaseModel):
    file_uuid: str
    original_filename: str
    file_extension: str
    mime_type: str
    file_size: int
    file_hash: str
    is_public: bool
    is_deleted: bool
    created_at: datetime
    updated_at: datetime
    category: str | None
    tags: list[str]
    content_status: str = Field(
        description="ok; missing or corrupt when fsck found the stored content lost"
    )
    content_url: str
    view_url: str

    @classmethod
    def of(cls, file: FileRecord) -> FileOut:
        return cls(**file_fields(file))


def file_fields(file: FileRecord) -> dict[str, Any]:
    return {
        **file.public_fields(),
        "content_url": f"{API_PREFIX}/files/{file.file_uuid}/content",
        "view_url": f"{API_PREFIX}/files/{file.file_uuid}/view",
    }


class ActivityOut(BaseModel):
    views: int
    downloads: int
    bytes_served: int
    last_access: datetime | None

    @classmethod
    def of(cls, activity: Activity) -> ActivityOut:
        return cls(
            views=activity.views,
            downloads=activity.downloads,
            bytes_served=activity.bytes_served,
            last_access=activity.last_access,
        )


class FileDetail(FileOut):
    activity: ActivityOut

    @classmethod
    def with_activity(cls, file: FileRecord, activity: Activity) -> FileDetail:
        return cls(**file_fields(file), activity=ActivityOut.of(activity))


class FilePage(BaseModel):
    items: list[FileOut]
    next_cursor: str | None
    total: int | None

    @classmethod
    def of(cls, page: Page) -> FilePage:
        """One validation of the whole page: half the time of one per item."""
        return cls.model_validate(
            {
                "items": [file_fields(file) for file in page.items],
                "next_cursor": page.next_cursor,
                "total": page.total,
            }
        )


class TagCount(BaseModel):
    tag_name: str
    tag_color: str
    files: int

    @classmethod
    def of(cls, tag: FileTag, files: int) -> TagCount:
        return cls(tag_name=tag.tag_name, tag_color=tag.tag_color, files=files)


class CategoryOut(BaseModel):
    name: str
    description: str | None
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, category: FileCategory) -> CategoryOut:
        return cls(
            name=category.name,
            description=category.description,
            is_active=category.is_active,
            created_at=category.created_at,
        )


class ExtensionOut(BaseModel):
    extension: str
    mime_type: str
    is_allowed: bool
    max_file_size: int
    description: str | None

    @classmethod
    def of(cls, policy: FileExtension) -> ExtensionOut:
        return cls(
            extension=policy.extension,
            mime_type=policy.mime_type,
            is_allowed=policy.is_allowed,
            max_file_size=policy.max_file_size,
            description=policy.description,
        )


class CategoryStats(BaseModel):
    category_id: int | None
    category_name: str | None
    file_count: int
    total_size: int
    avg_file_size: float | None
    last_upload: datetime | None


class TrendOut(BaseModel):
    start: date
    files: int
    bytes: int

    @classmethod
    def of(cls, point: TrendPoint) -> TrendOut:
        return cls(start=point.start, files=point.files, bytes=point.bytes)


class TotalsOut(BaseModel):
    files: int
    bytes: int
    distinct_contents: int
    deleted_files: int
    deleted_bytes: int

    @classmethod
    def of(cls, totals: Totals) -> TotalsOut:
        return cls(
            files=totals.files,
            bytes=totals.bytes,
            distinct_contents=totals.distinct_contents,
            deleted_files=totals.deleted_files,
            deleted_bytes=totals.deleted_bytes,
        )


class StatsOut(BaseModel):
    categories: list[CategoryStats]
    period: str
    trends: list[TrendOut]
    totals: TotalsOut


class SettingValue(BaseModel):
    value: Any = Field(description="string, integer, boolean or any JSON value")
