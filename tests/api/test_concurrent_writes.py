"""Requests that change the same rows at the same moment, from real threads against a
real server: every one succeeds, and the result is one of the orders they could have
run in. (SQLite has one writer at a time; the races are MariaDB's and PostgreSQL's.)"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from tests.api.conftest import ADMIN, Running
from tests.factories import random_content
from tests.servers import every_database

# SQLite's writers queue for its one lock; MariaDB and PostgreSQL lock rows and deadlock.
pytestmark = every_database

ROUNDS = 3  # the deadlock showed in every trial: three are plenty
THREADS = 4

Request = tuple[str, str, dict[str, Any]]  # method, path, httpx keyword arguments


def _at_once(running: Running, requests: list[Request]) -> list[httpx.Response]:
    """Each request from its own thread and connection, released together by a barrier."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | None] = [None] * len(requests)

    def send(index: int) -> None:
        method, path, kwargs = requests[index]
        with httpx.Client(base_url=running.url, headers=ADMIN, timeout=60) as client:
            client.get("/health")  # connected before the barrier
            barrier.wait()
            answers[index] = client.request(method, path, **kwargs)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def _succeeded(answers: list[httpx.Response]) -> bool:
    return all(answer.status_code == 200 for answer in answers)


def _new_file(running: Running) -> str:
    name = f"race-{uuid.uuid4().hex[:8]}.txt"
    created = httpx.put(
        f"{running.url}/api/v1/files/{name}", content=random_content(100), headers=ADMIN
    )
    assert created.status_code == 201, created.text
    return f"/api/v1/files/{created.json()['file_uuid']}"


def test_concurrent_patches_of_one_files_tags_all_succeed(running: Running) -> None:
    for round_ in range(ROUNDS):
        path = _new_file(running)
        sets = [
            sorted({f"r{round_}-common", f"r{round_}-t{i}", f"r{round_}-t{i + 1}"})
            for i in range(THREADS)
        ]

        answers = _at_once(running, [("PATCH", path, {"json": {"tags": tags}}) for tags in sets])

        assert _succeeded(answers), [answer.text for answer in answers]
        # A PATCH gives the complete set: the last one to commit wins, whole.
        final = httpx.get(f"{running.url}{path}", headers=ADMIN).json()["tags"]
        assert sorted(final) in sets


def test_concurrent_tag_and_untag_requests_all_succeed(running: Running) -> None:
    path = _new_file(running)
    for round_ in range(ROUNDS):
        requests: list[Request] = [
            ("DELETE" if i % 3 == 0 else "PUT", f"{path}/tags/r{round_}-{i % 2}", {})
            for i in range(THREADS)
        ]
        answers = _at_once(running, requests)
        assert _succeeded(answers), [answer.text for answer in answers]


def test_concurrent_first_writes_of_one_setting_all_succeed(running: Running) -> None:
    for _ in range(ROUNDS):
        path = f"/api/v1/settings/race_{uuid.uuid4().hex[:8]}"
        values = [f"v{i}" for i in range(THREADS)]

        answers = _at_once(running, [("PUT", path, {"json": {"value": v}}) for v in values])

        assert _succeeded(answers), [answer.text for answer in answers]
        assert httpx.get(f"{running.url}{path}", headers=ADMIN).json()["value"] in values
