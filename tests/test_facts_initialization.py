"""The facts that docs/en/initialization.md and docs/zh/initialization.md claim, checked on the running torch."""

import math

import pytest
import torch
from torch import nn

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "initialization.py")


def _toy_net():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


# Why initialization matters

def test_equal_weights_keep_every_hidden_unit_identical():
    assert ns["symmetry"]["all 0.5"][0] == 1
    assert ns["symmetry"]["all zero"][0] == 1


def test_all_zero_net_learns_only_the_output_bias():
    net = _toy_net()
    net.apply(ns["all_zero"])
    ns["train"](net)
    assert not net[0].weight.any() and not net[0].bias.any() and not net[2].weight.any()
    assert net[2].bias.abs().item() > 0.01
    # so it can only predict the mean of the targets: the loss ends at their variance
    assert ns["symmetry"]["all zero"][2] == pytest.approx(ns["y_toy"].var(unbiased=False).item(), rel=0.01)


def test_equal_weights_do_no_better_than_zeros():
    assert ns["symmetry"]["all 0.5"][2] == pytest.approx(ns["symmetry"]["all zero"][2], rel=0.01)


def test_random_weights_with_zero_biases_break_symmetry_and_learn():
    distinct, before, after = ns["symmetry"]["random, zero bias"]
    assert distinct == 8
    assert after < before / 10
    assert after < min(ns["symmetry"]["all zero"][2], ns["symmetry"]["all 0.5"][2]) / 5


# The default for nn.Linear

@pytest.mark.parametrize("fan_in, fan_out", [(64, 10), (64, 1000), (1024, 10)])
def test_default_linear_init_is_uniform_with_bound_one_over_sqrt_fan_in(fan_in, fan_out):
    layer = nn.Linear(fan_in, fan_out)
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight.abs().max().item() <= bound
    assert layer.bias.abs().max().item() <= bound
    assert layer.weight.abs().max().item() > 0.95 * bound
    assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_default_linear_init_does_not_depend_on_fan_out():
    narrow = nn.Linear(64, 10).weight.abs().max().item()
    wide = nn.Linear(64, 4000).weight.abs().max().item()
    other_fan_in = nn.Linear(1024, 10).weight.abs().max().item()
    assert narrow == pytest.approx(wide, rel=0.05)
    assert other_fan_in < narrow / 3


# Built-in initializers

def test_init_normal_gives_std_001_and_zero_bias():
    layer = nn.Linear(1000, 1000)
    ns["init_normal"](layer)
    assert layer.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert not layer.bias.any()


def test_init_constant_sets_every_weight_to_one():
    net = _toy_net()
    net.apply(ns["init_constant"])
    assert torch.equal(net[0].weight, torch.ones(8, 4))
    assert not net[0].bias.any()


def test_apply_on_one_submodule_leaves_the_others_alone():
    net = _toy_net()
    first = net[0].weight.detach().clone()
    net[2].apply(ns["init_42"])
    assert torch.equal(net[0].weight, first)
    assert torch.equal(net[2].weight, torch.full((1, 8), 42.0))


def test_xavier_uniform_on_4_to_8_stays_within_its_bound():
    layer = nn.Linear(4, 8)
    ns["init_xavier"](layer)
    assert layer.weight.abs().max().item() <= math.sqrt(6 / (4 + 8))


def test_exact_type_check_misses_subclasses_isinstance_finds_them():
    model = ns["mixed"]
    exact = [name for name, m in model.named_modules() if type(m) is nn.Linear]
    found = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    assert exact == ["mlp.0"]
    assert found == ["mlp.0", "mlp.2", "attention.out_proj"]


def test_multihead_attention_out_proj_is_a_linear_subclass():
    out_proj = nn.MultiheadAttention(4, num_heads=2).out_proj
    assert isinstance(out_proj, nn.Linear) and type(out_proj) is not nn.Linear


def test_lazy_linear_is_a_linear_before_its_dry_run():
    lazy = nn.LazyLinear(3)
    assert isinstance(lazy, nn.Linear)
    assert isinstance(lazy.weight, nn.parameter.UninitializedParameter)


# Schemes: fans and gains

@pytest.mark.parametrize("layer", [nn.Linear(256, 10), nn.Conv2d(3, 16, kernel_size=5), nn.Conv1d(4, 6, 3)])
def test_fans_match_pytorchs_own_computation(layer):
    assert ns["fans"](layer.weight) == nn.init._calculate_fan_in_and_fan_out(layer.weight)


def test_conv_fans_include_the_kernel():
    assert ns["fans"](nn.Conv2d(3, 16, kernel_size=5).weight) == (75, 400)


def test_default_conv_init_uses_the_same_fan_in_bound():
    conv = nn.Conv2d(3, 16, kernel_size=5)
    assert conv.weight.abs().max().item() <= 1 / math.sqrt(75)
    assert conv.bias.abs().max().item() <= 1 / math.sqrt(75)


def test_gains():
    gain = nn.init.calculate_gain
    assert gain("tanh") == pytest.approx(5 / 3)
    assert gain("relu") == pytest.approx(math.sqrt(2))
    assert gain("linear") == gain("sigmoid") == 1
    assert gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert gain("selu") == pytest.approx(3 / 4)


# Checking against theory

@pytest.mark.parametrize("name", list(ns["schemes"]))
def test_measured_mean_and_variance_match_theory(name):
    weight, std = ns["samples"][name], ns["schemes"][name][1]
    assert weight.shape == (1000, 500)
    assert abs(weight.mean().item()) < std / 100
    assert weight.var().item() == pytest.approx(std**2, rel=0.01)


def test_uniform_schemes_stay_within_std_times_sqrt_3():
    for name in ("default (Linear)", "uniform(-0.1, 0.1)", "xavier_uniform", "kaiming_uniform"):
        bound = ns["schemes"][name][1] * math.sqrt(3)
        assert ns["samples"][name].abs().max().item() <= bound * (1 + 1e-6)


def test_kaiming_fan_out_mode_uses_fan_out():
    weight = nn.init.kaiming_normal_(torch.empty(1000, 500), mode="fan_out", nonlinearity="relu")
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


# Scale through depth

def test_zero_init_activations_are_zero_beyond_the_input():
    for activation in ("tanh", "relu"):
        stds = ns["depth_stds"][activation, "zero"]
        assert stds[0] > 0.9 and all(std == 0 for std in stds[1:])


def test_kaiming_relu_keeps_the_scale_over_20_layers():
    stds = ns["depth_stds"]["relu", "Kaiming (ReLU)"]
    assert len(stds) == 21
    assert all(stds[0] / 3 < std < stds[0] * 3 for std in stds)


def test_kaiming_for_relu_holds_tanh_steady():
    stds = ns["depth_stds"]["tanh", "Kaiming (ReLU)"]
    assert all(0.3 < std < 1 for std in stds[1:])


def test_small_normal_vanishes():
    for activation in ("tanh", "relu"):
        assert ns["depth_stds"][activation, "N(0, 0.01)"][-1] < 1e-12


def test_large_normal_explodes_with_relu_and_saturates_tanh():
    assert ns["depth_stds"]["relu", "N(0, 1)"][-1] > 1e15
    assert ns["saturated"]["tanh", "N(0, 1)"] > 0.5
    assert ns["saturated"]["tanh", "Xavier, gain 5/3"] < 0.1


def test_xavier_halves_relu_variance_layer_by_layer():
    assert ns["depth_stds"]["relu", "Xavier"][-1] < 0.01


def test_xavier_with_tanh_gain_keeps_tanh_steady_and_grows_relu():
    assert all(0.3 < std < 1.5 for std in ns["depth_stds"]["tanh", "Xavier, gain 5/3"])
    assert ns["depth_stds"]["relu", "Xavier, gain 5/3"][-1] > 3


def test_xavier_gain_1_shrinks_tanh_slowly():
    stds = ns["depth_stds"]["tanh", "Xavier"]
    assert 0.05 < stds[-1] < stds[10] < stds[1] < 1


# Standard deviation or variance?

def test_kaiming_normal_std_is_sqrt_2_over_fan_in():
    weight = nn.init.kaiming_normal_(torch.empty(256, 256), nonlinearity="relu")
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.03)
    assert weight.var().item() == pytest.approx(2 / 256, rel=0.06)


def test_reading_the_std_as_a_variance_explodes_through_20_relu_layers():
    stds, _ = ns["deep_forward"](lambda w: nn.init.normal_(w, std=ns["misread_std"]), torch.relu)
    assert ns["misread_std"] / ns["right_std"] > 3
    assert stds[-1] > 1e6


# Custom initialization

def test_custom_init_proportions():
    expected = {"U(5, 10)": 0.25, "0": 0.5, "U(-10, -5)": 0.25}
    for name, proportion in ns["proportions"].items():
        assert proportion == pytest.approx(expected[name], abs=0.005)
    assert sum(ns["proportions"].values()) == pytest.approx(1.0)


def test_custom_init_nonzero_values_lie_between_5_and_10_in_size():
    w = ns["w"]
    nonzero = w[w != 0].abs()
    assert nonzero.min().item() >= 5 and nonzero.max().item() <= 10


def test_writing_a_parameter_outside_no_grad_raises():
    layer = nn.Linear(4, 8)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        layer.weight[0, 0] = 0


def test_nn_init_functions_write_parameters_without_no_grad():
    layer = nn.Linear(4, 8)
    nn.init.uniform_(layer.weight, -10, 10)
    assert layer.weight.requires_grad and layer.weight.grad_fn is None


def test_writing_through_data_skips_the_check():
    layer = nn.Linear(4, 8)
    layer.weight.data[0, 0] = 0  # the check that raised above does not see this write
    assert layer.weight[0, 0].item() == 0


def test_values_set_under_no_grad_stay():
    net = ns["net"]
    assert net[0].weight[0, 0].item() == 42
    assert torch.equal(net[2].weight, torch.arange(8.0).reshape(1, 8))
    assert net[0].weight.requires_grad and net[0].weight.grad is None


# Putting it together

def test_output_layer_gain_sets_the_output_scale():
    assert ns["hidden"].pow(2).mean().item() == pytest.approx(1.0, rel=0.02)
    assert ns["output_stds"]["relu"] == pytest.approx(math.sqrt(2), rel=0.05)
    assert ns["output_stds"]["linear"] == pytest.approx(1.0, rel=0.05)


def test_my_mlp_shapes_names_and_count():
    model = ns["model"]
    assert model(ns["X"]).shape == (2, 2)
    names = [name for name, _ in model.named_parameters()]
    assert names == list(model.state_dict()) == [
        "hidden1.weight", "hidden1.bias", "hidden2.weight", "hidden2.bias", "output.weight", "output.bias"]
    assert sum(p.numel() for p in model.parameters()) == 51 == (4 * 5 + 5) + (5 * 3 + 3) + (3 * 2 + 2)


def test_my_mlp_biases_start_at_zero():
    model = ns["MyMLP"]()
    for name, param in model.named_parameters():
        assert param.any() != name.endswith("bias")


def test_my_mlp_uses_kaiming_for_hidden_layers_and_gain_1_for_the_output():
    models = [ns["MyMLP"]() for _ in range(500)]
    pooled = {name: torch.cat([m.get_parameter(name).detach().flatten() for m in models]).std().item()
              for name in ("hidden1.weight", "hidden2.weight", "output.weight")}
    assert pooled["hidden1.weight"] == pytest.approx(math.sqrt(2 / 4), rel=0.05)
    assert pooled["hidden2.weight"] == pytest.approx(math.sqrt(2 / 5), rel=0.05)
    assert pooled["output.weight"] == pytest.approx(math.sqrt(2 / (3 + 2)), rel=0.05)  # Xavier, gain 1
    assert pooled["output.weight"] < 0.9 * math.sqrt(2 / 3)  # not Kaiming for ReLU
