"""What a file may be called: visible, printable text on one line; and its extension."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filewallball.errors import InvalidInput
from filewallball.filenames import (
    check_filename,
    check_folder,
    extension_of,
    invisible_character,
    searchable_name,
)
from filewallball.models.types import FILENAME_LENGTH, SEARCH_NAME_LENGTH
from filewallball.operations.tags import normalise_tag
from tests.unit.outcomes import answer_or_refusal

EXTENSION = re.compile(r"[a-z0-9]{1,20}")
names = st.text(st.characters(codec="utf-8"), max_size=300)
extensions = st.text(st.sampled_from("abcxyzABCXYZ019"), min_size=1, max_size=20)

# Unicode's Default_Ignorable_Code_Point, range by range (DerivedCoreProperties.txt):
# drawn as nothing, so each could hide in a name that looks like another.
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]


@pytest.mark.parametrize(
    "code",
    [code for first, last in DEFAULT_IGNORABLE for code in range(first, min(last, first + 40) + 1)],
    ids=lambda code: f"U+{code:04X}",
)
def test_invisible_characters_are_refused(code: int) -> None:
    with pytest.raises(InvalidInput, match=r"invisible|control"):
        check_filename(f"a{chr(code)}b.txt")


@pytest.mark.parametrize(
    "name",
    ["한글 문서.txt", "café.txt", "a\u00a0b.txt", "Screenshot 10.00.00\u202fAM.png", "🙂.txt"],
)
def test_visible_names_pass(name: str) -> None:
    assert check_filename(name) == name


def test_tags_refuse_invisible_characters_too() -> None:
    with pytest.raises(InvalidInput, match="U\\+3164"):
        normalise_tag("a\u3164")


@given(name=names)
def test_any_name_is_checked_or_refused_by_name(name: str) -> None:
    checked = answer_or_refusal(lambda: check_filename(name), InvalidInput)
    if isinstance(checked, InvalidInput):
        assert str(checked)
        return
    assert unicodedata.is_normalized("NFC", checked)
    assert checked == unicodedata.normalize("NFC", name)
    assert 0 < len(checked) <= 255
    assert checked.strip(" .")
    assert "/" not in checked
    assert "\\" not in checked
    assert invisible_character(checked) is None


@given(name=names)
def test_a_checked_name_passes_unchanged(name: str) -> None:
    try:
        checked = check_filename(name)
    except InvalidInput:
        return
    assert check_filename(checked) == checked


@given(name=names)
def test_an_extension_is_lower_case_letters_and_digits_ending_the_name(name: str) -> None:
    extension = extension_of(name)
    if extension:
        assert EXTENSION.fullmatch(extension)
        assert name.lower().endswith(f".{extension}")


@given(stem=st.text(min_size=1).filter(lambda stem: stem.strip(".")), extension=extensions)
def test_the_last_suffix_is_the_extension_in_lower_case(stem: str, extension: str) -> None:
    assert extension_of(f"{stem}.{extension}") == extension.lower()


@pytest.mark.parametrize(
    ("name", "extension"),
    [
        ("report.PDF", "pdf"),
        ("archive.tar.gz", "gz"),
        (".bashrc", ""),
        ("..hidden", ""),
        ("README", ""),
        ("notes.2024 draft", ""),
        ("trailing.", ""),
        (f"long.{'x' * 21}", ""),
        (f"long.{'x' * 20}", "x" * 20),
        ("photo.jpeg", "jpeg"),
    ],
)
def test_extensions_of_ordinary_names(name: str, extension: str) -> None:
    assert extension_of(name) == extension


@pytest.mark.parametrize(
    ("name", "searched_as"),
    [
        ("Résumé.txt", "resume.txt"),
        ("RE\u0301SUME\u0301.TXT", "resume.txt"),  # decomposed input, the same
        ("Straße.md", "strasse.md"),
        ("\ufb01le.PDF", "file.pdf"),  # the fi ligature
        ("\uff26\uff35\uff2c\uff2c.txt", "full.txt"),  # fullwidth letters
        ("İstanbul.jpg", "istanbul.jpg"),
        ("한국어 문서.hwp", "한국어 문서.hwp"),  # Hangul stays composed
        ("がぎ.png", "かき.png"),  # the dakuten is a combining mark
        ("Ωmega.txt", "ωmega.txt"),
    ],
)
def test_search_names_fold_case_accents_and_compatibility_forms(
    name: str, searched_as: str
) -> None:
    assert searchable_name(name) == searched_as
    assert searchable_name(searched_as) == searched_as  # searching by it finds it


def test_a_search_name_is_never_longer_than_its_column() -> None:
    wide = "\ufdfa" * FILENAME_LENGTH  # one character, eighteen after NFKD
    assert len(searchable_name(wide)) == SEARCH_NAME_LENGTH


@given(names)
def test_a_search_name_searches_for_itself(name: str) -> None:
    """Normalising twice changes nothing: a name's search form, searched for, finds it."""
    once = searchable_name(name)
    assert searchable_name(once) == once
    if name.isascii():
        assert once == name.lower()


segments = st.text(st.sampled_from("ab/. -\u00e9\U0001f600!0"), max_size=12)


@given(segments)
def test_a_folder_is_checked_or_refused_and_checking_again_changes_nothing(folder: str) -> None:
    checked = answer_or_refusal(lambda: check_folder(folder), InvalidInput)
    if isinstance(checked, str):
        assert check_folder(checked) == checked
        for segment in checked.split("/") if checked else []:
            assert segment == segment.strip(" ")
            assert segment.strip(".") != ""
            assert check_filename(segment) == segment


@given(segments, segments)
def test_the_range_of_a_folder_holds_exactly_the_folders_below_it(parent: str, folder: str) -> None:
    """What operations.folders asks the databases, in their (code point) order."""
    parent, folder = check_folder_or_top(parent), check_folder_or_top(folder)
    below = folder.startswith(f"{parent}/")
    assert below == (f"{parent}/" <= folder < f"{parent}0")


def check_folder_or_top(folder: str) -> str:
    checked = answer_or_refusal(lambda: check_folder(folder), InvalidInput)
    return checked if isinstance(checked, str) else ""


@pytest.mark.parametrize(
    ("folder", "problem"),
    [
        ("a//b", "empty segment"),
        ("a/...", "only dots"),
        ("a/ b", "space"),
        ("a/b\u200b", "control"),
        ("a\\b", "backslash"),
        ("/".join("abcdefghijklmnopq"), "17 levels deep"),
    ],
)
def test_a_bad_folder_is_refused_with_a_reason(folder: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        check_folder(folder)


def test_a_folder_is_nfc_and_the_top_is_empty() -> None:
    assert check_folder("") == ""
    assert check_folder("Cafe\u0301/x") == "Caf\u00e9/x"
    assert check_folder("/".join("abcdefghijklmnop")) == "/".join("abcdefghijklmnop")
