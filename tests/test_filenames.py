"""What a file may be called: visible, printable text on one line."""

from __future__ import annotations

import pytest

from filewallball.errors import InvalidInput
from filewallball.filenames import check_filename
from filewallball.operations.tags import normalise_tag

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
