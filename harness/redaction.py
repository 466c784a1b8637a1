"""The redaction pass over everything a run writes (issue 31): no secret of the run reaches a file of its directory.

Two nets. Known secrets: every value the run's judges send (API key, URL password and user, the Basic header built
from them, secret-looking query values; `JudgeConfig.secrets`) and the token variables of the environment, replaced
wherever they occur. Shapes: a URL's `user:password@`, a secret-named query value (`?api_key=…`) and an
`Authorization: Bearer|Basic …` value are cut even when the secret is not known. `rundir.atomic_write` applies
`redact` to what the harness writes; `scrub_tree` rewrites files others wrote (lmms-eval's own) after each entry.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

from future_l1.harness.file_swap import swap_in

MARK = "[REDACTED]"
TOKEN_VARIABLES = ("FUTURE_L1_JUDGE_API_KEY", "OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@\"'<>]+@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&][^=&\s\"'#]*(?:key|token|secret|pass|auth|sig|credential|session|bearer)[^=&\s\"'#]*=)[^&\s\"'#]+"
)
# An Authorization value: after the header's name, or a Bearer token that looks like one (digits, 16+ characters);
# plain prose ("Basic physics", "bearer of news") is left alone.
_AUTH_HEADER = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:Bearer|Basic)\s+)[^\s\"',;]+"
    r"|(\bBearer\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"
)


def known_secrets(judges: Iterable = ()) -> list[str]:
    """The secrets of a run: its judge roles' (`JudgeRole`s), the environment judge's, token variables; longest
    first (a secret holding another is replaced whole)."""
    from future_l1.tasks.judge import JudgeConfig

    found: set[str] = set()
    configs = []
    for role in judges:
        try:
            configs.append(role.to_config())
        except Exception:  # an invalid role was refused by validation already; nothing to collect from it
            continue
    with contextlib.suppress(ValueError):  # a malformed FUTURE_L1_JUDGE_* variable: validation reports it
        configs.append(JudgeConfig.from_env())
    for config in configs:
        found.update(config.secrets())
    found.update(v for v in (os.environ.get(name, "") for name in TOKEN_VARIABLES) if len(v) >= 8 and v != "EMPTY")
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets and without anything shaped like a credential."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, MARK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MARK}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{MARK}", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1) or m.group(2)}{MARK}", text)


def scrub_tree(root: Path, secrets: Iterable[str] = ()) -> list[Path]:
    """Rewrite (atomically, mode kept) every UTF-8 file under `root` that holds a secret; links are not followed.
    Returns the files rewritten."""
    secrets = list(secrets)
    changed = []
    for folder, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):  # binary files (plots, npz) hold no text the run echoed
                continue
            clean = redact(text, secrets)
            if clean != text:
                _replace(path, clean)
                changed.append(path)
    return changed


def _replace(path: Path, text: str) -> None:
    """Keeps the file's mode. Not rundir.atomic_write: that one calls this module."""
    swap_in(path, text, path.stat().st_mode & 0o777)
