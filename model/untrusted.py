"""Reading files a user or a download controls: type, size, encoding and nesting depth are bounded, and every failure
is an `InputError` whose message names the file, the reason and the fix (never a traceback, never a silent value).

Used by every reader of user input: training data and configs (`training.data`, `training.config`), benchmark data
(`tasks/*/data.py`). A shared leaf: it imports nothing from the project.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any

MIB = 1 << 20
MAX_CONFIG_BYTES = MIB  # a config lists settings, not data
MAX_VALUES = 100_000  # parsed values in a config, counting every YAML alias use (an alias "bomb" expands to billions)
MAX_DEPTH = 64  # nesting of JSON / YAML values: real records nest 4 deep; Python's parser dies near 1,000


class InputError(ValueError):
    """Input that cannot be used as given. `problems` holds one line per problem, each naming the input and the fix;
    the CLI prints them as `error:` lines and exits 2."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def read_bytes(path: str | Path, *, what: str = "file", max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; a missing path, a folder, a device or pipe, an oversized
    or unreadable file raises InputError naming it."""
    path = Path(path)
    try:
        if not path.exists():
            raise InputError(f"{what} {path} does not exist; check the path")
        if path.is_dir():
            raise InputError(f"{what} {path} is a folder; pass a file")
        if not path.is_file():  # a FIFO, socket or device would block or never end
            raise InputError(f"{what} {path} is not a regular file; pass a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{what} {path} is {_size(size)}, more than the {_size(max_bytes)} allowed; is it the "
                             "right file?")  # fmt: skip
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise InputError(
            f"{what} {path} cannot be read ({exc.strerror or exc}); check the path and permissions"
        ) from None
    if len(data) > max_bytes:
        raise InputError(f"{what} {path} is more than the {_size(max_bytes)} allowed; is it the right file?")
    return data


def read_text(path: str | Path, *, what: str = "file", max_bytes: int) -> str:
    """UTF-8 text (a byte-order mark is dropped); binary or other encodings raise InputError naming the file."""
    data = read_bytes(path, what=what, max_bytes=max_bytes)
    for bom, name in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
                      (codecs.BOM_UTF16_BE, "UTF-16")):  # fmt: skip
        if data.startswith(bom):
            raise InputError(f"{what} {path} is {name} text, not UTF-8; save it as UTF-8")
    if b"\x00" in data[:65536]:
        raise InputError(f"{what} {path} is a binary file, not text; pass the text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n:,} bytes"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when `value` nests lists/dicts more than `limit` levels deep (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((x, depth + 1) for x in items)
    return False


def parse_json(text: str, *, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """One JSON value; invalid JSON, NaN/Infinity literals or nesting deeper than `max_depth` raise InputError
    naming `where`."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(f"{where} nests deeper than {max_depth} levels; it is not a data file") from None
    except ValueError as exc:
        line = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise InputError(f"{where} is not valid JSON{line}: {reason}; fix or re-create it") from None
    if too_deep(value, max_depth):
        raise InputError(f"{where} nests deeper than {max_depth} levels; it is not a data file")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | Path, *, what: str = "file", max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    path = Path(path)
    return parse_json(read_text(path, what=what, max_bytes=max_bytes), where=f"{what} {path}", max_depth=max_depth)


def read_yaml_mapping(path: str | Path, *, what: str = "config", max_bytes: int = MAX_CONFIG_BYTES) -> dict:
    """A YAML file whose top level is a mapping (an empty file is {}); syntax errors, a key given twice, a list or
    scalar at the top, non-text keys and alias bombs raise InputError naming the file."""
    import yaml

    path = Path(path)
    text = read_text(path, what=what, max_bytes=max_bytes)
    try:
        value = yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{what} {path}: YAML syntax error{at}: {problem}; fix the file") from None
    except RecursionError:
        raise InputError(f"{what} {path} nests deeper than Python can parse; fix the file") from None
    if _count_values(value) > MAX_VALUES:
        raise InputError(f"{what} {path} expands to more than {MAX_VALUES:,} values (YAML aliases?); simplify it")
    if too_deep(value):
        raise InputError(f"{what} {path} nests deeper than {MAX_DEPTH} levels; fix the file")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{what} {path} must be a mapping of `key: value` lines, not a {_kind(value)}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise InputError(f"{what} {path}: key {bad[0]!r} is not a name; keys are setting names")
    return value


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


def _count_values(value: Any) -> int:
    """Values in a parsed document, each alias use counted again; stops counting past MAX_VALUES."""
    n, stack = 0, [value]
    while stack and n <= MAX_VALUES:
        item = stack.pop()
        n += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return n


_LOADER = None


def _unique_key_loader():
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            pass

        def construct_mapping(loader, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = loader.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)):
                    if key in seen:
                        mark = key_node.start_mark
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key!r} is given twice (line {mark.line + 1})", mark
                        )
                    seen.add(key)
            return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

        UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
        _LOADER = UniqueKeyLoader
    return _LOADER


def writable_file_problem(path: str | Path, what: str = "output file") -> str | None:
    """Why `path` cannot be written as a file (it is a folder, or its folder is a file), else None."""
    path = Path(path)
    if path.is_dir():
        return f"{what} {path} is a folder; pass a file name"
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"{what} {path}: {parent} is a file, not a folder"
    if parent is not None and not os.access(parent, os.W_OK):
        return f"{what} {path}: {parent} is not writable"
    return None
