"""`future-l1 train validate` and `train select`, and the readers of `training.data` they share with SFT, against
hostile files (issue 30): encoding, type, depth and size are checked; a bad file is one `error:` line naming it and
the reason (exit 2), a bad record is one line naming it (printed once, issue 26), never a traceback. In-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from future_l1.harness.cli import main
from future_l1.training import data as D


@pytest.fixture(autouse=True)
def _no_traceback_env(monkeypatch):
    monkeypatch.delenv("FUTURE_L1_TRACEBACK", raising=False)


def _cli(capsys, *args: str) -> tuple[int, str, list[str]]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err.strip().splitlines()


HOSTILE_FILES = {
    # name: (file name, bytes, text the one error line must hold)
    "binary": ("d.json", b"\x7fELF\x02\x01\x00\x00binary", "is a binary file"),
    "latin1": ("d.json", '[{"answer": "caf\xe9"}]'.encode("latin-1"), "is not UTF-8 text"),
    "utf16": ("d.json", "[]".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    "deep": ("d.json", b"[" * 50_000 + b"]" * 50_000, "nests deeper than"),
    "deep_within_limit_of_python": ("d.json", b"[" * 200 + b"]" * 200, "nests deeper than 64 levels"),
    "not_json": ("d.json", b"{'single': 'quotes'}", "is not valid JSON at line 1"),
    "object": ("d.json", b'{"records": []}', "expected a JSON list of records, got dict"),
    "json_lines_as_json": ("d.json", b'{"a": 1}\n{"a": 2}\n', "(JSON lines need the .jsonl suffix)"),
    "nan": ("d.json", b'[{"gain": NaN}]', "NaN is not a JSON number"),
}  # fmt: skip


@pytest.mark.parametrize("command", ["validate", "select"])
@pytest.mark.parametrize("case", sorted(HOSTILE_FILES))
def test_hostile_data_file_is_one_error_line_naming_it(case, command, tmp_path, capsys):
    name, content, expected = HOSTILE_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    extra = ["--out", str(tmp_path / "sel.json")] if command == "select" else []
    rc, _, lines = _cli(capsys, "train", command, str(path), *extra)
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: data file {path}") and expected in lines[0], lines
    assert not (tmp_path / "sel.json").exists()


@pytest.mark.parametrize("command", ["validate", "select"])
def test_missing_file_folder_and_device_are_one_error_line(command, tmp_path, capsys):
    extra = ["--out", str(tmp_path / "sel.json")] if command == "select" else []
    for path, expected in ((tmp_path / "nope.json", "does not exist"), (tmp_path, "is a folder, not a file"),
                           (Path("/dev/zero"), "is not a regular file")):  # fmt: skip
        rc, _, lines = _cli(capsys, "train", command, str(path), *extra)
        assert rc == 2 and len(lines) == 1 and expected in lines[0] and str(path) in lines[0], lines


def test_oversized_file_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(D, "MAX_DATA_BYTES", 1000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"id": i} for i in range(200)]))
    rc, _, lines = _cli(capsys, "train", "validate", str(path))
    assert rc == 2 and len(lines) == 1 and "more than the 1,000 bytes allowed" in lines[0]


def test_select_out_that_is_a_folder_is_refused_before_probing(tmp_path, capsys):
    from future_l1.training.demo_data import demo_candidates_file

    rc, _, lines = _cli(capsys, "train", "select", str(demo_candidates_file()), "--out", str(tmp_path))
    assert rc == 2 and lines == [f"error: --out {tmp_path} is a folder; pass a file name"]


def _record(i: int, **changes) -> dict:
    rec = {"id": f"r{i}", "image": ["q.png"], "reasoning_image": ["r.png"], "answer": "it falls",
           "conversations": [{"from": "human", "value": "<image> What next?"},
                             {"from": "gpt", "value": "THOUGHT 1: look <image> THOUGHT 2: so"}]}  # fmt: skip
    rec.update(changes)
    return rec


def _folder_with_images(tmp_path: Path) -> Path:
    from PIL import Image

    for name in ("q.png", "r.png"):
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    return tmp_path


BAD_RECORDS = {
    "video_not_text": (_record(0, video=5), "`video` must be a path (text), got int"),
    "answer_object": (_record(0, answer={"a": 1}), "`answer` must be text, got dict"),
    "turn_value_list": (_record(0, conversations=[{"from": "human", "value": ["x"]}, {"from": "gpt", "value": "y"}]),
                        "the human turn's value must be text, got list"),
    "not_an_object": ([1, 2], "not a JSON object (list)"),
    "long_id": (_record(0, id="x" * 10_000), "image not found"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_bad_record_is_named_once_and_the_others_load(case, tmp_path, capsys):
    folder = _folder_with_images(tmp_path)
    bad, expected = BAD_RECORDS[case]
    if case == "long_id":
        bad["image"] = ["missing.png"]
    path = folder / "d.json"
    path.write_text(json.dumps([_record(1), bad, _record(2)]))
    rc, out, err = _cli(capsys, "train", "validate", str(path))
    assert rc == 1 and "2 usable, 1 bad" in out
    shown = [line for line in out.splitlines() if line.startswith("record 1 ")]
    assert len(shown) == 1 and expected in shown[0] and len(shown[0]) < 500
    assert not any(expected in line for line in err)  # printed once (issue 26: it was logged a second time)


def test_jsonl_bad_line_is_one_bad_record_in_its_place(tmp_path, capsys):
    folder = _folder_with_images(tmp_path)
    path = folder / "d.jsonl"
    lines = [json.dumps(_record(0)), "{not json", "", json.dumps(_record(2)), "[" * 100 + "]" * 100]
    path.write_text("\n".join(lines) + "\n")
    loaded = D.load_records(path, allow_bad=True)
    assert [r.id for r in loaded.records] == ["r0", "r2"]
    assert [(b.index, b.reason.split(":")[0]) for b in loaded.bad] == [(1, "line 2 is not valid JSON at line 1, column 2"),
                                                                      (3, "line 5 nests deeper than 64 levels; it is not a data file")]  # fmt: skip
    rc, out, _ = _cli(capsys, "train", "validate", str(path))
    assert rc == 1 and "2 usable, 2 bad" in out


def test_sft_with_unusable_records_names_them_once_in_the_log(tmp_path, caplog):
    folder = _folder_with_images(tmp_path)
    path = folder / "d.json"
    path.write_text(json.dumps([_record(0), _record(1, answer=""), _record(2, answer="")]))
    with caplog.at_level("WARNING"):
        loaded = D.load_records(path, allow_bad=True)
    assert len(loaded.bad) == 2 and len(caplog.records) == 1
    assert "skipping 2 of 3 records (first: record 1 (r1): empty answer)" in caplog.text


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["id", "video", "image", "reasoning_image", "answer", "conversations", "from",
                                       "value", "role", "content", "x"]), inner, max_size=5),
    max_leaves=15,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(JSON_VALUE, max_size=5))
def test_any_records_load_as_records_or_named_bad_records(tmp_path_factory, raws):
    """The class generalised: whatever a record holds, it is a usable record or a BadRecord with a reason, in its
    place; the loader never raises for a record."""
    path = tmp_path_factory.mktemp("d") / "d.json"
    path.write_text(json.dumps(raws))
    loaded = D.load_records(path, allow_bad=True)
    assert len(loaded.records) + len(loaded.bad) == len(raws)
    assert all(b.reason and 0 <= b.index < len(raws) for b in loaded.bad)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.sampled_from(["d.json", "d.jsonl"]))
def test_any_bytes_are_records_or_one_data_error(tmp_path_factory, content, name):
    path = tmp_path_factory.mktemp("d") / name
    path.write_bytes(content)
    try:
        loaded = D.load_records(path, allow_bad=True)
    except D.DataError as exc:
        assert len(exc.problems) == 1 and str(path) in exc.problems[0]
        return
    assert all(isinstance(b.reason, str) for b in loaded.bad)
