"""Uploads that name no category go in the seeded category of their type, so that the
seeded categories fill up and their statistics mean something."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)


def _category_named(admin: TestClient, start: str) -> str:
    [name] = [
        c["name"] for c in admin.get("/api/v1/categories").json() if c["name"].startswith(start)
    ]
    return name


def _counts(admin: TestClient) -> dict[str | None, Any]:
    rows = admin.get("/api/v1/stats").json()["categories"]
    return {row["category_name"]: row["file_count"] for row in rows}


def test_an_uploaded_png_lands_in_the_image_category_and_its_statistics(admin: TestClient) -> None:
    images = _category_named(admin, "image")
    before = _counts(admin)
    name = f"dot {uuid.uuid4().hex}.png"
    created = admin.put(f"/api/v1/files/{name}", content=PNG)
    assert created.status_code == 201, created.text
    assert created.json()["category"] == images
    after = _counts(admin)
    assert after[images] == before[images] + 1
    assert after[None] == before[None]
    listed = admin.get("/api/v1/files", params={"category": images, "q": name}).json()["items"]
    assert [f["original_filename"] for f in listed] == [name]


def test_a_category_given_wins_and_a_type_no_category_holds_stays_uncategorised(
    admin: TestClient,
) -> None:
    documents = _category_named(admin, "document")
    given = admin.put("/api/v1/files/dot.png", content=PNG, params={"category": documents})
    assert given.json()["category"] == documents
    unknown = admin.put("/api/v1/files/firmware.bin", content=b"\x00\x01 opaque")
    assert unknown.json()["mime_type"] == "application/octet-stream"
    assert unknown.json()["category"] is None


def test_multipart_uploads_are_categorised_too(admin: TestClient) -> None:
    created = admin.post("/api/v1/files", files={"file": ("notes.txt", b"plain words\n")})
    assert created.status_code == 201, created.text
    assert created.json()["category"] == _category_named(admin, "document")


def test_a_deactivated_seeded_category_takes_no_uploads_of_its_type(admin: TestClient) -> None:
    images = _category_named(admin, "image")
    assert admin.patch(f"/api/v1/categories/{images}", json={"is_active": False}).is_success
    created = admin.put("/api/v1/files/dot.png", content=PNG)
    assert created.status_code == 201, created.text
    assert created.json()["category"] is None
