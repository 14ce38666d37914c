"""Read narrative reports into paragraphs: .docx (Word/WPS), .pdf (text layer if any), .txt / .md."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

MAX_PDF_PAGES_READ = 200


class DocumentError(ValueError):
    """The file cannot be read as the document its extension promises."""


@dataclass(frozen=True)
class Paragraph:
    text: str
    # Styled as a heading (Word's 标题/Heading styles or an outline level); other headings are
    # recognised by their numbering (一、 （一） 1.) in ``sections``.
    styled_heading: bool = False


@dataclass(frozen=True)
class Document:
    paragraphs: tuple[Paragraph, ...]
    pages: int | None = None
    has_text: bool = True
    notes: dict[str, Any] = field(default_factory=dict)


def clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _docx_paragraph(paragraph: Any) -> Paragraph:
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    outline = paragraph._p.xpath("./w:pPr/w:outlineLvl")
    heading = style.lower().startswith(("heading", "title")) or style.startswith("标题") or bool(outline)
    return Paragraph(clean(paragraph.text), heading)


def read_docx(data: bytes) -> Document:
    import docx  # python-docx; loaded only when a .docx arrives
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import LxmlError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, LxmlError) as exc:
        # LxmlError: malformed XML, or libxml2 refusing entity amplification (python-docx's parser has
        # resolve_entities=False and never fetches external entities).
        raise DocumentError(str(exc)) from exc
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph as DocxParagraph

    paragraphs = [_docx_paragraph(p) for p in document.paragraphs]
    # Typical cases are often laid out as a table: label cell, then the text. Each cell is read once, in
    # document order, straight from its XML: python-docx's ``row.cells`` resolves every vertically merged
    # cell by walking up its column (quadratic: a 6 KB table of 970 merged rows took 96 s, 1,000 rows
    # overflowed the stack), and repeats a merged cell's text for each row and column it spans.
    for table in document.tables:
        for cell in table._tbl.iter(qn("w:tc")):
            paragraphs.extend(_docx_paragraph(DocxParagraph(p, table)) for p in cell.iterchildren(qn("w:p")))
    return Document(tuple(p for p in paragraphs if p.text))


def read_pdf(data: bytes) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("encrypted")
        pages = len(reader.pages)
        texts = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES_READ]]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(str(exc)) from exc
    lines = [clean(line) for text in texts for line in text.splitlines()]
    lines = [line for line in lines if line]
    # A scan has at most a few stray characters from the stamp's vector layer.
    has_text = sum(len(line) for line in lines) >= 20
    return Document(tuple(Paragraph(line) for line in lines), pages=pages, has_text=has_text)


_MD_HEADING = re.compile(r"^#{1,6}\s+")


def read_text(data: bytes) -> Document:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DocumentError("not UTF-8 or GB18030 text")
    paragraphs = []
    for line in text.splitlines():
        line = clean(line)
        if line:
            heading = bool(_MD_HEADING.match(line))
            paragraphs.append(Paragraph(_MD_HEADING.sub("", line), heading))
    return Document(tuple(paragraphs))


def read_document(data: bytes, extension: str) -> Document:
    if extension == "docx":
        return read_docx(data)
    if extension == "pdf":
        return read_pdf(data)
    if extension in ("txt", "md"):
        return read_text(data)
    raise DocumentError(f"no reader for .{extension}")
