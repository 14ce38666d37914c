"""对账销号: every problem a unit lists, followed from the month it is listed until the office closes it.

Pure rules, no storage (docs/problems.md). The data is built so that every operation is a function:

- A problem's state is a fold over its own **history** (append-only entries: one per accepted list
  version that lists it, one per office action). ``problem_from_history`` is that fold.
- ``reconcile`` applies one accepted list version (附件2 ``issue-list`` or 附件3 ``legacy-issue-list``)
  to the unit's problems: rows are matched to problems by the 问题编号 column (exact), else by the
  text of 问题表现 within the same aspect, else become new problems. Applying the version that is
  already current for its (deliverable, period) changes nothing; a new version of the same
  (deliverable, period) replaces the earlier one (its entries are taken out first, and the problems
  it created keep their ids when the new version lists them again).
- ``rollback`` (the office returns a version) takes that version's entries out and folds again: the
  same as never having applied it when it was the unit's latest list.
- ``close`` / ``reopen`` are office actions: one more history entry each.

Ids (``140981-2023-05-003``: unit code, first period, sequence within unit and period) come from a
per-(unit, period) counter that only grows, so an id is never given to another problem, even after
a rollback.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

from chalicelib.domain.progress import Progress, read_progress
from chalicelib.domain.tables.values import aspect_key, parse_date


class ProblemStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    LONG_TERM = "long-term"
    CLOSED = "closed"
    REOPENED = "reopened"


STATUS_LABELS: dict[ProblemStatus, str] = {
    ProblemStatus.OPEN: "整改中",
    ProblemStatus.DONE: "已完成",
    ProblemStatus.LONG_TERM: "长期坚持",
    ProblemStatus.CLOSED: "已销号",
    ProblemStatus.REOPENED: "问题反弹",
}
# Still to be worked on: what a vanished or late problem is judged by.
UNFINISHED = frozenset({ProblemStatus.OPEN, ProblemStatus.LONG_TERM, ProblemStatus.REOPENED})


class Flag(StrEnum):
    OVERDUE = "overdue"
    DROPPED = "dropped"


class Source(StrEnum):
    UPLOAD = "upload"
    OFFICE = "office"


class Action(StrEnum):
    LISTED = "listed"  # a list version lists the problem
    CLOSED = "closed"  # 销号
    REOPENED = "reopened"  # 问题反弹


class MatchKind(StrEnum):
    ID = "id"  # the row's 问题编号 names the problem
    TEXT = "text"  # 问题表现 is the same problem reworded (score >= MATCH_SURE, no substituted term)
    UNSURE = "unsure"  # perhaps the same problem: a new problem with ``possible_match``, for the office to judge
    NEW = "new"


ISSUE_LIST = "issue-list"
LEGACY_ISSUE_LIST = "legacy-issue-list"
PROBLEM_DELIVERABLES = (ISSUE_LIST, LEGACY_ISSUE_LIST)

# Thresholds on ``similarity`` (docs/problems.md: measured on tests/fixtures/problems/matching-pairs.json).
MATCH_SURE = 0.70
MATCH_UNSURE = 0.50
SUBSTITUTION_MIN_CHARS = 2

_ID = re.compile(r"(?P<unit>[0-9]{6})-(?P<period>[0-9]{4}-[0-9]{2}|[a-z]+)-(?P<seq>[0-9]{3,})")


class OfficeActionError(ValueError):
    """An office action that does not apply; ``message`` is the Chinese reason for the office."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class HistoryEntry:
    period: str  # the list's period (uploads); the problem's latest period (office actions)
    version: str | None  # the object version of the accepted list; None for an office action
    source: Source
    action: Action
    who: str
    when: str  # ISO 8601 time
    note: str = ""
    status: ProblemStatus | None = None  # the status after this entry (set by the fold)
    row: int | None = None
    deliverable: str | None = None
    match: MatchKind | None = None
    score: float | None = None
    reported: Progress | None = None  # what the row said about progress
    forced: bool = False  # 销号 of a problem the unit had not reported done
    fields: Mapping[str, Any] = field(default_factory=dict)  # the row as listed (uploads)

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "version": self.version,
            "source": str(self.source),
            "action": str(self.action),
            "who": self.who,
            "when": self.when,
            "note": self.note,
            "status": str(self.status) if self.status else None,
            "row": self.row,
            "deliverable": self.deliverable,
            "match": str(self.match) if self.match else None,
            "score": self.score,
            "reported": str(self.reported) if self.reported else None,
            "forced": self.forced,
            "fields": dict(self.fields),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryEntry:
        return cls(
            period=data["period"],
            version=data.get("version"),
            source=Source(data["source"]),
            action=Action(data["action"]),
            who=data.get("who", ""),
            when=data.get("when", ""),
            note=data.get("note", ""),
            status=ProblemStatus(data["status"]) if data.get("status") else None,
            row=data.get("row"),
            deliverable=data.get("deliverable"),
            match=MatchKind(data["match"]) if data.get("match") else None,
            score=data.get("score"),
            reported=Progress(data["reported"]) if data.get("reported") else None,
            forced=bool(data.get("forced", False)),
            fields=dict(data.get("fields") or {}),
        )


@dataclass(frozen=True)
class Problem:
    id: str
    unit: str
    deliverable: str
    status: ProblemStatus
    first_period: str
    last_period: str  # the latest period whose list lists it
    version: str  # the latest list version that lists it
    fields: Mapping[str, Any]  # the row as last listed (aspect, symptom, measure, deadline, …)
    history: tuple[HistoryEntry, ...]
    possible_match: str | None = None  # UNSURE: the problem this one may be a rewording of
    match_score: float | None = None

    @property
    def aspect(self) -> str:
        return str(self.fields.get("aspect") or "")

    @property
    def text(self) -> str:
        return str(self.fields.get("symptom") or "")

    @property
    def measure(self) -> str:
        return str(self.fields.get("measure") or "")

    @property
    def deadline(self) -> str:
        return str(self.fields.get("deadline") or "")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        """From ``as_json`` (a stored item): the state is folded again from the history, so it cannot disagree."""
        history = tuple(HistoryEntry.from_json(e) for e in data["history"])
        problem = problem_from_history(
            data["id"], data["unit"], data["deliverable"], history, data.get("possible_match")
        )
        if problem is None:
            raise ValueError(f"problem {data['id']} has no listing in its history")
        return problem

    def as_json(self, flags: Iterable[Flag] = ()) -> dict[str, Any]:
        """The office API's shape (issue 15): field names as the issue writes them."""
        return {
            "id": self.id,
            "unit": self.unit,
            "deliverable": self.deliverable,
            "aspect": self.aspect,
            "text": self.text,
            "measure": self.measure,
            "deadline": self.deadline,
            "status": str(self.status),
            "status_label": STATUS_LABELS[self.status],
            "flags": [str(f) for f in flags],
            "first_period": self.first_period,
            "last_period": self.last_period,
            "version": self.version,
            "possible_match": self.possible_match,
            "match_score": self.match_score,
            "history": [entry.as_json() for entry in self.history],
        }


@dataclass(frozen=True)
class UnitProblems:
    """Everything the rules need of one unit: its problems, its current list versions, its id counters."""

    unit: str
    problems: tuple[Problem, ...] = ()  # ordered by id
    current: Mapping[str, str] = field(default_factory=dict)  # "deliverable/period" -> current version
    sequences: Mapping[str, int] = field(default_factory=dict)  # period -> last sequence number given
    # "deliverable/period/version#row" -> the id that row had when its problem was removed (the version was
    # returned or replaced): applying that version again gives the row its id back, not a new one.
    retired: Mapping[str, str] = field(default_factory=dict)

    def problem(self, problem_id: str) -> Problem | None:
        return next((p for p in self.problems if p.id == problem_id), None)

    def latest_period(self, deliverable: str) -> str | None:
        periods = [key.split("/", 1)[1] for key in self.current if key.split("/", 1)[0] == deliverable]
        return max(periods, default=None)


@dataclass(frozen=True)
class AcceptedList:
    """One accepted list version: the normalised rows the checker kept (``chalicelib.domain.tables``)."""

    unit: str
    deliverable: str
    period: str
    version: str
    rows: Sequence[Mapping[str, Any]]
    accepted_at: str  # ISO 8601
    who: str = ""  # who uploaded (the unit, a portal link, an operator)


@dataclass(frozen=True)
class MatchDecision:
    row: int | None
    kind: MatchKind
    problem_id: str  # the problem the row now is
    candidate: str | None = None  # UNSURE: the problem it may be
    score: float | None = None
    quoted_id: str | None = None  # the 问题编号 the row carried, when it named no problem of this unit's list

    def as_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "kind": str(self.kind),
            "problem_id": self.problem_id,
            "candidate": self.candidate,
            "score": self.score,
            "quoted_id": self.quoted_id,
        }


@dataclass(frozen=True)
class Reconciliation:
    state: UnitProblems
    decisions: tuple[MatchDecision, ...]
    changed: tuple[str, ...]  # ids of problems created or changed: what the store writes
    removed: tuple[str, ...]  # ids of problems that no longer exist (created only by a replaced version)
    already_applied: bool = False


# ---------------------------------------------------------------------------------------------- ids


def problem_id(unit: str, period: str, seq: int) -> str:
    return f"{unit}-{period}-{seq:03d}"


def id_order(problem_id_: str) -> tuple[str, str, int]:
    """Ids in the order they were given: 140981-2023-05-999 before 140981-2023-05-1000."""
    unit, _, rest = problem_id_.partition("-")
    period, _, seq = rest.rpartition("-")
    return unit, period, int(seq) if seq.isdigit() else 0


def parse_problem_id(text: Any) -> str | None:
    """The id in a 问题编号 cell (spaces, full-width digits and dashes tolerated), or None."""
    if text is None:
        return None
    squashed = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).replace("—", "-").replace("–", "-")
    match = _ID.fullmatch(squashed.lower())
    return match.group(0) if match else None


# ---------------------------------------------------------------------------------------- similarity

# What clerks add or drop without changing the problem: filler words and progress remarks.
_STOP_PHRASES = ("存在", "问题", "现象", "情况", "个别", "部分", "一些")
_PROGRESS_REMARK = re.compile(
    r"立行立改|已完成|整改完成|已整改到位|整改到位|已整改|整改中|持续整改|持续推进|长期坚持|已办结|已销号"
)
_NOT_WORD = re.compile(r"[\W_]+")


def normalise_text(text: str) -> str:
    """问题表现 as compared: NFKC, lower case, no punctuation or spaces, no filler words or progress remarks."""
    squashed = _PROGRESS_REMARK.sub("", unicodedata.normalize("NFKC", text or ""))
    squashed = _NOT_WORD.sub("", squashed).lower()
    for phrase in _STOP_PHRASES:
        squashed = squashed.replace(phrase, "")
    return squashed


def _bigrams(text: str) -> frozenset[str]:
    if not text:
        return frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1)) or frozenset({text})


def _score(shared: int, size_a: int, size_b: int) -> float:
    return round((2 * shared / (size_a + size_b) + shared / min(size_a, size_b)) / 2, 4)


def similarity(a: str, b: str) -> float:
    """Mean of Dice and containment of the character bigrams of the normalised texts (0..1).

    Dice rewards the same wording; containment (shared / smaller set) keeps a shortened rewording
    (the clerk dropped the date or the place) close to its long form.
    """
    x, y = _text_grams(a)[1], _text_grams(b)[1]
    if not x or not y:
        return 0.0
    return _score(len(x & y), len(x), len(y))


def substituted(a: str, b: str) -> bool:
    """The two texts differ by a swapped term (超限运输 → 非法营运): same frame, different problem, perhaps.

    A run of at least two characters replaced by another run of at least two, in the alignment of the
    normalised texts. A rewording also does that (相差较大 → 差距大), so it only makes a match unsure.
    """
    x, y = normalise_text(a), normalise_text(b)
    opcodes = difflib.SequenceMatcher(None, x, y, autojunk=False).get_opcodes()
    return any(
        op == "replace" and i2 - i1 >= SUBSTITUTION_MIN_CHARS and j2 - j1 >= SUBSTITUTION_MIN_CHARS
        for op, i1, i2, j1, j2 in opcodes
    )


def judge(a: str, b: str) -> tuple[MatchKind, float]:
    """TEXT (the same problem), UNSURE or NEW, and the score."""
    score = similarity(a, b)
    if score >= MATCH_SURE and not substituted(a, b):
        return MatchKind.TEXT, score
    if score >= MATCH_UNSURE:
        return MatchKind.UNSURE, score
    return MatchKind.NEW, score


# ------------------------------------------------------------------------------------------ progress


def reported_progress(row: Mapping[str, Any]) -> Progress | None:
    """What the row says about progress: 整改进展 when it says something, else 完成情况 (2022 list),
    else 备注 (the fresher remark), else 完成时限 (立行立改（已完成）, 长期坚持)."""
    for column in ("progress", "status", "note", "deadline"):
        reading = read_progress(_text(row.get(column)))
        if reading is not None:
            return reading
    if row.get("long_term"):
        return Progress.LONG_TERM
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _status_after_listing(current: ProblemStatus | None, reported: Progress | None) -> ProblemStatus:
    if current is ProblemStatus.CLOSED:
        return current  # only the office reopens a closed problem
    if reported is Progress.DONE:
        return ProblemStatus.DONE
    if reported is Progress.LONG_TERM:
        return ProblemStatus.LONG_TERM
    if reported is None and current in (ProblemStatus.DONE, ProblemStatus.LONG_TERM, ProblemStatus.REOPENED):
        return current  # listed again without a word on progress: what the unit said before stands
    if current is ProblemStatus.REOPENED:
        return current
    return ProblemStatus.OPEN


# -------------------------------------------------------------------------------------------- fold


def problem_from_history(
    problem_id_: str, unit: str, deliverable: str, history: Sequence[HistoryEntry], possible_match: str | None = None
) -> Problem | None:
    """The fold: a problem's state from its entries in order; None when no list lists it any more."""
    status: ProblemStatus | None = None
    entries: list[HistoryEntry] = []
    listed = [e for e in history if e.action is Action.LISTED]
    if not listed:
        return None
    for entry in history:
        if entry.action is Action.LISTED:
            status = _status_after_listing(status, entry.reported)
        elif entry.action is Action.CLOSED:
            status = ProblemStatus.CLOSED
        elif entry.action is Action.REOPENED:
            status = ProblemStatus.REOPENED
        entries.append(replace(entry, status=status))
    latest = max(listed, key=lambda e: e.period)
    first = listed[0]
    assert status is not None
    return Problem(
        id=problem_id_,
        unit=unit,
        deliverable=deliverable,
        status=status,
        first_period=min(e.period for e in listed),
        last_period=latest.period,
        version=latest.version or "",
        fields=dict(latest.fields),
        history=tuple(entries),
        possible_match=possible_match,
        match_score=first.score if first.match is MatchKind.UNSURE else None,
    )


def _strip_version(
    problems: dict[str, Problem], deliverable: str, period: str, version: str
) -> tuple[dict[str, Problem], dict[str, Problem], set[str]]:
    """Take one version's entries out: (problems kept, problems no list lists any more, ids changed)."""
    kept: dict[str, Problem] = {}
    orphans: dict[str, Problem] = {}
    changed: set[str] = set()
    for pid, problem in problems.items():
        history = tuple(
            e
            for e in problem.history
            if not (
                e.source is Source.UPLOAD
                and e.version == version
                and e.period == period
                and (e.deliverable or problem.deliverable) == deliverable
            )
        )
        if len(history) == len(problem.history):
            kept[pid] = problem
            continue
        changed.add(pid)
        folded = problem_from_history(pid, problem.unit, problem.deliverable, history, problem.possible_match)
        if folded is None:
            orphans[pid] = replace(problem, history=history)
        else:
            kept[pid] = folded
    return kept, orphans, changed


def _key(deliverable: str, period: str) -> str:
    return f"{deliverable}/{period}"


def _row_key(key: str, version: str, row: Any) -> str:
    return f"{key}/{version}#{row}"


def _retired(problems: Mapping[str, Problem], removed: Iterable[str], key: str, version: str) -> dict[str, str]:
    """The rows of ``version`` whose problems are removed with it, and their ids (``UnitProblems.retired``)."""
    deliverable, period = key.split("/", 1)
    return {
        _row_key(key, version, e.row): pid
        for pid in removed
        for e in problems[pid].history
        if e.source is Source.UPLOAD
        and e.version == version
        and e.row is not None
        and e.period == period
        and (e.deliverable or problems[pid].deliverable) == deliverable
    }


# --------------------------------------------------------------------------------------- reconcile


def _row_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("row", "sheet")}


@lru_cache(maxsize=65536)
def _text_grams(text: str) -> tuple[str, frozenset[str]]:
    normal = normalise_text(text)
    return normal, _bigrams(normal)


def _match_texts(
    rows: Sequence[Mapping[str, Any]],
    assigned: dict[int, tuple[MatchKind, str, float | None]],
    pool: Mapping[str, Problem],
) -> dict[int, tuple[str, float]]:
    """Rows to problems of the same aspect by 问题表现: sure matches go into ``assigned``; returns the unsure ones.

    Deterministic: identical texts first, in row and id order; then every pair scoring at least
    MATCH_UNSURE, best first (ties: row order, then id). A list of a thousand rows meets a thousand
    problems, so identical texts are paired without scoring, only the problems sharing a bigram with
    a row are scored (an inverted index per aspect), and the alignment (``substituted``) is asked only
    of a pair that would otherwise be merged.
    """
    free = {pid: pool[pid] for pid in sorted(pool, key=id_order)}
    by_text: dict[tuple[str, str], list[str]] = {}
    for pid, problem in free.items():
        by_text.setdefault((aspect_key(problem.aspect), _text_grams(problem.text)[0]), []).append(pid)
    for index, row in enumerate(rows):
        if index in assigned:
            continue
        same = by_text.get((aspect_key(str(row.get("aspect") or "")), _text_grams(str(row.get("symptom") or ""))[0]))
        if same:
            pid = same.pop(0)
            assigned[index] = (MatchKind.TEXT, pid, 1.0)
            del free[pid]

    postings_by_aspect: dict[str, dict[str, list[str]]] = {}
    for pid, problem in free.items():
        postings = postings_by_aspect.setdefault(aspect_key(problem.aspect), {})
        for gram in _text_grams(problem.text)[1]:
            postings.setdefault(gram, []).append(pid)
    scored: list[tuple[float, int, str]] = []
    for index, row in enumerate(rows):
        candidates = postings_by_aspect.get(aspect_key(str(row.get("aspect") or "")))
        if index in assigned or not candidates:
            continue
        grams = _text_grams(str(row.get("symptom") or ""))[1]
        shared: dict[str, int] = {}
        for gram in grams:
            for pid in candidates.get(gram, ()):
                shared[pid] = shared.get(pid, 0) + 1
        for pid, count in shared.items():
            score = _score(count, len(grams), len(_text_grams(free[pid].text)[1]))
            if score >= MATCH_UNSURE:
                scored.append((score, index, pid))
    scored.sort(key=lambda s: (-s[0], s[1], id_order(s[2])))
    taken: set[str] = set()
    for score, index, pid in scored:
        if score < MATCH_SURE:
            break
        if index not in assigned and pid not in taken and not substituted(free[pid].text, str(rows[index]["symptom"])):
            assigned[index] = (MatchKind.TEXT, pid, score)
            taken.add(pid)
    unsure: dict[int, tuple[str, float]] = {}
    for score, index, pid in scored:
        if index not in assigned and index not in unsure and pid not in taken:
            unsure[index] = (pid, score)
    return unsure


def reconcile(state: UnitProblems, accepted: AcceptedList) -> Reconciliation:
    """Apply one accepted list version to the unit's problems (see the module docstring)."""
    key = _key(accepted.deliverable, accepted.period)
    if state.current.get(key) == accepted.version:
        return Reconciliation(state, (), (), (), already_applied=True)
    problems = {p.id: p for p in state.problems}
    orphans: dict[str, Problem] = {}
    changed: set[str] = set()
    previous = state.current.get(key)
    before = problems
    if previous is not None:
        problems, orphans, changed = _strip_version(problems, accepted.deliverable, accepted.period, previous)

    pool: dict[str, Problem] = {
        pid: p for pid, p in {**problems, **orphans}.items() if p.deliverable == accepted.deliverable
    }
    rows = list(accepted.rows)
    assigned: dict[int, tuple[MatchKind, str, float | None]] = {}  # row index -> (kind, problem id, score)
    quoted: dict[int, str] = {}
    taken: set[str] = set()

    for index, row in enumerate(rows):
        quoted_id = parse_problem_id(row.get("problem_id"))
        if quoted_id is None:
            continue
        if quoted_id in pool and quoted_id not in taken:
            assigned[index] = (MatchKind.ID, quoted_id, None)
            taken.add(quoted_id)
        else:
            quoted[index] = quoted_id

    unsure = _match_texts(rows, assigned, {pid: p for pid, p in pool.items() if pid not in taken})

    sequences = dict(state.sequences)
    decisions: list[MatchDecision] = []
    possible: dict[str, str] = {}
    for index, row in enumerate(rows):
        reported = reported_progress(row)
        if index in assigned:
            kind, pid, score = assigned[index]
        else:
            pid = state.retired.get(_row_key(key, accepted.version, row["row"]), "") if row.get("row") else ""
            if not pid or pid in problems or pid in pool:
                sequences[accepted.period] = sequences.get(accepted.period, 0) + 1
                pid = problem_id(accepted.unit, accepted.period, sequences[accepted.period])
            kind, score = MatchKind.NEW, None
            if index in unsure:
                kind = MatchKind.UNSURE
                possible[pid], score = unsure[index]
        entry = HistoryEntry(
            period=accepted.period,
            version=accepted.version,
            source=Source.UPLOAD,
            action=Action.LISTED,
            who=accepted.who,
            when=accepted.accepted_at,
            note=_listing_note(kind, possible.get(pid), pool.get(pid), reported),
            row=row.get("row"),
            deliverable=accepted.deliverable,
            match=kind,
            score=score,
            reported=reported,
            fields=_row_fields(row),
        )
        base = pool.get(pid)
        history = (*base.history, entry) if base else (entry,)
        folded = problem_from_history(
            pid, accepted.unit, accepted.deliverable, history, base.possible_match if base else possible.get(pid)
        )
        assert folded is not None
        problems[pid] = folded
        changed.add(pid)
        decisions.append(
            MatchDecision(
                row=row.get("row"),
                kind=kind,
                problem_id=pid,
                candidate=possible.get(pid) if kind is MatchKind.UNSURE else None,
                score=score,
                quoted_id=quoted.get(index),
            )
        )
    removed = tuple(sorted((pid for pid in orphans if pid not in problems), key=id_order))
    retired = {**state.retired, **_retired(before, removed, key, previous)} if previous else dict(state.retired)
    new_state = UnitProblems(
        unit=state.unit,
        problems=tuple(sorted(problems.values(), key=lambda p: id_order(p.id))),
        current={**state.current, key: accepted.version},
        sequences=sequences,
        retired=retired,
    )
    return Reconciliation(new_state, tuple(decisions), tuple(sorted(changed - set(removed), key=id_order)), removed)


def _listing_note(kind: MatchKind, candidate: str | None, before: Problem | None, reported: Progress | None) -> str:
    parts = []
    if kind is MatchKind.UNSURE:
        parts.append(f"问题表现与{candidate}相近，系统未合并，请核实是否为同一问题")
    if before is not None and before.status is ProblemStatus.CLOSED and reported is not Progress.DONE:
        parts.append("该问题已销号，本次清单仍列为未完成，请核实是否问题反弹")
    return "；".join(parts)


def rollback(state: UnitProblems, deliverable: str, period: str, version: str) -> Reconciliation:
    """The office returns a version: its entries are taken out and each problem folded again."""
    key = _key(deliverable, period)
    problems = {p.id: p for p in state.problems}
    kept, orphans, changed = _strip_version(problems, deliverable, period, version)
    current = {k: v for k, v in state.current.items() if not (k == key and v == version)}
    removed = tuple(sorted(orphans, key=id_order))
    new_state = UnitProblems(
        unit=state.unit,
        problems=tuple(sorted(kept.values(), key=lambda p: id_order(p.id))),
        current=current,
        sequences=dict(state.sequences),  # ids are never given to another problem
        retired={**state.retired, **_retired(problems, removed, key, version)},
    )
    return Reconciliation(new_state, (), tuple(sorted(changed - set(removed), key=id_order)), removed)


# ---------------------------------------------------------------------------------- office actions


def _with_entry(state: UnitProblems, problem: Problem, entry: HistoryEntry) -> UnitProblems:
    folded = problem_from_history(
        problem.id, problem.unit, problem.deliverable, (*problem.history, entry), problem.possible_match
    )
    assert folded is not None
    return replace(state, problems=tuple(folded if p.id == problem.id else p for p in state.problems))


def _find(state: UnitProblems, problem_id_: str) -> Problem:
    problem = state.problem(problem_id_)
    if problem is None:
        raise OfficeActionError("PROBLEM_NOT_FOUND", f"问题{problem_id_}不存在，请核对问题编号。")
    return problem


def close(
    state: UnitProblems, problem_id_: str, *, who: str, when: str, note: str, force: bool = False
) -> UnitProblems:
    """销号. A problem the unit has not reported done needs ``force``, and its history says so."""
    problem = _find(state, problem_id_)
    if problem.status is ProblemStatus.CLOSED:
        raise OfficeActionError("ALREADY_CLOSED", f"问题{problem.id}已销号，无需重复销号。")
    forced = problem.status is not ProblemStatus.DONE
    if forced and not force:
        label = STATUS_LABELS[problem.status]
        raise OfficeActionError(
            "NOT_REPORTED_DONE",
            f"问题{problem.id}单位尚未报告整改完成（当前：{label}）。确需销号的，请注明核查情况并选择强制销号。",
        )
    text = note.strip()
    if forced:
        forced_note = f"单位未报告整改完成，强制销号（原状态：{STATUS_LABELS[problem.status]}）"
        text = f"{forced_note}；{text}" if text else forced_note
    entry = HistoryEntry(
        period=problem.last_period,
        version=None,
        source=Source.OFFICE,
        action=Action.CLOSED,
        who=who,
        when=when,
        note=text,
        forced=forced,
    )
    return _with_entry(state, problem, entry)


def reopen(state: UnitProblems, problem_id_: str, *, who: str, when: str, note: str) -> UnitProblems:
    """问题反弹: a closed problem, or one the unit reported done, is open again."""
    problem = _find(state, problem_id_)
    if problem.status not in (ProblemStatus.CLOSED, ProblemStatus.DONE):
        label = STATUS_LABELS[problem.status]
        raise OfficeActionError(
            "NOT_REOPENABLE", f"问题{problem.id}当前为“{label}”，只有已销号或已完成的问题可以标记为问题反弹。"
        )
    entry = HistoryEntry(
        period=problem.last_period,
        version=None,
        source=Source.OFFICE,
        action=Action.REOPENED,
        who=who,
        when=when,
        note=note.strip(),
    )
    return _with_entry(state, problem, entry)


# ------------------------------------------------------------------------------------------- flags


def deadline_date(problem: Problem) -> date | None:
    """完成时限 as a date (the checker stores it ISO; a period's year reads 6月30日); None for 长期坚持."""
    if problem.fields.get("long_term"):
        return None
    if not problem.deadline:
        return None
    # The checker stores dates ISO; a year-less text (6月30日) belongs to the year of the list (the 2022
    # list's period is ``final``: then only a text with its own year is read).
    period_year = next((e.period[:4] for e in problem.history if e.period[:4].isdigit()), None)
    return parse_date(problem.deadline, int(period_year)) if period_year else _dated(problem.deadline)


def _dated(text: str) -> date | None:
    when = parse_date(text, 1)
    return when if when is not None and when.year > 1 else None


def flags(problem: Problem, state: UnitProblems, as_of: date) -> tuple[Flag, ...]:
    """overdue: past 完成时限, neither done nor closed (nor long-term); dropped: still unfinished, but the
    unit's latest list of that kind no longer lists it."""
    found: list[Flag] = []
    due = deadline_date(problem)
    if due is not None and due < as_of and problem.status in (ProblemStatus.OPEN, ProblemStatus.REOPENED):
        found.append(Flag.OVERDUE)
    latest = state.latest_period(problem.deliverable)
    if problem.status in UNFINISHED and latest is not None and problem.last_period < latest:
        found.append(Flag.DROPPED)
    return tuple(found)


def _empty_counts() -> dict[str, int]:
    return {**{str(s): 0 for s in ProblemStatus}, **{str(f): 0 for f in Flag}}


def counts(state: UnitProblems, as_of: date) -> dict[str, dict[str, int]]:
    """Per aspect: how many problems are open / done / long-term / closed / reopened / overdue / dropped,
    from the problems themselves (``aggregate_counts`` gives the same from the unit's aggregate)."""
    table: dict[str, dict[str, int]] = {}
    for problem in state.problems:
        row = table.setdefault(problem.aspect, _empty_counts())
        row[str(problem.status)] += 1
        for flag in flags(problem, state, as_of):
            row[str(flag)] += 1
    return table


def aggregate(state: UnitProblems) -> dict[str, Any]:
    """What the store keeps in the unit's aggregate item, rewritten with every change of the unit's problems,
    so the board's counts need no per-problem read: per aspect the status counts and the dropped count
    (neither depends on the date), and the 完成时限 of the problems that can become overdue, by date."""
    by_aspect: dict[str, dict[str, Any]] = {}
    for problem in state.problems:
        entry = by_aspect.setdefault(problem.aspect, {"counts": _empty_counts(), "due": {}})
        entry["counts"][str(problem.status)] += 1
        if Flag.DROPPED in flags(problem, state, date.min):
            entry["counts"][str(Flag.DROPPED)] += 1
        due = deadline_date(problem)
        if due is not None and problem.status in (ProblemStatus.OPEN, ProblemStatus.REOPENED):
            entry["due"][due.isoformat()] = entry["due"].get(due.isoformat(), 0) + 1
    # Issue 15's package check names the dropped problems: kept here so the board needs no problem read.
    dropped: dict[str, list[dict[str, str]]] = {}
    for problem in state.problems:
        if Flag.DROPPED in flags(problem, state, date.min):
            entry = {"id": problem.id, "text": problem.text, "last_period": problem.last_period}
            dropped.setdefault(problem.deliverable, []).append(entry)
    return {
        "unit": state.unit,
        "current": dict(state.current),
        "sequences": dict(state.sequences),
        "retired": dict(state.retired),
        "aspects": by_aspect,
        "dropped": dropped,
    }


def aggregate_counts(stored: Mapping[str, Any], as_of: date) -> dict[str, dict[str, int]]:
    """``counts`` from the aggregate item alone: overdue = problems whose 完成时限 is before ``as_of``."""
    table: dict[str, dict[str, int]] = {}
    for aspect, entry in stored["aspects"].items():
        row = dict(entry["counts"])
        row[str(Flag.OVERDUE)] = sum(int(n) for day, n in entry["due"].items() if date.fromisoformat(day) < as_of)
        table[aspect] = row
    return table
