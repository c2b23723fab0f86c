"""Accounts and API keys over HTTP (SPEC section 8): who a bearer credential is, which
scope each route needs (401 without a credential, 403 ``insufficient_scope`` naming the
missing one), members change only their own files, and keys stop at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from filewallball.models import FileInfo, User
from tests import factories
from tests.api.conftest import ADMIN

ALL_MEMBER_SCOPES = ["files:read", "files:write", "files:delete", "shares"]
Headers = dict[str, str]


def bearer(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., str]:
    def make(role: str = "member", **fields: Any) -> str:
        name = factories.unique("u-")
        made = client.post(
            "/api/v1/users", json={"username": name, "role": role, **fields}, headers=ADMIN
        )
        assert made.status_code == 201, made.text
        return name

    return make


@pytest.fixture
def make_key(client: TestClient) -> Callable[..., Headers]:
    def make(user: str, *scopes: str) -> Headers:
        made = client.post(
            "/api/v1/keys",
            json={"name": "test", "scopes": list(scopes), "user": user},
            headers=ADMIN,
        )
        assert made.status_code == 201, made.text
        return bearer(made.json()["key"])

    return make


def put(client: TestClient, headers: Headers, *, public: bool = True) -> Any:
    name = factories.unique("f-") + ".txt"
    return client.put(
        f"/api/v1/files/{name}?is_public={str(public).lower()}",
        content=name.encode(),
        headers=headers,
    )


def refused_for(answer: Any, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    return str(error["message"])


def test_me_says_who_each_credential_is(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    admin = client.get("/api/v1/me", headers=ADMIN).json()
    assert (admin["username"], admin["role"], admin["quota_bytes"]) == (None, "admin", None)
    assert admin["scopes"] == ["files:read", "files:write", "files:delete", "shares", "admin"]

    name = make_user(quota_files=3, display_name="Member")
    me = client.get("/api/v1/me", headers=make_key(name, "files:read")).json()
    assert me == {
        "username": name,
        "display_name": "Member",
        "role": "member",
        "scopes": ["files:read"],
        "quota_bytes": None,
        "quota_files": 3,
        "used_bytes": 0,
        "used_files": 0,
    }
    answer = client.get("/api/v1/me")
    refused_for(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("fwb_abcdefgh_" + "A" * 43, "unknown"),
        ("fwb_short", "unknown"),
        ("not-the-token", "neither the admin token nor an API key"),
    ],
)
def test_a_wrong_credential_is_401_never_anonymous(
    client: TestClient, token: str, words: str
) -> None:
    answer = client.get("/api/v1/files", headers=bearer(token))  # anonymous could list
    assert words in refused_for(answer, 401, "unauthorized")


def test_each_write_needs_its_scope(
    client: TestClient,
    make_user: Callable[..., str],
    make_key: Callable[..., Headers],
    service_engine: Engine,
) -> None:
    name = make_user()
    reader, writer = make_key(name, "files:read"), make_key(name, "files:write")
    deleter = make_key(name, "files:delete")

    assert "files:write" in refused_for(put(client, reader), 403, "insufficient_scope")
    stored = put(client, writer)
    assert stored.status_code == 201, stored.text
    file_uuid = stored.json()["file_uuid"]
    assert stored.json()["owner"] == name
    assert put(client, ADMIN).json()["owner"] is None
    with service_engine.connect() as connection:
        owner = connection.scalar(
            sa.select(User.username)
            .join(FileInfo, FileInfo.owner_id == User.id)
            .where(FileInfo.file_uuid == file_uuid)
        )
    assert owner == name

    tagged = client.put(f"/api/v1/files/{file_uuid}/tags/mine", headers=writer)
    assert tagged.status_code == 200, tagged.text
    renamed = client.patch(
        f"/api/v1/files/{file_uuid}", json={"original_filename": "x.txt"}, headers=deleter
    )
    assert "files:write" in refused_for(renamed, 403, "insufficient_scope")
    trashed = client.delete(f"/api/v1/files/{file_uuid}", headers=writer)
    assert "files:delete" in refused_for(trashed, 403, "insufficient_scope")
    assert client.delete(f"/api/v1/files/{file_uuid}", headers=deleter).status_code == 200
    restored = client.post(f"/api/v1/files/{file_uuid}/restore", headers=deleter)
    assert restored.status_code == 200, restored.text


def test_a_member_changes_only_their_own_files(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    other = make_key(make_user(), *ALL_MEMBER_SCOPES)
    public = put(client, ADMIN).json()["file_uuid"]
    private = put(client, ADMIN, public=False).json()["file_uuid"]

    answer = client.delete(f"/api/v1/files/{public}", headers=other)
    assert "not yours" in refused_for(answer, 403, "forbidden")
    refused_for(client.delete(f"/api/v1/files/{private}", headers=other), 404, "not_found")
    answer = client.patch(f"/api/v1/files/{public}", json={"is_public": False}, headers=other)
    refused_for(answer, 403, "forbidden")
    refused_for(client.delete(f"/files/{public}", headers=other), 403, "forbidden")  # earlier API
    assert client.get(f"/api/v1/files/{public}", headers=other).status_code == 200
    assert client.delete(f"/api/v1/files/{public}", headers=ADMIN).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/users", {"username": "nobody-made"}),
        ("PUT", "/api/v1/settings/log_retention_days", {"value": 30}),
        ("PUT", "/api/v1/extensions/abc", {"mime_type": "text/plain"}),
        ("POST", "/api/v1/categories", {"name": "nobody-made"}),
        ("GET", "/api/v1/stats", None),
    ],
)
def test_admin_routes_need_the_admin_scope(
    client: TestClient,
    make_user: Callable[..., str],
    make_key: Callable[..., Headers],
    method: str,
    path: str,
    body: Any,
) -> None:
    member = make_key(make_user(), *ALL_MEMBER_SCOPES)
    answer = client.request(method, path, json=body, headers=member)
    assert "admin" in refused_for(answer, 403, "insufficient_scope")
    refused_for(client.request(method, path, json=body), 401, "unauthorized")
    admins_key = make_key(make_user("admin"), "admin", "files:read")
    assert client.request("GET", "/api/v1/users", headers=admins_key).status_code == 200


def test_no_key_mints_a_stronger_one_nor_one_for_another_user(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    name, other = make_user(), make_user()
    reader = make_key(name, "files:read")
    stronger = client.post(
        "/api/v1/keys", json={"name": "more", "scopes": ["files:write"]}, headers=reader
    )
    assert "files:write" in refused_for(stronger, 403, "insufficient_scope")
    same = client.post(
        "/api/v1/keys", json={"name": "same", "scopes": ["files:read"]}, headers=reader
    )
    assert same.status_code == 201, same.text
    assert set(same.json()) == {"id", "name", "prefix", "scopes", "expires_at", "key"}
    theirs = client.post(
        "/api/v1/keys",
        json={"name": "x", "scopes": ["files:read"], "user": other},
        headers=reader,
    )
    refused_for(theirs, 403, "forbidden")
    listed = client.get("/api/v1/keys", headers=reader).json()["items"]
    assert {key["user"] for key in listed} == {name}
    assert all("key" not in key and "secret_hash" not in key for key in listed)


def test_revoked_keys_and_deactivated_users_are_refused_at_once(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    name = make_user()
    kept, revoked = make_key(name, "files:read"), make_key(name, "files:read")
    (listed,) = [
        key
        for key in client.get("/api/v1/keys", headers=ADMIN).json()["items"]
        if revoked["Authorization"].startswith(f"Bearer fwb_{key['prefix']}_")
    ]
    assert client.delete(f"/api/v1/keys/{listed['id']}", headers=kept).status_code == 200
    assert "revoked" in refused_for(client.get("/api/v1/me", headers=revoked), 401, "unauthorized")

    gone = client.delete(f"/api/v1/users/{name}", headers=ADMIN)
    assert gone.json()["is_active"] is False
    assert "deactivated" in refused_for(client.get("/api/v1/me", headers=kept), 401, "unauthorized")
    back = client.patch(f"/api/v1/users/{name}", json={"is_active": True}, headers=ADMIN)
    assert back.status_code == 200, back.text


def test_users_are_made_once_and_shown_without_their_password(
    client: TestClient, make_user: Callable[..., str]
) -> None:
    name = make_user(password="a long enough password")
    again = client.post("/api/v1/users", json={"username": name.upper()}, headers=ADMIN)
    refused_for(again, 409, "conflict")
    shown = client.get(f"/api/v1/users/{name.upper()}", headers=ADMIN).json()
    assert shown["username"] == name
    assert "password" not in str(shown)
    bad = client.post("/api/v1/users", json={"username": "no spaces"}, headers=ADMIN)
    refused_for(bad, 400, "invalid_input")


def test_a_password_is_changed_with_the_current_one(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    name = make_user(password="the first password")
    key = make_key(name, "files:read")
    wrong = {"current_password": "not it at all", "new_password": "the second password"}
    refused_for(client.put("/api/v1/me/password", json=wrong, headers=key), 403, "forbidden")
    right = {**wrong, "current_password": "the first password"}
    assert client.put("/api/v1/me/password", json=right, headers=key).status_code == 204


def test_last_used_at_is_written_in_batches(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    name = make_user()
    key = make_key(name, "files:read")
    assert client.get("/api/v1/me", headers=key).status_code == 200
    app = cast(FastAPI, client.app)
    client.portal.call(app.state.services.key_uses.drain)  # type: ignore[union-attr]
    listed = client.get("/api/v1/keys", headers=ADMIN).json()["items"]
    (used,) = [record for record in listed if record["user"] == name]
    assert used["last_used_at"] is not None


def test_a_member_reads_public_files_and_their_own_private_ones(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    owner = make_key(make_user(), *ALL_MEMBER_SCOPES)
    other = make_key(make_user(), *ALL_MEMBER_SCOPES)
    writer_only = make_key(make_user(), "files:write")
    mine = put(client, owner, public=False).json()["file_uuid"]
    admins = put(client, ADMIN, public=False).json()["file_uuid"]
    public = put(client, ADMIN).json()["file_uuid"]

    for path in ("", "/content", "/activity"):
        assert client.get(f"/api/v1/files/{mine}{path}", headers=owner).status_code == 200
        refused_for(client.get(f"/api/v1/files/{mine}{path}", headers=other), 404, "not_found")
    refused_for(client.get(f"/api/v1/files/{admins}", headers=owner), 404, "not_found")
    assert client.get(f"/download/{mine}/x.txt", headers=owner).status_code == 200
    assert client.get(f"/files/{mine}", headers=owner).status_code == 200  # earlier API

    def listed(headers: Headers, query: str = "") -> set[str]:
        answer = client.get(f"/api/v1/files?limit=200{query}", headers=headers)
        assert answer.status_code == 200, answer.text
        return {item["file_uuid"] for item in answer.json()["items"]}

    assert {mine, public} <= listed(owner)
    assert admins not in listed(owner)
    assert listed(owner, "&is_public=false") == {mine}
    assert mine not in listed(other)
    assert mine not in listed(writer_only)  # without files:read, no more than anyone
    refused_for(client.get(f"/api/v1/files/{mine}", headers=writer_only), 404, "not_found")
    earlier = client.get("/files?limit=100", headers=owner).json()["files"]
    assert mine in {item["file_id"] for item in earlier}


def test_public_listing_off_keeps_anonymous_callers_from_listing(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    public = put(client, ADMIN).json()["file_uuid"]
    member = make_key(make_user(), "files:read")
    off = client.put("/api/v1/settings/public_listing", json={"value": False}, headers=ADMIN)
    assert off.status_code == 200, off.text
    try:
        for path in ("/api/v1/files", "/files", "/api/v1/tags"):
            assert "public_listing" in refused_for(client.get(path), 401, "unauthorized")
            assert client.get(path, headers=member).status_code == 200
        assert client.get(f"/api/v1/files/{public}").status_code == 200  # by its URL
    finally:
        on = client.put("/api/v1/settings/public_listing", json={"value": True}, headers=ADMIN)
        assert on.status_code == 200, on.text
    assert client.get("/api/v1/files").status_code == 200


def test_a_demoted_admins_key_loses_admin_at_once(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    name = make_user("admin")
    key = make_key(name, "admin", "files:read", "files:write")
    assert client.get("/api/v1/users", headers=key).status_code == 200
    uploaded = put(client, key)
    assert uploaded.status_code == 201, uploaded.text
    demoted = client.patch(f"/api/v1/users/{name}", json={"role": "member"}, headers=ADMIN)
    assert demoted.json()["role"] == "member"
    assert "admin" in refused_for(
        client.get("/api/v1/users", headers=key), 403, "insufficient_scope"
    )
    assert client.get("/api/v1/me", headers=key).json()["scopes"] == ["files:read", "files:write"]
    shown = client.get(f"/api/v1/users/{name}", headers=ADMIN).json()
    assert (shown["used_files"], shown["used_bytes"]) == (1, uploaded.json()["file_size"])


def test_a_member_sees_and_moves_the_folders_of_their_own_files(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    member = make_key(make_user(), *ALL_MEMBER_SCOPES)
    top = factories.unique("shared-")

    def upload(headers: Headers, folder: str, *, public: bool) -> None:
        name = factories.unique("f-") + ".txt"
        query = f"folder={folder}&is_public={str(public).lower()}"
        answer = client.put(f"/api/v1/files/{name}?{query}", content=b"x", headers=headers)
        assert answer.status_code == 201, answer.text

    upload(member, f"{top}/mine", public=False)
    upload(ADMIN, f"{top}/mine", public=True)
    upload(ADMIN, f"{top}/theirs", public=False)

    def listed(headers: Headers) -> dict[str, int]:
        answer = client.get("/api/v1/folders", params={"parent": top}, headers=headers)
        return {item["name"]: item["files"] for item in answer.json()["items"]}

    assert listed(member) == {"mine": 2}  # their private file and the public one
    assert listed(ADMIN) == {"mine": 2, "theirs": 1}
    assert listed({}) == {"mine": 1}

    body = {"from": f"{top}/mine", "to": f"{top}/moved"}
    assert client.post("/api/v1/folders/move", json=body, headers=member).json() == {"moved": 1}
    assert listed(ADMIN) == {"mine": 1, "moved": 1, "theirs": 1}
    body = {"from": f"{top}/theirs", "to": f"{top}/taken"}
    answer = client.post("/api/v1/folders/move", json=body, headers=member)
    refused_for(answer, 404, "not_found")  # none of it is theirs
    reader = make_key(make_user(), "files:read")
    answer = client.post("/api/v1/folders/move", json=body, headers=reader)
    assert "files:write" in refused_for(answer, 403, "insufficient_scope")


def test_a_form_field_after_the_file_part_keeps_the_uploader_as_owner(
    client: TestClient, make_user: Callable[..., str], make_key: Callable[..., Headers]
) -> None:
    """The late fields are checked again with the rest of the plan: the owner stays."""
    owner = make_user()
    member = make_key(owner, *ALL_MEMBER_SCOPES)
    boundary = "xyzzy"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.txt"\r\n'
        f'\r\nlate\r\n--{boundary}\r\nContent-Disposition: form-data; name="tags"\r\n'
        f"\r\nlate\r\n--{boundary}--\r\n"
    ).encode()
    answer = client.post(
        "/api/v1/files",
        content=body,
        headers={**member, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 201, answer.text
    assert (answer.json()["tags"], answer.json()["owner"]) == (["late"], owner)
