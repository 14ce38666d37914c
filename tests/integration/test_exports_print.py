"""Exports that print: the ledger workbook from the API carries its page setup, and LibreOffice renders a
long ledger to A4 landscape pages that each show every column (header rows repeated).

Uses LibreOffice (``soffice``) and poppler's ``pdftotext``/``pdfinfo``; ``make test`` installs them (``make office``).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.conftest import LOCAL, OFFICE_TOKEN

CAMPAIGN = "xinzhou-2023"
HEADERS = (
    "填报单位",
    "序号",
    "问题方面",
    "问题表现",
    "原因剖析",
    "整改措施",
    "完成时限",
    "成果形式",
    "责任单位",
    "联系人",
    "备注",
)


def _office_tools() -> None:
    missing = [tool for tool in ("soffice", "pdftotext", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} missing: `make test` installs them (make office)"
        if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)


def _export(**params: str) -> bytes:
    answer = requests.get(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/issues.xlsx",
        params=params,
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200
    return answer.content


def test_the_exported_ledger_is_set_up_to_print(demo_month: list[str]) -> None:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(_export(period="2023-05"))).worksheets[0]
    setup = sheet.page_setup
    assert setup.orientation == "landscape" and int(setup.paperSize) == 9  # A4
    # Fit to one page wide, any number tall (fitToWidth absent means OOXML's default, 1).
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and (setup.fitToWidth or 1) == 1 and setup.fitToHeight == 0
    assert sheet.print_title_rows == "$4:$5"  # the two header rows repeat on every page
    title = sheet["A1"].value
    # The attachment's own title (notice, 附件2), said once, as a summary.
    assert title == "全省道路交通安全和运输执法领域突出问题专项整治事项清单（汇总）" and title.count("专项整治") == 1
    assert "（2023年新问题）" in sheet["A2"].value
    assert sheet["A3"].value.startswith("填报单位") and "填报时间" in sheet["G3"].value
    first = next(row for row in sheet.iter_rows(min_row=6) if row[0].value)
    assert isinstance(first[1].value, int)  # 序号 is a number
    assert first[3].alignment.wrap_text and sheet.row_dimensions[first[0].row].height > 15


def test_libreoffice_prints_every_column_on_every_page(tmp_path: Path) -> None:
    _office_tools()
    from chalicelib.domain.exports import ledger_workbook
    from chalicelib.domain.ledger import LedgerRow
    from chalicelib.domain.tables.templates import load_template
    from infra.local.samples import GOOD_ROWS

    # Long enough for several pages: every unit with the three sample problems.
    rows = [
        LedgerRow(
            f"1409{n:02d}",
            f"第{n}单位",
            "2023-05",
            "v1",
            6 + i,
            "Sheet1",
            {
                "seq": str(i + 1),
                "aspect": r.aspect,
                "symptom": r.symptom,
                "cause": r.cause,
                "measure": r.measure,
                "deadline": r.deadline,
                "deliverable_form": r.form,
                "owner_unit": r.owner,
                "contact": r.contact,
                "note": "",
            },
        )
        for n in range(14)
        for i, r in enumerate(GOOD_ROWS)
    ]
    source = tmp_path / "台账.xlsx"
    source.write_bytes(ledger_workbook(rows, load_template("issue-list").print_title))
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "台账.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    size = next(line for line in info.splitlines() if line.startswith("Page size:")).split()
    width, height = float(size[2]), float(size[4])
    assert pages >= 2 and width > height and abs(width - 841.9) < 2  # A4 landscape, more than one page
    for page in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        missing = [h for h in HEADERS if h not in text]
        assert not missing, f"page {page} lacks columns {missing}"
        assert any(name in text for name in ("王某某", "李某某", "张某某")), (
            f"page {page} lacks the 联系人 column's data"
        )


def test_the_monthly_report_opens_in_libreoffice(demo_month: list[str], tmp_path: Path) -> None:
    _office_tools()
    answer = requests.get(
        f"{LOCAL.api_url}/campaigns/{CAMPAIGN}/reports/monthly",
        params={"period": "2023-05"},
        headers={"Authorization": f"Bearer {OFFICE_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 200
    source = tmp_path / "简报.docx"
    source.write_bytes(answer.content)
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "简报.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout
    for heading in ("一、本月总体情况", "二、问题整改情况", "三、典型案例", "四、下一步工作"):
        assert heading in text
