"""Reports: leaderboards, comparisons and plots from run results, with the paper's published numbers beside ours.

Entry points: `run_leaderboard(run_dir) -> str` (what `future-l1 run` prints at the end: writes run_dir/report/ and
returns its Markdown leaderboard, or a plain table when rendering fails), `render_run(run_dir, out_dir=None) -> str`,
the `future-l1 report` command (reports/cli.py), and the pieces: inputs (hostile-file reading), readers,
provenance, records, published, leaderboard, formats, compare, plots, latent_maps, training_curves, outdir, render.
"""

from __future__ import annotations

from pathlib import Path


def render_run(run_dir: Path, out_dir: Path | None = None) -> str:
    """Write the report of one run directory (default run_dir/report) and return its Markdown leaderboard."""
    from future_l1.reports.render import render_run as _render_run  # keeps `import future_l1.reports` light

    return _render_run(run_dir, out_dir)


def run_leaderboard(run_dir: Path) -> str:
    """The leaderboard `future-l1 run` prints: every row with its provenance; never raises for a rendering problem
    (a warning on stderr and a plain table instead, since the results are safe on disk)."""
    from future_l1.reports.render import run_leaderboard as _run_leaderboard

    return _run_leaderboard(run_dir)


__all__ = ["render_run", "run_leaderboard"]
