"""Folders over HTTP: set by every upload route and by PATCH, shown, filtered, listed,
moved, and replaced into (SPEC section 12)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import random_content
from tests.servers import every_database

ANONYMOUS = {"Authorization": ""}


def _marker() -> str:
    return f"f{uuid.uuid4().hex[:10]}"


def _put(admin: TestClient, name: str, folder: str, size: int = 10, **params: str) -> Any:
    answer = admin.put(
        f"/api/v1/files/{name}", params={"folder": folder, **params}, content=random_content(size)
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _names(admin: TestClient, **params: str) -> list[str]:
    answer = admin.get(
        "/api/v1/files",
        params={"limit": 500, "sort": "original_filename", "order": "asc", **params},
    )
    assert answer.status_code == 200, answer.text
    return sorted(
        f"{item['folder']}|{item['original_filename']}" for item in answer.json()["items"]
    )


def test_every_upload_route_stores_the_folder(admin: TestClient) -> None:
    top = _marker()
    form = admin.post(
        "/api/v1/files",
        files={"file": ("a.txt", b"form")},
        data={"folder": f"{top}/form"},
    )
    form_in_query = admin.post(
        "/api/v1/files", params={"folder": f"{top}/query"}, files={"file": ("b.txt", b"query")}
    )
    named = admin.put("/api/v1/files/c.txt", params={"folder": f"{top}/named"}, content=b"c")
    unnamed = admin.put(
        "/api/v1/files", params={"folder": f"{top}/unnamed", "filename": "d.txt"}, content=b"d"
    )
    root = admin.put(
        "/e.txt",
        params={"folder": f"{top}/root"},
        content=b"e",
        headers={"Accept": "application/json"},
    )
    answers = [form, form_in_query, named, unnamed, root]
    assert [answer.status_code for answer in answers] == [201] * 5, [a.text for a in answers]
    folders = [answer.json()["folder"] for answer in answers]
    assert folders == [f"{top}/{name}" for name in ("form", "query", "named", "unnamed", "root")]
    stored = admin.get(f"/api/v1/files/{named.json()['file_uuid']}").json()
    assert stored["folder"] == f"{top}/named"


def test_a_form_field_after_the_file_part_sets_the_folder(admin: TestClient) -> None:
    top = _marker()
    boundary = "xyzzy"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="late.txt"\r\n'
        f'\r\nlate\r\n--{boundary}\r\nContent-Disposition: form-data; name="folder"\r\n'
        f"\r\n{top}/late\r\n--{boundary}--\r\n"
    ).encode()
    answer = admin.post(
        "/api/v1/files",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["folder"] == f"{top}/late"


def test_a_file_uploaded_without_a_folder_is_at_the_top(admin: TestClient) -> None:
    created = admin.put(f"/api/v1/files/{_marker()}.txt", content=b"top")
    assert created.json()["folder"] == ""
    assert created.json()["file_uuid"] in {
        item["file_uuid"]
        for item in admin.get("/api/v1/files", params={"folder": "", "limit": 500}).json()["items"]
    }


@pytest.mark.parametrize(
    ("folder", "problem"),
    [
        ("a//b", "empty segment"),
        ("/a", "empty segment"),
        ("a/", "empty segment"),
        ("a/../b", "only dots"),
        ("./a", "only dots"),
        ("a/ b", "space"),
        ("a /b", "space"),
        ("a/\x07", "control"),
        ("a/\u3164", "invisible"),
        ("a\\b", "backslash"),
        ("/".join(["x"] * 17), "17 levels deep"),
        ("x" * 513, "the limit is 512"),
        ("a/" + "y" * 256, "the limit is 255"),
    ],
)
def test_a_bad_folder_is_refused_with_a_reason(
    admin: TestClient, folder: str, problem: str
) -> None:
    answers = [
        admin.put("/api/v1/files/bad.txt", params={"folder": folder}, content=b"x"),
        admin.post("/api/v1/files", data={"folder": folder}, files={"file": ("bad.txt", b"x")}),
        admin.get("/api/v1/files", params={"folder": folder}),
        admin.get("/api/v1/files", params={"folder_prefix": folder}),
        admin.get("/api/v1/folders", params={"parent": folder}),
        admin.post("/api/v1/folders/move", json={"from": "ok", "to": folder}),
    ]
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "invalid_input"
        assert problem in answer.json()["error"]["message"]


def test_folders_are_nfc_and_sixteen_levels_are_enough(admin: TestClient) -> None:
    top = _marker()
    deep = "/".join([top, *"abcdefghijklmno"])
    assert _put(admin, "deep.txt", deep)["folder"] == deep
    decomposed = f"{top}/Cafe\u0301"
    assert _put(admin, "cafe.txt", decomposed)["folder"] == f"{top}/Caf\u00e9"


@every_database
def test_folder_matches_exactly_and_folder_prefix_segment_wise(admin: TestClient) -> None:
    """The collation decides: byte order on every database, no padding surprise."""
    top = _marker()
    for folder in (top, f"{top}/a", f"{top}/a/b", f"{top}/ab", f"{top}/a-b", f"{top}/a.b"):
        _put(admin, "x.txt", folder)
    for folder in (f"{top}/a!", f"{top}/A", f"{top}/ä", f"{top}/a/😀"):
        _put(admin, "y.txt", folder)
    assert _names(admin, folder=f"{top}/a") == [f"{top}/a|x.txt"]
    assert _names(admin, folder_prefix=f"{top}/a") == sorted(
        [f"{top}/a|x.txt", f"{top}/a/b|x.txt", f"{top}/a/\U0001f600|y.txt"]
    )
    assert _names(admin, folder=f"{top}/\u00e4") == [f"{top}/\u00e4|y.txt"]
    assert len(_names(admin, folder_prefix=top)) == 10
    assert _names(admin, folder=f"{top}/nothing") == []


def test_patch_moves_one_file(admin: TestClient) -> None:
    top = _marker()
    made = _put(admin, "moving.txt", f"{top}/from")
    moved = admin.patch(f"/api/v1/files/{made['file_uuid']}", json={"folder": f"{top}/to"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["folder"] == f"{top}/to"
    assert _names(admin, folder_prefix=top) == [f"{top}/to|moving.txt"]
    to_top = admin.patch(f"/api/v1/files/{made['file_uuid']}", json={"folder": ""})
    assert to_top.json()["folder"] == ""
    refused = admin.patch(f"/api/v1/files/{made['file_uuid']}", json={"folder": None})
    assert refused.status_code == 422
    bad = admin.patch(f"/api/v1/files/{made['file_uuid']}", json={"folder": "a/../b"})
    assert bad.status_code == 400


def test_folders_lists_direct_subfolders_with_what_is_under_them(admin: TestClient) -> None:
    top = _marker()
    _put(admin, "in-top.txt", top, size=1)
    _put(admin, "1.txt", f"{top}/photos", size=10)
    _put(admin, "2.txt", f"{top}/photos/2024", size=20)
    _put(admin, "3.txt", f"{top}/photos/2024/june", size=40)
    gone = _put(admin, "4.txt", f"{top}/photos/2025", size=80)
    _put(admin, "5.txt", f"{top}/docs", size=160)
    admin.delete(f"/api/v1/files/{gone['file_uuid']}")

    listed = admin.get("/api/v1/folders", params={"parent": top})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "parent": top,
        "items": [
            {"path": f"{top}/docs", "name": "docs", "files": 1, "bytes": 160},
            {"path": f"{top}/photos", "name": "photos", "files": 3, "bytes": 70},
        ],
    }
    below = admin.get("/api/v1/folders", params={"parent": f"{top}/photos"}).json()["items"]
    assert below == [{"path": f"{top}/photos/2024", "name": "2024", "files": 2, "bytes": 60}]
    at_top = admin.get("/api/v1/folders").json()["items"]
    assert {"path": top, "name": top, "files": 5, "bytes": 231} in at_top
    assert admin.get("/api/v1/folders", params={"parent": f"{top}/none"}).json()["items"] == []


def test_folders_without_the_token_count_public_files_only(admin: TestClient) -> None:
    top = _marker()
    _put(admin, "public.txt", f"{top}/mixed", size=3)
    _put(admin, "private.txt", f"{top}/mixed", size=5, is_public="false")
    _put(admin, "private.txt", f"{top}/hidden", size=7, is_public="false")
    anonymous = admin.get("/api/v1/folders", params={"parent": top}, headers=ANONYMOUS).json()[
        "items"
    ]
    assert anonymous == [{"path": f"{top}/mixed", "name": "mixed", "files": 1, "bytes": 3}]


@every_database
def test_move_renames_a_folder_and_everything_under_it(admin: TestClient) -> None:
    top = _marker()
    for folder in (f"{top}/a", f"{top}/a/b", f"{top}/a/b/c", f"{top}/ab", f"{top}/a-b"):
        _put(admin, "x.txt", folder)
    gone = _put(admin, "gone.txt", f"{top}/a/b")
    admin.delete(f"/api/v1/files/{gone['file_uuid']}")

    moved = admin.post("/api/v1/folders/move", json={"from": f"{top}/a", "to": f"{top}/z/y"})
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"moved": 4}
    assert _names(admin, folder_prefix=top) == sorted(
        [
            f"{top}/a-b|x.txt",
            f"{top}/ab|x.txt",
            f"{top}/z/y|x.txt",
            f"{top}/z/y/b|x.txt",
            f"{top}/z/y/b/c|x.txt",
        ]
    )
    restored = admin.post(f"/api/v1/files/{gone['file_uuid']}/restore").json()
    assert restored["folder"] == f"{top}/z/y/b"


def test_a_folder_moved_to_the_top_puts_its_contents_there(admin: TestClient) -> None:
    top = _marker()
    _put(admin, f"{top}.txt", top)
    _put(admin, "x.txt", f"{top}/{top}-sub")
    moved = admin.post("/api/v1/folders/move", json={"from": top, "to": ""})
    assert moved.json() == {"moved": 2}
    assert _names(admin, folder="", q=top) == [f"|{top}.txt"]
    assert _names(admin, folder=f"{top}-sub") == [f"{top}-sub|x.txt"]


def test_move_refuses_into_itself_nothing_and_too_deep(admin: TestClient) -> None:
    top = _marker()
    _put(admin, "x.txt", f"{top}/a/b")
    into = admin.post("/api/v1/folders/move", json={"from": f"{top}/a", "to": f"{top}/a/b/c"})
    assert into.status_code == 400
    assert "into itself" in into.json()["error"]["message"]
    same = admin.post("/api/v1/folders/move", json={"from": f"{top}/a", "to": f"{top}/a"})
    assert same.status_code == 400
    nothing = admin.post("/api/v1/folders/move", json={"from": f"{top}/none", "to": "x"})
    assert nothing.status_code == 404
    deep = "/".join([top, *"opqrstuvwxyzAB"])  # 15 levels: a/b moved to deep/C would be 17
    too_deep = admin.post("/api/v1/folders/move", json={"from": f"{top}/a", "to": f"{deep}/C"})
    assert too_deep.status_code == 400
    assert "levels deep" in too_deep.json()["error"]["message"]
    assert _names(admin, folder_prefix=top) == [f"{top}/a/b|x.txt"]  # nothing half-moved


def test_move_needs_the_token(admin: TestClient) -> None:
    answer = admin.post("/api/v1/folders/move", json={"from": "a", "to": "b"}, headers=ANONYMOUS)
    assert answer.status_code == 401


@every_database
def test_replace_trashes_the_same_name_in_the_same_folder(admin: TestClient) -> None:
    top = _marker()
    padded = _put(admin, "report.txt ", f"{top}/q3")  # MariaDB's = would match it
    assert padded["original_filename"] == "report.txt "
    first = _put(admin, "report.txt", f"{top}/q3")
    twin = _put(admin, "report.txt", f"{top}/q3")  # names need not be unique
    elsewhere = _put(admin, "report.txt", f"{top}/q4")
    other = _put(admin, "other.txt", f"{top}/q3")
    newest = _put(admin, "report.txt", f"{top}/q3", replace="true")
    found = admin.get(
        "/api/v1/files", params={"folder_prefix": top, "include_deleted": "true", "limit": 500}
    ).json()["items"]
    deleted = {item["file_uuid"]: item["is_deleted"] for item in found}
    assert deleted == {
        padded["file_uuid"]: False,
        first["file_uuid"]: True,
        twin["file_uuid"]: True,
        elsewhere["file_uuid"]: False,
        other["file_uuid"]: False,
        newest["file_uuid"]: False,
    }
    form = admin.post(
        "/api/v1/files",
        data={"folder": f"{top}/q4", "replace": "true"},
        files={"file": ("report.txt", b"form")},
    )
    assert form.status_code == 201, form.text
    assert _names(admin, folder=f"{top}/q4") == [f"{top}/q4|report.txt"]


def test_a_refused_replace_trashes_nothing(admin: TestClient) -> None:
    top = _marker()
    kept = _put(admin, "keep.txt", top)
    refused = admin.put(
        "/api/v1/files/keep.txt",
        params={"folder": top, "replace": "true", "category": "no such category"},
        content=b"x",
    )
    assert refused.status_code == 404
    assert [
        item["file_uuid"]
        for item in admin.get("/api/v1/files", params={"folder": top}).json()["items"]
    ] == [kept["file_uuid"]]
