"""Does an upload's content agree with its extension? Decided from its first bytes.

A file's extension chooses how it is served (its MIME type, inline or not), so content
that says otherwise is refused: an ELF binary named ``.png`` must not reach anyone as an
image. Content the sniffer does not recognise (text, CSV, JSON, source code, formats
without a signature) is accepted: it cannot contradict anything.
"""

from __future__ import annotations

import filetype

from filewallball.errors import UnsupportedType

SNIFF_BYTES = 8192  # how much of the content the checks see

# Signatures that several extensions legitimately share.
_ZIP_CONTAINERS = frozenset({"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub", "jar"})
_COMPATIBLE: dict[str, frozenset[str]] = {
    "jpg": frozenset({"jpg", "jpeg"}),
    "zip": _ZIP_CONTAINERS,
    "docx": _ZIP_CONTAINERS,
    "xlsx": _ZIP_CONTAINERS,
    "pptx": _ZIP_CONTAINERS,
    "mp4": frozenset({"mp4", "m4v", "m4a", "mov"}),
    "m4v": frozenset({"mp4", "m4v", "mov"}),
    "m4a": frozenset({"m4a", "mp4"}),
    "mov": frozenset({"mov", "mp4"}),
    "ogg": frozenset({"ogg", "oga", "ogv", "opus"}),
    "mkv": frozenset({"mkv", "webm"}),
    "webm": frozenset({"webm", "mkv"}),
    "png": frozenset({"png", "apng"}),
    "apng": frozenset({"png", "apng"}),
    "tif": frozenset({"tif", "tiff"}),
    "gz": frozenset({"gz", "tgz"}),
    "midi": frozenset({"mid", "midi"}),
}


def check_content(filename: str, extension: str, head: bytes) -> None:
    """UnsupportedType when ``head`` is recognisably not a ``.extension`` file."""
    kind = filetype.guess(head) if head else None
    if kind is None:
        return
    if extension in _COMPATIBLE.get(kind.extension, frozenset({kind.extension})):
        return
    raise UnsupportedType(
        f"the content of {filename!r} is {kind.mime} (.{kind.extension}), "
        f"not what its extension .{extension} says"
    )


def sniff(head: bytes) -> tuple[str, str] | None:
    """(extension, MIME type) of content the sniffer recognises from its first bytes."""
    kind = filetype.guess(head) if head else None
    return (kind.extension, kind.mime) if kind is not None else None
