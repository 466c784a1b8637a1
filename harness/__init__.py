"""The top layer: `future-l1` (suites, runs, resume, the experiment) and the CLI. Import-light: only the version."""

__version__ = "0.1.0"
