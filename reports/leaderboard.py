"""Leaderboards: the wide views (one row per model and task) that every table renderer draws.

FutureBench columns are 1-Hop, 2-Hop, 3-Hop, Interp. and AVG (micro accuracy over all questions, as in the paper;
not the mean of the four splits), plus n. TwiFF-Bench columns are CoT, Answer and Avg (judged samples, 0-5) plus
n judged / n failed, and a second board gives Avg per category (`meta_data.classification`) when the samples carry
one.

Every measured row carries its provenance (data, judge, subset, intervention; `reports.provenance`). Rows are
ranked only against comparable rows: the best value of a column is bold among measured rows of one group (the same
data, judge and subset, and the same n), and only where that group has at least two values to compare. Published
rows are never bold (they are context, not contenders), come after the measured rows and name their citation. An
invalid value (NaN, infinite or text in the results file) is shown as invalid and never bold. Measured rows are
ordered by group (first appearance), in input order within a group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from future_l1.reports.provenance import RowProvenance
from future_l1.reports.records import CATEGORY, FUTUREBENCH, MEASURED, OVERALL, PUBLISHED, TWIFFBENCH, Record

CATEGORY_BOARD = "twiffbench_categories"


@dataclass(frozen=True)
class Column:
    header: str
    split: str
    metric: str


@dataclass
class Cell:
    value: float | None = None
    ci: tuple[float, float] | None = None
    bold: bool = False
    invalid: str = ""  # why the results file's value is not a number


@dataclass
class Row:
    model: str
    task: str
    source: str  # "measured" | "published"
    origin: str  # run directory or citation
    run_id: str  # measured: the run's id; published: ""
    cells: list[Cell]
    extras: list[str]  # count columns, already formatted
    citation: int | None = None  # 1-based footnote number of a published row
    provenance: RowProvenance | None = None  # measured rows
    n: int | None = None  # documents behind the row (rows are ranked only against rows of the same n)
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> tuple:
        """Rows of one group (same provenance group and n) are ranked against each other; a row whose provenance
        has no group (unknown data, no fingerprint) is a group of its own."""
        group = (self.provenance or RowProvenance()).group
        return (group, self.n) if group is not None else ("alone", self.origin, self.task, self.model)


@dataclass
class Leaderboard:
    benchmark: str  # file stem: futurebench, twiffbench, twiffbench_categories
    title: str
    columns: list[Column]
    extra_headers: list[str]
    decimals: int
    rows: list[Row] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)

    @property
    def measured(self) -> list[Row]:
        return [r for r in self.rows if r.source == MEASURED]

    @property
    def published(self) -> list[Row]:
        return [r for r in self.rows if r.source != MEASURED]


FUTUREBENCH_COLUMNS = [
    Column("1-Hop", "hop1", "acc"),
    Column("2-Hop", "hop2", "acc"),
    Column("3-Hop", "hop3", "acc"),
    Column("Interp.", "interp", "acc"),
    Column("AVG", OVERALL, "acc"),
]
TWIFFBENCH_COLUMNS = [Column("CoT", OVERALL, "cot"), Column("Answer", OVERALL, "answer"), Column("Avg", OVERALL, "avg")]

Keyed = dict[tuple[str, str], Record]


def _value(by_key: Keyed, split: str, metric: str) -> float | None:
    rec = by_key.get((split, metric))
    return None if rec is None or rec.invalid else rec.value


def _fb_n(by_key: Keyed) -> int | None:
    overall = by_key.get((OVERALL, "acc"))
    return overall.count if overall else None


def _tw_n(by_key: Keyed) -> int | None:
    judged, failed = _value(by_key, OVERALL, "n_judged"), _value(by_key, OVERALL, "n_failed")
    return None if judged is None or failed is None else int(judged) + int(failed)


@dataclass(frozen=True)
class _Spec:
    benchmark: str
    title: str
    extra_headers: list[str]
    decimals: int
    extras: Callable[[Keyed], list[str]]
    n: Callable[[Keyed], int | None]


_SPECS = {
    FUTUREBENCH: _Spec(FUTUREBENCH, "FutureBench accuracy (%)", ["n"], 1, lambda k: [_count(_fb_n(k))], _fb_n),
    TWIFFBENCH: _Spec(
        TWIFFBENCH,
        "TwiFF-Bench judge score (0-5, judged samples)",
        ["n judged", "n failed"],
        2,
        lambda k: [_count(_value(k, OVERALL, m)) for m in ("n_judged", "n_failed")],
        _tw_n,
    ),
}


def build_leaderboards(records: Iterable[Record]) -> list[Leaderboard]:
    """One leaderboard per benchmark that has at least one record (FutureBench first, then TwiFF-Bench and its
    categories)."""
    records = list(records)
    boards = []
    fb = [r for r in records if r.benchmark == FUTUREBENCH and not r.split.startswith(CATEGORY)]
    if fb:
        boards.append(_build(_SPECS[FUTUREBENCH], FUTUREBENCH_COLUMNS, fb))
    tw = [r for r in records if r.benchmark == TWIFFBENCH and not r.split.startswith(CATEGORY)]
    if tw:
        boards.append(_build(_SPECS[TWIFFBENCH], TWIFFBENCH_COLUMNS, tw))
    by_category = [r for r in records if r.benchmark == TWIFFBENCH and r.split.startswith(CATEGORY)]
    if by_category:
        boards.append(_category_board(by_category, tw))
    return boards


def _category_board(records: list[Record], overall: list[Record]) -> Leaderboard:
    categories = sorted({r.split for r in records})
    columns = [Column(c.removeprefix(CATEGORY), c, "avg") for c in categories]
    totals = {(r.model, r.task, r.origin): r for r in overall if r.split == OVERALL and r.metric == "n_judged"}

    def extras(k: Keyed) -> list[str]:
        return [_count(k[(c, "avg")].count if (c, "avg") in k else None) for c in categories]

    def n(k: Keyed) -> int | None:  # the whole run's documents: categories of one run share them
        any_rec = next(iter(k.values()))
        total = totals.get((any_rec.model, any_rec.task, any_rec.origin))
        return total.count if total else None

    spec = _Spec(
        CATEGORY_BOARD, "TwiFF-Bench Avg by category (0-5, judged samples)", [f"n {c.header}" for c in columns], 2,
        extras, n,
    )  # fmt: skip
    return _build(spec, columns, records)


def _build(spec: _Spec, columns: list[Column], records: list[Record]) -> Leaderboard:
    board = Leaderboard(spec.benchmark, spec.title, columns, list(spec.extra_headers), spec.decimals)
    groups: dict[tuple[str, str, str, str], Keyed] = {}
    for r in sorted(records, key=lambda r: r.source != MEASURED):  # stable: measured first, order kept
        groups.setdefault((r.model, r.task, r.source, r.origin), {})[(r.split, r.metric)] = r
    for (model, task, source, origin), by_key in groups.items():
        # a measured TwiFF row whose every judgement failed has no score cells but must still show ("–", n failed)
        failed_only = source == MEASURED and (OVERALL, "n_failed") in by_key
        if not any((c.split, c.metric) in by_key for c in columns) and not failed_only:
            continue
        cells = []
        for c in columns:
            rec = by_key.get((c.split, c.metric))
            ci = (rec.ci_low, rec.ci_high) if rec and rec.ci_low is not None and rec.ci_high is not None else None
            if rec is not None and rec.invalid:
                cells.append(Cell(None, None, invalid=rec.invalid))
            else:
                cells.append(Cell(rec.value if rec else None, ci))
        any_rec = next(iter(by_key.values()))
        citation = None
        if source == PUBLISHED:
            if origin not in board.citations:
                board.citations.append(origin)
            citation = board.citations.index(origin) + 1
        measured = source == MEASURED
        board.rows.append(
            Row(
                model,
                task if measured else "paper",
                source,
                origin,
                any_rec.meta.get("run_id", "") if measured else "",
                cells,
                spec.extras(by_key),
                citation,
                provenance=(any_rec.provenance or RowProvenance()) if measured else None,
                n=spec.n(by_key) if measured else None,
                meta=dict(any_rec.meta),
            )
        )
    first_seen: dict[tuple, int] = {}
    for row in board.measured:
        first_seen.setdefault(row.group, len(first_seen))
    board.rows = sorted(board.measured, key=lambda r: first_seen[r.group]) + board.published
    _mark_best(board)
    return board


def _mark_best(board: Leaderboard) -> None:
    """Bold the best value of each column within each group of comparable measured rows (same provenance group and
    n), rounded as displayed so that visible ties are all bold; a group with fewer than two values bolds nothing."""
    groups: dict[tuple, list[Row]] = {}
    for row in board.measured:
        groups.setdefault(row.group, []).append(row)
    for rows in groups.values():
        for i in range(len(board.columns)):
            shown = [
                (round(r.cells[i].value, board.decimals), r.cells[i]) for r in rows if r.cells[i].value is not None
            ]
            if len(shown) < 2:
                continue
            best = max(v for v, _ in shown)
            for v, cell in shown:
                cell.bold = v == best


def _count(x: float | None) -> str:
    return "" if x is None else str(int(x))
