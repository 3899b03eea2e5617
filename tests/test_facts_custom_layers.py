"""The facts docs/*/custom-layers.md claims, checked on the objects its snippet builds."""

import contextlib
import inspect
import io
import math
import pickle
import re
import tempfile
import types
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

from tools.snippets import ROOT, run, running_as_main

outputs, ns = run(ROOT / "snippets" / "custom-layers.py")


def test_centered_layer_subtracts_the_mean_and_has_no_parameters():
    layer = ns["CenteredLayer"]()
    assert torch.equal(layer(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    assert list(layer.parameters()) == []


def test_centered_network_output_has_mean_zero_but_linear_output_does_not():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(8, 128), ns["CenteredLayer"]())
        X = torch.rand(4, 8)
    assert abs(net[0](X).mean().item()) > 1e-3
    assert abs(net(X).mean().item()) < 1e-6


def test_centered_layer_averages_over_the_whole_batch():
    Y = ns["CenteredLayer"]()(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))
    assert torch.equal(Y, torch.tensor([[-2.0, -1.0], [0.0, 3.0]]))  # not zero per row


def test_my_linear_registers_weight_and_bias_as_parameters():
    shapes = {name: tuple(param.shape) for name, param in ns["LinearReLU"](5, 3).named_parameters()}
    assert shapes == {"weight": (3, 5), "bias": (3,)}
    assert list(ns["LinearReLU"](5, 3).state_dict()) == ["weight", "bias"]


def test_my_linear_weight_has_the_layout_of_nn_linear():
    mine, builtin = ns["LinearReLU"](5, 3), nn.Linear(5, 3)
    assert mine.weight.shape == builtin.weight.shape == (3, 5)  # (out, in): one row per output
    assert mine.bias.shape == builtin.bias.shape
    # the fans nn.init.kaiming_* and xavier_* use: fan_in = in_units, fan_out = out_units
    assert nn.init._calculate_fan_in_and_fan_out(mine.weight) == (5, 3)


def test_nn_init_takes_fan_in_from_dimension_1_so_a_transposed_weight_swaps_the_fans():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        out_in = nn.init.kaiming_normal_(torch.empty(64, 1024), nonlinearity="relu")
        in_out = nn.init.kaiming_normal_(torch.empty(1024, 64), nonlinearity="relu")
        fan_out = nn.init.kaiming_normal_(torch.empty(64, 1024), mode="fan_out", nonlinearity="relu")
    assert math.isclose(out_in.std().item(), math.sqrt(2 / 1024), rel_tol=0.03)  # fan_in = 1024 inputs
    assert math.isclose(in_out.std().item(), math.sqrt(2 / 64), rel_tol=0.03)  # reads the 64 outputs as fan_in
    assert math.isclose(fan_out.std().item(), math.sqrt(2 / 64), rel_tol=0.03)  # fan_out is dimension 0
    assert nn.init._calculate_fan_in_and_fan_out(torch.empty(1024, 64)) == (64, 1024)


def test_my_linear_output_is_relu_of_x_times_weight_transposed_plus_bias():
    layer, X = ns["LinearReLU"](5, 3), torch.randn(2, 5)
    Y = layer(X)
    assert torch.equal(Y, torch.relu(X @ layer.weight.T + layer.bias))
    assert torch.allclose(Y, torch.relu(F.linear(X, layer.weight, layer.bias)))  # what nn.Linear computes
    assert Y.grad_fn is not None
    assert (Y >= 0).all()


def test_page_output_of_my_linear_has_relu_zeros():
    Y = ns["linear"](ns["X"])
    assert (Y == 0).any() and (Y > 0).any()


def test_my_linear_is_initialized_like_nn_linear():
    with torch.random.fork_rng():
        torch.manual_seed(1)
        mine, builtin = ns["LinearReLU"](256, 64), nn.Linear(256, 64)
        randn = torch.randn(64, 256)
    bound = 1 / math.sqrt(256)
    for layer in (mine, builtin):
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        assert layer.weight.abs().max() > 0.95 * bound  # uniform up to the bound, not narrower
        assert math.isclose(layer.weight.std().item(), 1 / math.sqrt(3 * 256), rel_tol=0.03)
    assert math.isclose(mine.weight.std().item(), builtin.weight.std().item(), rel_tol=0.05)
    assert math.isclose(randn.std().item(), 1.0, rel_tol=0.03)  # what torch.randn would give
    assert randn.std() > 20 * mine.weight.std()


def test_page_init_output_shows_the_same_scale_as_nn_linear():
    mine, builtin = ns["mine"], ns["builtin"]
    assert math.isclose(mine.weight.std().item(), builtin.weight.std().item(), rel_tol=0.05)
    assert math.isclose(mine.weight.std().item(), 0.0361, rel_tol=0.05)
    assert re.search(r"1/sqrt\(3 \* 256\) = 0\.0361", outputs["my-linear-init"])


def test_reset_parameters_redraws_within_the_bound():
    layer = ns["LinearReLU"](5, 3)
    before = layer.weight.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(layer.weight, before)
    assert layer.weight.abs().max() <= 1 / math.sqrt(5) and layer.bias.abs().max() <= 1 / math.sqrt(5)


def test_a_linear_relu_layer_and_an_output_layer_have_529_parameters():
    net = nn.Sequential(ns["LinearReLU"](64, 8), nn.Linear(8, 1))
    assert sum(param.numel() for param in net.parameters()) == 64 * 8 + 8 + 8 * 1 + 1 == 529
    assert net(torch.rand(2, 64)).shape == (2, 1)


def test_a_relu_on_the_output_layer_clamps_every_prediction_at_zero():
    LinearReLU = ns["LinearReLU"]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        clamped = nn.Sequential(LinearReLU(64, 8), LinearReLU(8, 1))  # ReLU on the output too
        plain_output = nn.Sequential(LinearReLU(64, 8), nn.Linear(8, 1))  # the page's network
        X = torch.randn(1000, 64)
    assert (clamped(X) >= 0).all()  # a negative target can never be predicted
    assert (plain_output(X) < 0).any()
    snippet = (ROOT / "snippets" / "custom-layers.py").read_text()
    assert "nn.Sequential(LinearReLU(64, 8), nn.Linear(8, 1))" in snippet


def test_gradient_reaches_my_linear_weight():
    layer = ns["linear"]  # the page's layer, after its backward pass
    assert layer.weight.grad is not None
    assert layer.weight.grad.shape == layer.weight.shape
    assert layer.weight.grad.abs().sum() > 0
    assert ns["LinearReLU"](5, 3).weight.grad is None  # before any backward


def test_gradient_row_is_the_sum_of_the_inputs_where_the_output_was_positive():
    layer, X = ns["linear"], ns["X"]
    positive = layer(X).detach() > 0  # (examples, outputs)
    expected = positive.T.float() @ X  # row j: the sum of the inputs for which output j > 0
    assert torch.allclose(layer.weight.grad, expected)
    # on the page: the first two outputs positive only for the first example, the third for both
    assert positive.T.tolist() == [[True, False], [True, False], [True, True]]
    assert torch.equal(layer.weight.grad[0], layer.weight.grad[1])


def test_data_shares_values_but_does_not_require_grad():
    weight = ns["LinearReLU"](5, 3).weight
    assert weight.requires_grad and not weight.data.requires_grad
    assert weight.data.grad_fn is None
    assert weight.data.data_ptr() == weight.data_ptr()  # the same values, not a copy


def test_data_in_forward_gives_an_output_without_grad_fn():
    Y = ns["DataLinear"](5, 3)(torch.randn(2, 5))
    assert Y.grad_fn is None
    assert not Y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        Y.sum().backward()


def test_data_linear_gets_no_gradient_inside_a_network():
    net = nn.Sequential(ns["DataLinear"](5, 8), nn.Linear(8, 1))
    net(torch.randn(2, 5)).sum().backward()
    assert net[0].weight.grad is None and net[0].bias.grad is None
    assert net[1].weight.grad is not None


def test_data_linear_gets_no_gradient_even_when_its_input_requires_grad():
    layer = ns["DataLinear"](5, 3)
    X = torch.randn(2, 5, requires_grad=True)
    layer(X).sum().backward()  # no error: the graph runs through X
    assert X.grad is not None and layer.weight.grad is None


def test_data_linear_after_a_layer_with_parameters_raises_no_error_and_never_learns():
    # the summary's "otherwise": something else in the computation requires grad
    net = nn.Sequential(nn.Linear(5, 5), ns["DataLinear"](5, 3))
    net(torch.randn(2, 5)).sum().backward()
    assert net[0].weight.grad is not None
    assert net[1].weight.grad is None and net[1].bias.grad is None


def test_my_linear_learns_and_data_linear_never_changes():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        good = nn.Sequential(ns["LinearReLU"](5, 8), nn.Linear(8, 1))
        bad = nn.Sequential(ns["DataLinear"](5, 8), nn.Linear(8, 1))
        bad.load_state_dict(good.state_dict())
        start = bad[0].weight.detach().clone()
        good_losses, bad_losses = ns["train"](good), ns["train"](bad)
    assert good_losses[0] == bad_losses[0]
    assert good_losses[-1] < good_losses[0] / 10
    assert bad_losses[-1] > 5 * good_losses[-1]  # falls, but stays far higher
    assert bad_losses[-1] < bad_losses[0]  # the loss falls, which hides the bug...
    assert good_losses[-1] < bad_losses[-1] / 5
    assert torch.equal(bad[0].weight, start)  # ...while the DataLinear weight never moves
    assert not torch.equal(good[0].weight, start)


def test_page_training_numbers_data_linear_ends_about_30_times_higher():
    numbers = [float(x) for x in re.findall(r"-> (\d+\.\d+)", outputs["training"])]
    good, bad = numbers
    assert 20 < bad / good < 40


def test_standardize_has_two_saved_buffers_and_keeps_eps_as_a_python_float():
    standardize = ns["standardize"]
    assert list(standardize.parameters()) == []
    assert [name for name, _ in standardize.named_buffers()] == ["mean", "std"]
    assert list(standardize.state_dict()) == ["mean", "std"]
    assert type(standardize.eps) is float and standardize.eps == 1e-5
    # as in PyTorch's own layers: a float, not a buffer
    for layer in (nn.BatchNorm1d(3), nn.LayerNorm(3)):
        assert type(layer.eps) is float
        assert "eps" not in dict(layer.named_buffers()) and "eps" not in layer.state_dict()
    converted = ns["Standardize"](torch.zeros(3), torch.ones(3)).to(torch.float64)
    assert converted.mean.dtype == torch.float64 and converted.eps == 1e-5  # a float: nothing to convert


@contextlib.contextmanager
def unwritten_memory_is_nan():
    """In deterministic mode PyTorch fills the memory it leaves unwritten (to_empty) with NaN."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.utils.deterministic.fill_uninitialized_memory
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def built_on_meta_then_to_empty_then_loaded(make, state):
    """The flow the site teaches for a big model: build on meta, to_empty, load_state_dict."""
    with torch.device("meta"):
        module = make()
    with unwritten_memory_is_nan():
        module.to_empty(device="cpu")
    return module, module.load_state_dict(state)


def test_an_eps_buffer_is_garbage_after_meta_to_empty_and_loading_but_a_float_eps_is_kept():
    class EpsBuffer(nn.Module):  # Standardize with eps as a non-persistent buffer
        def __init__(self, mean, std):
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)
            self.register_buffer("eps", torch.tensor(1e-5), persistent=False)

        def forward(self, X):
            return (X - self.mean) / (self.std + self.eps)

    features = ns["features"]
    saved = EpsBuffer(features.mean(dim=0), features.std(dim=0))
    loaded, result = built_on_meta_then_to_empty_then_loaded(
        lambda: EpsBuffer(torch.zeros(3), torch.ones(3)), saved.state_dict())
    assert str(result) == "<All keys matched successfully>"  # nothing reported...
    assert torch.equal(loaded.mean, saved.mean)
    assert loaded.eps.isnan()  # ...but eps is what to_empty left there, not 1e-5
    assert loaded(features).isnan().all()
    # the page's Standardize, with eps a float, computes exactly what the saved one does
    Standardize, standardize = ns["Standardize"], ns["standardize"]
    loaded, result = built_on_meta_then_to_empty_then_loaded(
        lambda: Standardize(torch.zeros(3), torch.ones(3)), standardize.state_dict())
    assert str(result) == "<All keys matched successfully>"
    assert loaded.eps == 1e-5 and torch.equal(loaded(features), standardize(features))


def test_a_non_persistent_buffer_is_moved_not_saved_and_must_be_rebuilt_after_to_empty():
    CumulativeMean = ns["CumulativeMean"]
    layer = CumulativeMean(6)
    X = torch.randn(3, 6)
    assert torch.allclose(layer(X), X.cumsum(dim=-1) / torch.arange(1, 7))  # the mean of the inputs so far
    assert outputs["non-persistent-buffers"].splitlines()[:2] == ["tensor([2., 3., 4., 5.])", "['counts'] []"]
    assert [name for name, _ in layer.named_buffers()] == ["counts"] and list(layer.state_dict()) == []
    assert layer.to(torch.float64).counts.dtype == torch.float64  # .to() converts it
    assert layer.to("meta").counts.is_meta  # and moves it
    restored, result = built_on_meta_then_to_empty_then_loaded(lambda: CumulativeMean(6), layer.state_dict())
    assert str(result) == "<All keys matched successfully>"
    assert "<All keys matched successfully>" in outputs["non-persistent-buffers"]
    assert restored.counts.isnan().all()  # loading did not touch it
    restored.build_buffers()
    assert torch.equal(restored.counts, torch.arange(1.0, 7.0))
    assert outputs["non-persistent-buffers"].splitlines()[3:] == ["True", "torch.float64"]
    # loaded with assign=True instead, it stays on the meta device
    with torch.device("meta"):
        assigned = CumulativeMean(6)
    assert str(assigned.load_state_dict({}, assign=True)) == "<All keys matched successfully>"
    assert assigned.counts.is_meta


def test_standardized_features_have_mean_zero_and_std_one():
    Z = ns["standardize"](ns["features"])
    assert torch.allclose(Z.mean(dim=0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(Z.std(dim=0), torch.ones(3), atol=1e-4)


def test_batch_norm_state_dict_holds_buffers_beyond_its_parameters():
    batch_norm = nn.BatchNorm1d(3)
    assert [name for name, _ in batch_norm.named_parameters()] == ["weight", "bias"]
    assert list(batch_norm.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in batch_norm.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]


def test_batch_norm_forward_moves_running_mean_a_tenth_of_the_way():
    batch_norm, features = nn.BatchNorm1d(3), ns["features"]
    batch_norm(features)
    assert batch_norm.num_batches_tracked.item() == 1
    assert torch.allclose(batch_norm.running_mean, 0.1 * features.mean(dim=0))
    assert batch_norm.running_mean.grad is None and not batch_norm.running_mean.requires_grad
    assert batch_norm.momentum == 0.1
    unbiased_var = features.var(dim=0)  # the running variance moves towards the unbiased batch variance
    assert torch.allclose(batch_norm.running_var, 0.9 * torch.ones(3) + 0.1 * unbiased_var)
    assert (features.mean(dim=0) - 5).abs().max() < 0.2  # the batch mean is about 5


def test_batch_norm_counter_adds_one_per_training_batch_and_matters_only_with_momentum_none():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        batches = [torch.randn(16, 3) + shift for shift in (0.0, 4.0, 8.0)]
    counted, default = nn.BatchNorm1d(3, momentum=None), nn.BatchNorm1d(3)
    for batch in batches:
        counted(batch)
        default(batch)
    assert counted.num_batches_tracked.item() == default.num_batches_tracked.item() == 3
    plain_average = torch.stack([batch.mean(dim=0) for batch in batches]).mean(dim=0)
    assert torch.allclose(counted.running_mean, plain_average, atol=1e-6)
    assert not torch.allclose(default.running_mean, plain_average, atol=1e-2)
    # with a momentum, resetting the counter changes nothing
    other = nn.BatchNorm1d(3)
    for batch in batches:
        other.num_batches_tracked.zero_()
        other(batch)
    assert torch.equal(other.running_mean, default.running_mean)


def test_batch_norm_eval_uses_running_statistics_and_leaves_them_unchanged():
    features = ns["features"]
    trained = nn.BatchNorm1d(3)
    for _ in range(50):
        trained(features)
    trained.eval()
    running_mean = trained.running_mean.clone()
    out = trained(features[:10])
    assert torch.equal(trained.running_mean, running_mean) and trained.num_batches_tracked.item() == 50
    expected = (features[:10] - trained.running_mean) / torch.sqrt(trained.running_var + trained.eps)
    assert torch.allclose(out, expected * trained.weight + trained.bias, atol=1e-5)
    # loaded without its buffers, a BatchNorm keeps mean 0 and variance 1 and normalizes differently
    parameters_only = {name: value for name, value in trained.state_dict().items() if name in ("weight", "bias")}
    fresh = nn.BatchNorm1d(3)
    result = fresh.load_state_dict(parameters_only, strict=False)
    assert {"running_mean", "running_var"} <= set(result.missing_keys)
    fresh.eval()
    assert torch.equal(fresh.running_mean, torch.zeros(3)) and torch.equal(fresh.running_var, torch.ones(3))
    assert not torch.allclose(fresh(features[:10]), out, atol=1e-2)


def test_persistent_buffers_survive_save_and_load():
    standardize = ns["standardize"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "standardize.pt"
        torch.save(standardize.state_dict(), path)
        fresh = ns["Standardize"](torch.zeros(3), torch.ones(3))
        fresh.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(fresh.mean, standardize.mean) and torch.equal(fresh.std, standardize.std)
    assert torch.equal(fresh(ns["features"]), standardize(ns["features"]))


def test_to_converts_and_moves_all_buffers():
    module = ns["Standardize"](torch.zeros(3), torch.ones(3))
    module.to(torch.float64)
    assert {buffer.dtype for buffer in module.buffers()} == {torch.float64}
    module.to("meta")
    assert {buffer.device.type for buffer in module.buffers()} == {"meta"}


def test_to_dtype_converts_only_floating_point_buffers():
    batch_norm = nn.BatchNorm1d(3).to(torch.float64)
    assert batch_norm.running_mean.dtype == batch_norm.weight.dtype == torch.float64
    assert batch_norm.num_batches_tracked.dtype == torch.int64
    batch_norm.to("meta")
    assert batch_norm.num_batches_tracked.device.type == "meta"  # moved, though not converted
    assert ns["batch_norm"].num_batches_tracked.dtype == torch.int64  # the page's layer


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")
def test_to_cuda_moves_buffers_but_leaves_plain_tensors_behind():
    module = ns["Standardize"](torch.zeros(3), torch.ones(3)).to("cuda")
    assert {buffer.device.type for buffer in module.buffers()} == {"cuda"}
    plain = ns["PlainStandardize"](torch.zeros(3), torch.ones(3)).to("cuda")
    assert plain.mean.device.type == "cpu"


def test_optimizer_leaves_buffers_unchanged():
    model = nn.Sequential(ns["Standardize"](ns["features"].mean(dim=0), ns["features"].std(dim=0)), nn.Linear(3, 1))
    mean_before, weight_before = model[0].mean.clone(), model[1].weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(ns["features"]).pow(2).mean().backward()
    optimizer.step()
    assert torch.equal(model[0].mean, mean_before)
    assert model[0].mean.grad is None and not model[0].mean.requires_grad
    assert not ns["features"].mean(dim=0).requires_grad  # made from a tensor that does not require grad
    assert not torch.equal(model[1].weight, weight_before)
    assert sum(param.numel() for param in model.parameters()) == 4


def test_plain_tensor_constant_is_not_saved():
    PlainStandardize, features = ns["PlainStandardize"], ns["features"]
    plain = PlainStandardize(features.mean(dim=0), features.std(dim=0))
    assert plain.state_dict() == {}
    assert torch.allclose(plain(features), ns["standardize"](features), atol=1e-5)  # forward itself is right
    fresh = PlainStandardize(torch.zeros(3), torch.ones(3))
    result = fresh.load_state_dict(plain.state_dict())  # loads with no error...
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert not torch.equal(fresh(features), plain(features))  # ...but the statistics are lost


def test_plain_tensor_constant_is_not_moved():
    plain = ns["PlainStandardize"](torch.zeros(3), torch.ones(3))
    plain.to(torch.float64)
    plain.to("meta")
    assert plain.mean.dtype == torch.float32 and plain.mean.device.type == "cpu"
    with pytest.raises(RuntimeError):
        plain(torch.ones(2, 3, device="meta"))


# State that is not a tensor, and old checkpoints


def _round_trip(state_dict):
    """torch.save, then torch.load(..., weights_only=True), through a file in a temporary directory."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.pt"
        torch.save(state_dict, path)
        return torch.load(path, weights_only=True)


def _with_main(function):
    """Run function() with the snippet as __main__, as it ran: its classes are pickled by that name."""
    snippet = types.ModuleType("__main__")
    snippet.__dict__.update(ns)
    with running_as_main(snippet):
        return function()


def test_extra_state_is_saved_under_its_key_and_comes_back_through_a_weights_only_load():
    NamedStandardize, features = ns["NamedStandardize"], ns["features"]
    named = NamedStandardize(features.mean(dim=0), features.std(dim=0), ["height", "weight", "age"])
    state = named.state_dict()
    assert list(state) == ["mean", "std", "_extra_state"]
    assert state["_extra_state"] == {"columns": ["height", "weight", "age"]}
    assert [name for name, _ in named.named_buffers()] == ["mean", "std"]  # not a buffer
    fresh = NamedStandardize(torch.zeros(3), torch.ones(3), ["?", "?", "?"])
    result = fresh.load_state_dict(_round_trip(state))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert fresh.columns == ["height", "weight", "age"] and torch.equal(fresh.mean, named.mean)


def test_a_plain_attribute_is_not_saved_which_is_why_extra_state_exists():
    plain = ns["Standardize"](torch.zeros(3), torch.ones(3))
    plain.columns = ["height", "weight", "age"]
    assert "columns" not in str(list(plain.state_dict())) and "_extra_state" not in plain.state_dict()


def test_a_module_with_extra_state_expects_the_key_and_needs_set_extra_state_to_load_it():
    NamedStandardize = ns["NamedStandardize"]
    without = ns["Standardize"](torch.zeros(3), torch.ones(3)).state_dict()  # no _extra_state
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "_extra_state"'):
        NamedStandardize(torch.zeros(3), torch.ones(3), ["a", "b", "c"]).load_state_dict(without)

    class OnlyGet(nn.Module):
        def get_extra_state(self):
            return {"columns": ["a"]}

    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "_extra_state"'):
        OnlyGet().load_state_dict(OnlyGet().state_dict())


def test_to_never_touches_extra_state_so_a_tensor_there_is_left_behind():
    class TensorInExtraState(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.zeros(3)

        def get_extra_state(self):
            return {"table": self.table}

        def set_extra_state(self, state):
            self.table = state["table"]

    module = TensorInExtraState().to(torch.float64)
    assert module.table.dtype == torch.float32  # not converted, unlike a buffer
    assert module.state_dict()["_extra_state"]["table"].dtype == torch.float32
    named = ns["NamedStandardize"](torch.zeros(3), torch.ones(3), ["a", "b", "c"])
    columns = named.columns
    named.to(torch.float64)
    assert named.columns is columns and named.mean.dtype == torch.float64


def test_weights_only_loads_plain_values_and_containers_in_extra_state():
    class Holder(nn.Module):
        def __init__(self, value=None):
            super().__init__()
            self.value = value

        def get_extra_state(self):
            return self.value

        def set_extra_state(self, state):
            self.value = state

    values = ({"columns": ["a", "b"]}, ("a", 1, 2.5, None, True), {1, 2}, [b"bytes", 3],
              (torch.float64, torch.Size([2, 3]), torch.device("cpu")))  # and a few classes of torch's own
    for value in values:
        holder = Holder()
        holder.load_state_dict(_round_trip(Holder(value).state_dict()))
        assert holder.value == value


def test_extra_state_of_a_class_of_your_own_saves_but_weights_only_refuses_it_unless_allowed():
    Columns, ColumnsStandardize, named = ns["Columns"], ns["ColumnsStandardize"], ns["named"]

    def check():
        state = ColumnsStandardize(named.mean, named.std, named.columns).state_dict()
        assert isinstance(state["_extra_state"], Columns)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "columns.pt"
            torch.save(state, path)  # saving works
            with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL __main__.Columns"):
                torch.load(path, weights_only=True)
            with torch.serialization.safe_globals([Columns]):  # allowing the class works too
                loaded = torch.load(path, weights_only=True)
        fresh = ColumnsStandardize(torch.zeros(3), torch.ones(3), ["?"] * 3)
        fresh.load_state_dict(loaded)
        assert fresh.columns == named.columns

    _with_main(check)
    assert "Unsupported global: GLOBAL __main__.Columns" in outputs["extra-state-of-your-own-class"]


def test_a_renamed_buffer_fails_strict_loading_and_strict_false_loads_nothing_into_it():
    Standardize, OldStandardize, features = ns["Standardize"], ns["OldStandardize"], ns["features"]
    old = nn.Sequential(OldStandardize(features.mean(dim=0), features.std(dim=0)))
    checkpoint = _round_trip(old.state_dict())
    assert list(checkpoint) == ["0.mu", "0.sigma"]
    model = nn.Sequential(Standardize(torch.zeros(3), torch.ones(3)))
    with pytest.raises(RuntimeError, match="Missing key") as raised:
        model.load_state_dict(checkpoint)
    assert "Unexpected key" in str(raised.value)
    result = model.load_state_dict(checkpoint, strict=False)  # no error
    assert result.missing_keys == ["0.mean", "0.std"] and result.unexpected_keys == ["0.mu", "0.sigma"]
    assert torch.equal(model[0].mean, torch.zeros(3)) and torch.equal(model[0].std, torch.ones(3))


def test_state_dict_records_each_modules_version_and_a_weights_only_load_keeps_it():
    assert nn.Module._version == 1 and ns["Standardize"]._version == 1
    assert ns["VersionedStandardize"]._version == 2
    model = nn.Sequential(ns["VersionedStandardize"](torch.zeros(3), torch.ones(3)), nn.ReLU())
    loaded = _round_trip(model.state_dict())
    assert loaded._metadata["0"]["version"] == 2 and loaded._metadata["1"]["version"] == 1
    assert ns["checkpoint"]._metadata["0"] == {"version": 1}  # the page's old checkpoint


def test_the_load_pre_hook_gets_the_module_its_prefix_and_its_metadata_before_it_loads():
    seen = []

    def record(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        seen.append((module, prefix, dict(local_metadata), sorted(state_dict)))

    inner = ns["VersionedStandardize"](torch.zeros(3), torch.ones(3))
    inner.register_load_state_dict_pre_hook(record)  # runs after the class's own hook
    model = nn.Sequential(inner)
    model.load_state_dict(ns["checkpoint"])
    ((module, prefix, metadata, keys),) = seen
    assert module is inner and prefix == "0." and metadata == {"version": 1}
    assert keys == ["0.mean", "0.std"]  # renamed by the first hook, before the module took its entries
    assert list(ns["checkpoint"]) == ["0.mu", "0.sigma"]  # the caller's dict is left as it was


def _versioned_model_loaded_from_the_old_checkpoint():
    model = nn.Sequential(ns["VersionedStandardize"](torch.zeros(3), torch.ones(3)))
    model.load_state_dict(ns["checkpoint"])
    return model


def test_the_versioned_layer_loads_old_checkpoints_with_or_without_metadata_and_new_ones():
    from safetensors.torch import load_file, save_file

    VersionedStandardize, old_model = ns["VersionedStandardize"], ns["old_model"]
    checkpoint = ns["checkpoint"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "old.safetensors"
        save_file(dict(checkpoint), str(path))
        from_safetensors = load_file(str(path))
    for state in (checkpoint, dict(checkpoint), from_safetensors):
        model = nn.Sequential(VersionedStandardize(torch.zeros(3), torch.ones(3)))
        result = model.load_state_dict(state)  # strict
        assert result.missing_keys == [] and result.unexpected_keys == []
        assert torch.equal(model[0].mean, old_model[0].mu) and torch.equal(model[0].std, old_model[0].sigma)
    assert getattr(dict(checkpoint), "_metadata", None) is None
    assert getattr(from_safetensors, "_metadata", None) is None  # no version either
    new = _versioned_model_loaded_from_the_old_checkpoint().state_dict()  # saved again
    assert list(new) == ["0.mean", "0.std"] and new._metadata["0"]["version"] == 2
    for state in (new, dict(new)):  # a new checkpoint, with or without its version
        fresh = nn.Sequential(VersionedStandardize(torch.zeros(3), torch.ones(3)))
        fresh.load_state_dict(state)
        assert torch.equal(fresh[0].mean, old_model[0].mu)


def test_a_hook_that_trusted_only_the_version_would_fail_on_a_new_checkpoint_without_metadata():
    def rename_by_version_alone(module, state_dict, prefix, local_metadata, *args):
        if local_metadata.get("version", 1) < 2:
            for old, new in (("mu", "mean"), ("sigma", "std")):
                state_dict[prefix + new] = state_dict.pop(prefix + old)

    model = nn.Sequential(ns["Standardize"](torch.zeros(3), torch.ones(3)))
    model[0].register_load_state_dict_pre_hook(rename_by_version_alone)
    with pytest.raises(KeyError):
        model.load_state_dict(dict(_versioned_model_loaded_from_the_old_checkpoint().state_dict()))  # no version


def test_batch_norm_is_version_2_and_fills_in_a_counter_missing_from_an_old_checkpoint():
    assert nn.BatchNorm1d._version == 2
    state = nn.BatchNorm1d(3).state_dict()
    del state["num_batches_tracked"]
    for version in (1, None):
        state._metadata = {"": {"version": version}} if version else {}
        bn = nn.BatchNorm1d(3)
        bn.num_batches_tracked.fill_(7)
        result = bn.load_state_dict(state)  # strict: no missing key
        assert result.missing_keys == [] and bn.num_batches_tracked.item() == 7  # its own count
    state._metadata = {"": {"version": 2}}
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        nn.BatchNorm1d(3).load_state_dict(state)
    source = inspect.getsource(nn.modules.batchnorm._NormBase._load_from_state_dict)
    assert "torch.tensor(0, dtype=torch.long)" in source  # 0 where the layer has no count of its own


def test_load_from_state_dict_runs_the_pre_hooks():
    assert "_load_state_dict_pre_hooks" in inspect.getsource(nn.Module._load_from_state_dict)
    assert "module, state_dict, prefix, local_metadata" in inspect.getdoc(nn.Module.register_load_state_dict_pre_hook)


def test_show_error_prints_type_and_message(capsys):
    ns["show_error"](RuntimeError("boom"))
    assert capsys.readouterr().out == "RuntimeError: boom\n"


# Custom gradients with torch.autograd.Function


def swish_derivative(x):
    s = torch.sigmoid(x)
    return s + x * s * (1 - s)


def test_swish_function_matches_silu_and_its_gradient():
    SwishFunction = ns["SwishFunction"]
    x = torch.randn(50, dtype=torch.float64, requires_grad=True)
    y = SwishFunction.apply(x)
    assert torch.allclose(y, F.silu(x))
    (grad,) = torch.autograd.grad(y.sum(), x)
    (silu_grad,) = torch.autograd.grad(F.silu(x).sum(), x)
    assert torch.allclose(grad, silu_grad)
    assert torch.allclose(grad, swish_derivative(x.detach()))


def test_swish_layer_output_has_the_function_backward_and_matches_nn_silu():
    assert outputs["autograd-function"].splitlines() == ["SwishFunctionBackward", "True True"]
    net, reference = ns["net"], ns["reference"]
    assert isinstance(net[1], ns["Swish"]) and isinstance(reference[1], nn.SiLU)
    assert torch.equal(net[0].weight, reference[0].weight)  # the same values, loaded
    assert net[0].weight.grad is not None
    assert torch.allclose(net[0].weight.grad, reference[0].weight.grad, atol=1e-6)


def test_swish_function_uses_the_separate_setup_context_style():
    SwishFunction = ns["SwishFunction"]
    assert list(inspect.signature(SwishFunction.forward).parameters) == ["x"]  # no ctx
    assert list(inspect.signature(SwishFunction.setup_context).parameters) == ["ctx", "inputs", "output"]
    for method in ("forward", "setup_context", "backward"):
        assert isinstance(inspect.getattr_static(SwishFunction, method), staticmethod)


def test_only_the_setup_context_style_works_with_torch_func_grad():
    class Combined(torch.autograd.Function):  # the older style: forward(ctx, ...)
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * swish_derivative(x)

    x = torch.randn(4, dtype=torch.float64)
    grad = torch.func.grad(lambda t: ns["SwishFunction"].apply(t).sum())(x)
    assert torch.allclose(grad, swish_derivative(x))
    with pytest.raises(RuntimeError, match="setup_context"):
        torch.func.grad(lambda t: Combined.apply(t).sum())(x)
    # torch.vmap needs a vmap rule as well
    batch = torch.randn(3, 4)
    with pytest.raises(RuntimeError, match="generate_vmap_rule=True"):
        torch.vmap(ns["SwishFunction"].apply)(batch)

    class WithVmapRule(ns["SwishFunction"]):
        generate_vmap_rule = True

    assert torch.allclose(torch.vmap(WithVmapRule.apply)(batch), F.silu(batch))
    # the older style still works with ordinary autograd
    x.requires_grad_()
    Combined.apply(x).sum().backward()
    assert torch.allclose(x.grad, swish_derivative(x.detach()))


def saved_tensors(function, x):
    """The distinct tensors autograd keeps for the backward pass of function(x)."""
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        function(x)
    return {(t.data_ptr(), tuple(t.shape)) for t in packed}


def test_swish_function_keeps_only_its_input_while_x_times_sigmoid_keeps_two_tensors():
    x = torch.randn(5, requires_grad=True)
    kept = saved_tensors(lambda t: t * torch.sigmoid(t), x)
    assert len(kept) == 2 and (x.data_ptr(), (5,)) in kept  # x and sigmoid(x)
    assert saved_tensors(ns["SwishFunction"].apply, x) == {(x.data_ptr(), (5,))}  # only x
    assert saved_tensors(F.silu, x) == {(x.data_ptr(), (5,))}  # F.silu too


def test_calling_forward_directly_bypasses_the_hand_written_backward():
    x = torch.randn(3, requires_grad=True)
    assert ns["SwishFunction"].apply(x).grad_fn.name() == "SwishFunctionBackward"
    assert ns["SwishFunction"].forward(x).grad_fn.name() == "MulBackward0"  # autograd's own graph
    RoundSTE = ns["RoundSTE"]
    RoundSTE.forward(x, 0.5).sum().backward()
    assert torch.equal(x.grad, torch.zeros(3))  # torch.round's gradient again, not straight through


def test_swish_function_saves_only_its_input_and_supports_double_backward():
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(ns["SwishFunction"].apply, (x,))


def test_forward_of_a_function_runs_without_recording_a_graph():
    seen = []

    class Probe(torch.autograd.Function):
        @staticmethod
        def forward(x):
            seen.append(torch.is_grad_enabled())
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            pass

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    Probe.apply(torch.ones(2, requires_grad=True))
    assert seen == [False]


# Checking a backward with gradcheck


def test_gradcheck_passes_for_swish_and_catches_the_missing_product_rule():
    from torch.autograd.gradcheck import GradcheckError

    assert issubclass(GradcheckError, RuntimeError)
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ns["SwishFunction"].apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(ns["WrongSwishFunction"].apply, (x,))
    (wrong,) = torch.autograd.grad(ns["WrongSwishFunction"].apply(x).sum(), x)
    assert torch.allclose(wrong, torch.sigmoid(x.detach()))  # only the sigmoid term


def test_page_gradcheck_output_shows_diagonal_jacobians_that_differ():
    text = outputs["gradcheck"]
    assert text.splitlines()[0] == "True"
    assert "GradcheckError: Jacobian mismatch for output 0 with respect to input 0," in text
    x = ns["x32"].detach().double()  # the page's x, as float32
    assert torch.allclose(x, torch.tensor([-0.5366, 1.4028, 0.8100], dtype=torch.float64), atol=1e-4)
    numerical = [float(v) for v in re.findall(r"numerical:tensor\(\[\[(-?\d\.\d+)", text)]
    analytical = [float(v) for v in re.findall(r"analytical:tensor\(\[\[(-?\d\.\d+)", text)]
    assert numerical == [0.2440] and analytical == [0.3690]
    s = torch.sigmoid(x)
    assert math.isclose(swish_derivative(x)[0].item(), 0.2440, abs_tol=1e-4)  # the numerical one is right
    assert math.isclose(s[0].item(), 0.3690, abs_tol=1e-4)  # the wrong backward's sigmoid(x)


def test_gradcheck_defaults_are_eps_1e_6_atol_1e_5_rtol_1e_3():
    defaults = {name: p.default for name, p in inspect.signature(torch.autograd.gradcheck).parameters.items()}
    assert defaults["eps"] == 1e-6 and defaults["atol"] == 1e-5 and defaults["rtol"] == 1e-3


def test_gradcheck_in_float32_fails_a_correct_backward_with_errors_of_several_percent():
    assert outputs["gradcheck-float32"].splitlines()[0] == "False"
    assert "This check will likely fail" in outputs["gradcheck-float32"]
    x = ns["x32"].detach()
    assert x.dtype == torch.float32
    f = ns["SwishFunction"].apply
    numerical = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6  # central differences, as gradcheck computes them
    relative_error = ((numerical.double() - swish_derivative(x.double())) / swish_derivative(x.double())).abs()
    assert 0.02 < relative_error.max() < 0.2  # several percent
    assert relative_error.max() > 1e-3  # beyond rtol
    assert torch.autograd.gradcheck(f, (x.double().requires_grad_(),))  # the same backward passes in float64
    assert math.isclose(torch.finfo(torch.float32).eps, 1.19e-7, rel_tol=0.01)  # about seven digits


# Changing a gradient: straight-through rounding


def test_torch_round_has_a_zero_gradient_everywhere():
    x = torch.linspace(-3, 3, 121, requires_grad=True)  # includes the halfway points
    torch.round(x / 0.5).sum().backward()
    assert torch.equal(x.grad, torch.zeros(121))


def test_straight_through_rounds_forward_and_passes_the_gradient_backward():
    lines = outputs["straight-through"].splitlines()
    assert lines[:3] == ["tensor([ 0.5000,  1.0000, -0.5000], grad_fn=<RoundSTEBackward>)",
                         "tensor([0., 0., 0.])", "tensor([1., 1., 1.])"]
    x = torch.randn(10, requires_grad=True)
    y = ns["Quantize"](0.25)(x)
    assert torch.allclose(y, torch.round(x / 0.25) * 0.25)
    weights = torch.randn(10)
    (y * weights).sum().backward()
    assert torch.equal(x.grad, weights)  # the output's gradient, unchanged
    assert list(ns["Quantize"](0.5).parameters()) == []


def test_the_detach_idiom_gives_the_straight_through_gradient_without_a_function():
    assert outputs["straight-through"].splitlines()[3] == outputs["straight-through"].splitlines()[2]
    x = torch.randn(20, requires_grad=True)
    q = torch.round(x / 0.5) * 0.5
    y = x + (q - x).detach()
    assert torch.allclose(y, q)  # the rounded values, up to float rounding
    weights = torch.randn(20)
    (y * weights).sum().backward()
    assert torch.equal(x.grad, weights)  # the same gradient as RoundSTE: passed straight through


def test_a_function_made_of_pytorch_operations_and_the_detach_idiom_compile_with_fullgraph():
    x = torch.randn(5, requires_grad=True)
    snippet = types.ModuleType("__main__")  # the snippet's classes name their module __main__
    snippet.__dict__.update(ns)
    with running_as_main(snippet):
        for f in (lambda t: ns["SwishFunction"].apply(t).sum(),
                  lambda t: ns["Quantize"](0.5)(t).sum(),
                  lambda t: (t + (torch.round(t / 0.5) * 0.5 - t).detach()).sum()):
            torch._dynamo.reset()
            compiled = torch.compile(f, backend="eager", fullgraph=True)  # raises at a graph break
            (expected,) = torch.autograd.grad(f(x), x)
            (grad,) = torch.autograd.grad(compiled(x), x)
            assert torch.allclose(grad, expected)
    torch._dynamo.reset()


def test_compile_translates_numpy_in_a_function_so_fullgraph_works():
    class NumpySin(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return torch.from_numpy(np.sin(x.numpy()))

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * torch.cos(x)

    x = torch.randn(5, requires_grad=True)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: NumpySin.apply(t).sum(), backend="eager", fullgraph=True)  # no graph break
    (grad,) = torch.autograd.grad(compiled(x), x)
    assert torch.allclose(grad, torch.cos(x.detach()))
    torch._dynamo.reset()


def test_gradcheck_rejects_the_straight_through_gradient():
    x = torch.tensor([0.3, 1.2, -0.7], dtype=torch.float64, requires_grad=True)  # away from the jumps
    assert not torch.autograd.gradcheck(lambda t: ns["RoundSTE"].apply(t, 0.5), (x,), raise_exception=False)


def test_backward_must_return_one_value_per_input_of_forward():
    x = torch.tensor([0.3, 1.2, -0.7], requires_grad=True)
    y = ns["RoundOneGradient"].apply(x, 0.5)  # the forward pass runs
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        y.sum().backward()
    assert "expected 2, got 1" in outputs["wrong-number-of-gradients"]


# Tensors for the backward: save_for_backward


def test_save_for_backward_takes_only_tensors():
    class SavesAFloat(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(2.0)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    with pytest.raises(TypeError, match="save_for_backward can only save"):
        SavesAFloat.apply(torch.ones(2, requires_grad=True))

    class SavesNone(SavesAFloat):  # None is accepted, and comes back as None
        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0], None)

        @staticmethod
        def backward(ctx, grad_output):
            seen.append(ctx.saved_tensors)
            return grad_output

    seen = []
    x = torch.ones(2, requires_grad=True)
    SavesNone.apply(x).sum().backward()
    assert len(seen[0]) == 2 and torch.equal(seen[0][0], x) and seen[0][1] is None


def test_save_for_backward_docstring_gives_the_two_reasons_quoted_on_the_page():
    doc = " ".join(torch.autograd.function.FunctionCtx.save_for_backward.__doc__.split())
    assert "to prevent incorrect gradients and memory leaks" in doc
    assert "intermediary tensors" in doc and "may not support double backward" in doc


def test_in_place_change_raises_with_save_for_backward_and_gives_a_wrong_gradient_with_ctx():
    lines = outputs["save-for-backward"].splitlines()
    assert lines[0] == "SwishFunction:" and "modified by an inplace operation" in lines[1] and "version" in lines[1]
    assert lines[2] == "SwishOnCtx:" and lines[3] == "tensor([2.1816, 1.0000, 2.0247])"
    assert lines[4] == "right gradient: tensor([ 2.1816, -0.1053,  2.0247])"
    right = 2 * swish_derivative(torch.tensor([2.0, -4.0, 6.0]))
    assert torch.allclose(right, torch.tensor([2.1816, -0.1053, 2.0247]), atol=1e-4)
    assert math.isclose(2 * swish_derivative(torch.tensor(0.0)).item(), 1.0)  # the gradient at 0, not at -4
    # without the in-place change, both Functions give the right gradient
    for function in (ns["SwishFunction"], ns["SwishOnCtx"]):
        x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
        function.apply(2 * x).sum().backward()
        assert torch.allclose(x.grad, right)


# When a parametrization is simpler


# Custom operators

OPERATOR_SECTIONS = ("custom-op", "opcheck", "exercise-softplus-as-a-custom-operator-task",
                     "exercise-softplus-as-a-custom-operator")


@pytest.fixture(scope="module")
def ops():
    """The snippet's custom operators, defined again here: an operator defined again under the same
    name (by the pages' tests or by `make rounding`, in this process) leaves the objects of the
    earlier definition dangling, so the tests call only these. Also what that second run printed."""
    from tools.snippets import parse_sections

    sections = {section.name: section.code for section in parse_sections(ROOT / "snippets" / "custom-layers.py")}
    again = dict(ns)
    torch._dynamo.reset()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        _with_main(lambda: [exec(sections[name], again) for name in OPERATOR_SECTIONS])
    torch._dynamo.reset()
    again["printed"] = printed.getvalue()
    return again


def test_a_function_around_code_it_cannot_trace_breaks_the_graph_and_fullgraph_raises():
    FunctionErf = ns["FunctionErf"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    assert torch.allclose(FunctionErf()(x), torch.erf(x))  # eager mode works

    def check():
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(FunctionErf())(x)
        assert (explanation.graph_count, explanation.graph_break_count) == (2, 1)
        assert "tolist()" in explanation.break_reasons[0].reason
        torch._dynamo.reset()
        with pytest.raises(torch._dynamo.exc.Unsupported, match=r"tolist\(\) with non-integer tensor"):
            torch.compile(FunctionErf(), backend="eager", fullgraph=True)(x)
        torch._dynamo.reset()

    _with_main(check)


def test_the_compiler_runs_the_functions_apply_outside_the_graph_and_compiles_its_forward_as_two_graphs():
    FunctionErf, erf_outside_pytorch = ns["FunctionErf"], ns["erf_outside_pytorch"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)

    def check():
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(FunctionErf())(x)
        torch._dynamo.reset()
        y = torch.compile(FunctionErf(), backend="eager")(x)
        torch._dynamo.reset()
        return explanation, y

    explanation, y = _with_main(check)
    assert type(y.grad_fn).__name__ == "ErfFunctionBackward"  # apply ran as in eager mode, outside any graph
    before, after = ([getattr(node.target, "__name__", node.target) for node in graph.graph.nodes
                      if node.op in ("call_function", "call_method")] for graph in explanation.graphs)
    assert (before, after) == (["flatten"], ["tensor", "reshape"])  # the two sides of .tolist() in forward's code
    (reason,) = explanation.break_reasons
    assert reason.user_stack[-1].name == erf_outside_pytorch.__name__  # the break is inside forward's code


def test_a_custom_op_is_one_node_of_one_graph_and_compiles_with_the_values_and_gradient_of_erf(ops):
    Erf, erf = ops["Erf"], ops["erf"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    graphs = []

    def keep(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    def check():
        torch._dynamo.reset()
        compiled = torch.compile(Erf(), backend=keep, fullgraph=True)
        y = compiled(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        (expected,) = torch.autograd.grad(torch.erf(x).sum(), x)
        assert torch.allclose(y, torch.erf(x)) and torch.allclose(grad, expected)
        torch._dynamo.reset()

    _with_main(check)
    (graph,) = graphs
    targets = [node.target for node in graph.graph.nodes if node.op == "call_function"]
    assert targets == [torch.ops.pmodels.erf.default]  # one node; nothing of its inside
    assert str(torch.ops.pmodels.erf.default._schema) == "pmodels::erf(Tensor x) -> Tensor"
    assert erf._init_fn.__annotations__ == {"x": torch.Tensor, "return": torch.Tensor}


def test_register_autograd_takes_the_functions_own_setup_context_and_backward(ops):
    erf, ErfFunction = ops["erf"], ns["ErfFunction"]
    assert erf._setup_context_fn is ErfFunction.setup_context and erf._backward_fn is ErfFunction.backward


def test_custom_op_needs_a_type_hint_for_every_argument():
    with pytest.raises(ValueError, match="must have a type annotation"):
        @torch.library.custom_op("pmodels::facts_no_hint", mutates_args=())
        def no_hint(x):
            return x.clone()


def test_a_second_custom_op_with_the_same_name_replaces_the_first_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning

        @torch.library.custom_op("pmodels::facts_same_name", mutates_args=())
        def first(x: torch.Tensor) -> torch.Tensor:
            return x + 1

        @torch.library.custom_op("pmodels::facts_same_name", mutates_args=())
        def second(x: torch.Tensor) -> torch.Tensor:
            return x + 2

    zero = torch.zeros(1)
    assert second(zero).item() == torch.ops.pmodels.facts_same_name(zero).item() == 2  # the new definition


def test_calling_the_object_of_a_replaced_custom_op_is_undefined():
    script = """
import torch
failures = 0
for k in range(200):
    @torch.library.custom_op(f"pmodels::facts_replaced_{k}", mutates_args=())
    def first(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    @torch.library.custom_op(f"pmodels::facts_replaced_{k}", mutates_args=())
    def second(x: torch.Tensor) -> torch.Tensor:
        return x + 2

    try:
        failures += first(torch.zeros(1)).item() != 2
    except Exception:
        failures += 1
print("failures", failures)
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    # a crash (a segmentation fault with torch 2.13), an error or a wrong result: not a clean run
    assert done.returncode != 0 or done.stdout.strip() != "failures 0", done.stdout


def test_the_snippets_operators_defined_again_in_the_same_process_print_the_same(ops):
    assert ops["printed"] == "".join(outputs[name] for name in OPERATOR_SECTIONS)
    assert ops["erf"] is not ns["erf"] and ops["softplus"] is not ns["softplus"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    assert torch.allclose(ops["erf"](x), torch.erf(x)) and torch.allclose(ops["Erf"]()(x), torch.erf(x))


def test_fake_tensors_have_a_shape_dtype_and_device_but_a_fake_that_reads_values_fails():
    seen = []

    @torch.library.custom_op("pmodels::facts_reads_values", mutates_args=())
    def reads_values(x: torch.Tensor) -> torch.Tensor:
        return ns["erf_outside_pytorch"](x)

    @reads_values.register_fake
    def _(x):
        seen.append((type(x).__name__, x.shape, x.dtype, x.device))
        return ns["erf_outside_pytorch"](x)  # the WRONG way: reads values

    results = torch.library.opcheck(reads_values, (torch.linspace(-2, 2, 6),), raise_exception=False)
    assert results["test_faketensor"] != "SUCCESS"
    assert seen[0] == ("FakeTensor", (6,), torch.float32, torch.device("cpu"))


def test_opcheck_schema_test_catches_an_input_changed_in_place_without_mutates_args():
    @torch.library.custom_op("pmodels::facts_changes_input", mutates_args=())
    def changes_input(x: torch.Tensor) -> torch.Tensor:
        x.add_(1)
        return x.clone()

    @changes_input.register_fake
    def _(x):
        return torch.empty_like(x)

    results = torch.library.opcheck(changes_input, (torch.zeros(3),), raise_exception=False)
    assert "not defined as mutable but was mutated" in str(results["test_schema"])


def test_opcheck_faketensor_test_catches_a_fake_of_the_wrong_dtype():
    @torch.library.custom_op("pmodels::facts_wrong_fake", mutates_args=())
    def wrong_fake(x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @wrong_fake.register_fake
    def _(x):
        return torch.empty_like(x, dtype=torch.float64)

    results = torch.library.opcheck(wrong_fake, (torch.zeros(3),), raise_exception=False)
    assert "Dtypes" in str(results["test_faketensor"]) and results["test_schema"] == "SUCCESS"


def erf_with_a_fake_and_no_backward(name: str):
    """The page's erf as a custom operator (pmodels::<name>, a name per test) with a fake
    implementation and no backward registered."""
    @torch.library.custom_op(f"pmodels::{name}", mutates_args=())
    def op(x: torch.Tensor) -> torch.Tensor:
        return ns["erf_outside_pytorch"](x)

    @op.register_fake
    def _(x):
        return torch.empty_like(x)

    return op


def test_opcheck_runs_four_tests_by_default_and_erf_passes_them(ops):
    defaults = inspect.signature(torch.library.opcheck).parameters["test_utils"].default
    assert defaults == ("test_schema", "test_autograd_registration", "test_faketensor", "test_aot_dispatch_dynamic")
    results = torch.library.opcheck(ops["erf"], (torch.linspace(-2, 2, 6, requires_grad=True),))
    assert list(results) == list(defaults) and set(results.values()) == {"SUCCESS"}


def test_the_page_runs_the_three_tests_that_do_not_compile_and_they_miss_a_missing_backward(ops):
    from torch.testing._internal.optests import aot_autograd

    defaults = inspect.signature(torch.library.opcheck).parameters["test_utils"].default
    assert ns["CHECKS"] == defaults[:3] and defaults[3] == "test_aot_dispatch_dynamic"
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    with mock.patch.object(aot_autograd, "compiled_function", wraps=aot_autograd.compiled_function) as compiles:
        assert set(torch.library.opcheck(ops["erf"], (x,), test_utils=ns["CHECKS"]).values()) == {"SUCCESS"}
        assert not compiles.called
        torch.library.opcheck(ops["erf"], (x,), test_utils=defaults[3:])
        assert compiles.called  # the fourth compiles the operator (AOTAutograd's compiled_function)
    assert list(outputs["opcheck"].splitlines()[0].split("'")[1::4]) == list(ns["CHECKS"])

    no_backward = erf_with_a_fake_and_no_backward("facts_fake_but_no_backward")

    assert set(torch.library.opcheck(no_backward, (x,), test_utils=ns["CHECKS"]).values()) == {"SUCCESS"}
    # the page's first backward fails with the error that the fourth test reports
    found = torch.library.opcheck(ops["erf_unregistered"], (x,), test_utils=defaults[3:], raise_exception=False)
    backward = outputs["opcheck"].splitlines()[-1]
    assert backward.startswith("backward: ") and backward.removeprefix("backward: ") in str(found[defaults[3]])


def test_autograd_registration_checks_where_a_backward_is_registered_and_custom_op_always_registers_one(ops):
    erf_unregistered = ops["erf_unregistered"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    registration = ("test_autograd_registration",)
    # custom_op registers an autograd kernel even without register_autograd: the test passes ...
    assert torch._C._dispatch_has_kernel_for_dispatch_key("pmodels::erf_unregistered", "Autograd")
    assert torch.library.opcheck(erf_unregistered, (x,), test_utils=registration) == {registration[0]: "SUCCESS"}
    # ... and that kernel raises at the first backward
    with pytest.raises(RuntimeError, match="no autograd formula was registered. Please use register_autograd"):
        erf_unregistered(x).sum().backward()
    # an operator whose gradient comes from its CPU kernel (PyTorch's erf, recorded there), with no
    # kernel at an autograd key, fails the same test: the backward is registered in the wrong place
    library = torch.library.Library("pmodels", "FRAGMENT")
    library.define("facts_cpu_kernel_only(Tensor x) -> Tensor")
    library.impl("facts_cpu_kernel_only", torch.erf, "CPU")
    assert not torch._C._dispatch_has_kernel_for_dispatch_key("pmodels::facts_cpu_kernel_only", "Autograd")
    found = torch.library.opcheck(torch.ops.pmodels.facts_cpu_kernel_only.default, (x,), test_utils=registration,
                                  raise_exception=False)
    assert "does not have an autograd kernel defined at an autograd key" in str(found[registration[0]])


def test_opcheck_finds_a_missing_fake_and_a_missing_backward_only_on_inputs_that_require_grad(ops):
    erf_unregistered = ops["erf_unregistered"]
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    assert torch.allclose(erf_unregistered(x), torch.erf(x))  # eager forward runs
    results = torch.library.opcheck(erf_unregistered, (x,), raise_exception=False)
    assert results["test_schema"] == results["test_autograd_registration"] == "SUCCESS"
    assert "no fake impl registered" in str(results["test_faketensor"])
    assert "no autograd formula was registered" in str(results["test_aot_dispatch_dynamic"])
    with pytest.raises(RuntimeError, match="no autograd formula was registered"):
        erf_unregistered(x).sum().backward()  # what the first backward meets
    torch._dynamo.reset()
    with pytest.raises(Exception, match="no fake impl registered"):
        torch.compile(lambda t: erf_unregistered(t), backend="eager", fullgraph=True)(x)  # what compile meets
    torch._dynamo.reset()

    no_backward = erf_with_a_fake_and_no_backward("facts_no_backward")

    with_grad = torch.library.opcheck(no_backward, (x,), raise_exception=False)
    without_grad = torch.library.opcheck(no_backward, (x.detach(),), raise_exception=False)
    assert "no autograd formula" in str(with_grad["test_aot_dispatch_dynamic"])
    assert set(without_grad.values()) == {"SUCCESS"}  # the gradient is not tested


def test_opcheck_raises_at_a_failure_unless_raise_exception_is_false(ops):
    x = torch.linspace(-2, 2, 6, requires_grad=True)
    with pytest.raises(Exception, match="test_faketensor failed"):
        torch.library.opcheck(ops["erf_unregistered"], (x,))
    assert isinstance(torch.library.opcheck(ops["erf_unregistered"], (x,), raise_exception=False), dict)


def test_opcheck_passes_a_wrong_backward_that_gradcheck_catches(ops):
    wrong_backward = erf_with_a_fake_and_no_backward("facts_wrong_backward")

    def backward(ctx, grad_output):  # the factor 2 / sqrt(pi) forgotten
        return grad_output * torch.exp(-ctx.saved_tensors[0] ** 2)

    wrong_backward.register_autograd(backward, setup_context=ns["ErfFunction"].setup_context)
    x = torch.linspace(-2, 2, 6, dtype=torch.float64, requires_grad=True)
    assert set(torch.library.opcheck(wrong_backward, (x,)).values()) == {"SUCCESS"}
    assert not torch.autograd.gradcheck(wrong_backward, (x,), raise_exception=False)
    assert torch.autograd.gradcheck(ops["erf"], (x,))  # the right one passes


def test_parametrized_linear_computes_like_the_custom_layer_and_its_weight_is_positive():
    assert outputs["parametrization"].splitlines() == [
        "True", "False True", "ParametrizedLinear True", "['bias', 'parametrizations.weight.original']"]
    custom, positive = ns["custom"], ns["positive"]
    assert (custom.weight < 0).any()  # the custom layer's .weight: negative in places
    original = positive.parametrizations.weight.original
    assert torch.equal(original, custom.weight)
    assert torch.allclose(positive.weight, F.softplus(original))
    assert positive.weight is not positive.weight  # computed each time it is read
    X = torch.randn(3, 5)
    assert torch.allclose(custom(X), positive(X))


def test_the_optimizer_trains_original_and_the_weight_stays_positive():
    positive = nn.Linear(5, 3)
    parametrize.register_parametrization(positive, "weight", nn.Softplus())
    names = [name for name, _ in positive.named_parameters()]
    assert "parametrizations.weight.original" in names and "weight" not in names
    optimizer = torch.optim.SGD(positive.parameters(), lr=10.0)  # a large step
    before = positive.weight.detach().clone()
    positive(torch.randn(8, 5)).sum().backward()
    optimizer.step()
    assert not torch.equal(positive.weight, before)
    assert (positive.weight > 0).all()


def test_a_parametrization_constrains_a_conv2d_too():
    conv = nn.Conv2d(2, 4, 3)
    parametrize.register_parametrization(conv, "weight", nn.Softplus())
    assert isinstance(conv, nn.Conv2d) and (conv.weight > 0).all()
    assert conv(torch.randn(1, 2, 5, 5)).shape == (1, 4, 3, 3)


def test_a_parametrization_must_keep_the_shape_and_dtype_unless_unsafe():
    class FirstRow(nn.Module):
        def forward(self, X):
            return X[:1]

    class ToDouble(nn.Module):
        def forward(self, X):
            return X.double()

    for module, what in ((FirstRow(), "shape"), (ToDouble(), "dtype")):
        with pytest.raises(ValueError, match=f"may not change the {what}"):
            parametrize.register_parametrization(nn.Linear(5, 3), "weight", module)
    layer = nn.Linear(5, 3)
    parametrize.register_parametrization(layer, "weight", FirstRow(), unsafe=True)
    assert layer.weight.shape == (1, 5)


def test_a_parametrized_module_cannot_be_saved_whole_but_its_state_dict_can():
    message = r"Serialization of parametrized modules is only supported through state_dict\(\)"
    with pytest.raises(RuntimeError, match=message):
        torch.save(ns["positive"], io.BytesIO())
    torch.save(ns["positive"].state_dict(), io.BytesIO())
    page = (ROOT / "docs" / "en" / "custom-layers.md").read_text()
    assert '"Serialization of parametrized\nmodules is only supported through state_dict()"' in page


def test_registering_without_right_inverse_changes_what_a_default_layer_computes():
    assert not hasattr(nn.Softplus(), "right_inverse")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layer = nn.Linear(256, 256)
        X = torch.randn(1024, 256)
    old_weight, before = layer.weight.detach().clone(), layer(X).detach()
    parametrize.register_parametrization(layer, "weight", nn.Softplus())
    assert torch.equal(layer.parametrizations.weight.original, old_weight)  # the old weight, kept as original
    assert torch.allclose(layer.weight, F.softplus(old_weight))
    assert (layer.weight - math.log(2)).abs().max() < 0.05  # about 0.69 everywhere
    assert layer(X).std() > 10 * before.std()
    # the page's run
    line = outputs["parametrization-right-inverse"].splitlines()[0]
    pattern = r"weight mean (\d\.\d\d), output std (\d\.\d\d) -> (\d+\.\d)"
    mean, std_before, std_after = re.fullmatch(pattern, line).groups()
    assert float(mean) == round(math.log(2), 2) and float(std_after) > 10 * float(std_before)
    assert ns["wide"].parametrizations.weight.original.abs().max() <= 1 / math.sqrt(256)  # the default weight


def test_right_inverse_keeps_a_weight_that_satisfies_the_constraint_and_gives_nan_for_one_that_does_not():
    assert outputs["parametrization-right-inverse"].splitlines()[1:] == ["True", "True", "True"]
    Softplus = ns["Softplus"]
    layer = nn.Linear(5, 3)
    with torch.no_grad():
        layer.weight.abs_()
    weight, X = layer.weight.detach().clone(), torch.randn(4, 5)
    before = layer(X).detach()
    parametrize.register_parametrization(layer, "weight", Softplus())
    assert torch.allclose(layer.parametrizations.weight.original, torch.log(torch.expm1(weight)))
    assert torch.allclose(layer.weight, weight) and torch.allclose(layer(X), before, atol=1e-6)
    W = torch.rand(3, 5) + 0.01
    layer.weight = W  # an assignment goes through right_inverse
    assert torch.allclose(layer.weight, W)
    mixed = nn.Linear(5, 3)
    negative = mixed.weight.detach() < 0
    assert negative.any() and (mixed.weight != 0).all()
    parametrize.register_parametrization(mixed, "weight", Softplus())  # no error...
    assert torch.equal(mixed.weight.isnan(), negative)  # ...but NaN wherever the weight was negative
    assert mixed(X).isnan().any()


def test_a_parametrized_state_dict_does_not_load_into_a_plain_linear():
    plain = nn.Linear(5, 3)
    with pytest.raises(RuntimeError, match="parametrizations.weight.original"):
        plain.load_state_dict(ns["positive"].state_dict())


# Exercises


def test_exercise_scale_shift_learns_only_the_shift_and_stops_at_four_times_the_variance():
    lines = outputs["exercise-a-layer-that-half-learns"].splitlines()
    X, y = ns["X_scale"], ns["y_scale"]
    lowest = 4 * X.var(dim=0, correction=0).mean().item()
    assert lines[0].startswith(f"ScaleShift: loss {lowest:.4f}, scale [1.0, 1.0, 1.0, 1.0]")  # it ends at the lowest
    assert lines[1].startswith("FixedScaleShift: loss 0.0000, scale [3.0, 3.0, 3.0, 3.0]")
    assert lines[2] == f"4 * variance of X: {lowest:.4f}"
    layer = ns["ScaleShift"](4)
    start = F.mse_loss(layer(X), y).item()
    assert math.isclose(start, ((2 * X + 1) ** 2).mean().item(), rel_tol=1e-6)  # the mean square of 2 * X + 1
    assert math.isclose(start, 5.0, rel_tol=0.1)  # about 4 + 1 for standard normal inputs
    pages = [(ROOT / "docs" / lang / "custom-layers.md").read_text() for lang in ("en", "zh")]
    assert all(f"{start:.2f}" not in page for page in pages)  # no output shows it: the page quotes none
    layer(X).sum().backward()
    assert layer.scale.grad is None and layer.shift.grad is not None  # no error, half the gradients
    best_shift = 1 + 2 * X.mean(dim=0)
    shifts = [float(v) for v in re.search(r"ScaleShift: .*shift \[(.*)\]", lines[0]).group(1).split(", ")]
    assert torch.allclose(torch.tensor(shifts), best_shift, atol=0.01)


def test_exercise_counter_buffer_is_saved_loaded_and_moved_but_not_converted():
    assert outputs["exercise-a-buffer-that-counts"].splitlines() == ["3 [] ['calls']", "3", "torch.int64 meta"]
    counter = ns["CountCalls"]()
    counter(torch.ones(1))
    counter.eval()
    counter(torch.ones(1))
    assert counter.calls.item() == 1
    # a plain Python counter is not saved
    plain = nn.Module()
    plain.calls = 5
    assert plain.state_dict() == {}
    # a float32 counter stops counting exactly once it is large
    big = torch.tensor(2.0**24)
    assert torch.equal(big + 1, big)


def test_exercise_transposed_weight_gets_the_fans_swapped():
    lines = outputs["exercise-a-weight-stored-transposed"].splitlines()
    std = float(lines[0].removeprefix("std: "))
    assert math.isclose(std, math.sqrt(2 / 64), rel_tol=0.01)  # Kaiming with fan_in = 64, the outputs
    mean_square = float(lines[2].removeprefix("mean square of the output: "))
    assert math.isclose(mean_square, 1024 * 2 / 64, rel_tol=0.03)  # 32 instead of 2
    fixed = re.fullmatch(r"stored as \(out, in\): std (\d\.\d+), mean square (\d\.\d)", lines[3])
    assert math.isclose(float(fixed.group(1)), math.sqrt(2 / 1024), rel_tol=0.01) and fixed.group(2) == "2.0"
    assert nn.init._calculate_fan_in_and_fan_out(ns["TransposedLinear"](1024, 64).weight) == (64, 1024)
    # a square layer hides the bug
    with torch.random.fork_rng():
        torch.manual_seed(0)
        square = ns["TransposedLinear"](512, 512).weight
    assert math.isclose(square.std().item(), math.sqrt(2 / 512), rel_tol=0.02)
    # mode="fan_out" gives the right scale for the (in, out) layout
    fan_out = nn.init.kaiming_normal_(torch.empty(1024, 64), mode="fan_out", nonlinearity="relu")
    assert math.isclose(fan_out.std().item(), math.sqrt(2 / 1024), rel_tol=0.03)


def test_exercise_softplus_function_passes_gradcheck_and_matches_f_softplus():
    assert outputs["exercise-softplus-by-hand"].splitlines() == ["True", "True"]
    SoftplusFunction = ns["SoftplusFunction"]
    x = torch.linspace(-10, 10, 41, dtype=torch.float64, requires_grad=True)  # beta * x past 20 too
    for beta in (0.5, 1.0, 3.0):
        assert torch.allclose(SoftplusFunction.apply(x, beta), F.softplus(x, beta=beta))
        assert torch.autograd.gradcheck(SoftplusFunction.apply, (x, beta))
    (grad,) = torch.autograd.grad(SoftplusFunction.apply(x, 2.0).sum(), x)
    assert torch.allclose(grad, torch.sigmoid(2.0 * x.detach()))


def test_exercise_center_each_is_independent_of_the_batch_and_keepdim_matters():
    assert outputs["exercise-center-each-example"].splitlines()[:4] == ["True []", "True", "False", "False"]
    assert "must match the size of tensor b (4)" in outputs["exercise-center-each-example"]
    layer = ns["CenterEach"]()
    X = torch.randn(6, 8)
    assert torch.allclose(layer(X).mean(dim=-1), torch.zeros(6), atol=1e-6)
    assert all(torch.allclose(layer(X[i : i + 1]), layer(X)[i : i + 1]) for i in range(6))
    assert list(layer.state_dict()) == []
    assert X.mean(dim=-1, keepdim=True).shape == (6, 1) and X.mean(dim=-1).shape == (6,)
    square = torch.randn(4, 4)
    wrong = square - square.mean(dim=-1)  # the means subtracted along the features
    assert torch.allclose(wrong, square - square.mean(dim=-1)[None, :])


def test_exercise_softplus_custom_op_takes_a_float_passes_the_checks_and_matches_f_softplus(ops):
    softplus = ops["softplus"]
    assert str(torch.ops.pmodels.softplus.default._schema) == "pmodels::softplus(Tensor x, float beta) -> Tensor"
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert softplus(x, 2.0).dtype == torch.float64  # the kernel keeps float64
    assert set(torch.library.opcheck(softplus, (x, 2.0)).values()) == {"SUCCESS"}
    assert torch.autograd.gradcheck(softplus, (x, 2.0))  # beta, a float, is not checked
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: softplus(t, 2.0).sum(), backend="eager", fullgraph=True)
    (ours,) = torch.autograd.grad(compiled(x), x)
    (theirs,) = torch.autograd.grad(F.softplus(x, beta=2.0).sum(), x)
    assert torch.allclose(ours, theirs)
    torch._dynamo.reset()
    assert outputs["exercise-softplus-as-a-custom-operator"].splitlines()[2:] == ["True", "True"]

def test_exercise_softplus_solution_defines_its_three_checks_and_they_miss_a_missing_backward_that_compiling_finds(ops):
    import ast
    import builtins

    from tools.snippets import parse_sections

    sections = {s.name: s.code for s in parse_sections(ROOT / "snippets" / "custom-layers.py")}
    tree = ast.parse(sections["exercise-softplus-as-a-custom-operator"])
    names = [node for node in ast.walk(tree) if isinstance(node, ast.Name)]
    bound = {node.id for node in names if isinstance(node.ctx, ast.Store)}
    bound |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    bound |= {arg.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.Lambda)
              for arg in node.args.args}
    free = {node.id for node in names if isinstance(node.ctx, ast.Load)} - bound - set(dir(builtins))
    assert free == {"torch", "F", "softplus_kernel"}  # the page's imports and the task: nothing from another section
    defaults = inspect.signature(torch.library.opcheck).parameters["test_utils"].default
    assert ops["NO_COMPILE"] == defaults[:3]  # the three that do not compile, as in the opcheck section
    printed = outputs["exercise-softplus-as-a-custom-operator"].splitlines()[1]
    assert printed == str(dict.fromkeys(defaults[:3], "SUCCESS"))

    @torch.library.custom_op("pmodels::facts_softplus_no_backward", mutates_args=())
    def no_backward(x: torch.Tensor, beta: float) -> torch.Tensor:
        return ops["softplus_kernel"](x, beta)

    @no_backward.register_fake
    def _(x, beta):
        return torch.empty_like(x)

    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert set(torch.library.opcheck(no_backward, (x, 2.0), test_utils=ops["NO_COMPILE"]).values()) == {"SUCCESS"}
    found = torch.library.opcheck(no_backward, (x, 2.0), test_utils=defaults[3:], raise_exception=False)
    assert "no autograd formula was registered" in str(found[defaults[3]])  # what the fourth would find ...
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: no_backward(t, 2.0).sum(), backend="eager", fullgraph=True)
    with pytest.raises(RuntimeError, match="no autograd formula was registered"):
        torch.autograd.grad(compiled(x), x)  # ... the solution's compiled gradient finds too
    torch._dynamo.reset()


# Numbers quoted in the prose of both pages


@pytest.mark.parametrize("section, numbers", [
    ("centered-in-a-network", ["-0.0323"]),
    ("my-linear-init", ["0.0361"]),
    ("training", ["22.4338", "0.1248", "4.0059"]),
    ("gradcheck", ["0.2440", "0.3690"]),
    ("save-for-backward", ["1.0", "-0.1053"]),
    ("exercise-a-layer-that-half-learns", ["0.87", "1.33", "4.1857"]),
    ("exercise-a-weight-stored-transposed", ["0.1768", "0.0442", "2.0"]),
    ("parametrization-right-inverse", ["0.69", "0.58", "10.8"]),
])
def test_numbers_in_the_prose_are_the_stored_outputs(section, numbers):
    printed = [float(v) for v in re.findall(r"-?\d+\.\d+", outputs[section])]
    pages = [(ROOT / "docs" / lang / "custom-layers.md").read_text().replace("\u2212", "-") for lang in ("en", "zh")]
    for number in numbers:
        decimals = len(number.split(".")[1])
        assert any(round(value, decimals) == float(number) for value in printed), number
        assert all(number in page for page in pages), number
