"""The `future_l1` adapter's model arguments: one typed object parses lmms-eval's strings, keeps the authors' defaults,
rejects unknown keys and bad values with errors that name them, and the adapter passes the parsed values on."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lmms_eval.utils import simple_parse_args_string

from future_l1.model.adapter_args import FutureL1ModelArgs, ModelArgsError


def parse(**kwargs):
    return FutureL1ModelArgs.from_model_args(**{"pretrained": "/ckpt", **kwargs})


def test_defaults_are_the_authors_adapter_defaults():
    args = parse()
    assert args.model_dump() == {
        "pretrained": "/ckpt", "latent": None, "max_latent_token": None, "fixed_latent_budget": None,
        "latent_multiplier": None, "loose_latent_budget": None, "head_prefer": None, "dtype": None,
        "attn_implementation": None, "max_num_frames": 32, "min_pixels": 200_704, "max_pixels": 1_605_632,
        "max_new_tokens": 8192, "seed": 0, "save_latents": None,
        "latent_intervention": "none", "latent_intervention_seed": 0, "decoder": "auto", "compile": None,
        "attn": "matmul", "batch_size": 1, "max_batch_size": None, "device": None,
    }  # fmt: skip


def test_every_argument_is_documented():
    for name, field in FutureL1ModelArgs.model_fields.items():
        assert field.description and len(field.description) > 20, name
        assert FutureL1ModelArgs.expected(name), name
        assert "official-code-spec" not in field.description


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        # booleans, as words in any case, digits, or already parsed by lmms-eval
        ("latent", "true", True), ("latent", "False", False), ("latent", "1", True), ("latent", "0", False),
        ("latent", "yes", True), ("latent", "off", False), ("latent", True, True), ("latent", 0, False),
        ("compile", "TRUE", True), ("compile", "no", False),
        # "none" is the default of an argument whose default is None
        ("latent", "none", None), ("latent", "None", None), ("compile", "null", None), ("save_latents", "", None),
        ("head_prefer", "none", None), ("max_latent_token", "none", None), ("decoder", "none", "auto"),
        ("decoder", None, "auto"),
        # integers and floats, from strings or numbers
        ("max_num_frames", "8", 8), ("max_num_frames", 8, 8), ("max_num_frames", 8.0, 8), ("min_pixels", " 1024 ", 1024),
        ("max_latent_token", "4", 4), ("loose_latent_budget", "0", 0), ("seed", "-3", -3), ("max_new_tokens", 64, 64),
        ("latent_multiplier", "1.5", 1.5), ("latent_multiplier", 3, 3.0), ("max_batch_size", 8, 8),
        # fixed_latent_budget: an int K, or a bool (what checkpoint._budget reads); 0 is false
        ("fixed_latent_budget", "4", 4), ("fixed_latent_budget", 4, 4), ("fixed_latent_budget", 4.0, 4),
        ("fixed_latent_budget", "true", True), ("fixed_latent_budget", True, True), ("fixed_latent_budget", "False", False),
        ("fixed_latent_budget", "0", False), ("fixed_latent_budget", 0, False), ("fixed_latent_budget", "none", None),
        # lmms-eval's batch sizes: N, auto, auto:N (auto is 1: this model does not search batch sizes)
        ("batch_size", "4", 4), ("batch_size", 4, 4), ("batch_size", "auto", 1), ("batch_size", "auto:8", 1),
        # choices, case-insensitive
        ("decoder", "EAGER", "eager"), ("decoder", "fast", "fast"), ("head_prefer", "Orig", "orig"),
        ("attn", "SDPA", "sdpa"), ("dtype", "BF16", "bf16"), ("dtype", "bfloat16", "bfloat16"), ("dtype", "auto", "auto"),
        ("dtype", "float32", "float32"),
        # strings and paths
        ("device", "cpu", "cpu"), ("device", "cuda:1", "cuda:1"), ("device", "AUTO", "auto"), ("device", 0, "cuda:0"),
        ("attn_implementation", "sdpa", "sdpa"), ("save_latents", "/tmp/lat", Path("/tmp/lat")),
        ("pretrained", Path("/ckpt/x"), "/ckpt/x"), ("pretrained", 2024, "2024"),
    ],
)  # fmt: skip
def test_values_are_parsed(key, raw, value):
    got = getattr(parse(**{key: raw}), key)
    assert got == value and type(got) is type(value)


def test_lmms_eval_argument_string_and_generic_keys():
    """What lmms-eval's create_from_arg_string hands the constructor: its parse of --model_args, plus batch_size,
    max_batch_size and device from its own flags (unset ones dropped)."""
    kwargs = simple_parse_args_string(
        "pretrained=/ckpt/Future-L1,latent=true,fixed_latent_budget=4,latent_multiplier=1.5,max_num_frames=8,"
        "min_pixels=4096,max_pixels=4096,dtype=bfloat16,save_latents=/tmp/lat,decoder=eager,compile=false,seed=7"
    )
    generic = {"batch_size": "auto:4", "max_batch_size": 16, "device": "cuda"}
    args = FutureL1ModelArgs.from_model_args(**kwargs, **generic)
    assert (args.pretrained, args.latent, args.fixed_latent_budget, args.latent_multiplier) == ("/ckpt/Future-L1", True,
                                                                                                4, 1.5)  # fmt: skip
    assert (args.max_num_frames, args.min_pixels, args.max_pixels, args.dtype) == (8, 4096, 4096, "bfloat16")
    assert (args.save_latents, args.decoder, args.compile, args.seed) == (Path("/tmp/lat"), "eager", False, 7)
    assert (args.batch_size, args.max_batch_size, args.device) == (1, 16, "cuda")


def test_fixed_latent_budget_reaches_the_loader_as_it_expects():
    from future_l1.model.checkpoint import _budget

    config = SimpleNamespace(max_latent_token=4)
    budget = lambda raw: _budget(config, None, parse(fixed_latent_budget=raw).fixed_latent_budget, None, None)  # noqa: E731
    assert (budget("6").fixed, budget("6").max_latent_token) == (True, 6)  # K: fixed mode with K steps
    assert (budget("true").fixed, budget("true").max_latent_token) == (True, 4)  # the checkpoint's L_max
    assert (budget("0").fixed, budget("false").fixed, budget("none").fixed) == (False, False, False)


def test_unknown_key_is_named_with_the_valid_ones():
    with pytest.raises(ModelArgsError) as err:
        parse(max_num_frame=8)
    message = str(err.value)
    assert "'max_num_frame'" in message and "did you mean 'max_num_frames'" in message
    for name in FutureL1ModelArgs.model_fields:
        assert name in message.split("valid arguments:")[1]
    with pytest.raises(ValueError, match=r"unknown model arguments 'foo', 'bar'"):
        parse(foo=1, bar=2)


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("latent", "maybe", "true or false"), ("latent", 2, "true or false"), ("compile", "sometimes", "true or false"),
        ("max_num_frames", "abc", "a positive integer"), ("max_num_frames", 0, "a positive integer"),
        ("max_num_frames", 2.5, "a positive integer"), ("min_pixels", -1, "a positive integer"),
        ("max_new_tokens", "lots", "a positive integer"), ("seed", "x", "an integer"),
        ("max_latent_token", 0, "a positive integer"), ("loose_latent_budget", -1, "a non-negative integer"),
        ("latent_multiplier", 0, "a positive number"), ("latent_multiplier", "big", "a positive number"),
        ("fixed_latent_budget", -2, "a non-negative integer K"), ("fixed_latent_budget", "four", "true, false"),
        ("fixed_latent_budget", 2.5, "true, false"), ("batch_size", 0, "a positive integer, auto or auto:N"),
        ("batch_size", "auto:x", "auto:N"), ("batch_size", "many", "auto:N"), ("max_batch_size", 0, "a positive"),
        ("decoder", "slow", "auto, fast or eager"), ("head_prefer", "left", "render or orig"),
        ("attn", "flash", "matmul, sdpa, flex, reduce"), ("dtype", "int8", "bf16"), ("dtype", "fp8", "bf16"),
        ("device", "gpu", "a torch device"), ("device", "cuda:x", "a torch device"),
        ("pretrained", "", "a checkpoint directory or hub id"), ("pretrained", True, "a checkpoint directory"),
    ],
)  # fmt: skip
def test_bad_value_names_argument_value_and_expectation(key, raw, expected):
    with pytest.raises(ModelArgsError) as err:
        parse(**{key: raw})
    message = str(err.value)
    assert f"model argument {key}={raw!r}: expected " in message and expected in message
    assert "pydantic" not in message and "validation error" not in message.lower()  # not a raw pydantic dump
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert isinstance(err.value, ValueError)


def test_missing_pretrained_and_crossed_pixel_bounds():
    with pytest.raises(ModelArgsError, match=r"model argument pretrained is required: expected a checkpoint"):
        FutureL1ModelArgs.from_model_args(latent=True)
    with pytest.raises(ModelArgsError, match=r"min_pixels=4096 is larger than max_pixels=1024"):
        parse(min_pixels=4096, max_pixels=1024)


def test_several_bad_values_are_all_reported():
    with pytest.raises(ModelArgsError) as err:
        parse(decoder="slow", max_num_frames="x")
    assert "decoder='slow'" in str(err.value) and "max_num_frames='x'" in str(err.value)


def test_args_are_immutable():
    args = parse()
    with pytest.raises(ValueError):
        args.batch_size = 4


# -- the adapter ------------------------------------------------------------------------------------------------------


@pytest.fixture
def loads(monkeypatch):
    """Replace the checkpoint loader: record its arguments, return a stand-in model."""
    import future_l1.model.lmms_model as lmms_model

    calls = []

    def fake_load(path, **kwargs):
        calls.append((path, kwargs))
        return SimpleNamespace(latent=kwargs["latent"])

    monkeypatch.setattr(lmms_model, "load_future_l1", fake_load)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_adapter_passes_parsed_values_to_loader_and_itself(loads, tmp_path):
    from future_l1.model.lmms_model import FutureL1

    lmm = FutureL1.create_from_arg_string(  # exactly lmms-eval's path from --model_args
        f"pretrained=/ckpt/fl1,latent=true,max_latent_token=4,fixed_latent_budget=6,latent_multiplier=1.5,"
        f"loose_latent_budget=none,head_prefer=orig,attn_implementation=sdpa,dtype=bf16,max_num_frames=8,"
        f"min_pixels=1024,max_pixels=4096,max_new_tokens=77,seed=5,save_latents={tmp_path},decoder=eager,"
        "compile=true,attn=sdpa",
        {"batch_size": "3", "max_batch_size": None, "device": "cpu"},
    )
    ((path, kwargs),) = loads
    assert path == "/ckpt/fl1"
    assert kwargs == {
        "latent": True, "max_latent_token": 4, "fixed_latent_budget": 6, "latent_multiplier": 1.5,
        "loose_latent_budget": None, "head_prefer": "orig", "dtype": "fp32",  # CPU: always fp32
        "device": torch.device("cpu"), "attn_implementation": "sdpa",
    }  # fmt: skip
    assert lmm.args.dtype == "bf16" and lmm.args.batch_size == 3
    assert (lmm.batch_size, lmm.max_new_tokens, lmm.seed, lmm.pretrained) == (3, 77, 5, "/ckpt/fl1")
    assert lmm.media == {"max_num_frames": 8, "min_pixels": 1024, "max_pixels": 4096}
    assert lmm.save_latents == tmp_path and lmm.device == torch.device("cpu")
    assert lmm.fast is False and lmm.fast_options == {"compile": True, "attn": "sdpa"}


def test_adapter_defaults(loads):
    from future_l1.model.lmms_model import FutureL1

    lmm = FutureL1(pretrained="/ckpt/plain", device="cpu")
    ((_, kwargs),) = loads
    assert kwargs["latent"] is None and kwargs["fixed_latent_budget"] is None and kwargs["dtype"] == "fp32"
    assert (lmm.batch_size, lmm.max_new_tokens, lmm.seed, lmm.save_latents) == (1, 8192, 0, None)
    assert lmm.media == {"max_num_frames": 32, "min_pixels": 200_704, "max_pixels": 1_605_632}
    assert lmm.fast is False and lmm.fast_options == {"compile": False, "attn": "matmul"}  # eager and no compile on CPU


def test_adapter_rejects_bad_arguments_before_loading(loads):
    from future_l1.model.lmms_model import FutureL1

    with pytest.raises(ValueError, match=r"unknown model argument 'max_frames'"):
        FutureL1(pretrained="/ckpt", max_frames=8)
    with pytest.raises(ValueError, match=r"model argument decoder='slow': expected auto, fast or eager"):
        FutureL1(pretrained="/ckpt", decoder="slow")
    assert loads == []
