"""The office console's pages, as server-rendered HTML. Every value from data goes through ``esc`` here.

No script at all: the pages are links and forms, so the Content-Security-Policy forbids scripts outright
(``script-src 'none'``). Charts are SVG drawn here (see ``bar_chart``): no JS library to vendor, nothing
loaded from elsewhere, they print, and they work on an intranet with no CDN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from chalicelib.http.portal_page import esc

OUTCOME_LABELS = {
    "on-time": "按时",
    "late": "逾期",
    "missing": "未报",
    "rejected": "未通过",
    "incomplete": "不完整",
}
OUTCOME_COLOURS = {
    "on-time": ("#11612e", "#dff3e5"),
    "late": ("#7a4a00", "#ffe2b3"),
    "missing": ("#fff", "#b22222"),
    "rejected": ("#fff", "#6b2c91"),
    "incomplete": ("#203a72", "#dbe5f7"),
}
STATUS_TEXT = {
    "accepted": "已通过",
    "rejected": "未通过",
    "received": "已接收",
    "received-for-review": "待人工审阅",
    "returned": "已退回",
}
NAV = (
    ("board", "报送看板", "/office"),
    ("refused", "被拒上传", "/office/refused"),
    ("ledger", "问题台账", "/office/ledger"),
    ("links", "上传链接", "/office/links"),
    ("charts", "统计图", "/office/charts"),
    ("reports", "月报与通报", "/office/reports"),
)

STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f5f7;color:#222}
nav{background:#8b1a1a;padding:0 16px;display:flex;flex-wrap:wrap;align-items:center}
nav a{color:#fff;text-decoration:none;padding:10px 12px;display:inline-block}
nav a.here{background:#b22222;font-weight:bold}nav .who{margin-left:auto;color:#fbdede}
nav form{display:inline;margin:0 0 0 10px}nav button{font-size:.9em}
main{max-width:1280px;margin:0 auto;padding:16px}
section{background:#fff;border-radius:6px;padding:12px 18px;margin-bottom:14px;overflow-x:auto}
h1{font-size:1.35em;margin:.3em 0}h2{font-size:1.1em;border-left:4px solid #b22;padding-left:8px}
table{border-collapse:collapse;font-size:.92em}
th,td{border:1px solid #ddd;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#fafafa}.muted{color:#666;font-size:.9em}
td.cell{text-align:center;white-space:nowrap;padding:0}td.cell a{display:block;padding:5px 7px;text-decoration:none}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px}
.flash{border:2px solid #b22;border-radius:6px;padding:8px 12px;background:#fff}
label{margin-right:12px}input,select,button{font-size:1em;margin:4px 0}
.qr svg{width:220px;height:220px}.url{word-break:break-all;font-family:monospace}
"""
STYLE += "".join(
    f".o-{key}{{color:{fg};background:{bg}}}td.o-{key} a{{color:{fg}}}" for key, (fg, bg) in OUTCOME_COLOURS.items()
)


def console_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'none'; style-src 'nonce-{nonce}'; img-src data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        ),
    }


def page(
    title: str,
    body: str,
    *,
    nonce: str,
    here: str = "",
    csrf: str = "",
    signed_in: bool = True,
    refresh_seconds: int | None = None,
) -> str:
    here_class = ' class="here"'
    links = "".join(f'<a href="{href}"{here_class if key == here else ""}>{label}</a>' for key, label, href in NAV)
    logout = (
        f'<span class="who">市局专项整治工作办公室</span><form method="post" action="/office/logout">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}"><button type="submit">退出</button></form>'
        if signed_in
        else ""
    )
    nav = f"<nav>{links if signed_in else ''}{logout}</nav>"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        # A page that waits (an export being built) reloads itself: no script, the CSP allows none.
        + (f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else "")
        + f'<title>{esc(title)}</title><style nonce="{esc(nonce)}">{STYLE}</style></head><body>'
        f"{nav}<main><h1>{esc(title)}</h1>{body}</main></body></html>"
    )


def login_body(csrf: str, message: str = "") -> str:
    flash = f'<p class="flash" id="flash">{esc(message)}</p>' if message else ""
    return (
        f'<section>{flash}<form method="post" action="/office/login">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<p><label for="token">办公室令牌</label><input id="token" name="token" type="password" size="40" '
        'autocomplete="current-password" required></p><p><button type="submit">登录</button></p></form>'
        '<p class="muted">令牌与调用办公室接口（Authorization: Bearer）所用的相同；登录后8小时内有效。</p></section>'
    )


def _query(**params: str) -> str:
    return urlencode({k: v for k, v in params.items() if v})


def board_body(board: Mapping[str, Any], units: Sequence[Mapping[str, str]]) -> str:
    as_of = board["as_of"]
    form = (
        '<section><form method="get" action="/office"><label>截至日期 '
        f'<input type="date" name="as_of" value="{esc(as_of)}"></label><button type="submit">查看</button></form>'
        '<p class="legend">'
        + "".join(f'<span class="o-{k}">{v}</span>' for k, v in OUTCOME_LABELS.items())
        + "</p></section>"
    )
    deadlines = board["deadlines"]
    if not deadlines:
        return form + "<section><p>截至该日期尚无到期的报送任务。</p></section>"
    head = "".join(
        f'<th title="{esc(d["due_at"])}">{esc(d["name"])}<br><span class="muted">{esc(d["period"])}</span></th>'
        for d in deadlines
    )
    rows = []
    for unit in units:
        cells = []
        for deadline in deadlines:
            entry = next((u for u in deadline["units"] if u["unit"]["code"] == unit["code"]), None)
            outcome = entry["outcome"] if entry else "missing"
            link = "/office/unit?" + _query(unit=unit["code"], as_of=as_of, deadline=deadline["id"])
            cells.append(
                f'<td class="cell o-{esc(outcome)}" data-deadline="{esc(deadline["id"])}">'
                f'<a href="{esc(link)}">{OUTCOME_LABELS.get(outcome, esc(outcome))}</a></td>'
            )
        unit_link = "/office/unit?" + _query(unit=unit["code"], as_of=as_of)
        name = f'<th><a href="{esc(unit_link)}">{esc(unit["name"])}</a></th>'
        rows.append(f'<tr data-unit="{esc(unit["code"])}">{name}{"".join(cells)}</tr>')
    counts = "".join(
        "<td>"
        + "<br>".join(f"{label} {d['counts'][k]}" for k, label in OUTCOME_LABELS.items() if d["counts"].get(k))
        + "</td>"
        for d in deadlines
    )
    table = (
        f'<section><table id="board"><thead><tr><th>填报单位</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
        f"<tfoot><tr><th>合计</th>{counts}</tr></tfoot></table></section>"
    )
    return form + table


def _findings(title: str, findings: Sequence[Mapping[str, Any]]) -> str:
    if not findings:
        return ""
    rows = "".join(
        f"<tr><td>{esc(f.get('row') or '')}</td><td>{esc(f.get('column') or f.get('section') or '')}</td>"
        f"<td>{esc(f.get('code', ''))}</td><td>{esc(f.get('message', ''))}</td></tr>"
        for f in findings
    )
    return f"<p><b>{title}</b></p><table><tr><th>行</th><th>列/部分</th><th>代码</th><th>说明</th></tr>{rows}</table>"


def decision_forms(unit_code: str, s: Mapping[str, Any], csrf: str) -> str:
    """The office's decisions on one version (issue 14): what was decided, and a form to accept or return it."""
    history = "".join(
        f"<li>{esc(d['at'])} {esc(d['by'])} <b>{'予以接收' if d['decision'] == 'accept' else '退回'}</b>"
        f"：{esc(d['note'])}"
        + (f"（经复核不影响接收的核验提示 {len(d['overridden'])} 项）" if d.get("overridden") else "")
        + "</li>"
        for d in s.get("decisions") or ()
    )
    shown = f'<ol class="decisions">{history}</ol>' if history else ""
    if s.get("kind") == "stamped-scan" or not csrf:
        return shown
    # Offer what would change something: accept what stands rejected or returned, return what stands accepted.
    action, label = ("return", "退回") if s["status"] in ("accepted", "received-for-review") else ("accept", "予以接收")
    return shown + (
        f'<form class="decision" method="post" action="/office/decision">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<input type="hidden" name="unit" value="{esc(unit_code)}">'
        f'<input type="hidden" name="version" value="{esc(s.get("version_id") or "")}">'
        f'<input type="hidden" name="decision" value="{action}">'
        f'<label>理由（将告知填报单位）<input name="note" required maxlength="500"></label>'
        f'<button type="submit">{label}</button></form>'
    )


def unit_body(
    unit_name: str,
    deadline_entries: Sequence[Mapping[str, Any]],
    submissions: Sequence[Mapping[str, Any]],
    csrf: str = "",
    unit_code: str = "",
) -> str:
    standing = ""
    if deadline_entries:
        rows = "".join(
            f"<tr><td>{esc(d['name'])}</td>"
            f'<td class="o-{esc(e["outcome"])}">{OUTCOME_LABELS.get(e["outcome"], "")}</td>'
            f"<td>{esc('、'.join(e.get('missing') or []))}</td></tr>"
            for d, e in ((x["deadline"], x["entry"]) for x in deadline_entries)
        )
        standing = (
            f"<section><h2>报送情况</h2><table><tr><th>任务</th><th>状态</th><th>缺少</th></tr>{rows}</table></section>"
        )
    items = []
    for s in submissions:
        download = "/office/download?" + _query(
            key=s["object_key"], version=s.get("version_id") or "", name=s["file_name"]
        )
        items.append(
            f'<section class="submission"><h2>{esc(s["deliverable"]["name"])} · {esc(s["period_label"])}'
            f"{'（盖章扫描件）' if s.get('kind') == 'stamped-scan' else ''}</h2>"
            f'<p>文件：<a class="download" href="{esc(download)}">{esc(s["file_name"])}</a>　'
            f"状态：<b>{esc(STATUS_TEXT.get(s['status'], s['status']))}</b>　"
            f"接收时间：{esc(s['received_at']['local'])}</p>"
            f'<p class="muted">版本 {esc(s.get("version_id") or "")} · SHA-256 {esc(s.get("sha256") or "")[:16]}…</p>'
            f"{_findings('错误', s.get('errors') or [])}{_findings('提示', s.get('warnings') or [])}"
            f"{decision_forms(unit_code, s, csrf)}</section>"
        )
    listing = "".join(items) or "<section><p>该单位尚未上传任何材料。</p></section>"
    return f'<p class="muted">{esc(unit_name)}</p>{standing}{listing}'


def refused_body(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return "<section><p>没有被拒绝的上传。</p></section>"
    rows = "".join(
        f'<tr><td>{esc(i.get("received_at", ""))}</td><td class="url">{esc(i.get("object_key", ""))}</td>'
        f"<td>{esc(i.get('code', ''))}</td><td>{esc(i.get('message', ''))}</td></tr>"
        for i in items
    )
    return (
        '<section><p class="muted">对象键未指向已知的专项活动、单位、材料或期次的上传；文件本身仍保留在存储桶中。</p>'
        '<table id="refused"><tr><th>接收时间（UTC）</th><th>对象键</th><th>代码</th><th>原因</th></tr>'
        f"{rows}</table></section>"
    )


LEDGER_COLUMNS = (
    ("problem_id", "问题编号"),
    ("problem_status_label", "整改状态"),
    ("seq", "序号"),
    ("aspect", "问题方面"),
    ("symptom", "问题表现"),
    ("measure", "整改措施"),
    ("deadline", "完成时限"),
    ("owner_unit", "责任单位"),
    ("contact", "联系人"),
)


def ledger_body(
    items: Sequence[Mapping[str, Any]],
    filters: Mapping[str, str],
    units: Sequence[Mapping[str, str]],
    periods: Sequence[str],
    actions: Sequence[str],
    csrf: str = "",
    next_cursor: str | None = None,
) -> str:
    def options(values: Sequence[tuple[str, str]], chosen: str) -> str:
        return "".join(
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(label)}</option>' for v, label in values
        )

    checked = " checked" if filters.get("overdue") else ""
    form = (
        '<section><form method="get" action="/office/ledger">'
        '<label>期次 <select name="period"><option value="">全部</option>'
        f"{options([(p, p) for p in periods], filters.get('period', ''))}</select></label>"
        '<label>单位 <select name="unit"><option value="">全部</option>'
        f"{options([(u['code'], u['name']) for u in units], filters.get('unit', ''))}</select></label>"
        f'<label>问题方面 <input name="aspect" value="{esc(filters.get("aspect", ""))}" size="10"></label>'
        f'<label><input type="checkbox" name="overdue" value="true"{checked}> 仅超期</label>'
        '<button type="submit">筛选</button></form>'
        f'<p><a href="/office/ledger.xlsx?{esc(_query(**{k: v for k, v in filters.items() if k != "cursor"}))}">'
        "导出台账（Excel，A4横向打印）</a>"
        ' · <a href="/office/ledger">按问题查看（对账销号）</a></p>'
        "</section>"
    )
    head = "".join(f"<th>{label}</th>" for _, label in LEDGER_COLUMNS) + ("<th>操作</th>" if actions else "")
    rows = "".join(
        f"<tr><td>{esc(i['unit']['name'])}</td><td>{esc(i.get('period', ''))}</td>"
        + "".join(f"<td>{esc(i.get(field) or '')}</td>" for field, _ in LEDGER_COLUMNS)
        + ledger_row_actions(i, actions, csrf)
        + "</tr>"
        for i in items
    )
    # The ledger comes a page of units at a time (issue 17): a province's is too big for one answer.
    more = (
        f'<p><a href="/office/ledger?{esc(_query(**{**filters, "cursor": next_cursor}))}">下一页（后续单位）</a></p>'
        if next_cursor
        else ""
    )
    shown = f"本页 {len(items)} 条" if next_cursor or filters.get("cursor") else f"共 {len(items)} 条"
    return (
        f'{form}<section><p>{shown}</p><table id="ledger"><tr><th>填报单位</th><th>期次</th>{head}</tr>'
        f"{rows}</table>{more}</section>"
    )


ACTION_LABELS = {"close": "销号", "reopen": "问题反弹"}
# Which problem statuses each office action applies to (``chalicelib.domain.problems.close`` / ``reopen``).
ACTION_APPLIES = {"close": ("open", "done", "long-term", "reopened"), "reopen": ("closed", "done")}


def ledger_row_actions(item: Mapping[str, Any], actions: Sequence[str], csrf: str = "") -> str:
    """One CSRF-protected form per action (``services.console.problem_ledger_actions``) that applies to the
    row's problem status; none for a row that is no problem (yet)."""
    if not actions:
        return ""
    problem_id = item.get("problem_id") or item.get("id")
    status = item.get("problem_status") or item.get("status")
    if not problem_id or not csrf:
        return "<td></td>"
    forms = []
    for action in actions:
        if status not in ACTION_APPLIES.get(action, ()):
            continue
        force = (
            '<label><input type="checkbox" name="force" value="true"> 单位未报完成，强制销号</label>'
            if action == "close" and status != "done"
            else ""
        )
        forms.append(
            f'<form method="post" action="/office/problems/{esc(action)}" class="action">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<input type="hidden" name="id" value="{esc(str(problem_id))}">'
            f'<input name="note" placeholder="核查说明" maxlength="500" size="12" required>{force}'
            f'<button type="submit">{esc(ACTION_LABELS.get(action, action))}</button></form>'
        )
    return "<td>" + "".join(forms) + "</td>"


PROBLEM_STATUS_LABELS = {
    "open": "整改中",
    "done": "已完成",
    "long-term": "长期坚持",
    "closed": "已销号",
    "reopened": "问题反弹",
}
FLAG_LABELS = {"overdue": "逾期未完成", "dropped": "漏报（上期列出、本期未列）"}


def problem_ledger_body(
    answer: Mapping[str, Any],
    filters: Mapping[str, str],
    units: Sequence[Mapping[str, str]],
    actions: Sequence[str],
    csrf: str,
    periods: Sequence[str],
    flash: str = "",
) -> str:
    """对账销号: one row per problem (id, status, flags, first and last listed), 销号 / 问题反弹 forms."""

    def options(values: Sequence[tuple[str, str]], chosen: str) -> str:
        return "".join(
            f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(label)}</option>' for v, label in values
        )

    form = (
        '<section><form method="get" action="/office/ledger">'
        '<label>单位 <select name="unit"><option value="">全部</option>'
        f"{options([(u['code'], u['name']) for u in units], filters.get('unit', ''))}</select></label>"
        f'<label>问题方面 <input name="aspect" value="{esc(filters.get("aspect", ""))}" size="10"></label>'
        '<label>状态 <select name="status"><option value="">全部</option>'
        f"{options(list(PROBLEM_STATUS_LABELS.items()), filters.get('status', ''))}</select></label>"
        '<label>标记 <select name="flag"><option value="">全部</option>'
        f"{options(list(FLAG_LABELS.items()), filters.get('flag', ''))}</select></label>"
        '<button type="submit">筛选</button></form>'
        "<p>按月查看各单位报送的清单行："
        + " ".join(f'<a href="/office/ledger?{esc(_query(period=p))}">{esc(p)}</a>' for p in periods)
        + "</p></section>"
    )
    head = (
        "<tr><th>问题编号</th><th>填报单位</th><th>问题方面</th><th>问题表现</th><th>完成时限</th><th>状态</th>"
        "<th>标记</th><th>列入期次</th><th>最近处理</th>" + ("<th>操作</th>" if actions else "") + "</tr>"
    )
    rows = []
    for item in answer["items"]:
        last = item["history"][-1] if item["history"] else {}
        handled = f"{last.get('who', '')} {str(last.get('when', ''))[:10]} {last.get('note', '')}".strip()
        flags = "、".join(FLAG_LABELS.get(f, f) for f in item["flags"])
        label = PROBLEM_STATUS_LABELS.get(item["status"], item["status"])
        rows.append(
            f"<tr><td>{esc(item['id'])}</td><td>{esc(item.get('unit_name', item['unit']))}</td>"
            f"<td>{esc(item['aspect'])}</td><td>{esc(item['text'])}</td><td>{esc(item['deadline'])}</td>"
            f'<td class="status-{esc(item["status"])}">{esc(label)}</td>'
            f"<td>{esc(flags)}</td><td>{esc(item['first_period'])}–{esc(item['last_period'])}</td>"
            f"<td>{esc(handled)}</td>" + ledger_row_actions(item, actions, csrf) + "</tr>"
        )
    more = ""
    if answer.get("next_cursor"):
        more = (
            f'<p><a href="/office/ledger?{esc(_query(**dict(filters), cursor=answer["next_cursor"]))}">下一页</a></p>'
        )
    notice = f'<p class="flash">{esc(flash)}</p>' if flash else ""
    return (
        f'{form}<section>{notice}<p>本页 {len(answer["items"])} 个问题</p><table id="problems">{head}{"".join(rows)}'
        f"</table>{more}</section>"
    )


def line_chart(title: str, months: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]]) -> str:
    """Counts over the months as inline SVG lines, one per series (label, colour, values), values printed."""
    width, height, left, top, bottom = 640, 240, 40, 20, 40
    peak = max((v for _, _, values in series for v in values), default=0) or 1
    step = (width - left - 20) / max(1, len(months) - 1)

    def xy(i: int, v: int) -> tuple[float, float]:
        return left + i * step, top + (height - top - bottom) * (1 - v / peak)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" width="{width}" '
        f'height="{height}" font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif" font-size="12">'
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="#888"/>'
    ]
    for i, month in enumerate(months):
        x, _ = xy(i, 0)
        parts.append(f'<text x="{x:.0f}" y="{height - bottom + 16}" text-anchor="middle">{esc(month)}</text>')
    for n, (label, colour, values) in enumerate(series):
        points = " ".join(f"{x:.0f},{y:.0f}" for x, y in (xy(i, v) for i, v in enumerate(values)))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{esc(colour)}" stroke-width="2"/>')
        for i, v in enumerate(values):
            x, y = xy(i, v)
            parts.append(f'<circle cx="{x:.0f}" cy="{y:.0f}" r="3" fill="{esc(colour)}"/>')
            parts.append(f'<text x="{x:.0f}" y="{y - 6:.0f}" text-anchor="middle">{v}</text>')
        parts.append(
            f'<rect x="{left + n * 120}" y="{height - 14}" width="10" height="10" fill="{esc(colour)}"/>'
            f'<text x="{left + n * 120 + 14}" y="{height - 5}">{esc(label)}</text>'
        )
    parts.append("</svg>")
    body = "".join(parts) if months else "<p>暂无数据。</p>"
    return f"<section><h2>{esc(title)}</h2>{body}</section>"


def links_body(
    csrf: str,
    units: Sequence[Mapping[str, str]],
    deliverables: Sequence[tuple[str, str]],
    issued: Mapping[str, Any] | None,
    qr_svg: str,
    message: str,
) -> str:
    unit_options = "".join(f'<option value="{esc(u["code"])}">{esc(u["name"])}</option>' for u in units)
    deliverable_options = "".join(f'<option value="{esc(i)}">{esc(n)}</option>' for i, n in deliverables)
    form = (
        '<section><form method="post" action="/office/links">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<label>填报单位 <select name="unit">{unit_options}</select></label>'
        f'<label>材料 <select name="deliverable">{deliverable_options}</select></label>'
        '<label>期次 <input name="period" value="2023-06" size="8"></label>'
        '<label>有效天数 <input name="valid_days" value="30" size="4"></label>'
        '<button type="submit">生成链接</button></form></section>'
    )
    flash = f'<section><p class="flash" id="flash">{esc(message)}</p></section>' if message else ""
    result = ""
    if issued:
        names = "、".join(d["name"] for d in issued["deliverables"])
        result = (
            f'<section id="issued"><h2>{esc(issued["unit"]["name"])} · {esc(names)} · {esc(issued["period"])}</h2>'
            f'<p class="url" id="link-url">{esc(issued["url"])}</p>'
            f"<p>有效期至 {esc(issued['expires_at']['local'])}。请将链接或二维码发送给该单位联系人。</p>"
            f'<div class="qr">{qr_svg}</div></section>'
        )
    return form + flash + result


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "", maximum: float | None = None) -> str:
    """A horizontal bar chart as inline SVG: one row per label, the value printed at the bar's end."""
    row_h, label_w, bar_w = 26, 260, 420
    top = maximum if maximum is not None else max((v for _, v in bars), default=0) or 1
    height = row_h * len(bars) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(title)}" width="{label_w + bar_w + 80}" '
        f'height="{height}" font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif" font-size="13">'
    ]
    for n, (label, value) in enumerate(bars):
        y = 5 + n * row_h
        width = 0 if top == 0 else round(bar_w * value / top)
        shown = f"{value:.0f}{unit}" if unit == "%" else f"{value:g}{unit}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{width}" height="{row_h - 8}" fill="#b22222"/>'
            f'<text x="{label_w + width + 6}" y="{y + 17}">{esc(shown)}</text>'
        )
    parts.append("</svg>")
    return f"<section><h2>{esc(title)}</h2>{''.join(parts) if bars else '<p>暂无数据。</p>'}</section>"


def reports_body(campaign_id: str) -> str:
    return (
        "<section><h2>工作月报（简报）</h2>"
        '<form method="get" action="/office/reports/monthly">'
        '<label>月份 <input name="period" value="2023-06" size="8"></label>'
        '<button type="submit">下载工作简报（.docx）</button></form>'
        '<form method="get" action="/office/reports/monthly.xlsx">'
        '<label>月份 <input name="period" value="2023-06" size="8"></label>'
        '<button type="submit">下载全市汇总清单（附件2，.xlsx）</button></form></section>'
        "<section><h2>通报（草稿）</h2>"
        '<form method="get" action="/office/reports/circular">'
        '<label>截至日期 <input type="date" name="as_of" value="2023-05-21"></label>'
        '<button type="submit">下载通报草稿（.docx）</button></form>'
        '<p class="muted">系统只生成草稿，不会发送；通报由办公室审定、签发。</p></section>'
    )


# --- issue 17: an export built by the worker ------------------------------------------------------------


def export_body(job: Mapping[str, Any]) -> str:
    """The progress of an export job: waiting (the page reloads itself), the download, or the failure."""
    status = job["status"]
    rows = job.get("rows") if job.get("rows") is not None else job.get("estimated_rows")
    if status == "done":
        return (
            f'<section><p id="export-status" data-status="done">台账已生成，共 {esc(str(rows))} 行。</p>'
            f'<p><a id="export-download" href="{esc(job["url"])}">下载 {esc(job.get("file_name") or "台账")}</a>'
            '<span class="muted">（链接15分钟内有效；过期请刷新本页）</span></p></section>'
        )
    if status == "failed":
        return (
            f'<section><p class="flash" id="export-status" data-status="failed">{esc(job.get("message") or "")}</p>'
            '<p><a href="/office/ledger">返回台账</a></p></section>'
        )
    label = "排队中" if status == "queued" else "正在生成"
    return (
        f'<section><p id="export-status" data-status="{esc(status)}">台账约 {esc(str(rows))} 行，{label}……</p>'
        '<p class="muted">本页每2秒自动刷新，生成完成后显示下载链接；可离开本页，稍后再打开此地址。</p></section>'
    )
