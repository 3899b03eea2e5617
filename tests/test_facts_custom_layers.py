"""The facts docs/*/custom-layers.md claims, checked on the objects its snippet builds."""

import math
import re
import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from tools.snippets import ROOT, run

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
    shapes = {name: tuple(param.shape) for name, param in ns["MyLinear"](5, 3).named_parameters()}
    assert shapes == {"weight": (3, 5), "bias": (3,)}
    assert list(ns["MyLinear"](5, 3).state_dict()) == ["weight", "bias"]


def test_my_linear_weight_has_the_layout_of_nn_linear():
    mine, builtin = ns["MyLinear"](5, 3), nn.Linear(5, 3)
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
    layer, X = ns["MyLinear"](5, 3), torch.randn(2, 5)
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
        mine, builtin = ns["MyLinear"](256, 64), nn.Linear(256, 64)
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
    layer = ns["MyLinear"](5, 3)
    before = layer.weight.detach().clone()
    layer.reset_parameters()
    assert not torch.equal(layer.weight, before)
    assert layer.weight.abs().max() <= 1 / math.sqrt(5) and layer.bias.abs().max() <= 1 / math.sqrt(5)


def test_two_my_linear_layers_have_529_parameters():
    net = nn.Sequential(ns["MyLinear"](64, 8), ns["MyLinear"](8, 1))
    assert sum(param.numel() for param in net.parameters()) == 64 * 8 + 8 + 8 * 1 + 1 == 529
    assert net(torch.rand(2, 64)).shape == (2, 1)


def test_gradient_reaches_my_linear_weight():
    layer = ns["linear"]  # the page's layer, after its backward pass
    assert layer.weight.grad is not None
    assert layer.weight.grad.shape == layer.weight.shape
    assert layer.weight.grad.abs().sum() > 0
    assert ns["MyLinear"](5, 3).weight.grad is None  # before any backward


def test_gradient_row_is_the_sum_of_the_inputs_where_the_output_was_positive():
    layer, X = ns["linear"], ns["X"]
    positive = layer(X).detach() > 0  # (examples, outputs)
    expected = positive.T.float() @ X  # row j: the sum of the inputs for which output j > 0
    assert torch.allclose(layer.weight.grad, expected)
    # on the page: the first two outputs positive only for the first example, the third for both
    assert positive.T.tolist() == [[True, False], [True, False], [True, True]]
    assert torch.equal(layer.weight.grad[0], layer.weight.grad[1])


def test_data_shares_values_but_does_not_require_grad():
    weight = ns["MyLinear"](5, 3).weight
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


def test_my_linear_learns_and_data_linear_never_changes():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        good = nn.Sequential(ns["MyLinear"](5, 8), nn.Linear(8, 1))
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


def test_buffers_are_not_parameters_and_non_persistent_ones_are_not_in_state_dict():
    standardize = ns["standardize"]
    assert list(standardize.parameters()) == []
    assert [name for name, _ in standardize.named_buffers()] == ["mean", "std", "eps"]
    assert list(standardize.state_dict()) == ["mean", "std"]
    assert len(list(standardize.buffers())) == 3


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
