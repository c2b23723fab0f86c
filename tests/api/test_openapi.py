"""The OpenAPI document says what the routes really answer, and /docs works offline:
Swagger UI comes from the package, not from a CDN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from filewallball.api import create_app
from filewallball.settings import Settings

# Any attribute or Swagger UI option that names a URL the page loads.
_REFERENCE = re.compile(r"""(?:src|href)="([^"]*)"|\burl: *'([^']*)'""")


@pytest.fixture(scope="module")
def documented(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app without its lifespan: the documents need no database."""
    data = tmp_path_factory.mktemp("docs")
    settings = Settings(database_url=f"sqlite:///{data}/none.db", data_dir=data, admin_token="t")
    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def schema(documented: TestClient) -> dict[str, Any]:
    answer = documented.get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.json()
    return document


def test_the_docs_page_loads_everything_from_the_service(documented: TestClient) -> None:
    page = documented.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "//" not in page.text  # no address of another host, with or without a scheme
    assert '"validatorUrl": null' in page.text  # nor the online validator's badge
    references = [a or b for a, b in _REFERENCE.findall(page.text)]
    assert "/openapi.json" in references
    assert {Path(r).suffix for r in references} >= {".js", ".css", ".png", ".json"}
    for reference in references:
        assert reference.startswith("/"), reference  # and not "//": no "//" at all
        served = documented.get(reference)
        assert served.status_code == 200, reference
        assert len(served.content) > 100, reference
    script = documented.get(next(r for r in references if r.endswith(".js")))
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text


def test_no_two_path_templates_have_the_same_shape(schema: dict[str, Any]) -> None:
    shapes: dict[str, list[str]] = {}
    for path in schema["paths"]:
        shapes.setdefault(re.sub(r"\{[^}]*\}", "{}", path), []).append(path)
    assert [paths for paths in shapes.values() if len(paths) > 1] == []


@pytest.mark.parametrize("path", ["/view/{file_id}", "/api/v1/files/{file_uuid}/view"])
def test_views_are_documented_as_the_file_not_json(schema: dict[str, Any], path: str) -> None:
    served = schema["paths"][path]["get"]["responses"]["200"]["content"]
    assert "application/json" not in served
    assert {"text/plain", "image/png", "application/pdf", "application/octet-stream"} <= set(served)


@pytest.mark.parametrize("path", ["/download/{file_id}", "/api/v1/files/{file_uuid}/content"])
def test_downloads_are_documented_as_bytes(schema: dict[str, Any], path: str) -> None:
    responses = schema["paths"][path]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"application/octet-stream"}
    assert {"206", "304", "416"} <= set(responses)


def test_head_of_a_download_is_documented(schema: dict[str, Any]) -> None:
    head = schema["paths"]["/api/v1/files/{file_uuid}/content"]["head"]
    assert "content" not in head["responses"]["200"]
    assert {"304", "404"} <= set(head["responses"])
