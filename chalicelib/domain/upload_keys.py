"""Object keys of uploads: ``uploads/{campaign}/{unit}/{deliverable}/{period}/{file name}``.

The key is the only thing a county controls besides the file, so it is checked as input:
each rejection says, in Chinese, what is wrong and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.deadlines import periods_for
from chalicelib.domain.registry import Campaign, Deliverable, Registry, Unit
from chalicelib.domain.text import character_name, shown, unsafe_in_name

PREFIX = "uploads"
MAX_FILE_NAME_CHARS = 200


@dataclass(frozen=True)
class UploadTarget:
    """What an upload is for, resolved against the registry."""

    campaign: Campaign
    unit: Unit
    deliverable: Deliverable
    period: str
    file_name: str
    # A stamped scan (盖章扫描件) filed beside the deliverable: ``…/{period}/盖章/{file}.pdf`` (issue 14).
    stamped: bool = False

    @property
    def extension(self) -> str:
        return self.file_name.rsplit(".", 1)[-1].lower() if "." in self.file_name else ""


class UploadKeyError(ValueError):
    def __init__(self, code: str, message: str, campaign_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.campaign_id = campaign_id


def upload_key(campaign_id: str, unit_code: str, deliverable_id: str, period: str, file_name: str) -> str:
    return "/".join((PREFIX, campaign_id, unit_code, deliverable_id, period, file_name))


def invisible_characters_reason(file_name: str) -> str | None:
    """Why a file name with a line break of any kind (U+2028 included) or another invisible character is
    refused, naming where it is (the unit cannot see it in its own file name); None for a clean name. Such
    a name would also break the receipt's Subject line."""
    found = unsafe_in_name(file_name)
    if not found:
        return None
    names = "、".join(dict.fromkeys(character_name(ch) for _, ch in found))
    where = "、".join(f"第{i}个" for i, _ in found[:5]) + ("等" if len(found) > 5 else "")
    return (
        f"文件名“{shown(file_name)}”的{where}字符是看不见的{names}，系统不能接收这样的文件名。"
        "请将文件重命名（删除文件名中的换行、分段等不可见字符，只保留文字、数字和常用标点）后重新上传。"
    )


def _refuse_invisible_characters(key: str, file_name: str) -> None:
    reason = invisible_characters_reason(file_name)
    if reason is None and unsafe_in_name(key):
        names = "、".join(dict.fromkeys(character_name(ch) for _, ch in unsafe_in_name(key)))
        reason = f"文件路径“{shown(key)}”含有看不见的{names}，系统不能接收。请通过市局发送的上传链接重新上传。"
    if reason is not None:
        raise UploadKeyError("KEY_INVISIBLE_CHARACTER", reason)


# --- issue 14: a stamped scan beside its deliverable ---------------------------------------------------
STAMPED_FOLDER = "盖章"
STAMPED_FORMATS = ("pdf",)


def stamped_upload_key(campaign_id: str, unit_code: str, deliverable_id: str, period: str, file_name: str) -> str:
    return upload_key(campaign_id, unit_code, deliverable_id, period, f"{STAMPED_FOLDER}/{file_name}")


def resolve_upload_key(registry: Registry, key: str) -> UploadTarget:
    """Resolve a decoded object key, or raise ``UploadKeyError`` naming the problem."""
    parts = key.split("/")
    expected = "uploads/活动编号/单位代码/材料类型/期次/文件名"
    stamped = len(parts) == 7 and parts[5] == STAMPED_FOLDER
    if stamped:  # the scan's own folder under the deliverable's period; otherwise the same rules
        parts = [*parts[:5], parts[6]]
    if len(parts) != 6 or parts[0] != PREFIX:
        raise UploadKeyError(
            "KEY_SHAPE", f"文件路径“{key}”不符合规定格式，应为 {expected}，请通过系统提供的上传链接重新上传。"
        )
    _, campaign_id, unit_ref, deliverable_id, period, file_name = parts
    _refuse_invisible_characters(key, file_name)
    if any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise UploadKeyError(
            "KEY_UNSAFE", f"文件路径“{key}”含有不允许的路径片段（如 .. 或空目录），请通过上传链接重新上传。"
        )
    if len(file_name) > MAX_FILE_NAME_CHARS:
        raise UploadKeyError(
            "FILE_NAME_TOO_LONG", f"文件名过长（超过{MAX_FILE_NAME_CHARS}个字符），请缩短文件名后重新上传。"
        )

    campaign = registry.campaign(campaign_id)
    if campaign is None:
        raise UploadKeyError("UNKNOWN_CAMPAIGN", f"文件路径中的专项活动“{campaign_id}”不存在，请通过上传链接重新上传。")
    unit = campaign.unit(unit_ref)
    # Keys carry the code; a name in the key is tolerated only if it resolves unambiguously.
    if unit is None:
        raise UploadKeyError(
            "UNKNOWN_UNIT",
            f"文件路径中的填报单位“{unit_ref}”不在本次专项整治的填报单位名单中，"
            "请核对单位代码（如 原平市 为 140981）。",
            campaign.id,
        )
    deliverable = campaign.deliverable(deliverable_id)
    if deliverable is None:
        known = "、".join(f"{d.id}（{d.name}）" for d in campaign.deliverables.values())
        raise UploadKeyError(
            "UNKNOWN_DELIVERABLE", f"文件路径中的材料类型“{deliverable_id}”无法识别，可选：{known}。", campaign.id
        )
    periods = periods_for(campaign, deliverable.id)
    if period not in periods:
        raise UploadKeyError(
            "UNKNOWN_PERIOD",
            f"{deliverable.name}没有“{period}”这一期，可报送的期次为：{'、'.join(periods)}。",
            campaign.id,
        )
    if stamped and file_name.rsplit(".", 1)[-1].lower() not in STAMPED_FORMATS:
        raise UploadKeyError(
            "STAMPED_NOT_PDF",
            f"盖章扫描件“{file_name}”应为 PDF 文件，请将盖章页扫描为 PDF 后重新上传。",
            campaign.id,
        )
    return UploadTarget(
        campaign=campaign, unit=unit, deliverable=deliverable, period=period, file_name=file_name, stamped=stamped
    )


@dataclass(frozen=True)
class RefusedKeyOwner:
    """The unit a refused key names, and the key it should have used: who hears about the refusal."""

    campaign: Campaign
    unit: Unit
    example_key: str


def refused_key_owner(registry: Registry, key: str) -> RefusedKeyOwner | None:
    """The known unit a refused key names (its campaign and unit segments resolve), or None.

    Only the campaign and unit segments have to be right: the rest is what the unit got wrong. The
    example keeps what was right (a known deliverable, the file name) and fills in a valid period.
    """
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != PREFIX:
        return None
    campaign = registry.campaign(parts[1])
    unit = campaign.unit(parts[2]) if campaign else None
    if campaign is None or unit is None:
        return None
    deliverable = campaign.deliverable(parts[3]) if len(parts) > 3 else None
    deliverable_id = deliverable.id if deliverable else next(iter(campaign.deliverables))
    periods = periods_for(campaign, deliverable_id)
    file_name = parts[-1] if len(parts) > 4 and parts[-1] and not unsafe_in_name(parts[-1]) else "文件名.xlsx"
    example = upload_key(campaign.id, unit.code, deliverable_id, periods[0] if periods else "2023-05", file_name)
    return RefusedKeyOwner(campaign, unit, example)
