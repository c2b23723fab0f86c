"""What a file may be called, what its extension is, and which folder it may be in.

The name a person gave a file is kept for display, so it is checked rather than rewritten:
one line of printable, visible text (no path, no control or invisible characters),
NFC-normalised so that the
same name typed on two systems compares equal. Search reads another form of it, kept
beside it (``searchable_name``). A folder is a path of such names (SPEC section 12), so
each of its segments follows the same rules.
"""

from __future__ import annotations

import re
import unicodedata

from filewallball.errors import InvalidInput
from filewallball.models.types import (
    EXTENSION_LENGTH,
    FILENAME_LENGTH,
    FOLDER_LENGTH,
    SEARCH_NAME_LENGTH,
)

_EXTENSION = re.compile(rf"[a-z0-9]{{1,{EXTENSION_LENGTH}}}")
# Control, format and line/paragraph separators; other non-printables (NBSP, U+202F in
# macOS screenshot names) are fine in a name.
_CONTROL = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing,
# so "a\u3164.txt" looks like "a.txt". Most are format characters (Cf, refused above);
# these are the letters, marks and unassigned ones among them, which are "printable".
# Variation selectors included: an emoji's VS16 goes, as its ZWJ (Cf) already did.
_INVISIBLE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2065\u3164\ufe00-\ufe0f\uffa0"
    "\ufff0-\ufff8\U000e0000-\U000e0fff]"
)


MAX_FOLDER_DEPTH = 16


def check_filename(name: str) -> str:
    """The NFC form of ``name``, or InvalidInput naming what is wrong with it."""
    if not unicodedata.is_normalized("NFC", name):
        name = unicodedata.normalize("NFC", name)
    if not name.strip():
        raise InvalidInput("filename is empty")
    if len(name) > FILENAME_LENGTH:
        raise InvalidInput(
            f"filename is {len(name)} characters long; the limit is {FILENAME_LENGTH}"
        )
    _check_characters(name, "filename")
    if "/" in name or "\\" in name:
        raise InvalidInput(f"filename {name!r} contains a path separator")
    if name.strip(" .") == "":
        raise InvalidInput(f"filename {name!r} is only dots")
    return name


def check_folder(folder: str) -> str:
    """The NFC form of ``folder`` (``""``, the top, or names joined by ``/``), or
    InvalidInput naming what is wrong with it. A segment may not begin or end with a
    space: MariaDB compares strings as if padded with spaces, so ``"a "`` would be the
    same folder as ``"a"`` there and a different one elsewhere."""
    if not unicodedata.is_normalized("NFC", folder):
        folder = unicodedata.normalize("NFC", folder)
    if folder == "":
        return folder
    if len(folder) > FOLDER_LENGTH:
        raise InvalidInput(f"folder is {len(folder)} characters long; the limit is {FOLDER_LENGTH}")
    segments = folder.split("/")
    if len(segments) > MAX_FOLDER_DEPTH:
        raise InvalidInput(
            f"folder {folder!r} is {len(segments)} levels deep; the limit is {MAX_FOLDER_DEPTH}"
        )
    for segment in segments:
        if segment == "":
            raise InvalidInput(
                f"folder {folder!r} has an empty segment (a leading, trailing or doubled /)"
            )
        if segment.strip(" .") == "":
            raise InvalidInput(f"folder {folder!r} has a segment of only dots ({segment!r})")
        if segment != segment.strip(" "):
            raise InvalidInput(f"folder segment {segment!r} begins or ends with a space")
        if len(segment) > FILENAME_LENGTH:
            raise InvalidInput(
                f"folder segment is {len(segment)} characters long; the limit is {FILENAME_LENGTH}"
            )
        _check_characters(segment, "folder")
        if "\\" in segment:
            raise InvalidInput(f"folder {folder!r} contains a backslash; separate segments with /")
    return folder


def _check_characters(text: str, what: str) -> None:
    if not text.isprintable() and any(unicodedata.category(c) in _CONTROL for c in text):
        raise InvalidInput(f"{what} {text!r} contains control characters")
    if code := invisible_character(text):
        raise InvalidInput(f"{what} {text!r} contains an invisible character ({code})")


def invisible_character(text: str) -> str | None:
    """The first printable but invisible character of ``text`` ("U+3164"), if any:
    names people read (files, tags, categories) must not hide one."""
    found = _INVISIBLE.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def extension_of(name: str) -> str:
    """The lower-case extension (``"tar.gz"`` -> ``"gz"``), or ``""`` when there is none.

    A suffix that cannot be an extension (spaces, punctuation, over 20 characters) is part
    of the name: ``"notes.2024 draft"`` has no extension.
    """
    if "." not in name.lstrip("."):  # ".bashrc" is a name, not an extension
        return ""
    extension = name.rpartition(".")[2].lower()
    return extension if _EXTENSION.fullmatch(extension) else ""


def searchable_name(text: str) -> str:
    """The form of a name (or of a search for one) that search compares: case-folded,
    compatibility-decomposed (NFKD) without combining marks, so that ``resume`` finds
    ``Résumé.txt`` and ``ﬁle`` finds ``file``; Hangul composed again (NFC), so that a
    Korean syllable matches whole syllables, not the jamo inside others.

    The result is at most SEARCH_NAME_LENGTH characters: only names of ligatures and
    other wide compatibility characters grow that long."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    # Without the marks, NFC recomposes only what needs none: Hangul syllables (and the
    # two-part vowels of a few Indic scripts), the same way for names and searches.
    return unicodedata.normalize("NFC", bare)[:SEARCH_NAME_LENGTH]
