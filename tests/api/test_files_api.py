"""Reading and managing files, tags, categories, policies, settings and statistics."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball import maintenance
from filewallball.api import create_app
from filewallball.models import FileCount, FileInfo, FileView, HousekeepingJob, utcnow
from filewallball.settings import Settings
from filewallball.storage import LocalBlobStore
from tests.api.conftest import ADMIN
from tests.factories import random_content
from tests.servers import every_database


def _upload(admin: TestClient, name: str, size: int = 100, **params: str) -> dict[str, Any]:
    created = admin.put(f"/api/v1/files/{name}", params=params, content=random_content(size))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_search_filters_sorts_and_pages(admin: TestClient) -> None:
    marker = uuid.uuid4().hex[:10]
    sizes = [300, 100, 200, 400, 500]
    made = [
        _upload(admin, f"{marker}-{i}.txt", size, tags="even" if i % 2 == 0 else "odd")
        for i, size in enumerate(sizes)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": marker, "sort": "file_size", "order": "asc", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = admin.get("/api/v1/files", params=params).json()
        seen += [item["file_uuid"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    by_size = sorted(made, key=lambda f: f["file_size"])
    assert seen == [f["file_uuid"] for f in by_size]

    tagged = admin.get(
        "/api/v1/files", params={"q": marker, "tag": "even", "with_total": "true"}
    ).json()
    assert tagged["total"] == 3
    assert {i["original_filename"] for i in tagged["items"]} == {
        f"{marker}-{i}.txt" for i in (0, 2, 4)
    }
    ranged = admin.get(
        "/api/v1/files", params={"q": marker, "min_size": 200, "max_size": 400}
    ).json()
    assert sorted(i["file_size"] for i in ranged["items"]) == [200, 300, 400]


def test_a_renamed_file_is_found_by_its_new_name_only(admin: TestClient) -> None:
    marker = uuid.uuid4().hex[:10]
    stored = _upload(admin, f"Ébauche {marker}.txt")
    assert _found(admin, q=f"ebauche {marker}") == [stored["file_uuid"]]
    renamed = admin.patch(
        f"/api/v1/files/{stored['file_uuid']}", json={"original_filename": f"Rapport {marker}.txt"}
    )
    assert renamed.status_code == 200, renamed.text
    assert _found(admin, q=f"ebauche {marker}") == []
    assert _found(admin, name_prefix=f"RAPPORT {marker}") == [stored["file_uuid"]]


def _found(admin: TestClient, **params: str) -> list[str]:
    page = admin.get("/api/v1/files", params=params)
    assert page.status_code == 200, page.text
    return [item["file_uuid"] for item in page.json()["items"]]


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"min_size": 5, "max_size": 1}, 422, "min_size 5 is above max_size 1"),
        ({"sort": "colour"}, 422, "sort"),
        ({"limit": 100000}, 422, "limit"),
        ({"cursor": "forged"}, 400, "cursor"),
        ({"min_size": -1}, 422, "min_size"),
        ({"unknown": "x"}, 422, "unknown"),
    ],
)
def test_bad_search_input_is_named(
    admin: TestClient, params: dict[str, Any], status: int, words: str
) -> None:
    refused = admin.get("/api/v1/files", params=params)
    assert refused.status_code == status, refused.text
    assert words in refused.json()["error"]["message"]


def test_metadata_change_delete_restore(admin: TestClient) -> None:
    stored = _upload(admin, "draft.txt", tags="a")
    url = f"/api/v1/files/{stored['file_uuid']}"
    detail = admin.get(url).json()
    assert detail["activity"] == {
        "views": 0,
        "downloads": 0,
        "bytes_served": 0,
        "last_access": None,
    }
    changed = admin.patch(
        url,
        json={"original_filename": "final.txt", "category": "documents", "tags": ["b", "C"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["original_filename"] == "final.txt"
    assert changed.json()["category"] == "documents"
    assert changed.json()["tags"] == ["b", "c"]
    uncategorised = admin.patch(url, json={"category": None, "is_public": False}).json()
    assert uncategorised["category"] is None
    assert uncategorised["is_public"] is False

    renamed = admin.patch(url, json={"original_filename": "final.exe"})
    assert renamed.status_code == 400
    assert "would change its extension" in renamed.json()["error"]["message"]
    assert admin.patch(url, json={"file_size": 1}).status_code == 422

    assert admin.delete(url).json()["is_deleted"] is True
    assert admin.get(url).json()["is_deleted"] is True  # the admin still sees it
    assert admin.delete(url).status_code == 200  # idempotent
    assert admin.post(f"{url}/restore").json()["is_deleted"] is False


def test_tags_routes(admin: TestClient) -> None:
    marker = uuid.uuid4().hex[:8]
    stored = _upload(admin, "tagged.txt")
    url = f"/api/v1/files/{stored['file_uuid']}/tags"
    assert admin.put(f"{url}/{marker}-One").json()["tags"] == [f"{marker}-one"]
    assert admin.put(f"{url}/{marker}-one").json()["tags"] == [f"{marker}-one"]
    counts = {t["tag_name"]: t["files"] for t in admin.get("/api/v1/tags?limit=1000").json()}
    assert counts[f"{marker}-one"] == 1
    assert admin.delete(f"{url}/{marker}-one").json()["tags"] == []
    too_long = admin.put(f"{url}/{'x' * 60}")
    assert too_long.status_code == 400
    assert "50" in too_long.json()["error"]["message"]


def test_categories_extensions_and_settings(admin: TestClient) -> None:
    name = f"cat-{uuid.uuid4().hex[:8]}"
    created = admin.post("/api/v1/categories", json={"name": name, "description": "d"})
    assert created.status_code == 201
    assert admin.post("/api/v1/categories", json={"name": name}).status_code == 409
    assert name in [c["name"] for c in admin.get("/api/v1/categories").json()]
    off = admin.patch(f"/api/v1/categories/{name}", json={"is_active": False})
    assert off.json()["is_active"] is False
    assert name not in [c["name"] for c in admin.get("/api/v1/categories").json()]
    refused = admin.put(f"/api/v1/files/x.txt?category={name}", content=b"x")
    assert refused.status_code == 404

    policies = {p["extension"]: p for p in admin.get("/api/v1/extensions").json()}
    assert policies["exe"]["is_allowed"] is False
    ext = f"e{uuid.uuid4().hex[:6]}"
    put = admin.put(
        f"/api/v1/extensions/{ext}",
        json={"mime_type": "application/x-test", "max_file_size": 10},
    )
    assert put.status_code == 200
    assert _upload(admin, f"a.{ext}", 10)["mime_type"] == "application/x-test"
    assert admin.put(f"/api/v1/files/b.{ext}", content=random_content(11)).status_code == 413

    public = admin.get("/api/v1/settings", headers={"Authorization": ""}).json()
    assert "trash_retention_days" in public
    assert "log_retention_days" not in public
    assert "log_retention_days" in admin.get("/api/v1/settings").json()
    bad = admin.put("/api/v1/settings/trash_retention_days", json={"value": -1})
    assert bad.status_code == 422
    assert "0 or more" in bad.json()["error"]["message"]
    assert admin.get("/api/v1/settings/nope").status_code == 404


def test_stats(admin: TestClient) -> None:
    before = admin.get("/api/v1/stats", params={"days": 7}).json()
    _upload(admin, "counted.txt", 1234, category="documents")
    after = admin.get("/api/v1/stats", params={"days": 7}).json()
    assert after["totals"]["files"] == before["totals"]["files"] + 1
    assert after["totals"]["bytes"] == before["totals"]["bytes"] + 1234
    assert len(after["trends"]) == 7
    assert after["trends"][-1]["files"] == before["trends"][-1]["files"] + 1
    docs = {c["category_name"]: c for c in after["categories"]}
    docs_before = {c["category_name"]: c for c in before["categories"]}
    assert docs["documents"]["file_count"] == docs_before["documents"]["file_count"] + 1
    weekly = admin.get("/api/v1/stats", params={"period": "week", "days": 28}).json()
    assert weekly["period"] == "week"
    assert admin.get("/api/v1/stats", params={"period": "year"}).status_code == 422


def test_the_service_folds_the_counts_while_it_runs(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, service_engine: Engine
) -> None:
    """Each upload appends a row to file_counts; the running service folds them into
    one row per category, and the statistics read the same before and after."""
    monkeypatch.setattr(maintenance, "FOLD_SECONDS", 3600.0)
    with TestClient(create_app(settings), headers=ADMIN) as admin:
        for number in range(5):
            _upload(admin, f"fold-{number}.txt", 10 + number, category="documents")
        before = admin.get("/api/v1/stats").json()
    assert _count_rows(service_engine) > _count_keys(service_engine)

    monkeypatch.setattr(maintenance, "FOLD_SECONDS", 0.05)
    with TestClient(create_app(settings), headers=ADMIN) as admin:
        deadline = time.monotonic() + 30
        while _count_rows(service_engine) > _count_keys(service_engine):
            assert time.monotonic() < deadline, "the service never folded the counts"
            time.sleep(0.05)
        assert admin.get("/api/v1/stats").json() == before


def test_the_service_applies_the_retention_settings_by_itself(
    settings: Settings, service_engine: Engine
) -> None:
    """A file 31 days in the trash and a view 91 days old (trash_retention_days 30 and
    log_retention_days 90, as seeded): the service removes both once it has started, the
    file's content with it, and keeps what is younger. Nobody runs a command."""
    with TestClient(create_app(settings), headers=ADMIN) as admin:
        doomed, kept = _upload(admin, "doomed.txt", 100), _upload(admin, "kept.txt", 100)
        assert admin.delete(f"/api/v1/files/{doomed['file_uuid']}").status_code == 200
    now = utcnow()
    with service_engine.begin() as connection:
        connection.execute(
            sa.update(FileInfo)
            .where(FileInfo.file_uuid == doomed["file_uuid"])
            .values(deleted_at=now - timedelta(days=31))
        )
        kept_id = connection.scalar(
            sa.select(FileInfo.id).where(FileInfo.file_uuid == kept["file_uuid"])
        )
        connection.execute(
            sa.insert(FileView),
            [{"file_id": kept_id, "created_at": now - timedelta(days=d)} for d in (1, 91)],
        )
        # due now, whatever the services of earlier tests on this database did
        connection.execute(
            sa.update(HousekeepingJob).values(next_run_at=now, held_by=None, held_until=None)
        )
    store = LocalBlobStore(settings.data_dir / "blobs")
    assert store.stat(doomed["file_hash"]) is not None

    def left() -> tuple[int, int]:
        with service_engine.connect() as connection:
            files = connection.scalar(
                sa.select(sa.func.count()).where(
                    FileInfo.file_uuid.in_([doomed["file_uuid"], kept["file_uuid"]])
                )
            )
            views = connection.scalar(sa.select(sa.func.count()).where(FileView.file_id == kept_id))
            return files or 0, views or 0

    with TestClient(create_app(settings), headers=ADMIN):
        deadline = time.monotonic() + 30
        while left() != (1, 1) or store.stat(doomed["file_hash"]) is not None:
            assert time.monotonic() < deadline, f"retention never ran: {left()} left"
            time.sleep(0.02)
    assert store.stat(kept["file_hash"]) is not None


def _count_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(FileCount)) or 0


def _count_keys(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count(sa.distinct(FileCount.category_key)))) or 0


def test_errors_have_one_shape(admin: TestClient) -> None:
    for response in (
        admin.get("/api/v1/files/not-a-uuid"),
        admin.get(f"/api/v1/files/{uuid.uuid4()}"),
        admin.get("/nowhere"),
        admin.post("/api/v1/stats"),
        admin.patch(f"/api/v1/files/{uuid.uuid4()}", content=b"{not json"),
    ):
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"code", "message"}
        assert response.status_code in (400, 404, 405, 422)


def test_openapi_documents_every_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/files",
        "/api/v1/files/{file_uuid}",
        "/api/v1/files/{file_uuid}/content",
        "/api/v1/files/{file_uuid}/view",
        "/api/v1/files/{file_uuid}/activity",
        "/api/v1/files/{file_uuid}/restore",
        "/api/v1/files/{file_uuid}/tags/{tag}",
        "/api/v1/tags",
        "/api/v1/categories",
        "/api/v1/categories/{name}",
        "/api/v1/extensions",
        "/api/v1/extensions/{extension}",
        "/api/v1/settings",
        "/api/v1/settings/{key}",
        "/api/v1/stats",
        "/health",
        "/metrics",
        "/upload",
        "/files",
        "/files/{file_id}",
        "/download/{file_id}",
        "/view/{file_id}",
    ):
        assert path in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("responses"), (method, path)
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)
    assert client.get("/docs").status_code == 200


def test_metrics_count_requests_uploads_and_downloads(admin: TestClient) -> None:
    stored = _upload(admin, "metered.txt", 2048)
    admin.get(stored["content_url"])
    admin.get("/api/v1/files/nope")
    text = admin.get("/metrics").text
    assert 'filewallball_uploads_total{outcome="completed"} 1.0' in text
    assert "filewallball_upload_bytes_total 2048.0" in text
    assert "filewallball_download_bytes_total 2048.0" in text
    assert (
        'filewallball_http_requests_total{method="PUT",route="/api/v1/files/{file_uuid}",'
        'status="201"} 1.0' in text
    )
    assert 'filewallball_http_errors_total{status="400"} 1.0' in text
    assert "filewallball_uploads_in_progress 0.0" in text
    assert "filewallball_http_request_duration_seconds_bucket" in text
    assert (
        "filewallball_db_pool_size" in text
        or admin.get("/health").json()["database"]["dialect"] == "sqlite"
    )


def test_health(admin: TestClient, data_dir: Any) -> None:
    health = admin.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "healthy"
    assert body["database"]["reachable"] is True
    assert body["storage"]["writable"] is True
    assert body["storage"]["free_bytes"] > 0
    assert str(data_dir) not in health.text


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/files?q=a%00b",
        "/api/v1/files?tag=a%00b",
        "/api/v1/files?category=a%00b",
        "/api/v1/categories/a%00b",
    ],
)
@every_database  # PostgreSQL refuses a NUL in any text it is sent
def test_nul_characters_are_refused_not_crashing(admin: TestClient, url: str) -> None:
    method = admin.patch if "categories" in url else admin.get
    refused = method(url, json={"is_active": True}) if method is admin.patch else method(url)
    assert refused.status_code in (400, 404, 422), refused.text
    assert set(refused.json()) == {"error"}


def test_bodies_of_non_upload_routes_are_limited(admin: TestClient) -> None:
    huge = {"value": "x" * (2 * 1024 * 1024)}
    refused = admin.put("/api/v1/settings/some_note", json=huge)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "too_large"
    assert admin.get("/api/v1/settings/some_note").status_code == 404
    big_upload = admin.put("/api/v1/files/big.tar", content=random_content(3 * 1024 * 1024))
    assert big_upload.status_code == 201
