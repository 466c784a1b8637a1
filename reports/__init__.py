"""Reports: leaderboards, comparisons and plots from run results, with the paper's published numbers beside ours.

Entry points: `render_run(run_dir, out_dir=None) -> str` (called by the harness at the end of a run), the
`future-l1 report` command (reports/cli.py), and the pieces: records (schema), readers, published, leaderboard,
formats, compare, plots, render.
"""

from __future__ import annotations

from pathlib import Path


def render_run(run_dir: Path, out_dir: Path | None = None) -> str:
    """Write the report of one run directory (default run_dir/report) and return its Markdown leaderboard."""
    from future_l1.reports.render import render_run as _render_run  # keeps `import future_l1.reports` light

    return _render_run(run_dir, out_dir)


__all__ = ["render_run"]
