"""The facts docs/*/custom-layers.md claims, checked on the objects its snippet builds."""

import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn

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
    assert shapes == {"weight": (5, 3), "bias": (3,)}
    assert list(ns["MyLinear"](5, 3).state_dict()) == ["weight", "bias"]


def test_my_linear_output_is_relu_with_grad_fn():
    layer, X = ns["MyLinear"](5, 3), torch.randn(2, 5)
    Y = layer(X)
    assert torch.equal(Y, torch.relu(X @ layer.weight + layer.bias))
    assert Y.grad_fn is not None
    assert (Y >= 0).all()


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
    assert bad_losses[-1] < bad_losses[0]  # the loss falls, which hides the bug...
    assert good_losses[-1] < bad_losses[-1] / 5
    assert torch.equal(bad[0].weight, start)  # ...while the DataLinear weight never moves
    assert not torch.equal(good[0].weight, start)


def test_buffers_are_not_parameters_and_non_persistent_ones_are_not_in_state_dict():
    standardize = ns["standardize"]
    assert list(standardize.parameters()) == []
    assert [name for name, _ in standardize.named_buffers()] == ["mean", "std", "eps"]
    assert list(standardize.state_dict()) == ["mean", "std"]


def test_standardized_features_have_mean_zero_and_std_one():
    Z = ns["standardize"](ns["features"])
    assert torch.allclose(Z.mean(dim=0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(Z.std(dim=0), torch.ones(3), atol=1e-4)


def test_batch_norm_state_dict_holds_buffers_beyond_its_parameters():
    batch_norm = nn.BatchNorm1d(3)
    assert [name for name, _ in batch_norm.named_parameters()] == ["weight", "bias"]
    assert list(batch_norm.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_batch_norm_forward_moves_running_mean_a_tenth_of_the_way():
    batch_norm, features = nn.BatchNorm1d(3), ns["features"]
    batch_norm(features)
    assert batch_norm.num_batches_tracked.item() == 1
    assert torch.allclose(batch_norm.running_mean, 0.1 * features.mean(dim=0))
    assert batch_norm.running_mean.grad is None and not batch_norm.running_mean.requires_grad


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


def test_optimizer_leaves_buffers_unchanged():
    model = nn.Sequential(ns["Standardize"](ns["features"].mean(dim=0), ns["features"].std(dim=0)), nn.Linear(3, 1))
    mean_before, weight_before = model[0].mean.clone(), model[1].weight.detach().clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(ns["features"]).pow(2).mean().backward()
    optimizer.step()
    assert torch.equal(model[0].mean, mean_before)
    assert model[0].mean.grad is None
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
