"""Render leaderboards as Markdown (READMEs, issues), CSV (spreadsheets), LaTeX (booktabs) and one HTML page.

Written by hand rather than through pytablewriter/tabulate: the output bytes are checked against golden files, and
these few lines cannot drift with a library release. Measured values read "73.2 [70.1, 76.0]" (value and 95%
bootstrap interval) beside the row's provenance; an invalid value reads "invalid (NaN)". Published rows sit in a
table of their own (Markdown, HTML) or below a rule (LaTeX), each with its citation.

Every text that comes from a file (model names, tasks, paths, citations) is escaped for its format: Markdown cells
lose line breaks and control characters and have | * ` < > [ ] \\ backslash-escaped, so a model name can neither
break the table nor inject markup; CSV text cells are guarded against spreadsheet formulas
(`records.csv_text`); LaTeX and HTML escape their special characters.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from future_l1.reports.leaderboard import Cell, Leaderboard, Row
from future_l1.reports.records import csv_text

BOLD_NOTE = (
    "Bold: best value among measured rows of the same provenance and n (where at least two compare); rows of "
    "different provenance or n are not ranked against each other."
)
CI_NOTE = "Brackets: 95% bootstrap interval over samples."
UNRANKED_NOTE = "No value is bold: no two rows share provenance and n, so none is ranked against another."
NOT_COMPARABLE_NOTE = (
    "Rows whose provenance names demo data, unknown data, a rubric or non-comparable judge, or a subset are not "
    "comparable with the published numbers."
)


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def _run_label(row: Row) -> str:
    return row.run_id or "measured"


def _provenance(row: Row) -> str:
    return row.provenance.label if row.provenance else "paper"


@dataclass
class Table:
    """A plain table (other tasks, cost, runs): already formatted cells; `numeric` marks right-aligned columns."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)
    note: str = ""


# ---------------------------------------------------------------- Markdown

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\|*`<>\[\]])")


def md_text(text: str) -> str:
    """Text safe inside a Markdown table cell (and on a terminal): one line, no control characters, markup escaped."""
    text = _CONTROL.sub("\ufffd", _LINE_BREAKS.sub(" ", str(text)))
    return _MD_SPECIAL.sub(r"\\\1", text)


def _notes(board: Leaderboard) -> list[str]:
    """What bold and brackets mean in this board, and whether its rows stand beside published numbers."""
    measured = board.measured
    notes = []
    if any(c.bold for r in measured for c in r.cells):
        notes.append(BOLD_NOTE)
    elif len(measured) > 1:
        notes.append(UNRANKED_NOTE)
    if any(c.ci for r in measured for c in r.cells):
        notes.append(CI_NOTE)
    if any(r.provenance and not r.provenance.comparable for r in measured):
        notes.append(NOT_COMPARABLE_NOTE)
    return notes


def _md_number(text: str) -> str:
    """A numeric cell ("1.5 [1.2, 1.8]", "invalid (NaN)"): one line and no | (brackets stay readable)."""
    return _CONTROL.sub("\ufffd", _LINE_BREAKS.sub(" ", str(text))).replace("|", "\\|")


def _md_cell(cell: Cell, decimals: int) -> str:
    if cell.invalid:
        return f"invalid ({md_text(cell.invalid)})"
    if cell.value is None:
        return "–"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = f"**{value}**"
    if cell.ci:
        value += f" [{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]"
    return value


def _md_rows(header: list[str], align: list[bool], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a else "---" for a in align) + "|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def markdown(boards: Sequence[Leaderboard]) -> str:
    parts = []
    for board in boards:
        lines = [f"### {board.title}", ""]
        measured, published = board.measured, board.published
        if measured:
            header = ["Model", "Task", "Provenance", *(c.header for c in board.columns), *board.extra_headers, "Run"]
            align = [False] * 3 + [True] * (len(board.columns) + len(board.extra_headers)) + [False]
            rows = [
                [md_text(r.model), md_text(r.task), md_text(_provenance(r))]
                + [_md_cell(c, board.decimals) for c in r.cells]
                + [md_text(x) for x in r.extras]
                + [md_text(_run_label(r))]
                for r in measured
            ]
            lines += [*_md_rows(header, align, rows), "", " ".join(_notes(board))]
        if published:
            if measured:
                lines += ["", "Published (for context, not ranked):", ""]
            header = ["Model", *(c.header for c in board.columns), "Source"]
            align = [False] + [True] * len(board.columns) + [False]
            rows = [
                [md_text(r.model)] + [_md_cell(c, board.decimals) for c in r.cells] + [f"[{r.citation}]"]
                for r in published
            ]
            lines += [*_md_rows(header, align, rows), ""]
            lines += [f"[{i}] {md_text(c)}" for i, c in enumerate(board.citations, 1)]
        parts.append("\n".join(lines).rstrip("\n") + "\n")
    return "\n".join(parts)


def md_table(table: Table) -> str:
    align = table.numeric or [False] * len(table.headers)
    lines = [f"### {md_text(table.title)}", ""]
    rows = [[_md_number(c) if num else md_text(c) for c, num in zip(r, align, strict=True)] for r in table.rows]
    lines += _md_rows([md_text(h) for h in table.headers], align, rows)
    if table.note:
        lines += ["", md_text(table.note)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- CSV


def leaderboard_csv(board: Leaderboard) -> str:
    """Wide CSV of one leaderboard: value, ci_low, ci_high per column (an invalid value is empty, its reason in
    `invalid`); provenance and comparability per row; the citation in full for published rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["model", "task", "source", "origin", "run_id", "provenance", "comparable"]
    for c in board.columns:
        header += [c.header, f"{c.header} ci_low", f"{c.header} ci_high"]
    writer.writerow([csv_text(h) for h in header + board.extra_headers] + ["invalid"])
    for row in board.rows:
        comparable = "" if row.provenance is None else str(row.provenance.comparable).lower()
        out = [csv_text(x) for x in (row.model, row.task, row.source, row.origin, row.run_id, _provenance(row))]
        out.append(comparable)
        for cell in row.cells:
            out += [_fmt(cell.value, board.decimals + 2) if cell.value is not None else ""]
            out += [_fmt(x, board.decimals + 2) for x in cell.ci] if cell.ci else ["", ""]
        invalid = "; ".join(
            f"{c.header}: {cell.invalid}" for c, cell in zip(board.columns, row.cells, strict=True) if cell.invalid
        )
        writer.writerow(out + row.extras + [csv_text(invalid)])
    return buf.getvalue()


def table_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_text(h) for h in table.headers])
    for row in table.rows:
        numeric = table.numeric or [False] * len(row)
        writer.writerow([c if num else csv_text(c) for c, num in zip(row, numeric, strict=True)])
    return buf.getvalue()


# ---------------------------------------------------------------- LaTeX

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "–": "--",
    "·": r"\textperiodcentered{}",
}


def _tex(text: str) -> str:
    text = _CONTROL.sub(" ", _LINE_BREAKS.sub(" ", str(text)))
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(cell: Cell, decimals: int) -> str:
    if cell.invalid:
        return r"\textit{invalid}"
    if cell.value is None:
        return "--"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = rf"\textbf{{{value}}}"
    if cell.ci:
        value += rf" {{\scriptsize[{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]}}"
    return value


def latex(board: Leaderboard) -> str:
    """A paper-ready booktabs `table` (needs \\usepackage{booktabs}): the rows it is given and nothing else (no run
    ids; published rows only when they were selected), a Task column only when several tasks are shown, a rule
    between groups of comparable rows and before published rows, and each measured row's provenance as a
    footnote letter explained in the caption."""
    measured, published = board.measured, board.published
    with_task = len({r.task for r in measured}) > 1
    labels: list[str] = []
    for row in measured:
        if row.provenance and row.provenance.label and row.provenance.label not in labels:
            labels.append(row.provenance.label)
    marks = {label: "abcdefghijklmnopqrstuvwxyz"[i % 26] + ("'" * (i // 26)) for i, label in enumerate(labels)}
    n_values = len(board.columns) + len(board.extra_headers)
    header = ["Model", *(["Task"] if with_task else []), *(_tex(c.header) for c in board.columns)]
    header += [_tex(h) for h in board.extra_headers]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{l" + ("l" if with_task else "") + "r" * n_values + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in measured:
        if previous is not None and previous != row.group:
            lines.append(r"\midrule")
        previous = row.group
        name = _tex(row.model)
        if row.provenance and row.provenance.label:
            name += rf"$^{{\mathrm{{{marks[row.provenance.label]}}}}}$"
        cells = [name, *([_tex(row.task)] if with_task else []), *(_tex_cell(c, board.decimals) for c in row.cells)]
        lines.append(" & ".join(cells + [_tex(x) for x in row.extras]) + r" \\")
    if published:
        if measured:
            lines.append(r"\midrule")
        for row in published:
            cells = [f"{_tex(row.model)} [{row.citation}]", *([""] if with_task else [])]
            cells += [_tex_cell(c, board.decimals) for c in row.cells] + ["--"] * len(board.extra_headers)
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = _tex(board.title) + "."
    if any(c.bold for r in measured for c in r.cells):
        caption += " Bold: best among comparable rows (same provenance and n)."
    if any(c.ci for r in measured for c in r.cells):
        caption += " Brackets: 95\\% bootstrap interval."
    caption += "".join(rf" $^{{\mathrm{{{marks[label]}}}}}$ {_tex(label)}." for label in labels)
    caption += "".join(f" [{i}] {_tex(c)}." for i, c in enumerate(board.citations, 1))
    lines += [rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #1b1b1b; background: #ffffff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; } h3 { font-size: 15px; margin-top: 22px; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #d0d0d0; text-align: right; }
th { background: #1f4e79; color: #ffffff; }
td.text, th.text { text-align: left; }
tr.published td { color: #666666; font-style: italic; background: #f4f4f4; }
tr.measured td { background: #eaf3fb; }
span.ci { color: #555555; font-size: 12px; }
span.invalid { color: #b00020; font-weight: bold; }
p.note, ol.cites, p.caption, ul.problems { font-size: 12px; color: #444444; max-width: 900px; }
img { max-width: 900px; display: block; margin: 12px 0 4px 0; border: 1px solid #e0e0e0; }
"""


@dataclass(frozen=True)
class Figure:
    """A plot in the HTML page: its PNG, a heading and a caption saying what it shows."""

    path: Path
    title: str
    caption: str


def _html_cell(cell: Cell, decimals: int) -> str:
    if cell.invalid:
        return f'<td><span class="invalid">invalid</span> ({html.escape(cell.invalid)})</td>'
    if cell.value is None:
        return "<td>–</td>"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = f"<strong>{value}</strong>"
    if cell.ci:
        value += f' <span class="ci">[{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]</span>'
    return f"<td>{value}</td>"


def _th(headers: Sequence[str], text_columns: int, numeric: Sequence[bool] | None = None) -> str:
    """Header cells: the first `text_columns` (or those `numeric` marks False) left-aligned."""
    e = html.escape
    left = [not numeric[i] if numeric else i < text_columns for i in range(len(headers))]
    cells = [f'<th class="text">{e(h)}</th>' if lt else f"<th>{e(h)}</th>" for h, lt in zip(headers, left, strict=True)]
    return "<thead><tr>" + "".join(cells) + "</tr></thead>"


def html_table(table: Table) -> str:
    e = html.escape
    numeric = table.numeric or [False] * len(table.headers)
    out = [f"<h2>{e(table.title)}</h2>", "<table>" + _th(table.headers, 0, numeric) + "<tbody>"]
    for row in table.rows:
        cells = "".join(
            f"<td>{e(c)}</td>" if n else f'<td class="text">{e(c)}</td>' for c, n in zip(row, numeric, strict=True)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody></table>")
    if table.note:
        out.append(f'<p class="note">{e(table.note)}</p>')
    return "\n".join(out)


def _html_board(board: Leaderboard) -> list[str]:
    e = html.escape
    out = [f"<h2>{e(board.title)}</h2>"]
    if board.measured:
        headers = ["Model", "Task", "Provenance", *(c.header for c in board.columns), *board.extra_headers, "Run"]
        out.append("<table>" + _th(headers, 3) + "<tbody>")
        for row in board.measured:
            cells = [
                f'<td class="text">{e(row.model)}</td>',
                f'<td class="text">{e(row.task)}</td>',
                f'<td class="text">{e(_provenance(row))}</td>',
                *(_html_cell(c, board.decimals) for c in row.cells),
                *(f"<td>{e(x)}</td>" for x in row.extras),
                f'<td class="text" title="{e(row.origin)}">{e(_run_label(row))}</td>',
            ]
            out.append(f'<tr class="measured">{"".join(cells)}</tr>')
        out.append("</tbody></table>")
        out.append(f'<p class="note">{e(" ".join(_notes(board)))}</p>')
    if board.published:
        out.append("<h3>Published (for context, not ranked)</h3>")
        out.append("<table>" + _th(["Model", *(c.header for c in board.columns), "Source"], 1) + "<tbody>")
        for row in board.published:
            cells = [f'<td class="text">{e(row.model)}</td>', *(_html_cell(c, board.decimals) for c in row.cells)]
            cells.append(f'<td class="text" title="{e(row.origin)}">[{row.citation}]</td>')
            out.append(f'<tr class="published">{"".join(cells)}</tr>')
        out.append("</tbody></table>")
        out.append('<ol class="cites">' + "".join(f"<li>{e(c)}</li>" for c in board.citations) + "</ol>")
    return out


def html_page(
    boards: Sequence[Leaderboard],
    title: str = "Future-L1 report",
    figures: Sequence[Figure] = (),
    *,
    before: Sequence[Table] = (),
    after: Sequence[Table] = (),
    problems: Sequence[str] = (),
) -> str:
    """A self-contained page: inline CSS; `before` tables (runs, models), the leaderboards, `after` tables (other
    tasks, cost), input problems, then each figure with its heading and caption, embedded as a data URI (no
    network, no files beside it)."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    out += [html_table(t) for t in before]
    for board in boards:
        out += _html_board(board)
    out += [html_table(t) for t in after]
    if problems:
        out.append("<h2>Input problems</h2>")
        out.append('<ul class="problems">' + "".join(f"<li>{e(p)}</li>" for p in problems) + "</ul>")
    if figures:
        out.append("<h2>Figures</h2>")
    for fig in figures:
        data = base64.b64encode(Path(fig.path).read_bytes()).decode("ascii")
        out.append(f"<h3>{e(fig.title)}</h3>")
        out.append(f'<img alt="{e(fig.title)}" src="data:image/png;base64,{data}">')
        out.append(f'<p class="caption">{e(fig.caption)}</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
