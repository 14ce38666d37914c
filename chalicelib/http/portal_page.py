"""The county's upload page, as HTML: what is due, what was delivered and how it fared, and a file picker.

Everything shown is escaped here, once; the page's script only moves text and server-rendered HTML around
(it builds no markup from data). No external assets: county networks often block CDNs, and a page that
loads nothing else cannot leak the link (which is the credential) to anyone else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from chalicelib.domain.decisions import DECISION_WORDS
from chalicelib.domain.receipts import STATUS_LABELS
from chalicelib.domain.timeutil import cn_date


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def size_text(size: object) -> str:
    if not isinstance(size, int):
        return ""
    if size < 1024:
        return f"{size} 字节"
    return f"{size / 1024:.1f} KB" if size < 1048576 else f"{size / 1048576:.1f} MB"


def local_time_text(value: datetime) -> str:
    """2023-05-20 23:59 as 2023年5月20日 23:59 (``timeutil.cn_date``), in the zone the value carries."""
    return f"{cn_date(value.date())} {value:%H:%M}"


@dataclass(frozen=True)
class DeliverableView:
    id: str
    name: str
    formats: tuple[str, ...]
    due_at: datetime | None  # in the campaign's zone
    due_status: str | None  # e.g. 未到期 / 已截止
    current_version: str | None
    submissions: Sequence[Mapping[str, Any]] = ()  # ``queries.submission_json`` items, newest first


@dataclass(frozen=True)
class PortalView:
    token: str
    campaign_name: str
    office_name: str
    office_contact: str  # "联系人 电话" or the office's email
    unit_name: str
    period_label: str
    expires_at: datetime  # in the campaign's zone
    max_bytes: int
    deliverables: Sequence[DeliverableView]
    nonce: str
    notes: Sequence[str] = field(default_factory=tuple)


STYLE = """
body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;background:#f4f5f7;color:#222}
main{max-width:860px;margin:0 auto;padding:16px}
header,section,footer{background:#fff;border-radius:6px;padding:12px 18px;margin-bottom:14px}
h1{font-size:1.35em;margin:.3em 0}h2{font-size:1.1em;border-left:4px solid #b22;padding-left:8px}
table{border-collapse:collapse;width:100%;font-size:.95em}
th,td{border:1px solid #ddd;padding:6px;text-align:left;vertical-align:top}
th{background:#fafafa}.muted{color:#666;font-size:.9em}
.submission{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0}
.status{font-weight:bold;padding:1px 6px;border-radius:4px}
.status-accepted{color:#11612e;background:#e3f4e8}.status-rejected{color:#a11;background:#fbe6e6}
.status-received-for-review,.status-received{color:#7a5200;background:#fff3d6}
.current{color:#fff;background:#11612e;border-radius:4px;padding:1px 6px;margin-left:6px;font-size:.85em}
.errors th{background:#fbe6e6}.warnings th{background:#fff3d6}
#progress{margin:10px 0;font-weight:bold}#progress.error{color:#a11}#progress.ok{color:#11612e}
#outcome:empty{display:none}#outcome{border:2px solid #b22;border-radius:6px;padding:4px 10px}
#outcome.ok{border-color:#11612e;background:#f3fbf5}
button{font-size:1em;padding:6px 18px}select{font-size:1em;margin:6px 0;max-width:100%}
.picker{margin:8px 0;display:flex;flex-wrap:wrap;align-items:center;gap:8px}
.pick{display:inline-block;border:1px solid #888;border-radius:4px;padding:6px 14px;background:#fafafa;cursor:pointer}
.hidden-input{position:absolute;width:1px;height:1px;opacity:0;overflow:hidden}
#file-name{overflow-wrap:anywhere}
td,th,.submission{overflow-wrap:anywhere}
@media (max-width:600px){
main{padding:8px}header,section,footer{padding:10px 12px}
#due table,#due tbody,#due tr,#due td{display:block;width:auto}#due tr:first-child{display:none}
#due tr{border:1px solid #ddd;border-radius:6px;margin:8px 0;padding:4px 8px}
#due td{border:0;padding:3px 0}#due td::before{content:attr(data-label) "：";color:#666}
}
"""


def _findings_table(kind: str, title: str, findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return ""
    rows = []
    for f in findings:
        where = []
        if f.get("sheet"):
            where.append(f"工作表“{f['sheet']}”")
        if f.get("row") is not None:
            where.append(f"第{f['row']}行")
        if f.get("column"):
            where.append(f"【{f['column']}】")
        if f.get("section"):
            where.append(f"“{f['section']}”部分")
        rows.append(
            f'<tr data-code="{esc(f.get("code", ""))}"><td>{esc(" ".join(where) or "整个文件")}</td>'
            f"<td>{esc(f.get('message', ''))}</td></tr>"
        )
    return (
        f'<table class="{kind}"><caption class="muted">{esc(title)}（{len(findings)}条）</caption>'
        f"<tr><th>位置</th><th>说明</th></tr>{''.join(rows)}</table>"
    )


def _received_text(item: Mapping[str, Any]) -> str:
    local = (item.get("received_at") or {}).get("local")
    try:
        return local_time_text(datetime.fromisoformat(local)) if local else ""
    except ValueError:
        return str(local)


def render_submission(item: Mapping[str, Any], current_version: str | None) -> str:
    status = str(item.get("status", ""))
    current = '<span class="current">现行有效版本</span>' if item.get("version_id") == current_version else ""
    if item.get("kind") == "stamped-scan":  # filed beside the deliverable, never its version (issue 14)
        current = '<span class="stamped">盖章扫描件</span>'
    decided = "".join(
        f'<div class="decision">市专项办复核：{esc(DECISION_WORDS.get(d.get("decision", ""), ""))}'
        f"（{esc(d.get('note', ''))}）</div>"
        for d in item.get("decisions") or ()
    )
    return (
        f'<article class="submission" id="v-{esc(item.get("version_id", ""))}" data-status="{esc(status)}">'
        f"<div><strong>{esc(item.get('file_name', ''))}</strong>{current}</div>"
        f'<div class="muted">上传时间 {esc(_received_text(item))} · 大小 {esc(size_text(item.get("size")))}'
        + (f' · <span class="rows">共{int(item["rows"])}条</span>' if item.get("rows") is not None else "")
        + "</div>"
        f'<div>核验结果：<span class="status status-{esc(status)}">'
        f"{esc(STATUS_LABELS.get(status, status))}</span></div>"
        + decided
        + _findings_table("errors", "须修改的问题", item.get("errors") or ())
        + _findings_table("warnings", "提示（不影响通过）", item.get("warnings") or ())
        + "</article>"
    )


def _due_rows(view: PortalView) -> str:
    rows = []
    for d in view.deliverables:
        due = local_time_text(d.due_at) if d.due_at else "—"
        formats = "、".join(f".{ext}" for ext in d.formats)
        rows.append(
            f'<tr><td data-label="材料">{esc(d.name)}</td><td data-label="期次">{esc(view.period_label)}</td>'
            f'<td data-label="截止时间">{esc(due)}</td><td data-label="状态">{esc(d.due_status or "—")}</td>'
            f'<td data-label="接受格式">{esc(formats)}</td></tr>'
        )
    return "".join(rows)


def render_history(view: PortalView) -> str:
    """The submissions part of the page; also served alone, for the page to refresh after an upload."""
    parts = []
    for d in view.deliverables:
        if d.submissions:
            body = "".join(render_submission(item, d.current_version) for item in d.submissions)
        else:
            body = '<p class="muted">尚未上传。</p>'
        parts.append(f"<h3>{esc(d.name)}</h3>{body}")
    return "".join(parts)


def _picker(view: PortalView) -> str:
    if len(view.deliverables) > 1:
        options = "".join(f'<option value="{esc(d.id)}">{esc(d.name)}</option>' for d in view.deliverables)
        choose = f'<label>材料类型：<select id="deliverable" name="deliverable">{options}</select></label><br>'
    else:
        choose = ""
    formats = sorted({"pdf", *(ext for d in view.deliverables for ext in d.formats)})  # pdf: a stamped scan
    accept = ",".join(f".{ext}" for ext in formats)
    return (
        f'<form id="upload-form">{choose}'
        # Our own Chinese label over a hidden input: browsers otherwise say "Choose File / No file chosen".
        '<div class="picker"><label for="file" class="pick" id="pick">选择文件</label>'
        f'<input type="file" id="file" name="file" accept="{esc(accept)}" class="hidden-input">'
        '<span id="file-name" class="muted">尚未选择文件</span></div>'
        # A stamped scan (盖章扫描件, PDF) goes beside the material, never replacing it (issue 14).
        '<label><input type="checkbox" id="stamped" name="stamped"> '
        "这是盖章扫描件（PDF），与上传的材料一并存档</label><br>"
        '<button type="submit" id="upload-button">上传</button></form>'
        f'<p class="muted">单个文件不超过 {view.max_bytes / 1048576:.0f} MB。同一材料可多次上传，每次都会留存并核验，'
        "以最后一次通过核验的文件为准。上传后本页会显示核验结果，同时发送回执邮件。</p>"
        '<div id="progress" role="status" aria-live="polite"></div><div id="outcome"></div>'
    )


SCRIPT = """
(function () {
  var root = document.getElementById("portal");
  var token = root.getAttribute("data-token");
  var maxBytes = Number(root.getAttribute("data-max-bytes"));
  var form = document.getElementById("upload-form");
  var input = document.getElementById("file");
  var choice = document.getElementById("deliverable");
  var button = document.getElementById("upload-button");
  var progress = document.getElementById("progress");
  var outcome = document.getElementById("outcome");
  function say(text, kind) { progress.textContent = text; progress.className = kind || ""; }
  var fileName = document.getElementById("file-name");
  input.addEventListener("change", function () {
    fileName.textContent = input.files && input.files[0] ? input.files[0].name : "尚未选择文件";
  });
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  // Relative to /u/{token}: works under an API stage prefix (/api/u/...) as well as at the root.
  function here(suffix) { return encodeURIComponent(token) + suffix; }
  async function submissions() {
    var r = await fetch(here("/submissions"), {cache: "no-store", credentials: "omit"});
    var body = await r.json();
    if (!r.ok) { throw new Error(body.Message || ("HTTP " + r.status)); }
    return body.items;
  }
  async function waitFor(key, before) {
    var until = Date.now() + 120000;
    // The verdict is recorded well under a second after the upload (docs/performance.md, province): look
    // often at first, then back off to twice a second so a slow check does not flood the API.
    var delay = 150;
    while (Date.now() < until) {
      await sleep(delay);
      delay = Math.min(500, Math.round(delay * 1.4));
      var found = (await submissions()).filter(function (s) {
        return s.object_key === key && !before.has(s.version_id);
      });
      if (found.length) { return found[0]; }
    }
    return null;
  }
  async function show(found) {
    // The server renders submissions (escaped once, in one place); take its rendering of this one.
    var r = await fetch(here("/history"), {cache: "no-store", credentials: "omit"});
    if (r.ok) { document.getElementById("history").innerHTML = await r.text(); }
    var block = document.getElementById("v-" + found.version_id);
    outcome.textContent = "";
    outcome.className = found.status === "rejected" ? "" : "ok";  // success in green, a rejection in red
    if (block) { var copy = block.cloneNode(true); copy.removeAttribute("id"); outcome.appendChild(copy); }
    if (found.status === "accepted") { say("上传成功，已通过核验。", "ok"); }
    else if (found.status === "rejected") { say("文件已收到，但未通过核验：请按下列问题修改后重新上传。", "error"); }
    else { say("文件已收到，待市局人工审阅。", "ok"); }
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var file = input.files && input.files[0];
    if (!file) { say("请先选择文件。", "error"); return; }
    if (file.size > maxBytes) {
      say("文件超过 " + Math.round(maxBytes / 1048576) + " MB 上限，请删除多余的图片或工作表后再上传。", "error");
      return;
    }
    button.disabled = true;
    outcome.textContent = "";
    try {
      var before = new Set((await submissions()).map(function (s) { return s.version_id; }));
      say("正在准备上传……");
      var request = {file_name: file.name, size: file.size};
      if (choice) { request.deliverable = choice.value; }
      var stamped = document.getElementById("stamped");
      if (stamped && stamped.checked) { request.stamped = true; }
      var pr = await fetch(here("/presign"), {
        method: "POST", credentials: "omit",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(request)
      });
      var plan = await pr.json();
      if (!pr.ok) { say(plan.Message || "无法上传，请稍后重试。", "error"); return; }
      var data = new FormData();
      Object.keys(plan.fields).forEach(function (k) { data.append(k, plan.fields[k]); });
      data.append("file", file, file.name);  // S3 wants the file last
      say("正在上传“" + file.name + "”……");
      var up = await fetch(plan.url, {method: "POST", body: data, credentials: "omit", referrerPolicy: "no-referrer"});
      if (!up.ok) { say("上传未成功（" + up.status + "），请稍后重试；如反复失败请联系市局。", "error"); return; }
      say("已上传，正在核验，请稍候……");
      var found = await waitFor(plan.key, before);
      if (!found) { say("文件已上传，核验结果稍后会以邮件发送，也可稍后刷新本页查看。", "ok"); return; }
      await show(found);
    } catch (err) {
      say("网络异常，请稍后重试（" + err.message + "）。", "error");
    } finally {
      button.disabled = false;
    }
  });
})();
"""


def _worksheet_link(view: PortalView) -> str:
    """Issue 15: the unit's pre-filled list (its problems with 问题编号), when the link takes the issue list."""
    if all(d.id != "issue-list" for d in view.deliverables):
        return ""
    href = f"{quote(view.token, safe='')}/worksheet"
    return (
        f'<p id="worksheet"><a href="{esc(href)}" download>下载预填的{esc(view.period_label)}问题清单</a>'
        "（已列出本单位尚未销号的问题及其问题编号：请在原表上更新“整改进展”等内容，不要改动问题编号，"
        "新问题填在下方空行，然后上传本表）</p>"
    )


def render_portal(view: PortalView) -> str:
    notes = "".join(f"<p>{esc(n)}</p>" for n in view.notes)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex,nofollow">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(view.unit_name)} · 材料报送</title>"
        f'<style nonce="{esc(view.nonce)}">{STYLE}</style></head><body>'
        f'<main id="portal" data-token="{esc(view.token)}" data-max-bytes="{view.max_bytes}">'
        f'<header><div class="muted">{esc(view.campaign_name)}</div>'
        f'<h1 id="unit">{esc(view.unit_name)} · {esc(view.period_label)}材料报送</h1>{notes}</header>'
        '<section id="due"><h2>本次应报送</h2><table><tr><th>材料</th><th>期次</th><th>截止时间</th><th>状态</th>'
        f"<th>接受格式</th></tr>{_due_rows(view)}</table>{_worksheet_link(view)}</section>"
        f'<section id="upload"><h2>上传文件</h2>{_picker(view)}</section>'
        f'<section><h2>已报送记录</h2><div id="history">{render_history(view)}</div></section>'
        f'<footer class="muted">本链接仅供{esc(view.unit_name)}报送上述材料使用，请勿转发；'
        f"有效期至 {esc(local_time_text(view.expires_at))}。"
        f"如有疑问请联系{esc(view.office_name)}（{esc(view.office_contact)}）。</footer>"
        f'</main><script nonce="{esc(view.nonce)}">{SCRIPT}</script></body></html>'
    )


def render_message(title: str, message: str, *, detail: str = "", contact: str = "", nonce: str = "") -> str:
    """A plain page for links that cannot be used: what happened and what to do, nothing technical."""
    extra = f"<p>{esc(detail)}</p>" if detail else ""
    who = f'<p class="muted">如有疑问请联系{esc(contact)}。</p>' if contact else ""
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex,nofollow">'
        '<link rel="icon" href="data:,">'
        f'<title>{esc(title)}</title><style nonce="{esc(nonce)}">{STYLE}</style></head><body><main>'
        f'<section><h1 id="title">{esc(title)}</h1><p id="message">{esc(message)}</p>{extra}{who}</section>'
        "</main></body></html>"
    )


def page_headers(nonce: str, upload_origin: str | None = None) -> dict[str, str | list[str]]:
    """Headers of every portal page: the link is the credential, so it must not leak via Referer or caches."""
    connect = "'self'" + (f" {upload_origin}" if upload_origin else "")
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            f"connect-src {connect}; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        ),
    }


def json_headers() -> dict[str, str | list[str]]:
    return {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"}


def json_body(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)
