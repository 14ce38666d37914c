"""Bytes that must be refused before or while parsing, and files that must never crash the validator."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

import pytest

from chalicelib.domain.tables import validate_table
from chalicelib.domain.tables.readers import ReaderError, decode_text
from chalicelib.domain.tables.safety import OLE2_MAGIC, Limits, check_container, is_encrypted_ooxml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"
GOOD_XLSX = (FIXTURES / "issue-list-good.xlsx").read_bytes()
GOOD_XLS = (FIXTURES / "issue-list-good.xls").read_bytes()


def error_codes(data: bytes, name: str, template_id: str = "issue-list") -> list[str]:
    verdict = validate_table(data, name, template_id, unit_names=("原平市",))
    assert not verdict.accepted
    assert verdict.rows == ()
    return [f.code for f in verdict.errors]


def fake_encrypted_ooxml() -> bytes:
    # What Office writes for a password-protected .xlsx: an OLE2 compound file whose directory
    # (UTF-16LE names) holds EncryptionInfo and EncryptedPackage streams.
    directory = "EncryptionInfo".encode("utf-16-le") + b"\0" * 40 + "EncryptedPackage".encode("utf-16-le")
    return OLE2_MAGIC + b"\0" * 504 + directory + b"\0" * 1024


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_password_protected_xlsx_is_refused_in_chinese() -> None:
    data = fake_encrypted_ooxml()
    assert is_encrypted_ooxml(data)
    verdict = validate_table(data, "清单.xlsx", "issue-list")
    assert [f.code for f in verdict.errors] == ["FILE_ENCRYPTED"]
    assert "设置了打开密码" in verdict.errors[0].message
    assert "清单.xlsx" in verdict.errors[0].message


def test_plain_xls_is_not_mistaken_for_encrypted() -> None:
    assert not is_encrypted_ooxml(GOOD_XLS)
    assert check_container(GOOD_XLS, "a.xls") == []
    assert check_container(GOOD_XLSX, "a.xlsx") == []


def test_zip_bomb_is_refused_without_extracting() -> None:
    bomb = zip_bytes({"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert error_codes(bomb, "炸弹.xlsx") == ["FILE_TOO_COMPLEX"]


def test_uncompressed_total_and_entry_count_limits() -> None:
    data = zip_bytes({f"f{i}.xml": b"<a/>" * 300 for i in range(6)}, compression=zipfile.ZIP_STORED)
    assert [f.code for f in check_container(data, "a.xlsx", Limits(max_zip_entries=5))] == ["FILE_TOO_COMPLEX"]
    assert [f.code for f in check_container(data, "a.xlsx", Limits(max_uncompressed_bytes=1000))] == ["FILE_TOO_LARGE"]
    assert check_container(data, "a.xlsx") == []


def test_upload_size_limit() -> None:
    findings = check_container(b"x" * 2048, "a.csv", Limits(max_file_bytes=1024))
    assert [f.code for f in findings] == ["FILE_TOO_LARGE"]


def test_empty_file() -> None:
    assert error_codes(b"", "空.xlsx") == ["EMPTY_FILE"]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"just some text", "清单.xlsx"),  # a renamed text file
        (GOOD_XLSX[: len(GOOD_XLSX) // 2], "截断.xlsx"),  # a truncated download
        (b"PK\x03\x04" + b"\0" * 200, "坏.xlsx"),
        (GOOD_XLS[:2000], "截断.xls"),
        (b"\xff\xfe\xfd\xfc", "乱码.csv"),
        (b"{not json", "坏.json"),
        (b'{"rows": 5}', "结构.json"),
        (b"[[1, 2]]", "结构2.json"),
        (b"[" * 100_000 + b"]" * 100_000, "深.json"),
    ],
)
def test_unreadable_files_become_findings(data: bytes, name: str) -> None:
    verdict = validate_table(data, name, "issue-list")
    assert [f.code for f in verdict.errors] == ["UNREADABLE_FILE"]
    assert name in verdict.errors[0].message


def test_unreadable_et_says_how_to_save_as_xlsx() -> None:
    verdict = validate_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "清单.et", "issue-list")
    assert [f.code for f in verdict.errors] == ["UNREADABLE_FILE"]
    assert "文件→另存为→Excel 工作簿（*.xlsx）" in verdict.errors[0].message


def test_et_that_calamine_can_read_is_validated() -> None:
    # WPS .et files are BIFF-like compound files; one calamine can open is validated like .xls.
    verdict = validate_table(GOOD_XLS, "清单.et", "issue-list", unit_names=("原平市",))
    assert verdict.accepted
    assert len(verdict.rows) == 5


def test_unsupported_format() -> None:
    verdict = validate_table(b"%PDF-1.7", "清单.pdf", "issue-list")
    assert [f.code for f in verdict.errors] == ["UNSUPPORTED_FORMAT"]
    assert ".xlsx" in verdict.errors[0].message


def test_xlsx_named_xls_and_xls_named_xlsx_still_read() -> None:
    assert validate_table(GOOD_XLSX, "清单.xls", "issue-list").accepted
    assert validate_table(GOOD_XLS, "清单.xlsx", "issue-list").accepted


def test_decode_text() -> None:
    assert decode_text("问题".encode("gb18030"), "a.csv") == "问题"
    assert decode_text(b"\xef\xbb\xbf" + "问题".encode(), "a.csv") == "问题"
    with pytest.raises(ReaderError):
        decode_text(b"\xff\xff", "a.csv")


def test_random_bytes_never_crash() -> None:
    rng = random.Random(20230407)
    samples = [rng.randbytes(rng.randint(1, 3000)) for _ in range(40)]
    # Corrupt a real workbook here and there: still a zip, broken parts inside.
    for _ in range(40):
        data = bytearray(GOOD_XLSX)
        for _ in range(20):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data))
    for data in samples:
        for name in ("a.xlsx", "a.xls", "a.et", "a.csv", "a.json"):
            verdict = validate_table(data, name, "issue-list")
            assert not verdict.accepted or verdict.rows
            assert all(f.code and f.message for f in verdict.errors)
