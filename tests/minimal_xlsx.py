"""The smallest .xlsx package around given sheet parts, for tests that shape the sheet XML by hand."""

from __future__ import annotations

import io
import zipfile

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"


def xlsx_package(
    sheets: dict[str, bytes],
    *,
    names: list[str] | None = None,
    targets: dict[str, str] | None = None,
    shared_strings: str | None = None,
) -> bytes:
    """Sheets by part name (``xl/...``), named ``names`` (default 表1, 表2 ...); ``targets`` overrides what
    workbook.xml.rels says for a part (default: relative to xl/); ``shared_strings`` adds that part."""
    names = names or [f"表{n}" for n in range(1, len(sheets) + 1)]
    targets = targets or {}
    sheet_tags = "".join(f'<sheet name="{name}" sheetId="{n}" r:id="rId{n}"/>' for n, name in enumerate(names, 1))
    relationships = "".join(
        f'<Relationship Id="rId{n}" Type="{RELATIONSHIPS}/worksheet" Target="{targets.get(part, part[3:])}"/>'
        for n, part in enumerate(sheets, 1)
    )
    if shared_strings is not None:
        relationships += (
            f'<Relationship Id="rId{len(sheets) + 1}" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>{sheet_tags}</sheets>'
            "</workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0"?><Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">{relationships}</Relationships>',
        )
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        for part, xml in sheets.items():
            archive.writestr(part, xml)
    return buffer.getvalue()
