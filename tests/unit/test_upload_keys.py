"""Upload keys are input: resolved to a unit, deliverable and period, or refused in Chinese."""

from __future__ import annotations

import pytest

from chalicelib.domain.registry import default_registry
from chalicelib.domain.upload_keys import UploadKeyError, resolve_upload_key, upload_key


def test_a_well_formed_key_resolves() -> None:
    key = upload_key("xinzhou-2023", "140981", "issue-list", "2023-05", "原平市 5月清单.xlsx")
    target = resolve_upload_key(default_registry(), key)
    assert (target.unit.name, target.deliverable.id, target.period, target.extension) == (
        "原平市",
        "issue-list",
        "2023-05",
        "xlsx",
    )


def test_a_unit_name_in_the_key_resolves_to_its_code() -> None:
    target = resolve_upload_key(default_registry(), "uploads/xinzhou-2023/原平/issue-list/2023-05/a.xlsx")
    assert target.unit.code == "140981"


@pytest.mark.parametrize(
    ("key", "code", "says"),
    [
        ("uploads/xinzhou-2023/140981/issue-list/a.xlsx", "KEY_SHAPE", "不符合规定格式"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/../a.xlsx", "KEY_SHAPE", "不符合规定格式"),
        ("uploads/xinzhou-2023/../issue-list/2023-05/a.xlsx", "KEY_UNSAFE", ".."),
        ("uploads/xinzhou-2023/140981//2023-05/a.xlsx", "KEY_UNSAFE", "空目录"),
        ("uploads/other-2024/140981/issue-list/2023-05/a.xlsx", "UNKNOWN_CAMPAIGN", "other-2024"),
        ("uploads/xinzhou-2023/140900/issue-list/2023-05/a.xlsx", "UNKNOWN_UNIT", "140900"),
        ("uploads/xinzhou-2023/140981/issues/2023-05/a.xlsx", "UNKNOWN_DELIVERABLE", "issue-list"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-04/a.xlsx", "UNKNOWN_PERIOD", "2023-05"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/a\x00.xlsx", "KEY_INVISIBLE_CHARACTER", "第2个字符"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/原平市\u2028清单.xlsx", "KEY_INVISIBLE_CHARACTER", "行分隔符"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/清单\u2029.xlsx", "KEY_INVISIBLE_CHARACTER", "段落分隔符"),
        ("uploads/xinzhou-2023/140981/issue-list/2023-05/清单\x85.xlsx", "KEY_INVISIBLE_CHARACTER", "U+0085"),
        ("uploads/xinzhou-2023/1409\u200e81/issue-list/2023-05/a.xlsx", "KEY_INVISIBLE_CHARACTER", "文件路径"),
    ],
)
def test_bad_keys_are_refused_with_a_chinese_reason(key: str, code: str, says: str) -> None:
    with pytest.raises(UploadKeyError) as caught:
        resolve_upload_key(default_registry(), key)
    assert caught.value.code == code
    assert says in caught.value.message
