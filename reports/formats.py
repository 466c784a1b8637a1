"""Render leaderboards as Markdown (READMEs, issues), CSV (spreadsheets), LaTeX (booktabs) and one HTML page.

Written by hand rather than through pytablewriter/tabulate: the output bytes are checked against golden files, and
these few lines cannot drift with a library release. Measured values read "73.2 [70.1, 76.0]" (value and 95%
bootstrap interval); published values carry no interval and their row says "published [k]" with the citation k
listed under the table.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Sequence
from pathlib import Path

from future_l1.reports.leaderboard import Cell, Leaderboard, Row
from future_l1.reports.records import MEASURED


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def _source_label(row: Row) -> str:
    if row.source == MEASURED:
        return f"measured ({row.run_id})" if row.run_id else "measured"
    return f"published [{row.citation}]"


# ---------------------------------------------------------------- Markdown


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell, decimals: int) -> str:
    if cell.value is None:
        return "–"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = f"**{value}**"
    if cell.ci:
        value += f" [{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]"
    return value


def markdown(boards: Sequence[Leaderboard]) -> str:
    parts = []
    for board in boards:
        header = ["Model", "Task", "Source", *(c.header for c in board.columns), *board.extra_headers]
        lines = [f"### {board.title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|")
        for row in board.rows:
            cells = [_md_escape(row.model), _md_escape(row.task), _source_label(row)]
            cells += [_md_cell(c, board.decimals) for c in row.cells] + row.extras
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines.append("Bold: best measured value per column. Brackets: 95% bootstrap interval over samples.")
        lines += [f"[{i}] {_md_escape(c)}" for i, c in enumerate(board.citations, 1)]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


# ---------------------------------------------------------------- CSV


def leaderboard_csv(board: Leaderboard) -> str:
    """Wide CSV of one leaderboard: value, ci_low, ci_high per column; the citation in full for published rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["model", "task", "source", "origin"]
    for c in board.columns:
        header += [c.header, f"{c.header} ci_low", f"{c.header} ci_high"]
    writer.writerow(header + board.extra_headers)
    for row in board.rows:
        out = [row.model, row.task, row.source, row.origin]
        for cell in row.cells:
            out += [_fmt(cell.value, board.decimals + 2) if cell.value is not None else ""]
            out += [_fmt(x, board.decimals + 2) for x in cell.ci] if cell.ci else ["", ""]
        writer.writerow(out + row.extras)
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
}


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def _tex_cell(cell: Cell, decimals: int) -> str:
    if cell.value is None:
        return "--"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = rf"\textbf{{{value}}}"
    if cell.ci:
        value += rf" {{\scriptsize[{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]}}"
    return value


def latex(board: Leaderboard) -> str:
    """A booktabs `table` environment (needs \\usepackage{booktabs}); the rule splits measured from published rows."""
    n_values = len(board.columns) + len(board.extra_headers)
    header = ["Model", "Task", "Source", *(_tex(c.header) for c in board.columns), *board.extra_headers]
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{lll" + "r" * n_values + "}",
        r"\toprule",
        " & ".join(header) + r" \\",
        r"\midrule",
    ]
    previous = None
    for row in board.rows:
        if previous is not None and previous != row.source:
            lines.append(r"\midrule")
        previous = row.source
        source = _tex(_source_label(row))
        cells = [_tex(row.model), _tex(row.task), source, *(_tex_cell(c, board.decimals) for c in row.cells)]
        lines.append(" & ".join(cells + row.extras) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    caption = _tex(board.title) + ". Bold: best measured value per column; brackets: 95\\% bootstrap interval."
    caption += "".join(f" [{i}] {_tex(c)}." for i, c in enumerate(board.citations, 1))
    lines += [rf"\caption{{{caption}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #1b1b1b; background: #ffffff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #d0d0d0; text-align: right; }
th { background: #1f4e79; color: #ffffff; }
td.text, th.text { text-align: left; }
tr.published td { color: #666666; font-style: italic; background: #f4f4f4; }
tr.measured td { background: #eaf3fb; }
span.ci { color: #555555; font-size: 12px; }
p.note, ol.cites { font-size: 12px; color: #444444; }
img { max-width: 900px; display: block; margin: 12px 0; border: 1px solid #e0e0e0; }
"""


def _html_cell(cell: Cell, decimals: int) -> str:
    if cell.value is None:
        return "<td>–</td>"
    value = _fmt(cell.value, decimals)
    if cell.bold:
        value = f"<strong>{value}</strong>"
    if cell.ci:
        value += f' <span class="ci">[{_fmt(cell.ci[0], decimals)}, {_fmt(cell.ci[1], decimals)}]</span>'
    return f"<td>{value}</td>"


def html_page(boards: Sequence[Leaderboard], title: str = "Future-L1 report", images: Sequence[Path] = ()) -> str:
    """A self-contained page: inline CSS, tables, PNG plots embedded as data URIs (no network, no files beside it)."""
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    for board in boards:
        out.append(f"<h2>{e(board.title)}</h2>")
        out.append("<table><thead><tr>")
        out += ['<th class="text">Model</th>', '<th class="text">Task</th>', '<th class="text">Source</th>']
        out += [f"<th>{e(c.header)}</th>" for c in board.columns] + [f"<th>{e(h)}</th>" for h in board.extra_headers]
        out.append("</tr></thead><tbody>")
        for row in board.rows:
            cells = "".join(
                [
                    f'<td class="text">{e(row.model)}</td>',
                    f'<td class="text">{e(row.task)}</td>',
                    f'<td class="text" title="{e(row.origin)}">{e(_source_label(row))}</td>',
                    *(_html_cell(c, board.decimals) for c in row.cells),
                    *(f"<td>{e(x)}</td>" for x in row.extras),
                ]
            )
            out.append(f'<tr class="{row.source}">{cells}</tr>')
        out.append("</tbody></table>")
        out.append('<p class="note">Bold: best measured value per column. Brackets: 95% bootstrap interval.</p>')
        if board.citations:
            out.append('<ol class="cites">' + "".join(f"<li>{e(c)}</li>" for c in board.citations) + "</ol>")
    for image in images:
        data = base64.b64encode(Path(image).read_bytes()).decode("ascii")
        out.append(f"<h2>{e(Path(image).stem)}</h2>")
        out.append(f'<img alt="{e(Path(image).stem)}" src="data:image/png;base64,{data}">')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
