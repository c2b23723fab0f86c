"""Who made a request, as the records of uploads, views and downloads keep it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from filewallball.models.types import USER_AGENT_LENGTH


@dataclass(frozen=True)
class Client:
    """Made to fit the columns it is stored in, whoever builds it (a request, the CLI):
    an address only if it is one, and a user agent cut to the column's length. A
    header may be any length; recording it must never fail the request (a longer one
    refused uploads with 400 on MariaDB and PostgreSQL)."""

    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    user_id: int | None = None  # None: anonymous, or the admin token

    def __post_init__(self) -> None:
        object.__setattr__(self, "ip", _address(self.ip))
        if self.user_agent is not None:
            object.__setattr__(self, "user_agent", self.user_agent[:USER_AGENT_LENGTH] or None)


def _address(text: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(text)) if text else None
    except ValueError:
        return None


ANONYMOUS = Client()
