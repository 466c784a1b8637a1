"""Read report inputs as hostile files: every problem is one `ReportInputError` naming the file and the reason.

Results, samples and metadata files come from runs that may have been killed, edited by hand, copied from another
machine or written by another tool. The checks of `model.untrusted` (the project's reader of files a user
controls) come first: a regular file (not a folder, a FIFO or a device that would never end), its size, its
encoding (UTF-8, a BOM tolerated). Then its JSON syntax, its nesting depth (Python's parser recurses: a few thousand
`[` raise RecursionError) and the type of its top level. Unlike configs, results may hold NaN and Infinity (lmms-eval
writes them): they are read, and the report shows such a metric as invalid. Strings with lone surrogates
(`"\\ud800"`, valid JSON but not encodable) are replaced with U+FFFD so that printing or writing a report never
fails on them. A samples file's lines are bounded too.

The limits are far above any real file: a results file is a few kB, a samples line a few kB (TwiFF with judge
reasoning) to a few MB (lmms-eval tasks that log images).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from future_l1.model.untrusted import InputError, read_bytes, too_deep

MAX_JSON_BYTES = 64 << 20  # one JSON file (results, env, judge, trainer state)
MAX_LINE_BYTES = 64 << 20  # one samples line
MAX_SAMPLES_BYTES = 2 << 30  # one samples file
MAX_DEPTH = 64  # our files nest 5 deep, lmms-eval's about 8

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class ReportInputError(InputError):
    """A path given to the reports holds nothing we can read; the message names the path and the reason."""


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _checked(path: Path, what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes` (model.untrusted's checks, as a ReportInputError)."""
    try:
        return read_bytes(path, what=what, max_bytes=max_bytes)
    except InputError as exc:
        raise ReportInputError(exc.problems) from None


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
    """JSON value of `raw`, checked for encoding, syntax and depth (NaN and Infinity allowed); lone surrogates
    replaced."""
    text = decode(raw, where)
    try:
        value = json.loads(text)
    except RecursionError:
        raise ReportInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; not a results file") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{where}: not valid JSON ({exc}); re-run the evaluation or remove the file") from None
    if too_deep(value, MAX_DEPTH):
        raise ReportInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels; not a results file")
    if _SURROGATE_ESCAPE.search(raw):
        value = _replace_surrogates(value)
    return value


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
    raw = _checked(Path(path), what, max_bytes or MAX_JSON_BYTES)
    value = parse_json(raw, str(path))
    if not isinstance(value, expect) or isinstance(value, bool):
        kind = "a JSON object" if expect is dict else f"a JSON {expect.__name__}"
        raise ReportInputError(f"{path}: {what} must hold {kind}, found {type(value).__name__}")
    return value


def iter_jsonl(path: Path, what: str = "samples file") -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; a line that is not a JSON object refuses the file.

    Lines are split on "\\n" only: str.splitlines() also splits on U+2028, U+0085 … that answers may hold."""
    raw = _checked(Path(path), what, MAX_SAMPLES_BYTES)
    for n, line in enumerate(raw.split(b"\n"), 1):
        if len(line) > MAX_LINE_BYTES:
            raise ReportInputError(f"{path}:{n}: a line longer than {_mib(MAX_LINE_BYTES)}; not a samples file")
        if not line.strip():
            continue
        value = parse_json(line, f"{path}:{n}")
        if not isinstance(value, dict):
            raise ReportInputError(f"{path}:{n}: a samples line must be a JSON object, found {type(value).__name__}")
        yield n, value
