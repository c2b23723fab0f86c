"""The admin token never reaches a log, whether it is right or wrong."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import TOKEN


def test_the_token_is_never_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + TOKEN
    for token in (TOKEN, wrong):
        headers = {"Authorization": f"Bearer {token}"}
        client.put("/api/v1/files/logged.txt", content=b"x", headers=headers)
        client.get("/api/v1/files/not-a-uuid", headers=headers)
        client.put("/api/v1/files/bad.exe", content=b"MZ", headers=headers)
    assert caplog.records  # something was logged at all
    assert TOKEN not in caplog.text
    assert wrong not in caplog.text
