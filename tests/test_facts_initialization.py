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


def test_the_default_of_linear_is_kaiming_uniform_with_a_sqrt_5():
    torch.manual_seed(123)
    layer = nn.Linear(64, 10)
    torch.manual_seed(123)
    weight = nn.init.kaiming_uniform_(torch.empty(10, 64), a=math.sqrt(5))
    bias = nn.init.uniform_(torch.empty(10), -1 / 8, 1 / 8)
    assert torch.equal(layer.weight, weight) and torch.equal(layer.bias, bias)
    gain = nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    assert gain == pytest.approx(1 / math.sqrt(3))  # the gain the default amounts to
    assert gain * math.sqrt(3 / 64) == pytest.approx(1 / math.sqrt(64))  # Kaiming uniform's bound


def test_kaiming_without_nonlinearity_uses_the_relu_gain():
    torch.manual_seed(5)
    default = nn.init.kaiming_normal_(torch.empty(50, 40))
    torch.manual_seed(5)
    relu = nn.init.kaiming_normal_(torch.empty(50, 40), nonlinearity="relu")
    assert torch.equal(default, relu)
    assert nn.init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))


@pytest.mark.parametrize("conv", [nn.Conv1d(4, 6, 3), nn.Conv2d(3, 16, 5), nn.Conv3d(2, 4, 3)])
def test_default_conv_weights_and_biases_are_uniform_within_one_over_sqrt_fan_in(conv):
    fan_in = conv.weight[0].numel()
    torch.manual_seed(7)
    conv.reset_parameters()
    torch.manual_seed(7)
    weight = nn.init.kaiming_uniform_(torch.empty_like(conv.weight), a=math.sqrt(5))
    assert torch.equal(conv.weight, weight)
    assert conv.weight.abs().max().item() <= 1 / math.sqrt(fan_in)
    assert conv.bias.abs().max().item() <= 1 / math.sqrt(fan_in)


def test_fans_come_from_the_weight_shape():
    weight = torch.empty(7, 3, 2, 5)
    assert nn.init._calculate_fan_in_and_fan_out(weight) == (3 * 10, 7 * 10)


def test_apply_calls_children_first_then_the_module_itself():
    net = _toy_net()
    seen = []
    net.apply(lambda m: seen.append(m))
    assert seen == [net[0], net[1], net[2], net]


def test_relu_halves_the_mean_square_of_a_symmetric_input():
    z = torch.randn(1_000_000)
    assert torch.relu(z).pow(2).mean().item() == pytest.approx(z.pow(2).mean().item() / 2, rel=0.01)


def test_pytorch_docs_advise_nonlinearity_linear_for_selu():
    for doc in (nn.SELU.__doc__, nn.init.calculate_gain.__doc__):
        text = " ".join(doc.split())
        assert "``nonlinearity='linear'``" in text and "instead of ``nonlinearity='selu'``" in text


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
    # the text: every mean is 0.0001 at most in size, every variance within 1% of the formula
    weight, std = ns["samples"][name], ns["schemes"][name][1]
    assert weight.shape == (1000, 500)
    assert abs(weight.mean().item()) < std / 100 and round(abs(weight.mean().item()), 4) <= 0.0001
    assert weight.var().item() == pytest.approx(std**2, rel=0.01)


def test_uniform_schemes_stay_within_std_times_sqrt_3():
    for name in ("default (Linear)", "uniform(-0.1, 0.1)", "xavier_uniform", "kaiming_uniform"):
        bound = ns["schemes"][name][1] * math.sqrt(3)
        assert ns["samples"][name].abs().max().item() <= bound * (1 + 1e-6)


def test_kaiming_fan_out_mode_uses_fan_out():
    weight = nn.init.kaiming_normal_(torch.empty(1000, 500), mode="fan_out", nonlinearity="relu")
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


# Scale through depth

def test_the_depth_experiment_records_the_mean_square():
    assert ns["mean_square"](torch.tensor([3.0, -4.0])) == pytest.approx(12.5)
    ms = ns["depth_mean_squares"]["relu", "Kaiming (ReLU)"]
    assert len(ms) == 21
    assert ms[0] == pytest.approx(ns["X_deep"].pow(2).mean().item())
    assert ms[0] == pytest.approx(1, rel=0.02) and abs(ns["X_deep"].mean().item()) < 0.01


def test_a_layer_turns_mean_square_m_into_mean_square_n_v_m():
    h = torch.relu(torch.randn(2000, 256)) * 1.7  # inputs with a nonzero mean: mean square != variance
    assert h.pow(2).mean().item() > 1.3 * h.var().item()
    w = torch.randn(300, 256) * 0.05  # mean 0, variance v = 0.0025
    out = h @ w.T
    assert out.pow(2).mean().item() == pytest.approx(256 * 0.0025 * h.pow(2).mean().item(), rel=0.1)
    assert out.pow(2).mean().item() > 1.3 * 256 * 0.0025 * h.var().item()  # not n * v * variance


def test_zero_init_activations_are_zero_beyond_the_input():
    for activation in ("tanh", "relu"):
        ms = ns["depth_mean_squares"][activation, "zero"]
        assert ms[0] > 0.9 and all(m == 0 for m in ms[1:])


def test_small_normal_vanishes_by_its_per_layer_factor():
    # each layer multiplies the mean square by 256 * 0.01**2 = 0.0256 (tanh), and ReLU halves it again
    tanh, relu = ns["depth_mean_squares"]["tanh", "N(0, 0.01)"], ns["depth_mean_squares"]["relu", "N(0, 0.01)"]
    assert (tanh[20] / tanh[10]) ** (1 / 10) == pytest.approx(0.0256, rel=0.1)
    assert (relu[20] / relu[10]) ** (1 / 10) == pytest.approx(0.0128, rel=0.1)
    assert 1e-33 < tanh[-1] < 1e-31 and 1e-39 < relu[-1] < 1e-37


def test_large_normal_explodes_with_relu_and_saturates_tanh():
    relu = ns["depth_mean_squares"]["relu", "N(0, 1)"]
    assert relu[-1] ** (1 / 20) == pytest.approx(128, rel=0.1)
    assert 1e41 < relu[-1] < 1e43
    assert ns["saturated"]["tanh", "N(0, 1)"] == pytest.approx(0.86, abs=0.005)
    assert ns["saturated"]["tanh", "Xavier, gain 5/3"] == pytest.approx(0.01, abs=0.005)


def test_saturated_tanh_units_have_slope_below_002():
    assert 1 - 0.99**2 < 0.02
    x = torch.linspace(-10, 10, 100_001, requires_grad=True)
    torch.tanh(x).sum().backward()
    assert x.grad[torch.tanh(x).abs() > 0.99].max().item() < 0.02


def test_saturated_tanh_net_with_n01_weights_has_exploding_gradients_in_its_first_layers():
    torch.manual_seed(0)
    layers = [nn.Linear(256, 256) for _ in range(20)]
    for layer in layers:
        nn.init.normal_(layer.weight, std=1.0)
        nn.init.zeros_(layer.bias)
    h = ns["X_deep"]
    for layer in layers:
        h = torch.tanh(layer(h))
    assert (h.abs() > 0.99).float().mean().item() > 0.8  # saturated, as on the page
    (h.sum() / math.sqrt(h.numel())).backward()
    first, last = (layers[i].weight.grad.pow(2).mean().item() for i in (0, -1))
    assert last < 1e-2 and first > 1e6 * last


def test_xavier_with_equal_fans_has_variance_one_over_fan_in():
    weight = nn.init.xavier_normal_(torch.empty(256, 256))
    assert weight.var().item() == pytest.approx(1 / 256, rel=0.03)


def test_xavier_shrinks_tanh_slowly_and_relu_halves_every_layer():
    tanh, relu = ns["depth_mean_squares"]["tanh", "Xavier"], ns["depth_mean_squares"]["relu", "Xavier"]
    assert 1 > tanh[1] > tanh[5] > tanh[10] > tanh[20] > 0.01
    assert round(tanh[20], 3) == 0.027
    assert relu[-1] ** (1 / 20) == pytest.approx(0.5, rel=0.05)
    assert 5e-7 < relu[-1] < 1e-6


def test_xavier_with_tanh_gain_keeps_tanh_steady_and_grows_relu():
    tanh = ns["depth_mean_squares"]["tanh", "Xavier, gain 5/3"]
    relu = ns["depth_mean_squares"]["relu", "Xavier, gain 5/3"]
    assert all(m == pytest.approx(0.42, abs=0.02) for m in tanh[5:])
    assert relu[-1] ** (1 / 20) == pytest.approx((5 / 3) ** 2 / 2, rel=0.05)
    assert round(relu[-1]) == 387


def test_kaiming_relu_keeps_the_mean_square_near_that_of_the_input():
    ms = ns["depth_mean_squares"]["relu", "Kaiming (ReLU)"]
    assert round(min(ms[1:]), 2) == 0.63 and round(max(ms[1:]), 2) == 1.66
    assert ms[1] == pytest.approx(1, rel=0.05)


def test_kaiming_relu_keeps_the_mean_square_in_expectation():
    """Over many draws of the weights the mean square stays near 1; one draw wanders."""
    kaiming = ns["deep_inits"]["Kaiming (ReLU)"]
    runs = torch.tensor([ns["deep_forward"](kaiming, torch.relu, depth=10)[0] for _ in range(20)])
    assert runs[:, 10].mean().item() == pytest.approx(1, abs=0.2)
    assert runs[:, 1].std().item() < 0.05 < runs[:, 10].std().item()  # the moves add up with depth
    xavier = ns["deep_forward"](ns["deep_inits"]["Xavier"], torch.relu, depth=10)[0]
    assert xavier[10] < 0.01


def test_kaiming_for_relu_holds_tanh_near_0_3():
    ms = ns["depth_mean_squares"]["tanh", "Kaiming (ReLU)"]
    assert all(m == pytest.approx(0.3, abs=0.04) for m in ms[5:])


def test_after_a_kaiming_relu_layer_the_mean_square_is_1_and_the_std_about_083():
    h = ns["after_relu"]
    assert ns["mean_square"](h) == pytest.approx(1, rel=0.03)
    assert h.mean().item() == pytest.approx(1 / math.sqrt(math.pi), rel=0.02)
    assert h.std().item() == pytest.approx(math.sqrt(1 - 1 / math.pi), rel=0.02)
    assert round(math.sqrt(1 - 1 / math.pi), 2) == 0.83
    assert h.std().item() < 0.9 * math.sqrt(ns["mean_square"](h))  # the std is not what Kaiming keeps at 1


def test_relu_of_a_normal_with_variance_2_theory():
    z = torch.randn(2_000_000, dtype=torch.float64) * math.sqrt(2)
    r = torch.relu(z)
    assert r.pow(2).mean().item() == pytest.approx(1, rel=0.01)
    assert r.mean().item() == pytest.approx(1 / math.sqrt(math.pi), rel=0.01)
    assert r.var().item() == pytest.approx(r.pow(2).mean().item() - r.mean().item() ** 2, rel=1e-6)


# Standard deviation or variance?

def test_kaiming_normal_std_is_sqrt_2_over_fan_in():
    weight = nn.init.kaiming_normal_(torch.empty(256, 256), nonlinearity="relu")
    assert weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.03)
    assert weight.var().item() == pytest.approx(2 / 256, rel=0.06)


def test_normal_takes_a_standard_deviation():
    assert nn.init.normal_(torch.empty(1000, 1000), 0, 0.5).std().item() == pytest.approx(0.5, rel=0.01)
    assert torch.normal(0.0, 0.5, size=(1000, 1000)).std().item() == pytest.approx(0.5, rel=0.01)


def test_reading_the_std_as_a_variance_explodes_through_20_relu_layers():
    ratio = ns["misread_std"] / ns["right_std"]
    assert round(ratio, 1) == 3.4 and ns["misread_std"] == pytest.approx((2 / 256) ** 0.25)
    assert round(ratio**2) == 11
    misread, right = ns["misread_mean_squares"]["misread"], ns["misread_mean_squares"]["right"]
    assert misread[-1] ** (1 / 20) == pytest.approx(ratio**2, rel=0.1)
    assert misread[-1] > 1e18
    assert 0.3 < right[-1] < 3


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

def test_output_layer_std_is_sqrt_fan_in_times_weight_variance():
    assert ns["mean_square"](ns["hidden"]) == pytest.approx(1.0, rel=0.02)
    for name, (_, variance) in ns["output_inits"].items():
        assert ns["output_stds"][name] == pytest.approx(math.sqrt(256 * variance), rel=0.03)


def test_output_layer_scales_in_the_text():
    stds = ns["output_stds"]
    assert round(stds["default"], 2) == 0.58 and round(stds["xavier_normal_"], 2) == 0.64
    assert round(stds["kaiming, linear"], 1) == 1.0 and round(stds["kaiming, relu"], 2) == 1.40
    assert stds["kaiming, relu"] / stds["kaiming, linear"] == pytest.approx(math.sqrt(2), rel=0.03)
    # only the ReLU gain puts the outputs above the scale of the signal
    assert max(stds["default"], stds["xavier_normal_"], stds["kaiming, linear"]) < 1.05 < stds["kaiming, relu"]


def test_default_output_layer_variance_matches_its_formula():
    weight = nn.Linear(256, 1000).weight
    assert weight.var().item() == pytest.approx(1 / (3 * 256), rel=0.02)


def test_xavier_keeps_the_scale_only_when_the_fans_are_about_equal():
    x = torch.randn(10_000, 256)
    with torch.no_grad():
        square = x @ nn.init.xavier_normal_(torch.empty(256, 256)).T
        wide = x @ nn.init.xavier_normal_(torch.empty(1000, 256)).T
    assert square.std().item() == pytest.approx(1, rel=0.03)
    assert wide.std().item() == pytest.approx(math.sqrt(2 * 256 / 1256), rel=0.03)


def test_a_zero_initialized_output_layer_still_learns():
    """A small or zero start of the last layer is harmless: its gradient is not zero."""
    net = _toy_net()
    nn.init.kaiming_normal_(net[0].weight, nonlinearity="relu")
    nn.init.zeros_(net[2].weight)
    nn.init.zeros_(net[2].bias)
    before = torch.nn.functional.mse_loss(net(ns["X_toy"]), ns["y_toy"]).item()
    after = ns["train"](net)
    assert after < before / 5


def test_my_mlp_shapes_names_and_count():
    model = ns["model"]
    assert model(ns["X"]).shape == (2, 2)
    names = [name for name, _ in model.named_parameters()]
    assert names == list(model.state_dict()) == [
        "hidden1.weight", "hidden1.bias", "hidden2.weight", "hidden2.bias", "output.weight", "output.bias"]
    assert sum(p.numel() for p in model.parameters()) == 51 == (4 * 5 + 5) + (5 * 3 + 3) + (3 * 2 + 2)


def test_my_mlp_hidden_biases_start_at_zero_and_the_output_keeps_its_default():
    model = ns["MyMLP"]()
    assert not model.hidden1.bias.any() and not model.hidden2.bias.any()
    assert model.output.bias.all() and model.output.bias.abs().max().item() <= 1 / math.sqrt(3)
    assert model.output.weight.abs().max().item() <= 1 / math.sqrt(3)


def test_my_mlp_uses_kaiming_for_hidden_layers_and_the_default_for_the_output():
    models = [ns["MyMLP"]() for _ in range(500)]
    pooled = {name: torch.cat([m.get_parameter(name).detach().flatten() for m in models]).std().item()
              for name in ("hidden1.weight", "hidden2.weight", "output.weight")}
    assert pooled["hidden1.weight"] == pytest.approx(math.sqrt(2 / 4), rel=0.05)
    assert pooled["hidden2.weight"] == pytest.approx(math.sqrt(2 / 5), rel=0.05)
    assert pooled["output.weight"] == pytest.approx(math.sqrt(1 / (3 * 3)), rel=0.05)  # default of Linear(3, 2)
    assert pooled["output.weight"] < 0.9 * math.sqrt(2 / 3)  # not Kaiming for ReLU


def test_my_mlp_reset_parameters_redraws_the_output_layer_too():
    model = ns["MyMLP"]()
    before = model.output.weight.detach().clone()
    model.reset_parameters()
    assert not torch.equal(model.output.weight, before)
