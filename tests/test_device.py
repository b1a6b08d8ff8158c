import pytest
import torch

from decluster.training import device as _device
from decluster.training.device import in_precision, resolve_device, resolve_precision


def test_auto_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_explicit_devices():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_invalid_device_name():
    with pytest.raises(ValueError, match="not a valid torch device"):
        resolve_device("gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_cuda_is_reported():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_explicit_precisions_pass_through():
    for precision in ("float32", "bfloat16"):
        assert resolve_precision(precision, torch.device("cpu")) == precision


@pytest.mark.parametrize("has_amx, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_precision_on_cpu_follows_amx(monkeypatch, has_amx, expected):
    monkeypatch.setattr(_device, "_cpu_has_amx_bfloat16", lambda: has_amx)
    assert resolve_precision("auto", torch.device("cpu")) == expected


def test_auto_precision_reads_the_cpu_flags(monkeypatch, tmp_path):
    def fake_open(flags):
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu sse {flags} avx2\n")
        return lambda path, **kwargs: open(cpuinfo, **kwargs)

    monkeypatch.setattr(_device, "open", fake_open("amx_tile amx_bf16"), raising=False)
    assert _device._cpu_has_amx_bfloat16()
    monkeypatch.setattr(_device, "open", fake_open("avx512f"), raising=False)
    assert not _device._cpu_has_amx_bfloat16()


def test_float32_leaves_the_function_alone():
    layer = torch.nn.Linear(3, 2)
    assert in_precision(layer, "float32") is layer


def test_bfloat16_computes_close_to_float32_and_returns_float32():
    layer = torch.nn.Linear(64, 8)
    x = torch.randn(16, 64, generator=torch.Generator().manual_seed(0))
    mixed = in_precision(layer, "bfloat16")(x)
    assert mixed.dtype == torch.float32
    assert layer.weight.dtype == torch.float32
    torch.testing.assert_close(mixed, layer(x), rtol=0.05, atol=0.05)
    assert not torch.equal(mixed, layer(x))  # the product really ran in bfloat16


def test_bfloat16_sees_each_weight_update():
    # Autocast caches casted weights until its outermost context exits; a loop run inside one
    # long context would keep using the first weights. Each call must see the current ones.
    layer = torch.nn.Linear(4, 1, bias=False)
    mixed = in_precision(layer, "bfloat16")
    x = torch.ones(1, 4)
    before = mixed(x).item()
    with torch.no_grad():
        layer.weight.add_(1.0)
    assert mixed(x).item() == pytest.approx(before + 4.0, abs=0.05)
