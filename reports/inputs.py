"""Read report inputs as hostile files: every problem is one `ReportInputError` naming the file and the reason.

Results, samples and metadata files come from runs that may have been killed, edited by hand, copied from another
machine or written by another tool. Each read checks, before anything uses the content: that the path is a regular
file (not a folder, a FIFO or a device that would never end), its size, its encoding (UTF-8, a BOM tolerated), its
JSON syntax, its nesting depth (Python's parser recurses: a few thousand `[` raise RecursionError) and the type of
its top level. Strings with lone surrogates (`"\\ud800"`, valid JSON but not encodable) are replaced with U+FFFD so
that printing or writing a report never fails on them.

The limits are far above any real file: a results file is a few kB, a samples line a few kB (TwiFF with judge
reasoning) to a few MB (lmms-eval tasks that log images).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 64 << 20  # one JSON file (results, env, judge, trainer state)
MAX_LINE_BYTES = 64 << 20  # one samples line
MAX_SAMPLES_BYTES = 2 << 30  # one samples file
MAX_DEPTH = 64  # our files nest 5 deep, lmms-eval's about 8

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class ReportInputError(ValueError):
    """A path given to the reports holds nothing we can read; the message names the path and the reason."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def regular_file(path: Path, what: str, max_bytes: int) -> int:
    """The size of `path`, after checking that it is a regular file of at most `max_bytes`."""
    path = Path(path)
    try:
        path.stat()
    except OSError as exc:
        if not isinstance(exc, FileNotFoundError):
            raise ReportInputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ReportInputError(f"{path}: is a folder, expected {what}")
    if not path.exists():
        raise ReportInputError(f"{path}: no such file ({what})")
    if not path.is_file():
        raise ReportInputError(f"{path}: not a regular file (a FIFO or device?), expected {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ReportInputError(f"{path}: {_mib(size)}, larger than the {_mib(max_bytes)} a {what} may have")
    return size


def decode(raw: bytes, where: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReportInputError(f"{where}: UTF-16 text; re-save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportInputError(
            f"{where}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8 "
            "or re-run the evaluation"
        ) from None


def parse_json(raw: bytes, where: str) -> Any:
    """JSON value of `raw`, checked for encoding, syntax and depth; lone surrogates replaced."""
    text = decode(raw, where)
    try:
        value = json.loads(text)
    except RecursionError:
        raise ReportInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; not a results file") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{where}: not valid JSON ({exc}); re-run the evaluation or remove the file") from None
    depth = nesting_depth(value)
    if depth > MAX_DEPTH:
        raise ReportInputError(f"{where}: JSON nested {depth} levels deep (limit {MAX_DEPTH}); not a results file")
    if _SURROGATE_ESCAPE.search(raw):
        value = _replace_surrogates(value)
    return value


def nesting_depth(value: Any) -> int:
    """Depth of lists and objects (0 for a scalar), without recursion; stops counting past MAX_DEPTH."""
    depth, level = 0, [value]
    while level:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            break
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        level = [x for c in containers for x in (c.values() if isinstance(c, dict) else c)]
    return depth


def _replace_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def load_json(path: Path, what: str, *, expect: type = dict, max_bytes: int | None = None) -> Any:
    """The JSON content of `path`, which must be a regular UTF-8 file holding a value of type `expect`."""
    max_bytes = max_bytes or MAX_JSON_BYTES
    regular_file(path, what, max_bytes)
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    if len(raw) > max_bytes:  # grew while we read
        raise ReportInputError(f"{path}: larger than the {_mib(max_bytes)} a {what} may have")
    value = parse_json(raw, str(path))
    if not isinstance(value, expect) or isinstance(value, bool):
        kind = "a JSON object" if expect is dict else f"a JSON {expect.__name__}"
        raise ReportInputError(f"{path}: {what} must hold {kind}, found {type(value).__name__}")
    return value


def iter_jsonl(path: Path, what: str = "samples file") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is not a JSON object refuses the file.

    Lines are split on "\\n" only: str.splitlines() also splits on U+2028, U+0085 … that answers may hold."""
    regular_file(path, what, MAX_SAMPLES_BYTES)
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; the generator yields while it is open)
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    with f:
        n = 0
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            n += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                raise ReportInputError(f"{path}:{n}: a line longer than {_mib(MAX_LINE_BYTES)}; not a samples file")
            if not raw.strip():
                continue
            value = parse_json(raw, f"{path}:{n}")
            if not isinstance(value, dict):
                raise ReportInputError(
                    f"{path}:{n}: a samples line must be a JSON object, found {type(value).__name__}"
                )
            yield n, value
