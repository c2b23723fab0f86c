"""Any file can be uploaded on a fresh install (SPEC section 12): names no policy knows
are octet-streams served as attachments, the seeded policies cap nothing of their own,
and what stays refused says how to allow it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import random_content

EXE = b"MZ" + bytes(200)


@pytest.fixture
def unknown_denied(admin: TestClient) -> Iterator[None]:
    """unknown_extensions = deny for one test (the service database is shared)."""
    assert admin.put("/api/v1/settings/unknown_extensions", json={"value": "deny"}).is_success
    yield
    admin.put("/api/v1/settings/unknown_extensions", json={"value": "allow"})


@pytest.mark.parametrize("name", ["README", "Makefile", ".env", "server.log", "disk.iso"])
def test_names_no_policy_knows_are_stored_as_octet_streams(admin: TestClient, name: str) -> None:
    content = b"plain words " + random_content(32)
    created = admin.put(f"/api/v1/files/{name}", content=content)
    assert created.status_code == 201, created.text
    file = created.json()
    assert file["mime_type"] == "application/octet-stream"
    assert file["original_filename"] == name
    view = admin.get(f"/api/v1/files/{file['file_uuid']}/view")
    assert view.status_code == 200
    assert view.headers["content-disposition"].startswith("attachment")
    assert view.headers["content-type"] == "application/octet-stream"
    assert view.content == content


def test_the_seeded_policies_have_no_cap_of_their_own(admin: TestClient) -> None:
    policies = {policy["extension"]: policy for policy in admin.get("/api/v1/extensions").json()}
    assert policies["pdf"]["max_file_size"] is None
    assert policies["jpg"]["max_file_size"] is None
    assert policies["exe"]["is_allowed"] is False
    settings = admin.get("/api/v1/settings").json()
    assert settings["unknown_extensions"] == "allow"


def test_a_policy_without_a_cap_is_limited_by_max_upload_bytes(admin: TestClient) -> None:
    made = admin.put("/api/v1/extensions/nocap", json={"mime_type": "text/plain"})
    assert made.status_code == 200
    assert made.json()["max_file_size"] is None
    assert admin.put("/api/v1/settings/max_upload_bytes", json={"value": 1000}).is_success
    try:
        assert admin.put("/api/v1/files/a.nocap", content=random_content(1000)).status_code == 201
        assert admin.put("/api/v1/files/b.nocap", content=random_content(1001)).status_code == 413
        assert admin.put("/api/v1/files/c.what", content=random_content(1001)).status_code == 413
    finally:
        admin.put("/api/v1/settings/max_upload_bytes", json={"value": 8 * 1024**3})


@pytest.mark.parametrize("name", ["setup", "setup.bin", "installer.unknownext"])
def test_content_sniffed_as_a_denied_type_is_refused_under_any_name(
    admin: TestClient, name: str
) -> None:
    refused = admin.put(f"/api/v1/files/{name}", content=EXE + random_content(8))
    assert refused.status_code == 415
    message = refused.json()["error"]["message"]
    assert "application/x-msdownload (.exe)" in message
    assert "filewallball policies set exe --allow" in message


def test_the_415_of_a_denied_extension_says_how_to_allow_it(admin: TestClient) -> None:
    refused = admin.put("/api/v1/files/tool.exe", content=EXE)
    assert refused.status_code == 415
    message = refused.json()["error"]["message"]
    assert message.startswith(".exe files are not allowed; an admin can allow them")
    assert "filewallball policies set exe --allow" in message
    assert "PUT /api/v1/extensions/exe" in message


@pytest.mark.usefixtures("unknown_denied")
@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("server.log", "filewallball policies set log --mime TYPE --allow"),
        ("README", "names without an extension are not accepted"),
    ],
)
def test_unknown_extensions_deny_refuses_them_again(
    admin: TestClient, name: str, words: str
) -> None:
    refused = admin.put(f"/api/v1/files/{name}", content=b"hello")
    assert refused.status_code == 415
    message = refused.json()["error"]["message"]
    assert words in message
    assert "unknown_extensions" in message
    assert admin.put("/api/v1/files/known.txt", content=b"hello").status_code == 201


def test_unknown_extensions_takes_allow_or_deny_only(admin: TestClient) -> None:
    refused = admin.put("/api/v1/settings/unknown_extensions", json={"value": "maybe"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"
    assert "allow or deny" in refused.json()["error"]["message"]
    assert admin.get("/api/v1/settings/unknown_extensions").json()["value"] == "allow"


def test_an_empty_extension_filter_lists_the_files_without_one(admin: TestClient) -> None:
    plain = admin.put("/api/v1/files/Dockerfile", content=b"FROM scratch\n").json()
    admin.put("/api/v1/files/with.txt", content=b"text")
    listed = admin.get("/api/v1/files", params={"extension": "", "limit": 500}).json()["items"]
    assert plain["file_uuid"] in {file["file_uuid"] for file in listed}
    assert {file["file_extension"] for file in listed} == {""}
