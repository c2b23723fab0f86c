"""Content against its extension: what the sniffer recognises must agree with the
extension, what it does not recognise is accepted, and no content makes it fail
otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from filewallball.errors import UnsupportedType
from filewallball.sniffing import check_content, sniff
from tests.unit.outcomes import answer_or_refusal

# First bytes of a few formats, as their signatures begin.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(8) + b"IHDR" + bytes(13)
JPEG = b"\xff\xd8\xff\xe0" + bytes(12)
GIF = b"GIF89a" + bytes(10)
PDF = b"%PDF-1.7\n" + bytes(8)
ZIP = b"PK\x03\x04" + bytes(26)
GZIP = b"\x1f\x8b\x08" + bytes(13)
ELF = b"\x7fELF\x02\x01\x01" + bytes(121)
EXE = b"MZ" + bytes(200)
heads = st.one_of(st.binary(max_size=512), st.sampled_from([PNG, JPEG, GIF, PDF, ZIP, GZIP, ELF]))
extensions = st.one_of(
    st.sampled_from(["txt", "png", "jpg", "jpeg", "pdf", "zip", "docx", ""]),
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789"), max_size=20),
)


@given(head=heads, extension=extensions)
def test_any_content_is_accepted_or_refused_as_a_type(head: bytes, extension: str) -> None:
    refused = answer_or_refusal(lambda: check_content("name", extension, head), UnsupportedType)
    if refused is not None:
        assert f".{extension} says" in str(refused)
        assert sniff(head) is not None  # only what is recognised can contradict


@given(head=heads)
def test_recognised_content_agrees_with_its_own_extension(head: bytes) -> None:
    if (sniffed := sniff(head)) is not None:
        extension, mime = sniffed
        assert "/" in mime
        check_content("name", extension, head)


@given(head=heads, extension=extensions)
def test_unrecognised_content_goes_with_any_extension(head: bytes, extension: str) -> None:
    if sniff(head) is None:
        check_content("name", extension, head)


@pytest.mark.parametrize(
    ("head", "extension"),
    [
        (PNG, "png"),
        (PNG, "apng"),
        (JPEG, "jpg"),
        (JPEG, "jpeg"),
        (GIF, "gif"),
        (PDF, "pdf"),
        (ZIP, "zip"),
        (ZIP, "docx"),  # an Office document is a zip container
        (ZIP, "epub"),
        (GZIP, "gz"),
        (GZIP, "tgz"),
        (b"plain text, any extension", "png"),
        (b"", "exe"),
    ],
)
def test_content_that_agrees_is_accepted(head: bytes, extension: str) -> None:
    check_content("name", extension, head)


@pytest.mark.parametrize(
    ("head", "extension", "mime"),
    [
        (ELF, "png", "application/x-executable"),
        (ELF, "txt", "application/x-executable"),
        (EXE, "txt", "application/x-msdownload"),
        (PNG, "jpg", "image/png"),
        (PDF, "zip", "application/pdf"),
        (ZIP, "pdf", "application/zip"),
    ],
)
def test_content_that_says_otherwise_is_refused(head: bytes, extension: str, mime: str) -> None:
    with pytest.raises(UnsupportedType, match=mime):
        check_content("name", extension, head)
