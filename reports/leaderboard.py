"""Leaderboards: the wide views (one row per model and task) that every table renderer draws.

FutureBench columns are 1-Hop, 2-Hop, 3-Hop, Interp. and AVG (micro accuracy over all questions, as in the paper;
not the mean of the four splits), plus n. TwiFF-Bench columns are CoT, Answer and Avg (judged samples, 0-5) plus
n judged / n failed. Measured rows come first in input order, then published rows in the paper's order; the best
measured value of each column is bold (published rows never are: they are context, not contenders) and every
published row names its citation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from future_l1.reports.records import FUTUREBENCH, MEASURED, OVERALL, PUBLISHED, TWIFFBENCH, Record


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


@dataclass
class Leaderboard:
    benchmark: str
    title: str
    columns: list[Column]
    extra_headers: list[str]
    decimals: int
    rows: list[Row] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)


FUTUREBENCH_COLUMNS = [
    Column("1-Hop", "hop1", "acc"),
    Column("2-Hop", "hop2", "acc"),
    Column("3-Hop", "hop3", "acc"),
    Column("Interp.", "interp", "acc"),
    Column("AVG", OVERALL, "acc"),
]
TWIFFBENCH_COLUMNS = [Column("CoT", OVERALL, "cot"), Column("Answer", OVERALL, "answer"), Column("Avg", OVERALL, "avg")]

_SPECS = {
    FUTUREBENCH: ("FutureBench accuracy (%)", FUTUREBENCH_COLUMNS, ["n"], 1),
    TWIFFBENCH: ("TwiFF-Bench judge score (0-5, judged samples)", TWIFFBENCH_COLUMNS, ["n judged", "n failed"], 2),
}


def build_leaderboards(records: Iterable[Record]) -> list[Leaderboard]:
    """One leaderboard per benchmark that has at least one record (FutureBench first, then TwiFF-Bench)."""
    records = list(records)
    boards = []
    for bench, (title, columns, extra_headers, decimals) in _SPECS.items():
        mine = [r for r in records if r.benchmark == bench]
        if mine:
            boards.append(_build(bench, title, columns, extra_headers, decimals, mine))
    return boards


def _build(
    bench: str, title: str, columns: list[Column], extra_headers: list[str], decimals: int, records: list[Record]
) -> Leaderboard:
    board = Leaderboard(bench, title, columns, extra_headers, decimals)
    groups: dict[tuple[str, str, str, str], dict[tuple[str, str], Record]] = {}
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
            cells.append(Cell(rec.value if rec else None, ci))
        if bench == FUTUREBENCH:
            overall = by_key.get((OVERALL, "acc"))
            extras = [_count(overall.count if overall else None)]
        else:
            extras = [
                _count(by_key[(OVERALL, m)].value if (OVERALL, m) in by_key else None) for m in ("n_judged", "n_failed")
            ]
        any_rec = next(iter(by_key.values()))
        citation = None
        if source == PUBLISHED:
            if origin not in board.citations:
                board.citations.append(origin)
            citation = board.citations.index(origin) + 1
        board.rows.append(
            Row(
                model,
                task if source == MEASURED else "paper",
                source,
                origin,
                any_rec.meta.get("run_id", ""),
                cells,
                extras,
                citation,
            )
        )
    _mark_best(board)
    return board


def _mark_best(board: Leaderboard) -> None:
    """Bold the best measured value of each column, rounded as displayed so that visible ties are all bold."""
    for i in range(len(board.columns)):
        shown = [
            (round(row.cells[i].value, board.decimals), row.cells[i])
            for row in board.rows
            if row.source == MEASURED and row.cells[i].value is not None
        ]
        if shown:
            best = max(v for v, _ in shown)
            for v, cell in shown:
                cell.bold = v == best


def _count(x: float | None) -> str:
    return "" if x is None else str(int(x))
