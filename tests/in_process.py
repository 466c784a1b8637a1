"""`future-l1 ARGS` in the test process: the CLI's `main`, with its exit code and output captured as a child process's
would be. The fast tier runs commands this way; a child process costs seconds of imports (integration tier only)."""

from __future__ import annotations

import contextlib
import io
import subprocess


def run_main(*args: str) -> subprocess.CompletedProcess:
    from future_l1.harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(["future-l1", *args], code, out.getvalue(), err.getvalue())
