"""Files people (or attackers) really send: entity tricks in the XML inside .xlsx/.docx, zip bombs, a 200 MB
upload, empty and renamed files, passwords, a million rows, 16,384 columns, truncation, broken encodings.

Every one gets a verdict with a Chinese message, never an exception, a hang or a process killed by the
allocator. No test here needs the local stack: the validators are pure.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.receipts import Finding
from chalicelib.domain.reports import validate_report
from chalicelib.domain.tables import validate_table
from infra.local.samples import GOOD_ROWS, issue_list_workbook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CJK = re.compile(r"[\u4e00-\u9fff]")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _table(data: bytes, name: str) -> Any:
    return validate_table(data, name, "issue-list", unit_names=("原平市",))


def _assert_refused(errors: tuple[Finding, ...], *codes: str) -> Finding:
    assert errors, "expected a refusal"
    first = errors[0]
    assert first.code in codes, errors
    assert CJK.search(first.message), first.message
    return first


# --- crafted OOXML --------------------------------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
WORKBOOK = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    '<sheet name="清单" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    'Target="sharedStrings.xml"/></Relationships>'
)
SHEET_HEAD = '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def xlsx(sheet_data: str | None = None, shared: str | None = None, rows: Any = None) -> bytes:
    """A minimal workbook; ``rows`` (an iterator of <row> strings) is streamed into the zip, never joined."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        archive.writestr(
            "xl/sharedStrings.xml",
            shared or '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>',
        )
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(f"{SHEET_HEAD}<sheetData>".encode())
            if sheet_data:
                part.write(sheet_data.encode())
            batch: list[str] = []
            for row in rows or ():
                batch.append(row)
                if len(batch) == 10_000:
                    part.write("".join(batch).encode())
                    batch = []
            part.write(("".join(batch) + "</sheetData></worksheet>").encode())
    return buffer.getvalue()


def with_part(docx: bytes, name: str, content: bytes) -> bytes:
    """``docx`` with one part replaced (or added)."""
    source = zipfile.ZipFile(io.BytesIO(docx))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info, source.read(info))
        archive.writestr(name, content)
    return buffer.getvalue()


def _docx() -> bytes:
    return (FIXTURES / "reports" / "self-check-complete.docx").read_bytes()


# --- XML entities ---------------------------------------------------------------------------------------

LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("SECRET-XXE-MARKER", encoding="utf-8")
    return path


@pytest.mark.timeout(30)
def test_external_and_exponential_entities_in_an_xlsx_are_never_expanded(secret: Path) -> None:
    for doctype, ref in (
        (f'<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file://{secret}">]>', "&xxe;"),
        (LAUGHS, "&lol9;"),
    ):
        shared = (
            f'<?xml version="1.0"?>{doctype}<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            f'count="1" uniqueCount="1"><si><t>{ref}</t></si></sst>'
        )
        data = xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', shared=shared)
        verdict = _table(data, "实体.xlsx")
        assert not verdict.accepted
        assert "SECRET-XXE-MARKER" not in repr(verdict) and "lollollol" not in repr(verdict)
        _assert_refused(verdict.errors, "HEADER_NOT_FOUND", "UNREADABLE_FILE")


@pytest.mark.timeout(30)
def test_external_and_exponential_entities_in_a_docx_are_never_expanded(secret: Path) -> None:
    document = zipfile.ZipFile(io.BytesIO(_docx())).read("word/document.xml").decode()
    for doctype, ref in (
        (f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>', "&xxe;"),
        (LAUGHS.replace("lolz", "w:document"), "&lol9;"),
    ):
        head, body = document.split("?>", 1)
        crafted = f"{head}?>{doctype}{body}".replace("<w:t>", f"<w:t>{ref}", 1)
        verdict = validate_report(
            with_part(_docx(), "word/document.xml", crafted.encode()), "自查.docx", "self-check-report"
        )
        assert "SECRET-XXE-MARKER" not in repr(verdict) and "lollollol" not in repr(verdict)
        assert verdict.status in ("accepted", "rejected")


def test_no_stdlib_xml_parser_is_used_on_uploads() -> None:
    """The stdlib's parsers expand entities; any future use on uploaded bytes must go through defusedxml."""
    root = Path(__file__).resolve().parents[2] / "chalicelib"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+xml(\.|\s|$)", path.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert offenders == []


# --- zip bombs and containers --------------------------------------------------------------------------


def _bomb(base: bytes, megabytes: int) -> bytes:
    """``base`` plus a part of ``megabytes`` MB of zeros, streamed into the zip."""
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            archive.writestr(info, source.read(info))
        with archive.open("word/media/image1.png", "w", force_zip64=True) as part:
            chunk = bytes(1024 * 1024)
            for _ in range(megabytes):
                part.write(chunk)
    return buffer.getvalue()


@pytest.mark.parametrize("megabytes", [3, 101])
def test_a_docx_zip_bomb_is_refused_before_parsing_with_word_advice(megabytes: int) -> None:
    data = _bomb(_docx(), megabytes)
    assert len(data) < 1024 * 1024  # a small upload that would inflate
    verdict = validate_report(data, "自查报告.docx", "self-check-report")
    finding = _assert_refused(verdict.errors, "FILE_TOO_COMPLEX", "FILE_TOO_LARGE")
    assert ".xlsx" not in finding.message and "Excel" not in finding.message


def test_a_docx_with_too_many_parts_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for n in range(10_001):
            archive.writestr(f"word/p{n}.xml", b"")
    verdict = validate_report(buffer.getvalue(), "自查报告.docx", "self-check-report")
    assert ".docx" in _assert_refused(verdict.errors, "FILE_TOO_COMPLEX").message


def test_password_protected_files_say_how_to_remove_the_password_in_the_right_program() -> None:
    directory = "EncryptionInfo".encode("utf-16-le") + b"\0" * 40 + "EncryptedPackage".encode("utf-16-le")
    encrypted = OLE2_MAGIC + b"\0" * 504 + directory + b"\0" * 1024
    sheet = _assert_refused(_table(encrypted, "清单.xlsx").errors, "FILE_ENCRYPTED")
    assert "Excel" in sheet.message and ".xlsx" in sheet.message
    doc = _assert_refused(validate_report(encrypted, "自查报告.docx", "self-check-report").errors, "FILE_ENCRYPTED")
    assert "Word" in doc.message and ".docx" in doc.message and ".xlsx" not in doc.message


def test_truncated_files_are_refused_as_damaged() -> None:
    workbook = issue_list_workbook("原平市交通运输局", GOOD_ROWS)
    _assert_refused(_table(workbook[: len(workbook) // 2], "清单.xlsx").errors, "UNREADABLE_FILE")
    docx = _docx()
    finding = _assert_refused(
        validate_report(docx[: len(docx) // 2], "自查报告.docx", "self-check-report").errors, "UNREADABLE_FILE"
    )
    assert ".xlsx" not in finding.message


def test_empty_files() -> None:
    _assert_refused(_table(b"", "清单.xlsx").errors, "EMPTY_FILE")
    _assert_refused(_table(b"", "清单.csv").errors, "EMPTY_FILE")
    for name in ("自查报告.docx", "自查报告.txt", "自查报告.pdf"):
        _assert_refused(validate_report(b"", name, "self-check-report").errors, "EMPTY_FILE")


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(range(256)) * 40 + b"This program cannot"


@pytest.mark.parametrize("name", ["清单.xlsx", "清单.xls", "清单.et", "清单.csv", "清单.json"])
def test_a_renamed_exe_is_refused_as_a_table(name: str) -> None:
    verdict = _table(EXE, name)
    _assert_refused(verdict.errors, "UNREADABLE_FILE", "HEADER_NOT_FOUND")


@pytest.mark.parametrize("name", ["自查报告.docx", "自查报告.pdf", "自查报告.txt"])
def test_a_renamed_exe_is_refused_as_a_report(name: str) -> None:
    verdict = validate_report(EXE, name, "self-check-report")
    assert verdict.status == "rejected"
    _assert_refused(verdict.errors, "UNREADABLE_FILE", "REPORT_SECTION_MISSING")


# --- sizes: rows, columns, bytes ---------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_million_rows_are_refused_without_loading_the_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.domain.tables import readers
    from chalicelib.domain.tables.readers import MAX_SHEET_ROWS

    rows = (
        f'<row r="{n}"><c r="A{n}" t="n"><v>{n}</v></c><c r="B{n}" t="n"><v>{n % 97}</v></c></row>'
        for n in range(1, 1_000_001)
    )
    data = xlsx(rows=rows)
    uncompressed = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    assert uncompressed > 60 * 1024 * 1024  # really a million rows

    class NeverLoaded:
        @staticmethod
        def from_filelike(*_: Any) -> Any:
            raise AssertionError("calamine would load all million rows")

    monkeypatch.setattr(readers, "CalamineWorkbook", NeverLoaded)
    tracemalloc.start()
    try:
        verdict = _table(data, "百万行.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    finding = _assert_refused(verdict.errors, "TOO_MANY_ROWS")
    # The scan stopped within a chunk of the cap: it names the row it got to, far short of a million.
    stopped_at = int(re.search(r"第(\d+)行", finding.message).group(1))  # type: ignore[union-attr]
    assert MAX_SHEET_ROWS < stopped_at < 50_000
    assert peak < 16 * 1024 * 1024 + len(data)  # the scan streams the sheet: it never holds its 60+ MB


def test_a_sheet_past_the_row_cap_is_cut_by_the_reader() -> None:
    from chalicelib.domain.tables.readers import MAX_SHEET_ROWS, read_grids

    # Just over the cap: refused before calamine; one row under it: read, and not a row more than the cap.
    rows = (f'<row r="{n}"><c r="A{n}" t="n"><v>{n}</v></c></row>' for n in range(1, MAX_SHEET_ROWS + 2))
    with pytest.raises(Exception, match="超过") as refused:
        read_grids(xlsx(rows=rows), "多行.xlsx")
    assert getattr(refused.value, "code", None) == "TOO_MANY_ROWS"
    rows = (f'<row r="{n}"><c r="A{n}" t="n"><v>{n}</v></c></row>' for n in range(1, MAX_SHEET_ROWS + 1))
    [grid] = read_grids(xlsx(rows=rows), "多行.xlsx")
    assert len(grid.cells) == MAX_SHEET_ROWS


def _column(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def test_16384_columns_are_cut_to_the_readers_width_or_refused() -> None:
    from chalicelib.domain.tables.readers import MAX_COLUMNS, read_grids

    one_row = "".join(f'<c r="{_column(c)}1" t="n"><v>{c}</v></c>' for c in range(1, 16_385))
    [grid] = read_grids(xlsx(f'<row r="1">{one_row}</row>'), "宽表.xlsx")
    assert len(grid.cells[0]) == MAX_COLUMNS
    _assert_refused(_table(xlsx(f'<row r="1">{one_row}</row>'), "宽表.xlsx").errors, "HEADER_NOT_FOUND")

    wide = "".join(
        f'<row r="{r}"><c r="A{r}" t="n"><v>1</v></c><c r="XFD{r}" t="n"><v>1</v></c></row>' for r in range(1, 201)
    )
    finding = _assert_refused(_table(xlsx(wide), "宽表.xlsx").errors, "FILE_TOO_COMPLEX")
    assert "16384" in finding.message


def test_a_two_cell_sheet_spanning_a1_to_xfd1048576_does_not_kill_the_process(tmp_path: Path) -> None:
    """calamine would allocate the whole 17-billion-cell rectangle (512 GB) and abort; run it in a child
    process with an address-space limit, so a regression fails this test instead of the test run."""
    data = xlsx(
        '<row r="1"><c r="A1" t="n"><v>1</v></c></row><row r="1048576"><c r="XFD1048576" t="n"><v>2</v></c></row>'
    )
    path = tmp_path / "corner.xlsx"
    path.write_bytes(data)
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from chalicelib.domain.tables import validate_table
        verdict = validate_table(open({str(path)!r}, "rb").read(), "角落.xlsx", "issue-list")
        print(json.dumps([f.code for f in verdict.errors]))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["TOO_MANY_ROWS"]


class _Body:
    """An S3 GetObject body of ``size`` bytes, made chunk by chunk: nothing of it exists in advance."""

    def __init__(self, size: int) -> None:
        self.size = size

    def iter_chunks(self, chunk_size: int) -> Any:
        left = self.size
        while left:
            n = min(chunk_size, left)
            left -= n
            yield bytes(n)


class _S3:
    def __init__(self, size: int) -> None:
        self.size = size

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": _Body(self.size), "ETag": '"x"', "ContentType": "application/octet-stream"}


def test_a_200_mb_upload_is_hashed_in_a_stream_and_refused_without_being_held(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters.objects import CHUNK_BYTES, ObjectStore
    from chalicelib.domain.registry import default_registry
    from chalicelib.domain.upload_keys import resolve_upload_key
    from chalicelib.services.intake import _check

    size, limit = 200 * 1024 * 1024, 20 * 1024 * 1024
    tracemalloc.start()
    try:
        fetched = ObjectStore(_S3(size)).fetch("b", "k", "v", keep_up_to=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fetched.data is None and fetched.size == size
    expected = hashlib.sha256()
    for chunk in _Body(size).iter_chunks(CHUNK_BYTES):
        expected.update(chunk)
    assert fetched.sha256 == expected.hexdigest()
    assert peak < limit + 4 * CHUNK_BYTES  # at most the kept prefix, dropped once past the limit

    target = resolve_upload_key(default_registry(), "uploads/xinzhou-2023/140981/issue-list/2023-05/大文件.xlsx")
    verdict = _check(target, fetched.size, fetched.data, limit)
    finding = _assert_refused(verdict.errors, "FILE_TOO_LARGE")
    assert "200.0 MB" in finding.message and "20 MB" in finding.message


def test_the_upload_policy_refuses_200_mb_before_a_byte_is_sent() -> None:
    import base64

    import boto3

    from chalicelib.adapters.presign import UploadPresigner, plan_upload
    from chalicelib.domain.links import Grant, LinkError
    from chalicelib.domain.registry import default_registry

    registry = default_registry()
    campaign = registry.campaign("xinzhou-2023")
    assert campaign is not None
    unit, deliverable = campaign.unit("140981"), campaign.deliverable("issue-list")
    assert unit is not None and deliverable is not None
    from datetime import UTC, datetime

    grant = Grant(campaign, unit, (deliverable,), "2023-05", datetime(2099, 1, 1, tzinfo=UTC), {})
    limit = 20 * 1024 * 1024
    with pytest.raises(LinkError, match="超过上限"):
        plan_upload(registry, grant, "issue-list", "清单.xlsx", 200 * 1024 * 1024, limit)

    planned = plan_upload(registry, grant, "issue-list", "清单.xlsx", None, limit)
    s3 = boto3.client("s3", region_name="cn-north-1", aws_access_key_id="x", aws_secret_access_key="x")
    post = UploadPresigner(s3, "bucket").presign(planned)
    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    assert ["content-length-range", 1, limit] in policy["conditions"]
    assert {"key": "uploads/xinzhou-2023/140981/issue-list/2023-05/清单.xlsx"} in policy["conditions"]


# --- encodings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\xfd\xfc" * 64,
        "序号,问题方面\n".encode() + "1,执法不规范问题\n".encode("gbk") + b"\x80\x81\xfe\xff\n",
        b"\xed\xa0\x80,\xc0\xaf,\x00\x00\n" * 10,
        "\ufeff序号,问题方面,问题表现\n1,\u202e逐利执法,\x00\n".encode(),
        b"a" * 100_000 + b"\n",
        b'"' * 5000,
    ],
    ids=["not-text", "utf8-then-gbk", "overlong-and-surrogates", "bom-bidi-nul", "one-huge-cell", "open-quote"],
)
def test_broken_and_mixed_csv_encodings_get_an_answer(data: bytes) -> None:
    verdict = _table(data, "清单.csv")
    assert not verdict.accepted
    _assert_refused(verdict.errors, "UNREADABLE_FILE", "HEADER_NOT_FOUND", "MISSING_COLUMN")
