"""Realistic attachment-2 workbooks of any size: distinct Chinese prose in every row, the template's
merged headers (``infra.local.samples.issue_list_workbook``), dates, 长期坚持 and phone numbers as units
type them. Seeded, so every run validates the same files."""

from __future__ import annotations

import random
from pathlib import Path

from infra.local.samples import IssueRow, issue_list_workbook

CACHE_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "bench"

ASPECTS = (
    "“逐利执法”问题",
    "执法不规范问题",
    "执法方式简单僵化问题",
    "执法粗暴问题",
    "执法“寻租”问题",
    "群众反映强烈的问题",
)
PLACES = (
    "国道208线",
    "省道313线",
    "忻保高速收费站",
    "原平治超站",
    "城区客运站",
    "宁武货运枢纽",
    "县道X045",
    "五台山景区路段",
)
ACTS = (
    "对货车超限行为按固定金额罚款，未区分超限程度",
    "随意设卡拦截正常行驶车辆检查",
    "执法人员未全程佩戴执法记录仪",
    "对当事人陈述申辩不耐心，存在“冷横硬推”现象",
    "罚没款未及时上缴，票据管理不规范",
    "以罚代管，对同一违法行为多次处罚",
    "行政处罚决定书说理不充分，法律条款引用错误",
    "对出租车驾驶员轻微违法未适用首违不罚",
)
SOURCES = ("12328热线投诉", "群众来信反映", "案卷评查发现", "明察暗访发现", "上级督导指出")
CAUSES = (
    "自由裁量基准未细化到具体情形",
    "绩效考核中仍有案件数量指标",
    "执法人员对程序规定掌握不够",
    "服务意识不强，文明执法规范落实不到位",
    "内部监督机制不健全，案卷审核流于形式",
)
MEASURES = (
    "修订行政处罚自由裁量基准",
    "取消执法数量考核指标",
    "开展执法程序专题培训",
    "推行执法记录仪全程记录",
    "对2022年案卷逐件复查",
    "每季度开展文明执法评议",
    "建立首违不罚清单并公示",
)
FORMS = ("修订后的裁量基准文件", "培训记录、签到表", "案卷评查报告", "约谈记录、评议结果", "制度文件")
OWNERS = ("市交通运输综合行政执法队", "路政执法中队", "运输执法中队", "治超执法站", "法制科")
SURNAMES = "王李张刘陈杨赵黄周吴"


def _deadline(rng: random.Random) -> str:
    month, day = rng.randint(6, 12), rng.randint(1, 28)
    return rng.choice((f"2023-{month:02d}-{day:02d}", f"2023年{month}月{day}日", "长期坚持", f"{month}月底"))


def issue_rows(count: int, seed: int = 2023) -> list[IssueRow]:
    rng = random.Random(seed)
    rows = []
    for n in range(1, count + 1):
        place, act = rng.choice(PLACES), rng.choice(ACTS)
        measures = rng.sample(MEASURES, 3)
        rows.append(
            IssueRow(
                aspect=rng.choice(ASPECTS),
                symptom=f"1.{place}{rng.randint(2022, 2023)}年{rng.randint(1, 12)}月{act}；"
                f"2.{rng.choice(SOURCES)}{n}起。",
                cause=f"{rng.choice(CAUSES)}，{rng.choice(CAUSES)}（第{n}项）。",
                measure="".join(f"{i}.{m}；" for i, m in enumerate(measures, 1)) + f"4.落实到{place}。",
                deadline=_deadline(rng),
                form=rng.choice(FORMS),
                owner=rng.choice(OWNERS),
                contact=f"{rng.choice(SURNAMES)}某某 13{rng.randint(5, 9)}{rng.randint(10_000_000, 99_999_999)}",
                note=rng.choice(("", "", "已完成部分整改", "需跨部门协调")),
            )
        )
    return rows


def issue_workbook(count: int, unit_name: str = "原平市交通运输局", seed: int = 2023) -> bytes:
    """The .xlsx bytes (cached under test-artifacts/bench: openpyxl needs ~1 s per 1,000 rows)."""
    path = CACHE_DIR / f"issue-list-{count}-{seed}-{unit_name}.xlsx"
    if path.is_file():
        return path.read_bytes()
    data = issue_list_workbook(unit_name, issue_rows(count, seed))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data
