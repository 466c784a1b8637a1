"""A `future_l1` model with a bad argument fails suite validation with one clear line, before anything is built."""

from __future__ import annotations

import pytest
from harness_helpers import write_suite

from future_l1.harness.cli import main


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"max_num_frames": "abc"}, "max_num_frames='abc': expected a positive integer"),
        ({"max_num_frme": 8}, "unknown model argument 'max_num_frme' (did you mean 'max_num_frames'?)"),
        ({"decoder": "turbo"}, "decoder='turbo'"),
    ],
)
def test_bad_adapter_argument_is_a_suite_error(args, expected, tmp_path, capsys):
    model = {"label": "m", "model": "future_l1", "args": {"pretrained": "demo://tiny-random", **args}}
    suite = write_suite(tmp_path / "s.yaml", [model], [{"name": "futurebench_future_l1", "limit": 1}],
                        include_path=["future_l1.tasks"])  # fmt: skip
    rc = main(["run", str(suite), "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == 2
    (line,) = [x for x in err.splitlines() if x.startswith("error: ")]
    assert line.startswith("error: model 'm': ") and expected in line
    assert not (tmp_path / "runs").exists()


def test_runner_refuses_an_unresolved_demo_checkpoint(tmp_path):
    """`demo://` is resolved before the runner starts (it may train the demo model); the runner never does it."""
    from future_l1.harness.runner import Runner
    from future_l1.harness.suite import SuiteError, load_suite

    suite = load_suite(None)  # the default suite names demo://future-l1-tiny
    with pytest.raises(SuiteError) as err:
        Runner(suite, tmp_path / "runs").prepare()
    assert any("is not resolved; pass validated_and_resolved(suite)" in p for p in err.value.problems)
    assert not (tmp_path / "runs").exists()
