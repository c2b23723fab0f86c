"""The errors operations raise, each meaning one thing to a caller (and one HTTP status):

    FileWallBallError
     ├── InvalidInput   the caller's input breaks a rule; the message names it   (400)
     │    └── InvalidValue  well formed, but not a value the field takes            (422)
     ├── Unauthorized   the credential is unknown, expired, revoked, or its user's
     │                  account is deactivated                                    (401)
     ├── InsufficientScope  the credential lacks the scope the action needs, named
     │                  in ``scope``                                              (403)
     ├── Forbidden      the caller may see it but not change it (not their file)  (403)
     ├── NotFound       no such (live) file, tag, category or setting             (404)
     ├── Conflict       the change collides with existing data                    (409)
     ├── Gone           the file's content is lost or damaged (found by fsck)     (410)
     ├── TooLarge       an upload crossed its size limit                          (413)
     ├── UnsupportedType  the extension is not allowed, or the content is not what
     │                  the extension says                                        (415)
     ├── StorageFull    no space left for the upload                              (507)
     └── CorruptData    something stored breaks its own rules: the operator's problem (500)

Database and driver errors are not wrapped: they are the server's problem, not the caller's.
"""

from __future__ import annotations

from filewallball.units import human_size

__all__ = [
    "Conflict",
    "CorruptData",
    "FileWallBallError",
    "Forbidden",
    "Gone",
    "InsufficientScope",
    "InvalidInput",
    "InvalidValue",
    "NotFound",
    "StorageFull",
    "TooLarge",
    "Unauthorized",
    "UnsupportedType",
]


class FileWallBallError(Exception):
    """Base of every error FileWallBall raises on purpose."""


class InvalidInput(FileWallBallError, ValueError):
    pass


class InvalidValue(InvalidInput):
    """A value of the right shape that the field does not take (a setting's
    ``maybe`` where only ``allow`` or ``deny`` make sense): what 422 means."""


class Unauthorized(FileWallBallError):
    pass


class InsufficientScope(FileWallBallError):
    def __init__(self, scope: str, what: str = "this") -> None:
        super().__init__(f"{what} needs the scope {scope}")
        self.scope = scope


class Forbidden(FileWallBallError):
    pass


class NotFound(FileWallBallError, LookupError):
    pass


class Conflict(FileWallBallError):
    pass


class CorruptData(FileWallBallError):
    pass


class Gone(FileWallBallError):
    pass


class TooLarge(FileWallBallError):
    def __init__(self, limit: int, what: str = "upload") -> None:
        super().__init__(f"{what} is larger than the limit of {human_size(limit)} ({limit} bytes)")
        self.limit = limit


class UnsupportedType(FileWallBallError):
    pass


class StorageFull(FileWallBallError):
    pass
