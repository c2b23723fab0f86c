"""The README's and docs' curl examples, run as written against the app: a user who
copies them gets answers, not 404s or 405s."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TOKEN
from tests.servers import only_on

REPOSITORY = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").glob("*.md"))]


def curl_examples() -> list[str]:
    """Every curl command of an indented code block, comments cut off."""
    found = []
    for document in DOCUMENTS:
        for line in document.read_text().splitlines():
            if line.startswith("    curl "):
                found.append(re.sub(r"\s+#.*$", "", line.strip()))
    return found


CURL = argparse.ArgumentParser(prog="curl", exit_on_error=False)
CURL.add_argument("-X", dest="method")
CURL.add_argument("-H", dest="headers", action="append", default=[])
CURL.add_argument("-d", dest="data")
CURL.add_argument("-T", dest="upload")
CURL.add_argument("-F", dest="form", action="append", default=[])
CURL.add_argument("-O", action="store_true")  # where curl writes, not what it asks
CURL.add_argument("-J", action="store_true")
CURL.add_argument("url")


def as_request(command: str, file_uuid: str) -> dict[str, object]:
    """curl's arguments as an httpx request (the options the examples use)."""
    command = command.replace("<file_uuid>", file_uuid)
    curl = CURL.parse_args(shlex.split(command.replace("$FILEWALLBALL_ADMIN_TOKEN", TOKEN))[1:])
    parts = urlsplit(curl.url)
    path = parts.path + (curl.upload if curl.upload and parts.path.endswith("/") else "")
    fields = dict(field.partition("=")[::2] for field in curl.form)
    request: dict[str, object] = {
        "method": curl.method or ("PUT" if curl.upload else "POST" if fields else "GET"),
        "url": path + (f"?{parts.query}" if parts.query else ""),
        "headers": {
            name.strip(): value.strip()
            for name, _, value in (header.partition(":") for header in curl.headers)
        },
    }
    if curl.upload:  # curl -T FILE URL/ appends the file's name
        request["content"] = f"bytes of {curl.upload}".encode()
    elif curl.data is not None:
        request["content"] = curl.data.encode()
    elif fields:
        files = {
            k: (v[1:], f"bytes of {v[1:]}".encode()) for k, v in fields.items() if v[:1] == "@"
        }
        request["files"] = files
        request["data"] = {k: v for k, v in fields.items() if k not in files}
    return request


def test_the_documents_have_curl_examples() -> None:
    assert len(curl_examples()) >= 7


@only_on("sqlite")
def test_every_curl_example_works_as_written(admin: TestClient) -> None:
    uploaded = admin.put("/api/v1/files/report.pdf", content=b"a report")
    assert uploaded.status_code == 201
    file_uuid = uploaded.json()["file_uuid"]
    answers = []
    try:
        for command in curl_examples():
            request = as_request(command, file_uuid)
            response: httpx.Response = admin.request(**request)  # type: ignore[arg-type]
            answers.append((command, response.status_code, response.text[:200]))
    finally:  # an example changes a setting of the shared database
        admin.put("/api/v1/settings/unknown_extensions", json={"value": "allow"})
    failures = [answer for answer in answers if not 200 <= answer[1] < 300]
    assert failures == []


@pytest.mark.parametrize(
    ("command", "method", "url"),
    [
        ("curl -T photo.jpg http://h:8000/api/v1/files/", "PUT", "/api/v1/files/photo.jpg"),
        ("curl -OJ http://h/api/v1/files/<file_uuid>/content", "GET", "/api/v1/files/U/content"),
        ("curl -X DELETE 'http://h/api/v1/files/<file_uuid>?x=1'", "DELETE", "/api/v1/files/U?x=1"),
    ],
)
def test_curl_arguments_become_the_request_curl_sends(command: str, method: str, url: str) -> None:
    request = as_request(command, "U")
    assert (request["method"], request["url"]) == (method, url)
