"""Launch preferences (csrc/tuning.h, torch_metalgen/tuning.py): the generated plans take a
tuned variant and thread limit for a dtype and size bucket only where the variant is
correct for the input and fits, the preferred kernels compute the right thing, the user's
table is installed only for its own GPU, and `tune` says so where there is no GPU."""

from __future__ import annotations

import json

import pytest
import torch

import torch_metalgen
from tests.tolerances import assert_close_to_reference
from torch_metalgen import _ops, tuning
from torch_metalgen._generated.references import REFERENCES
from torch_metalgen.tune import main as tune_main


@pytest.fixture(autouse=True)
def no_preferences():
    tuning.clear()
    yield
    tuning.clear()


def kernel(x, weight=None):
    plans, _ = _ops._C.plan_rms_norm(x, weight, 1e-6)
    return plans[0].kernel, tuple(plans[0].threadgroup)


def test_a_preference_changes_the_choice_for_its_bucket_and_dtype_only():
    x = torch.randn(4, 300)
    assert kernel(x)[0] == "rms_norm_simd_rows_float32"
    assert tuning.bucket_of("rms_norm", (x, None, 1e-6)) == 512
    tuning.prefer("rms_norm", torch.float32, 512, "single_row")
    assert kernel(x)[0] == "rms_norm_single_row_float32"
    assert kernel(torch.randn(4, 200))[0] == "rms_norm_simd_rows_float32"  # bucket 256
    assert kernel(x.half())[0] == "rms_norm_simd_rows_float16"  # another dtype
    assert tuning.preferences() == [("rms_norm", "Float", 512, "single_row", 1024)]


def test_thread_limits_and_what_is_not_taken():
    x = torch.randn(2, 8000)
    tuning.prefer("rms_norm", torch.float32, 8192, "looped", 64)
    assert kernel(x) == ("rms_norm_looped_float32", (64, 1, 1))
    # single_row requires n <= SINGLE_ROW_MAX: a stale preference is ignored, never obeyed
    tuning.prefer("rms_norm", torch.float32, 8192, "single_row", 1024)
    assert kernel(x) == ("rms_norm_looped_float32", (1024, 1, 1))
    # it fits only with 1024 threads: under a 512 preference the plan keeps its own choice
    tuning.prefer("rms_norm", torch.float32, 4096, "single_row", 512)
    assert kernel(torch.randn(2, 4096)) == ("rms_norm_single_row_float32", (1024, 1, 1))
    with pytest.raises(ValueError, match="power of two"):
        tuning.prefer("rms_norm", torch.float32, 1000, "looped")
    with pytest.raises(ValueError, match="variants"):
        tuning.prefer("rms_norm", torch.float32, 1024, "no_such_variant")


def test_preferred_kernels_compute_the_op():
    from torch_metalgen import sim

    x, weight = torch.randn(5, 1000), torch.randn(1000)
    tuning.prefer("rms_norm", torch.float32, 1024, "looped", 128)
    with sim.simulate(check_orders=True) as mode:
        out = torch_metalgen.rms_norm(x, weight, eps=1e-6)
    assert mode.launches == ["rms_norm_looped_float32"]
    assert_close_to_reference(out, REFERENCES["rms_norm"](x.double(), weight.double(), 1e-6))


def test_buckets_use_each_ops_size():
    x = torch.randn(3, 2 * 1000)
    assert tuning.bucket_of("silu_and_mul", (x, None)) == 1024  # d = 1000
    g = torch.randn(2, 8, 5, 5)
    assert tuning.bucket_of("group_norm", (g, 4, None, None, 1e-5, False)) == 64  # 2 x 25


def test_only_this_gpus_real_table_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("METALGEN_TUNING_DIR", str(tmp_path))
    entry = {
        "op": "rms_norm",
        "dtype": "float16",
        "bucket": 512,
        "variant": "looped",
        "max_threads": 256,
    }
    tuning.write_table("apple-m9", [entry])
    assert tuning.install("apple-m9") == [entry]
    assert tuning.preferences() == [("rms_norm", "Half", 512, "looped", 256)]
    assert tuning.install("apple-m1") == [] and tuning.preferences() == []
    tuning.write_table("apple-m9", [entry], dev=True)
    assert tuning.install("apple-m9") == []
    assert tuning.install() == []  # no MPS here: no family


def test_tune_needs_a_gpu_and_its_dev_run_is_never_installed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("METALGEN_TUNING_DIR", str(tmp_path))
    assert tune_main(["rms_norm"]) == 2
    assert "nothing written" in capsys.readouterr().out
    argv = ["rms_norm", "--cpu-dev", "--dtypes", "float32", "--samples", "3"]
    assert tune_main([*argv, "--max-seconds", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "DEV RUN" in out and "installed 0" in out
    table = json.loads((tmp_path / "cpu-dev.json").read_text())
    assert table["dev_run"] and table["gpu"] == "cpu-dev"
    assert tuning.preferences() == []
