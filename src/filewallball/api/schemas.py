"""The JSON the API answers with; field names are fixed by SPEC section 7.

A record the CLI shows too is the operations' own model (``FileRecord``, ``Activity``,
``Statistics``): the two edges print one shape. What is here is the API's alone: a
file's links, the listings' pages, the catalogue's rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from filewallball.api.routes import API_PREFIX
from filewallball.models import FileTag
from filewallball.operations.activity import Activity
from filewallball.operations.records import FileRecord
from filewallball.operations.search import Page


class ModelJSON(Response):
    """A model's JSON, serialised once by pydantic-core. FastAPI would dump a returned
    model, validate the dump against the route's ``response_model`` and serialise it
    again: a fifth of the metadata GET. The route keeps its ``response_model``, which
    documents the answer."""

    media_type = "application/json"

    def __init__(self, model: BaseModel) -> None:
        super().__init__(model.model_dump_json().encode())


class FileOut(FileRecord):
    """A file and the links to its content."""

    content_url: str
    view_url: str

    @classmethod
    def of(cls, file: FileRecord) -> FileOut:
        return cls.model_validate(_with_links(file))


def _with_links(file: FileRecord) -> dict[str, Any]:
    """The record's fields (its excluded ones too: FileOut has them) and its links."""
    return {
        **vars(file),
        "content_url": f"{API_PREFIX}/files/{file.file_uuid}/content",
        "view_url": f"{API_PREFIX}/files/{file.file_uuid}/view",
    }


class FileDetail(FileOut):
    activity: Activity

    @classmethod
    def with_activity(cls, file: FileRecord, activity: Activity) -> FileDetail:
        return cls.model_validate({**_with_links(file), "activity": activity})


class FilePage(BaseModel):
    items: list[FileOut]
    next_cursor: str | None
    total: int | None

    @classmethod
    def of(cls, page: Page) -> FilePage:
        """One validation of the whole page: half the time of one per item."""
        return cls.model_validate(
            {
                "items": [_with_links(file) for file in page.items],
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
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str | None
    is_active: bool
    created_at: datetime


class SettingValue(BaseModel):
    value: Any = Field(description="string, integer, boolean or any JSON value")
