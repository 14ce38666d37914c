"""Small files that ask a reader for gigabytes or minutes (issue 18), built in the test, never committed.

Each builder returns the bytes of one class of file; the tests push them through ``cli check`` (unit tier)
and through the local stack (integration tier).
"""

from __future__ import annotations

import io
import zipfile
import zlib

from tests.minimal_xlsx import MAIN, xlsx_package

LONGEST_CELL_TEXT = 32_767  # Excel's limit on the characters in one cell


def shared_string_amplification(rows: int, columns: int = 10) -> bytes:
    """One shared string of 32,767 characters referenced by every cell: a few KB that read as
    rows × columns × 32,767 characters."""
    text = ("整改" * LONGEST_CELL_TEXT)[:LONGEST_CELL_TEXT]
    shared = f'<?xml version="1.0"?><sst xmlns="{MAIN}" count="1" uniqueCount="1"><si><t>{text}</t></si></sst>'
    letters = [chr(ord("A") + n) for n in range(columns)]
    body = "".join(
        f'<row r="{r}">' + "".join(f'<c r="{c}{r}" t="s"><v>0</v></c>' for c in letters) + "</row>"
        for r in range(1, rows + 1)
    )
    sheet = f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'
    return xlsx_package({"xl/worksheets/sheet1.xml": sheet.encode()}, shared_strings=shared)


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx(body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument"/></Relationships>',
        )
        archive.writestr(
            "word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{_W}"><w:body>{body}</w:body></w:document>'
        )
    return buffer.getvalue()


def _paragraph(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def vertically_merged_docx(rows: int, columns: int = 3) -> bytes:
    """A table whose every cell is merged with the one above: python-docx walks up the column for each."""
    first = (
        "<w:tr>"
        + "".join(
            f'<w:tc><w:tcPr><w:vMerge w:val="restart"/></w:tcPr>{_paragraph("基本情况")}</w:tc>' for _ in range(columns)
        )
        + "</w:tr>"
    )
    merged = "<w:tr>" + "<w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc>" * columns + "</w:tr>"
    return _docx(_paragraph("一、动员部署情况") + "<w:tbl>" + first + merged * (rows - 1) + "</w:tbl>")


def million_paragraphs_docx(paragraphs: int = 1_000_000) -> bytes:
    """Tiny paragraphs, each different so the zip does not compress them past the ratio check."""
    return _docx("".join(_paragraph(str(n * 7919 % 1_000_003)) for n in range(paragraphs)))


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of these objects (numbered from 1; object 1 the catalog) with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(content: bytes) -> bytes:
    packed = zlib.compress(content, 9)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"


def shared_stream_pdf(pages: int = 200, content_bytes: int = 1_000_000) -> bytes:
    """``pages`` pages drawing the same ~1 MB content stream: stored once, decoded and parsed per page."""
    line = b"BT /F1 12 Tf 72 712 Td (0123456789) Tj ET\n"
    content = line * (content_bytes // len(line))
    first_page = 5
    kids = b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        _stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R"
        b" /Resources << /Font << /F1 4 0 R >> >> >>"
    ] * pages
    return _pdf(objects)


def decompression_bomb_pdf(inflated_bytes: int = 60 * 1024 * 1024) -> bytes:
    """One page whose content stream inflates from about 60 KB to ``inflated_bytes``."""
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            _stream(b" " * inflated_bytes),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>",
        ]
    )
