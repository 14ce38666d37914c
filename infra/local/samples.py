"""Sample material shaped like the notice's templates (attachment 2 etc.), for the demo and benchmarks.

Built with openpyxl the way the template looks in Excel/WPS: title rows, the 填报时间 / 填报单位
line, two header rows with merged group cells, data rows and the footer lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment


@dataclass(frozen=True)
class IssueRow:
    aspect: str
    symptom: str
    cause: str
    measure: str
    deadline: str
    form: str
    owner: str
    contact: str
    note: str = ""


GOOD_ROWS = (
    IssueRow(
        "“逐利执法”问题",
        "1.某治超站2022年对货车超限行为按固定金额罚款，未区分超限程度；2.个别执法人员存在罚款指标考核倾向。",
        "自由裁量基准未细化到具体情形，绩效考核中仍有案件数量指标。",
        "1.修订治超行政处罚自由裁量基准；2.取消执法数量考核指标；3.对2022年案卷逐件复查。",
        "2023-06-30",
        "修订后的裁量基准文件、案卷评查报告",
        "市交通运输综合行政执法队",
        "王某某",
    ),
    IssueRow(
        "执法不规范问题",
        "在国道某路段随意设卡拦截正常行驶车辆检查，3月份群众投诉2起。",
        "路面执法点位未经审批，执法人员对程序规定掌握不够。",
        "1.清理全部临时执法点位并公示保留点位；2.开展执法程序专题培训。",
        "长期坚持",
        "点位清理台账、培训记录",
        "路政执法中队",
        "李某某",
    ),
    IssueRow(
        "执法粗暴问题",
        "个别执法人员对当事人陈述申辩不耐心，存在“冷横硬推”现象，12328热线投诉1起。",
        "执法人员服务意识不强，文明执法规范落实不到位。",
        "1.约谈涉事执法人员；2.全面推行执法记录仪全程记录；3.每季度开展文明执法评议。",
        "2023年8月31日",
        "约谈记录、评议结果",
        "运输执法中队",
        "张某某",
    ),
)


def issue_list_workbook(unit_name: str, rows: Sequence[IssueRow], filled_on: str = "2023年5月18日") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "2023年新问题"
    sheet.merge_cells("A1:J1")
    sheet["A1"] = "全省道路交通安全和运输执法领域突出问题专项整治事项清单（模板）"
    sheet.merge_cells("A2:J2")
    sheet["A2"] = "（2023年新问题）"
    sheet["A3"] = f"填报时间：{filled_on}"
    sheet["F3"] = f"填报单位（盖章）：{unit_name}"
    # Two header rows: group headings merged across their columns, 序号/问题方面/备注 merged down.
    for cell_range, label in (("A4:A5", "序号"), ("B4:B5", "问题方面"), ("J4:J5", "备注")):
        sheet.merge_cells(cell_range)
        sheet[cell_range.split(":")[0]] = label
    for cell_range, label in (("C4:D4", "问题清单"), ("E4:G4", "任务清单"), ("H4:I4", "责任清单")):
        sheet.merge_cells(cell_range)
        sheet[cell_range.split(":")[0]] = label
    for column, label in zip(
        "CDEFGHI", ("问题表现", "原因剖析", "整改措施", "完成时限", "成果形式", "责任单位", "联系人"), strict=True
    ):
        sheet[f"{column}5"] = label
    row_number = 6
    for number, row in enumerate(rows, 1):
        values = (number, row.aspect, row.symptom, row.cause, row.measure, row.deadline, row.form, row.owner)
        for column, value in zip("ABCDEFGHIJ", (*values, row.contact, row.note), strict=True):
            cell = sheet[f"{column}{row_number}"]
            cell.value = value
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # typed as text (Excel's leading apostrophe), not a formula
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        row_number += 1
    row_number += 1
    sheet[f"A{row_number}"] = "审核人：刘某"
    sheet[f"D{row_number}"] = "联系人：王某某"
    sheet[f"G{row_number}"] = "联系电话：0350-3021234"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


SELF_CHECK_REPORT = """{unit}关于交通运输执法领域突出问题专项整治的自查报告

一、动员部署情况
按照市局统一部署，我局于4月10日召开专项整治动员会，成立以局长为组长的工作专班。

二、主要做法和取得的成效
对2022年以来的行政处罚案卷开展全面评查，共评查案卷126件，发现问题9个，已整改7个。

三、存在的问题及原因
个别执法人员裁量基准掌握不准，执法记录仪使用不规范。

四、整改措施及建议
细化裁量基准，开展全员轮训；建议市局统一执法文书模板。
"""


PROGRESS_REPORT = """{unit}专项整治工作推进情况（{month}月）

一、本月工作开展情况
本月召开专项整治推进会2次，对照问题清单逐项督办；对2022年以来的治超、路政案卷开展集中评查，共评查案卷120余卷，发现问题14个，已整改11个；组织执法人员开展执法程序和文明执法专题培训，参训人员覆盖全部一线执法队伍。

二、存在的问题
个别执法中队对问题查摆不够深入，问题表现写得较为笼统；部分整改措施缺少完成时限和成果形式，整改进度不够均衡。

三、下一步工作
一是督促各中队细化问题表现，做到见人见事；二是对照完成时限逐项销号，对超期事项约谈责任人；三是及时总结整改中的好做法，形成典型案例报送市局。
"""


def typical_case_docx(unit_name: str, title: str) -> bytes:
    """One typical case as Word: a title, then 基本情况 / 具体措施 / 整改效果 / 点评 as numbered headings."""
    from docx import Document

    document = Document()
    document.add_heading(title, level=1)
    sections = (
        (
            "一、基本情况",
            f"2022年，{unit_name}某治超站对超限货车按固定金额罚款，未区分超限程度，群众反映强烈。专项整治开展后，该问题被列入问题清单，由主要负责同志牵头督办整改。",
        ),
        (
            "二、具体措施",
            "一是修订治超行政处罚自由裁量基准，细化到具体超限幅度；二是取消执法数量考核指标，改为案卷质量评查；三是对2022年以来的治超案卷逐件复查，发现问题的依法纠正。",
        ),
        (
            "三、整改效果",
            "整改后治超处罚全部按新基准执行，案卷评查合格率由八成提高到百分之百，本月未再收到同类投诉，货运企业满意度明显提升。",
        ),
        (
            "四、点评",
            "该案例抓住“逐利执法”的根源，从考核指挥棒入手，既纠正了具体问题，又建立了长效机制，值得各单位借鉴推广。",
        ),
    )
    for heading, text in sections:
        document.add_paragraph(heading)
        document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
