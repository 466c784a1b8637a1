"""The plugin instructions work as written (issue 26 item 8): every documented lmms-eval command that logs samples
gives --output_path (without it lmms-eval fails and still exits 0), the trap is named, and the venv is said."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _commands(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    return [line for line in joined.splitlines() if re.match(r"\s*lmms-eval\s+--", line)]


def test_documented_lmms_eval_commands_give_an_output_path_and_name_the_trap() -> None:
    for doc in ("README.md", "model/PLUGINS.md"):
        text = (REPO / doc).read_text()
        for command in _commands(text):
            assert "--log_samples" not in command or "--output_path" in command, (doc, command)
    plugins, readme = (REPO / "model/PLUGINS.md").read_text(), (REPO / "README.md").read_text()
    assert _commands(plugins)
    for text in (plugins, readme):
        assert "exit-0 trap" in text
        assert ".venv/bin/python -m pip install" in text
