"""Checks on the raw bytes before any parser sees them.

An .xlsx is a zip: a few kilobytes can inflate to gigabytes, so the zip directory is read
(``infolist``, nothing extracted) and refused when it is too big, too many-membered or
compressed absurdly well. Password-protected Office files are OLE2 containers holding an
``EncryptedPackage`` stream whatever their extension; no parser can read them, so say so.
The sizes in a zip directory can lie; they are a first gate, the row cap in the reader is the second.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from chalicelib.domain.findings import Finding

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
MAX_RATIO = 200  # real xlsx parts stay well below 100:1; zip bombs are at 1000:1 and more
RATIO_FLOOR_BYTES = 1024 * 1024  # tiny parts compress absurdly well without harm

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTED_MARKERS = ("EncryptedPackage".encode("utf-16-le"), b"EncryptedPackage")


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = MAX_FILE_BYTES
    max_uncompressed_bytes: int = MAX_UNCOMPRESSED_BYTES
    max_zip_entries: int = MAX_ZIP_ENTRIES
    max_ratio: int = MAX_RATIO


def is_encrypted_ooxml(data: bytes) -> bool:
    # OLE2 directory entry names are UTF-16LE; look for both spellings to be safe.
    return data.startswith(OLE2_MAGIC) and any(marker in data for marker in _ENCRYPTED_MARKERS)


@dataclass(frozen=True)
class _Format:
    """How to tell the user to fix the file, in the program they made it with."""

    programs: str  # where the file is opened
    save_as: str  # the extension to save as
    protect_path: str  # where the password is removed


_WORD = _Format("Word 或 WPS", ".docx", "文件→信息→保护文档→用密码进行加密")
_EXCEL = _Format("Excel 或 WPS", ".xlsx", "文件→信息→保护工作簿→用密码进行加密")


def _format_of(file_name: str) -> _Format:
    return _WORD if file_name.lower().endswith((".docx", ".doc", ".wps")) else _EXCEL


def check_container(data: bytes, file_name: str, limits: Limits = Limits()) -> list[Finding]:
    """Errors that forbid parsing at all; an empty list means the bytes may go to a reader.

    The same gate serves workbooks and Word documents (both are zips); the advice names the program
    and format the file's extension says the user works with."""
    fmt = _format_of(file_name)
    if not data:
        return [Finding("EMPTY_FILE", f"文件“{file_name}”是空文件（0字节），请检查后重新上传。")]
    if len(data) > limits.max_file_bytes:
        mb = limits.max_file_bytes // (1024 * 1024)
        return [Finding("FILE_TOO_LARGE", f"文件“{file_name}”超过{mb}MB，请删除无关内容（如图片）后重新上传。")]
    if is_encrypted_ooxml(data):
        return [
            Finding(
                "FILE_ENCRYPTED",
                f"文件“{file_name}”设置了打开密码，系统无法读取。请在 {fmt.programs} 中取消密码"
                f"（{fmt.protect_path}，清空密码）后另存为 {fmt.save_as} 重新上传。",
            )
        ]
    if not data.startswith(ZIP_MAGIC):
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except Exception:
        damaged = f"文件“{file_name}”已损坏或不完整，无法打开，请重新保存为 {fmt.save_as} 后上传。"
        return [Finding("UNREADABLE_FILE", damaged)]
    if len(entries) > limits.max_zip_entries:
        crowded = f"文件“{file_name}”内部结构异常（部件过多），请另存为新的 {fmt.save_as} 后上传。"
        return [Finding("FILE_TOO_COMPLEX", crowded)]
    total = sum(entry.file_size for entry in entries)
    if total > limits.max_uncompressed_bytes:
        return [
            Finding("FILE_TOO_LARGE", f"文件“{file_name}”解压后超过100MB，请删除无关内容（如图片、空白行）后重新上传。")
        ]
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            return [
                Finding(
                    "FILE_TOO_COMPLEX",
                    f"文件“{file_name}”压缩比异常，疑似非正常文件，请另存为新的 {fmt.save_as} 后上传。",
                )
            ]
    return []
