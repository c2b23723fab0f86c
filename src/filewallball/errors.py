"""The errors operations raise, each meaning one thing to a caller (and one HTTP status):

    FileWallBallError
     ├── InvalidInput   the caller's input breaks a rule; the message names it   (400/422)
     ├── NotFound       no such (live) file, tag, category or setting             (404)
     ├── Conflict       the change collides with existing data                    (409)
     └── CorruptData    something stored breaks its own rules: the operator's problem (500)

Database and driver errors are not wrapped: they are the server's problem, not the caller's.
"""

from __future__ import annotations

__all__ = ["Conflict", "CorruptData", "FileWallBallError", "InvalidInput", "NotFound"]


class FileWallBallError(Exception):
    """Base of every error FileWallBall raises on purpose."""


class InvalidInput(FileWallBallError, ValueError):
    pass


class NotFound(FileWallBallError, LookupError):
    pass


class Conflict(FileWallBallError):
    pass


class CorruptData(FileWallBallError):
    pass
