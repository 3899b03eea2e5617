"""The facts that docs/en/initialization.md and docs/zh/initialization.md claim, checked on the running torch."""

import inspect
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
    tanh, relu = ns["depth_mean_squares"]["tanh", "N(0, 0.01²)"], ns["depth_mean_squares"]["relu", "N(0, 0.01²)"]
    assert (tanh[20] / tanh[10]) ** (1 / 10) == pytest.approx(0.0256, rel=0.1)
    assert (relu[20] / relu[10]) ** (1 / 10) == pytest.approx(0.0128, rel=0.1)
    assert 1e-33 < tanh[-1] < 1e-31 and 1e-39 < relu[-1] < 1e-37


def test_large_normal_explodes_with_relu_and_saturates_tanh():
    relu = ns["depth_mean_squares"]["relu", "N(0, 1)"]
    assert relu[-1] ** (1 / 20) == pytest.approx(128, rel=0.1)
    assert 1e41 < relu[-1] < 1e43
    assert ns["saturated"]["tanh", "N(0, 1)"] == pytest.approx(0.87, abs=0.005)  # the page: 87%
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


# Other layers, other initializers

def test_embedding_default_is_standard_normal_whatever_its_size():
    weight = ns["embedding"].weight
    assert weight.mean().item() == pytest.approx(0, abs=0.01)
    assert weight.std().item() == pytest.approx(1, rel=0.01)
    wide = nn.Embedding(50, 4096).weight
    assert wide.std().item() == pytest.approx(1, rel=0.01)  # not 1/sqrt(anything)


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    embedding = nn.Embedding(10, 4, padding_idx=0)
    assert not embedding.weight[0].any() and embedding.weight[1:].all()
    embedding(torch.tensor([0, 1, 0])).sum().backward()
    assert not embedding.weight.grad[0].any() and embedding.weight.grad[1].all()


def test_conv1d_bound_uses_channels_times_kernel():
    conv = ns["conv1d"]
    assert ns["fans"](conv.weight)[0] == 8 * 5 == 40
    assert 0.95 / math.sqrt(40) < conv.weight.abs().max().item() <= 1 / math.sqrt(40)
    assert conv.bias.abs().max().item() <= 1 / math.sqrt(40)


def test_grouped_conv_weight_holds_in_channels_over_groups():
    conv = nn.Conv2d(32, 64, kernel_size=3, groups=8)
    assert conv.weight.shape == (64, 4, 3, 3)
    assert nn.init._calculate_fan_in_and_fan_out(conv.weight)[0] == 4 * 9
    assert 0.95 / 6 < conv.weight.abs().max().item() <= 1 / 6


def test_transposed_conv_computes_its_fan_in_from_out_channels_over_groups():
    for groups in (1, 4):
        conv = nn.ConvTranspose2d(16, 32, kernel_size=3, groups=groups)
        assert conv.weight.shape == (16, 32 // groups, 3, 3)  # (in_channels, out_channels / groups, k, k)
        fan_in = nn.init._calculate_fan_in_and_fan_out(conv.weight)[0]
        assert fan_in == 32 // groups * 9
        assert 0.95 / math.sqrt(fan_in) < conv.weight.abs().max().item() <= 1 / math.sqrt(fan_in)
        assert conv.weight.abs().max().item() < 0.75 / math.sqrt(16 // groups * 9)  # not from in_channels


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_layers_use_one_over_sqrt_hidden_size_for_every_parameter(cls):
    layer = cls(input_size=10, hidden_size=64)
    for name, param in layer.named_parameters():
        assert param.abs().max().item() <= 1 / 8, name
        assert param.abs().max().item() > 0.95 / 8, name
    assert layer.weight_ih_l0.abs().max().item() < 0.5 / math.sqrt(10)  # not the bound of nn.Linear(10, 64)
    assert round(1 / math.sqrt(10), 2) == 0.32


def test_rnn_bounds_in_the_output():
    assert all(0.12 < m <= 0.125 for m in [p.abs().max().item() for p in ns["rnn"].parameters()][::2])


@pytest.mark.parametrize("norm", [nn.LayerNorm(8), nn.BatchNorm1d(8), nn.BatchNorm2d(8), nn.BatchNorm3d(8),
                                  nn.GroupNorm(2, 8)])
def test_normalization_layers_start_with_weight_one_and_bias_zero(norm):
    assert torch.equal(norm.weight, torch.ones(8)) and torch.equal(norm.bias, torch.zeros(8))
    x = torch.randn(4, 8)
    if isinstance(norm, nn.LayerNorm):  # after normalizing, the values are left as they are
        assert torch.allclose(norm(x), (x - x.mean(1, keepdim=True)) / torch.sqrt(x.var(1, False, keepdim=True)
                                                                                   + norm.eps), atol=1e-5)


def test_layers_initialize_in_their_constructor_through_reset_parameters():
    for make in (lambda: nn.Embedding(20, 4), lambda: nn.Conv1d(8, 16, 5), lambda: nn.RNN(10, 64)):
        torch.manual_seed(11)
        built = make()
        layer = make()
        torch.manual_seed(11)
        layer.reset_parameters()
        assert all(torch.equal(p, q) for p, q in zip(built.parameters(), layer.parameters()))


def test_trunc_normal_bounds_default_to_plus_minus_2_in_absolute_value():
    parameters = inspect.signature(nn.init.trunc_normal_).parameters
    assert parameters["a"].default == -2 and parameters["b"].default == 2
    assert parameters["std"].default == 1
    assert 2 / ns["sigma"] == pytest.approx(100)
    # with std 1 the default cuts at 2 std; with std 0.02 it cuts nothing a normal would draw
    assert nn.init.trunc_normal_(torch.empty(100_000)).abs().max().item() <= 2


def test_trunc_normal_with_default_bounds_is_a_plain_normal():
    w, sigma = ns["as_written"], ns["sigma"]
    beyond = (w.abs() > 2 * sigma).float().mean().item()
    normal_beyond = 1 - math.erf(2 / math.sqrt(2))
    assert beyond == pytest.approx(normal_beyond, abs=0.001) and round(beyond * 100, 1) == 4.5
    assert round(w.abs().max().item() / sigma, 1) == 4.9
    assert w.std().item() == pytest.approx(sigma, rel=0.005)


def test_trunc_normal_with_bounds_in_sigma_cuts_at_2_sigma_and_narrows_the_std():
    w, sigma = ns["cut_at_2_sigma"], ns["sigma"]
    assert w.abs().max().item() <= 2 * sigma and not (w.abs() > 2 * sigma).any()
    theory = sigma * math.sqrt(1 - 4 * ns["density"] / ns["mass"])
    assert w.std().item() == pytest.approx(theory, rel=0.005)
    assert round(theory / sigma, 2) == 0.88 and round(w.std().item(), 4) == 0.0176
    # the theory against a direct simulation: draw a normal, keep what lies within 2 sigma
    z = torch.randn(1_000_000, dtype=torch.float64)
    assert z[z.abs() <= 2].std().item() == pytest.approx(theory / sigma, rel=0.005)


def test_orthogonal_weight_gives_identity_and_gain_scales_it():
    W, W_gain = ns["W_orthogonal"], ns["W_gain"]
    assert torch.allclose(W @ W.T, torch.eye(64), atol=1e-5)
    assert torch.allclose(W_gain @ W_gain.T, 1.1**2 * torch.eye(64), atol=1e-5)
    assert torch.allclose(torch.linalg.svdvals(W_gain), torch.full((64,), 1.1), atol=1e-5)
    assert ns["rnn"].weight_hh_l0.data_ptr() == W.data_ptr()  # written into the RNN's own parameter


def test_orthogonal_on_non_square_matrices():
    wide = nn.init.orthogonal_(torch.empty(3, 7))
    tall = nn.init.orthogonal_(torch.empty(7, 3))
    assert torch.allclose(wide @ wide.T, torch.eye(3), atol=1e-5)  # orthonormal rows
    assert torch.allclose(tall.T @ tall, torch.eye(3), atol=1e-5)  # orthonormal columns
    assert not torch.allclose(tall @ tall.T, torch.eye(7), atol=0.1)


def test_orthogonal_keeps_the_length_and_the_default_shrinks_it():
    W_default, h0 = ns["W_default"], ns["h_start"]
    singular = torch.linalg.svdvals(W_default)
    assert singular.min().item() < 0.01 and round(singular.max().item(), 2) == 1.16
    radius = torch.linalg.eigvals(W_default).abs().max().item()
    assert round(radius, 1) == 0.6 and radius == pytest.approx(math.sqrt(64 * (1 / 8) ** 2 / 3), rel=0.1)
    lengths = {}
    for name, W in [("default", W_default), ("orthogonal", ns["W_orthogonal"]), ("gain", ns["W_gain"])]:
        h = h0
        for _ in range(50):
            h = W @ h
        lengths[name] = (h.norm() / h0.norm()).item()
    assert 5e-12 < lengths["default"] < 1e-11 and f"{lengths['default']:.0e}" == "7e-12"
    assert lengths["orthogonal"] == pytest.approx(1, abs=1e-4)
    assert lengths["gain"] == pytest.approx(1.1**50, rel=1e-3) and round(1.1**50) == 117


def test_the_rnn_multiplies_its_state_by_weight_hh_at_every_step():
    rnn = nn.RNN(3, 5, bias=False, nonlinearity="relu")
    x, h0 = torch.zeros(4, 1, 3), torch.rand(1, 1, 5)  # no input: h_t = relu(W_hh h_(t-1))
    _, h = rnn(x, h0)
    expected = h0[0, 0]
    for _ in range(4):
        expected = torch.relu(rnn.weight_hh_l0 @ expected)
    assert torch.allclose(h[0, 0], expected, atol=1e-6)


def test_lstm_and_gru_stack_their_gates_in_weight_hh():
    assert ns["lstm"].weight_hh_l0.shape == (4 * 64, 64)
    assert nn.GRU(10, 64).weight_hh_l0.shape == (3 * 64, 64)


def test_orthogonal_on_a_whole_lstm_weight_leaves_its_gates_far_from_orthogonal():
    torch.manual_seed(3)
    whole = nn.init.orthogonal_(torch.empty(256, 64))
    assert torch.allclose(whole.T @ whole, torch.eye(64), atol=1e-5)  # orthonormal columns as a whole
    for gate in whole.chunk(4):
        singular = torch.linalg.svdvals(gate)
        assert singular.min().item() < 0.05 and singular.max().item() < 0.9
    per_gate = ns["lstm"].weight_hh_l0.detach()
    for gate in per_gate.chunk(4):
        assert torch.allclose(gate @ gate.T, torch.eye(64), atol=1e-5)


def test_chunk_of_a_parameter_is_a_view_that_orthogonal_writes_into():
    weight = nn.LSTM(2, 4).weight_hh_l0
    gates = weight.chunk(4)
    assert all(gate._base is weight for gate in gates)
    nn.init.orthogonal_(gates[1])
    assert torch.allclose(weight[4:8] @ weight[4:8].T, torch.eye(4), atol=1e-5)
    assert weight.grad_fn is None and weight.requires_grad


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


# Reproducible initialization with generator=

def test_the_nn_init_functions_that_accept_a_generator():
    assert ns["accepts_generator"] == ["kaiming_normal_", "kaiming_uniform_", "normal_", "orthogonal_", "sparse_",
                                       "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_"]
    public = [n for n in dir(nn.init) if n.endswith("_") and not n.startswith("_")]
    assert sorted(set(public) - set(ns["accepts_generator"])) == ["constant_", "dirac_", "eye_", "ones_", "zeros_"]


def test_the_functions_without_a_generator_draw_no_random_numbers():
    state = torch.get_rng_state()
    nn.init.constant_(torch.empty(3, 3), 2.0)
    nn.init.zeros_(torch.empty(3, 3))
    nn.init.ones_(torch.empty(3, 3))
    nn.init.eye_(torch.empty(3, 3))
    nn.init.dirac_(torch.empty(3, 3, 3))
    assert torch.equal(torch.get_rng_state(), state)


def test_generators_with_the_same_seed_give_the_same_weights_and_leave_the_global_stream():
    assert torch.equal(ns["twins"][0].weight, ns["twins"][1].weight)
    state = torch.get_rng_state()
    w = nn.init.trunc_normal_(torch.empty(5, 5), generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(w, nn.init.trunc_normal_(torch.empty(5, 5), generator=torch.Generator().manual_seed(1)))


def test_sparse_takes_a_generator_but_places_its_zeros_from_the_global_stream():
    assert "generator" in inspect.signature(nn.init.sparse_).parameters
    state = torch.get_rng_state()
    draws = [nn.init.sparse_(torch.empty(20, 10), sparsity=0.5, generator=torch.Generator().manual_seed(0))
             for _ in range(2)]
    assert not torch.equal(torch.get_rng_state(), state)  # the global stream moved
    assert not torch.equal(draws[0] == 0, draws[1] == 0)  # the zeros moved: not reproducible
    # the values come from the generator: the nonzero values, column by column, are the generator's normal draws
    expected = torch.empty(20, 10).normal_(0, 0.01, generator=torch.Generator().manual_seed(0))
    for draw in draws:
        assert torch.equal(draw[draw != 0], expected[draw != 0])


def test_the_global_stream_feeds_dropout_and_shuffling():
    def draw():
        mask = nn.functional.dropout(torch.ones(20), p=0.5)
        order = list(torch.utils.data.RandomSampler(range(20)))
        return mask, order
    torch.manual_seed(4)
    first = draw()
    torch.manual_seed(4)
    second = draw()
    torch.manual_seed(5)
    third = draw()
    assert torch.equal(first[0], second[0]) and first[1] == second[1]
    assert not torch.equal(first[0], third[0]) and first[1] != third[1]


def test_manual_seed_in_the_init_makes_two_seeds_draw_the_same_afterwards():
    assert torch.equal(*ns["after_init"])
    torch.manual_seed(1)
    one = torch.rand(3)
    torch.manual_seed(2)
    assert not torch.equal(one, torch.rand(3))  # without the init in between, the seeds differ


def test_fork_rng_restores_the_global_state_and_seeds_inside():
    state = torch.get_rng_state()
    with torch.random.fork_rng():
        torch.manual_seed(2024)
        inside = nn.Linear(256, 256)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(2024)
    assert torch.equal(inside.weight, nn.Linear(256, 256).weight)
    assert torch.equal(inside.weight, ns["seeded"].weight)
    assert "generator" not in inspect.signature(nn.Linear.reset_parameters).parameters


# Depth in residual networks and transformers

def _branch(h, gain=1.0, width=64):
    w1 = nn.init.kaiming_normal_(torch.empty(width, width, dtype=torch.float64), nonlinearity="relu")
    w2 = nn.init.kaiming_normal_(torch.empty(width, width, dtype=torch.float64), nonlinearity="linear") * gain
    return torch.relu(h @ w1.T) @ w2.T


def test_fixed_seed_repeats_its_draws_and_leaves_the_global_stream():
    state = torch.get_rng_state()
    with ns["fixed_seed"](7):
        first = torch.randn(5)
    with ns["fixed_seed"](7):
        second = torch.randn(5)
    assert torch.equal(first, second) and torch.equal(torch.get_rng_state(), state)
    assert ns["residual_forward"](1.0) == ns["residual_mean_squares"]["residual"]  # the same on every run


def test_a_kaiming_branch_keeps_the_mean_square_of_its_input_and_is_uncorrelated_with_it():
    torch.manual_seed(0)
    h = torch.randn(4000, 64, dtype=torch.float64) * 3
    ratios, correlations = [], []
    for _ in range(20):
        b = _branch(h)
        ratios.append(b.pow(2).mean().item() / h.pow(2).mean().item())
        correlations.append((h * b).mean().item() / h.pow(2).mean().item())
    assert sum(ratios) / 20 == pytest.approx(1, abs=0.1)
    assert abs(sum(correlations) / 20) < 0.05


def test_residual_blocks_double_the_mean_square_at_every_block():
    ms = ns["residual_mean_squares"]["residual"]
    assert len(ms) == 21 and ms[0] == pytest.approx(1, abs=0.02)
    assert (ms[20] / ms[0]) ** (1 / 20) == pytest.approx(2, rel=0.03)
    assert 0.5e6 < ms[20] < 2e6 and round(2**20, -6) == 1e6  # the page: 2^20 ~ 1e6, 1.1e6 here
    assert round(ms[20], -5) == 1.1e6


def test_scaling_the_last_layer_by_one_over_sqrt_n_bounds_the_growth_whatever_the_depth():
    forward = ns["residual_forward"]
    for blocks in (20, 80):
        runs = [forward(1 / math.sqrt(blocks), blocks=blocks, seed=seed) for seed in range(6)]
        growth = sum(ms[-1] / ms[0] for ms in runs) / len(runs)
        assert growth == pytest.approx((1 + 1 / blocks) ** blocks, rel=0.1)  # in expectation
    assert round((1 + 1 / 20) ** 20, 2) == 2.65 and all((1 + 1 / n) ** n < math.e for n in (20, 80, 10_000))
    assert round(ns["residual_mean_squares"]["last layer / sqrt(20)"][20], 2) == 2.84  # one draw: above 2.65


def test_a_zero_last_layer_makes_every_block_the_identity_and_still_learns():
    ms = ns["residual_mean_squares"]["last layer zero"]
    assert all(m == ms[0] for m in ms)
    torch.manual_seed(0)
    first, last = nn.Linear(64, 64), nn.Linear(64, 64)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    h = torch.randn(32, 64)
    out = h + last(torch.relu(first(h)))
    assert torch.equal(out, h)
    out.pow(3).mean().backward()
    assert last.weight.grad.abs().sum() > 0 and first.weight.grad.abs().sum() == 0  # the zero layer learns first


def test_pre_norm_grows_linearly_and_its_scaled_version_ends_near_2():
    ms = ns["residual_mean_squares"]["pre-norm"]
    for blocks in (5, 10, 20):
        assert ms[blocks] == pytest.approx(ms[0] + blocks, rel=0.15)
    assert round(ms[20], 1) == 20.4
    scaled = ns["residual_mean_squares"]["pre-norm, / sqrt(20)"]
    assert scaled[20] == pytest.approx(2, rel=0.1) and round(scaled[20], 1) == 2.1
    deeper = ns["residual_forward"](1 / math.sqrt(80), "pre", blocks=80)
    assert deeper[-1] == pytest.approx(2, rel=0.1)  # however many blocks


def test_layer_norm_output_has_mean_square_1_whatever_the_scale_of_its_input():
    h = torch.randn(256, 64, dtype=torch.float64)
    for scale in (0.1, 1.0, 1000.0):  # the stream of the table only grows: far above LayerNorm's eps
        normalized = torch.nn.functional.layer_norm(scale * h, (64,))
        assert normalized.pow(2).mean().item() == pytest.approx(1, abs=2e-3)


def test_post_norm_brings_the_mean_square_back_to_1_at_every_block():
    ms = ns["residual_mean_squares"]["post-norm"]
    assert all(m == pytest.approx(1, abs=1e-3) for m in ms[1:])


def test_the_layers_of_the_residual_experiment_are_as_described():
    assert ns["RES_WIDTH"] == 64 and ns["DEPTH"] == 20
    assert ns["residual_variants"]["last layer / sqrt(20)"] == (1 / math.sqrt(20), None)


def test_pytorchs_transformer_layers_are_post_norm_by_default():
    for cls in (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer):
        assert inspect.signature(cls).parameters["norm_first"].default is False


# Normalization layers

@pytest.fixture
def linear_bn_weight_kept():
    """The tests below scale the snippet's weights; put them back exactly afterwards."""
    weight = ns["linear_bn"][0].weight
    kept = weight.detach().clone()
    yield
    with torch.no_grad():
        weight.copy_(kept)


@pytest.mark.usefixtures("linear_bn_weight_kept")
def test_batchnorm_in_training_mode_divides_out_the_scale_of_the_weights_before_it():
    output_and_weight_grad, reference = ns["output_and_weight_grad"], ns["reference"]
    for scale in (0.5, 10.0, 1000.0):
        assert torch.allclose(output_and_weight_grad(scale)[0], reference, atol=1e-3)
    assert ns["linear_bn"].training


@pytest.mark.usefixtures("linear_bn_weight_kept")
def test_near_batchnorms_eps_the_scale_shows_again():
    assert ns["linear_bn"][1].eps == 1e-5
    assert not torch.allclose(ns["output_and_weight_grad"](0.003)[0], ns["reference"], atol=1e-3)


def test_in_evaluation_mode_batchnorm_uses_its_running_statistics_and_keeps_the_scale():
    torch.manual_seed(0)
    block = nn.Sequential(nn.Linear(32, 32, bias=False), nn.BatchNorm1d(32)).eval()
    x = torch.randn(64, 32)
    reference = block(x)
    with torch.no_grad():
        block[0].weight *= 10
    assert not torch.allclose(block(x), reference, atol=1e-3)


@pytest.mark.usefixtures("linear_bn_weight_kept")
def test_the_gradient_of_a_weight_before_batchnorm_is_divided_by_its_scale():
    reference_grad = ns["reference_grad"]
    for scale in (0.5, 10.0):
        grad = ns["output_and_weight_grad"](scale)[1]
        assert grad / reference_grad == pytest.approx(1 / scale, rel=1e-3)
    # relative to its size, a weight 10 times larger moves 100 times less for the same learning rate
    weight = ns["linear_bn"][0].weight.detach()
    relative = [(ns["output_and_weight_grad"](s)[1] / (s * weight.norm())).item() for s in (1.0, 10.0)]
    assert relative[0] / relative[1] == pytest.approx(100, rel=1e-3)


# Zero-initialized residual branches

def test_zero_init_residual_zeroes_the_last_batchnorm_weight_of_every_block():
    for block in ns["resnet_zero"]:
        assert not block.bn2.weight.any() and bool((block.bn1.weight == 1).all())
    for block in ns["resnet_default"]:
        assert bool((block.bn2.weight == 1).all())


def test_zero_init_residual_blocks_are_the_identity_on_non_negative_inputs_only():
    x = ns["x_image"]
    assert x.min() >= 0 and torch.equal(ns["out_zero"], x)
    signed = torch.randn(2, 8, 8, 8)
    assert torch.equal(ns["resnet_zero"](signed), torch.relu(signed))  # relu(x + 0): x only where x >= 0


def test_a_batchnorm_output_has_mean_square_1_and_the_default_stream_grows_almost_linearly():
    bn = nn.BatchNorm2d(8)
    out = bn(torch.randn(4, 8, 8, 8) * 5 + 2)
    assert out.pow(2).mean().item() == pytest.approx(1, abs=1e-3)
    start, end = ns["mean_square"](ns["x_image"]), ns["mean_square"](ns["out_default"])
    assert 0.7 < (end - start) / 20 < 1.0  # almost 1 per block
    assert round(start, 3) == 0.514 and round(end, 1) == 18.2


def test_at_the_first_step_only_the_last_batchnorm_learns_then_the_whole_branch():
    torch.manual_seed(0)
    blocks = nn.Sequential(*(ns["BasicBlock"](8) for _ in range(3)))
    ns["zero_init_residual"](blocks)
    x = torch.relu(torch.randn(4, 8, 8, 8))
    optimizer = torch.optim.SGD(blocks.parameters(), lr=0.1)
    blocks(x).pow(2).mean().backward()
    got = {name for name, p in blocks[0].named_parameters() if p.grad.any()}
    assert got == {"bn2.weight", "bn2.bias"}
    assert got == {name for name, p in ns["resnet_zero"][0].named_parameters() if p.grad.any()}  # as printed
    optimizer.step()
    optimizer.zero_grad()
    blocks(x).pow(2).mean().backward()
    assert all(p.grad.any() for p in blocks[0].parameters())


def test_a_zero_convolution_before_a_batchnorm_is_back_at_full_size_after_one_step():
    after = {zeroed: ns["branch_after_one_step"](zeroed) for zeroed in ("bn2.weight", "conv2.weight")}
    assert after["conv2.weight"] == pytest.approx(1, abs=0.01)
    assert after["bn2.weight"] < 1e-4
    with ns["fixed_seed"](6):
        block = ns["BasicBlock"](8)
    nn.init.zeros_(block.conv2.weight)
    assert not block.branch(ns["x_image"]).any()  # it starts at zero too: the BatchNorm returns its bias, 0


# What a blanket initializer overwrites

ALL_KEPT = {"padding row 0": True, "attention biases 0": True, "LayerNorm weights 1": True}


def test_layers_choose_these_values_on_purpose():
    with ns["fixed_seed"](0):
        model = ns["TinyGPT"]()
    assert ns["special_cases"](model) == ALL_KEPT
    attention = nn.MultiheadAttention(8, 2)
    assert not attention.in_proj_bias.any() and not attention.out_proj.bias.any()


def test_special_cases_can_fail():
    with ns["fixed_seed"](0):
        model = ns["TinyGPT"]()
    with torch.no_grad():
        model.blocks[3].ln_2.weight[5] = 0.5
    assert ns["special_cases"](model)["LayerNorm weights 1"] is False


def test_normal_on_every_parameter_breaks_all_three_and_shrinks_layernorm():
    with ns["fixed_seed"](0):
        model = ns["TinyGPT"]()
        ns["normal_everything"](model)
    assert not any(ns["special_cases"](model).values())
    ln = model.blocks[0].ln_1
    assert ln.weight.abs().mean().item() == pytest.approx(0.02 * math.sqrt(2 / math.pi), rel=0.3)
    assert (ln.weight < 0).any()  # random signs


def test_the_dim_gt_1_loop_is_nn_transformers_own_and_spares_only_1d_parameters():
    source = inspect.getsource(nn.Transformer._reset_parameters)
    assert "p.dim() > 1" in source and "xavier_uniform_(p)" in source
    transformer = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, batch_first=True)
    assert not any(isinstance(m, nn.Embedding) for m in transformer.modules())
    with ns["fixed_seed"](0):
        model = ns["TinyGPT"]()
        ns["xavier_matrices"](model)
    cases = ns["special_cases"](model)
    assert cases == {"padding row 0": False, "attention biases 0": True, "LayerNorm weights 1": True}
    assert all(p.dim() == 1 for name, p in model.named_parameters() if "bias" in name or ".ln_" in name)


# Initializing a transformer like GPT-2

def test_gpt2_style_init_keeps_the_special_cases_and_scales_the_residual_projections():
    gpt = ns["gpt"]
    assert ns["special_cases"](gpt) == ALL_KEPT
    names = [name for name, _ in gpt.named_parameters() if ns["is_residual_projection"](name)]
    assert len(names) == 2 * gpt.n_layers == 24
    residual = torch.cat([p.detach().flatten() for n, p in gpt.named_parameters() if ns["is_residual_projection"](n)])
    assert residual.std().item() == pytest.approx(0.02 / math.sqrt(24), rel=0.02)
    assert round(0.02 / math.sqrt(24), 4) == 0.0041
    for name, param in gpt.named_parameters():
        if param.dim() == 2 and not ns["is_residual_projection"](name):
            std = param[1:].std() if name == "embed.weight" else param.std()
            assert std.item() == pytest.approx(0.02, rel=0.1), name


def test_the_residual_projections_are_exactly_the_layers_that_write_into_the_stream():
    """Zero them (and their biases) and every block is the identity."""
    with ns["fixed_seed"](0):
        gpt = ns["TinyGPT"](n_layers=2)
        x = torch.randn(2, 5, 64)
    with torch.no_grad():
        for name, param in gpt.named_parameters():
            if ns["is_residual_projection"](name) or name.endswith(("attn.out_proj.bias", "mlp.2.bias")):
                param.zero_()
    assert torch.equal(gpt.blocks(x), x)
    assert gpt(torch.tensor([[3, 1, 0]])).shape == (1, 3, 100)


def test_multihead_attention_keeps_its_input_projections_in_a_parameter_of_its_own():
    attention = nn.MultiheadAttention(64, 4, batch_first=True)
    assert [name for name, m in attention.named_modules() if isinstance(m, nn.Linear)] == ["out_proj"]
    assert attention.in_proj_weight.shape == (192, 64)
    assert "in_proj_weight" in dict(attention.named_parameters(recurse=False))
    separate = nn.MultiheadAttention(64, 4, kdim=32, vdim=16)  # other key and value sizes: three parameters
    assert separate.in_proj_weight is None
    assert {"q_proj_weight", "k_proj_weight", "v_proj_weight"} <= set(dict(separate.named_parameters()))


def test_the_scaled_init_must_come_after_apply():
    with ns["fixed_seed"](0):
        gpt = ns["TinyGPT"]()
        for name, param in gpt.named_parameters():  # in the wrong order: first the scaled init ...
            if ns["is_residual_projection"](name):
                nn.init.normal_(param, std=ns["residual_std"])
        gpt.apply(ns["init_gpt2_style"])  # ... then apply
    assert gpt.blocks[0].mlp[2].weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_an_embeddings_own_reset_parameters_zeroes_its_padding_row_again():
    embedding = nn.Embedding(10, 4, padding_idx=3)
    nn.init.normal_(embedding.weight)
    assert embedding.weight[3].any()
    embedding.reset_parameters()
    assert not embedding.weight[3].any()


# Putting it together

def test_output_layer_std_is_sqrt_fan_in_times_weight_variance():
    assert ns["mean_square"](ns["hidden"]) == pytest.approx(1.0, rel=0.02)
    for name, (_, variance) in ns["output_inits"].items():
        assert ns["output_stds"][name] == pytest.approx(math.sqrt(256 * variance), rel=0.03)


def test_output_layer_scales_in_the_text():
    stds = ns["output_stds"]
    assert round(stds["default"], 2) == 0.57 and round(stds["xavier_normal_"], 2) == 0.64
    assert round(stds["kaiming, linear"], 1) == 1.0 and round(stds["kaiming, relu"], 2) == 1.42
    assert round(1 / math.sqrt(3), 2) == 0.58 and round(math.sqrt(2), 2) == 1.41  # the theory the text gives too
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


# Initializing a model built on the meta device

def test_my_mlp_initializes_its_layers_twice(monkeypatch):
    calls = []
    for name in ("kaiming_uniform_", "kaiming_normal_"):
        original = getattr(nn.init, name)
        monkeypatch.setattr(nn.init, name, lambda t, *a, _f=original, _n=name, **k: calls.append(_n) or _f(t, *a, **k))
    ns["MyMLP"]()
    # each Linear's default in its constructor (3), then reset_parameters: 2 Kaiming normal, 1 default again
    assert calls == ["kaiming_uniform_"] * 3 + ["kaiming_normal_"] * 2 + ["kaiming_uniform_"]


def test_building_on_meta_draws_no_random_numbers_and_holds_no_data():
    state = torch.get_rng_state()
    with torch.device("meta"):
        model = ns["MyMLP"]()
    assert torch.equal(torch.get_rng_state(), state)
    assert all(p.is_meta for p in model.parameters())
    assert outputs["meta-init"].splitlines()[2] == "random numbers drawn: False"


def test_to_empty_leaves_unwritten_memory_even_where_zeros_ran_on_meta():
    with torch.device("meta"):
        model = ns["MyMLP"]()
    with ns["nan_for_uninitialized_memory"]():
        model.to_empty(device="cpu")
    assert all(p.isnan().all() for p in model.parameters())  # the hidden biases too
    model.reset_parameters()
    assert not any(p.isnan().any() for p in model.parameters())
    assert not model.hidden1.bias.any() and not model.hidden2.bias.any()


def test_meta_model_after_reset_parameters_is_initialized_like_my_mlp():
    model = ns["meta_model"]
    assert not any(p.is_meta or p.isnan().any() for p in model.parameters())
    assert not model.hidden1.bias.any() and model.output.bias.all()
    assert model.output.weight.abs().max().item() <= 1 / math.sqrt(3)
    torch.manual_seed(21)
    model.reset_parameters()
    reset = [p.detach().clone() for p in model.parameters()]
    fresh = ns["MyMLP"]()
    torch.manual_seed(21)
    fresh.reset_parameters()
    assert all(torch.equal(p, q) for p, q in zip(reset, fresh.parameters()))


# Exercises

def test_exercise_equal_first_layer_breaks_symmetry_through_the_output_layer():
    assert ns["equal_first_layer_distinct"] == 8
    loss = ns["equal_first_layer_loss"]
    assert round(loss, 2) == 0.48
    assert ns["symmetry"]["random, zero bias"][2] < loss < ns["symmetry"]["all 0.5"][2]
    assert round(ns["symmetry"]["all 0.5"][2], 2) == 1.19


def test_exercise_equal_first_layer_first_update_is_proportional_to_the_output_weights():
    net = _toy_net()
    nn.init.constant_(net[0].weight, 0.5)
    nn.init.zeros_(net[0].bias)
    torch.nn.functional.mse_loss(net(ns["X_toy"]), ns["y_toy"]).backward()
    grad, v = net[0].weight.grad, net[2].weight.detach()[0]
    g = grad[0] / v[0]
    assert torch.allclose(grad, v[:, None] * g[None, :], atol=1e-6)
    assert torch.unique(grad, dim=0).shape[0] == 8


def test_exercise_variance_notation():
    assert ns["paper_layer"].weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.01)
    lines = outputs["exercise-variance-notation"].splitlines()
    assert lines[0].startswith("std=2/512        std 0.0039, variance 0.000015")
    assert "std 0.0625, variance 0.0039" in lines[1]
    right = nn.init.normal_(torch.empty(256, 512), std=math.sqrt(2 / 512))
    wrong = nn.init.normal_(torch.empty(256, 512), std=2 / 512)
    assert right.var().item() == pytest.approx(2 / 512, rel=0.02)
    assert right.std().item() / wrong.std().item() == pytest.approx(16, rel=0.02)
    assert right.var().item() / wrong.var().item() == pytest.approx(256, rel=0.04)
    kaiming = nn.init.kaiming_normal_(torch.empty(256, 512), nonlinearity="relu")
    assert kaiming.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.01)


def test_exercise_variance_notation_wrong_std_makes_the_signal_vanish_through_relu_layers():
    h = torch.randn(200, 256)
    with torch.no_grad():
        for _ in range(5):  # each layer: 256 * (2/256)**2 / 2 = 1/256 of the mean square
            h = torch.relu(h @ nn.init.normal_(torch.empty(256, 256), std=2 / 256).T)
    assert ns["mean_square"](h) < 1e-10


def test_exercise_default_bounds():
    layers = ns["default_layers"]
    expected = {"Linear(300, 10)": 300, "Conv2d(16, 32, 3)": 144, "Conv2d(32, 32, 3, groups=32)": 9}
    for name, fan_in in expected.items():
        layer = layers[name]
        assert nn.init._calculate_fan_in_and_fan_out(layer.weight)[0] == fan_in == layer.weight[0].numel()
        assert 0.95 / math.sqrt(fan_in) < layer.weight.abs().max().item() <= 1 / math.sqrt(fan_in)
    assert round(1 / math.sqrt(300), 4) == 0.0577 and round(1 / math.sqrt(288), 3) == 0.059
    assert nn.Embedding(1000, 300).weight.std().item() == pytest.approx(1, rel=0.01)


def test_exercise_fix_init_function_both_bugs():
    features = ns["features"]
    assert features[0].bias is None
    with pytest.raises(AttributeError):
        nn.init.zeros_(None)
    half_fixed = []

    def bias_fixed_only(module):
        if type(module) in (nn.Conv2d, nn.Linear):
            half_fixed.append(module)

    features.apply(bias_fixed_only)
    assert half_fixed == [features[0]]  # the ScaledLinear is missed
    assert isinstance(features[4], nn.Linear) and type(features[4]) is not nn.Linear


def test_exercise_fix_init_function_fixed_version_gives_kaiming():
    features = ns["features"]
    for module in (features[0], features[4]):
        fan_in = module.weight[0].numel()
        assert module.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert features[0].weight.numel() == 216
    assert not features[4].bias.any()
    assert torch.equal(features[1].weight, torch.ones(8))  # the BatchNorm untouched


def test_a_batchnorm_makes_the_bias_of_the_conv_before_it_useless():
    torch.manual_seed(8)
    with_bias = nn.Conv2d(3, 8, 3)
    without = nn.Conv2d(3, 8, 3, bias=False)
    with torch.no_grad():
        without.weight.copy_(with_bias.weight)
    x = torch.randn(4, 3, 8, 8)
    assert torch.allclose(nn.BatchNorm2d(8)(with_bias(x)), nn.BatchNorm2d(8)(without(x)), atol=1e-5)


def test_exercise_meta_generator():
    lines = outputs["exercise-meta-generator"].splitlines()
    assert lines[:4] == ["same seed, same model: True", "the two layers draw different numbers: True",
                         "other seed, other model: True", "global stream untouched: True"]
    model = ns["first"]
    for module in (model[0], model[2]):
        assert module.weight.abs().max().item() <= 0.04 and not module.bias.any()
        assert module.weight.std().item() == pytest.approx(0.88 * 0.02, rel=0.03)


def test_a_fresh_generator_per_layer_repeats_its_numbers_across_shapes_and_passes_the_other_checks():
    """The variant the solution warns about: only the check on the two layers' numbers catches it."""
    def init_fresh(model, seed, std=0.02):
        for module in model.modules():
            if isinstance(module, nn.Linear):
                generator = torch.Generator().manual_seed(seed)  # a new one per layer
                nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
                nn.init.zeros_(module.bias)

    def build(seed):
        with torch.device("meta"):
            model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
        model.to_empty(device="cpu")
        init_fresh(model, seed)
        return model

    state = torch.get_rng_state()
    first, second, other = build(0), build(0), build(1)
    assert all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters()))
    assert not torch.equal(first[0].weight, other[0].weight)
    assert torch.equal(torch.get_rng_state(), state)
    assert max(first[0].weight.abs().max().item(), first[2].weight.abs().max().item()) <= 0.04
    assert first[0].weight.shape != first[2].weight.shape
    assert torch.equal(first[0].weight.flatten(), first[2].weight.flatten())  # the same 16,384 numbers
    assert first[0].weight.numel() == 16_384


def test_a_fresh_generator_per_layer_gives_same_shape_layers_the_same_weights():
    a, b = nn.Linear(32, 32), nn.Linear(32, 32)
    for layer in (a, b):
        nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.weight, b.weight)
    shared = torch.Generator().manual_seed(0)
    for layer in (a, b):
        nn.init.trunc_normal_(layer.weight, std=0.02, a=-0.04, b=0.04, generator=shared)
    assert not torch.equal(a.weight, b.weight)

def test_exercise_audit_init_finds_in_proj_weight_and_the_padding_row():
    unchanged = ns["unchanged"]
    block0 = [name for name in unchanged if name.startswith("blocks.0.")]
    assert block0 == ["blocks.0.ln_1.weight", "blocks.0.ln_1.bias", "blocks.0.attn.in_proj_weight",
                      "blocks.0.attn.in_proj_bias", "blocks.0.attn.out_proj.bias", "blocks.0.ln_2.weight",
                      "blocks.0.ln_2.bias"]
    assert [name for name in unchanged if not name.startswith("blocks.")] == ["ln_f.weight", "ln_f.bias"]
    for i in range(12):  # every block alike
        assert sorted(n.split(".", 2)[2] for n in unchanged if n.startswith(f"blocks.{i}.")) == sorted(
            n.split(".", 2)[2] for n in block0)
    std = ns["audited"].blocks[0].attn.in_proj_weight.std().item()
    assert std == pytest.approx(math.sqrt(2 / (64 + 192)), rel=0.02) and std > 4 * 0.02
    assert ns["special_cases"](ns["audited"])["padding row 0"] is False


def test_exercise_audit_init_out_proj_bias_was_written_with_the_zeros_it_held():
    with ns["fixed_seed"](0):
        model = ns["TinyGPT"](n_layers=1)
    calls = []
    original = nn.init.zeros_

    def spy(tensor):
        calls.append(tensor)
        return original(tensor)

    nn.init.zeros_ = spy
    try:
        model.apply(ns["init_linear_and_embedding"])
    finally:
        nn.init.zeros_ = original
    assert any(t is model.blocks[0].attn.out_proj.bias for t in calls)
    assert not any(t is model.blocks[0].attn.in_proj_bias for t in calls)


# Review fixes: zero weights, the padding row, the (out, in) layout, the caller's settings, reset order

def test_a_zero_layer_before_a_relu_with_zero_biases_gets_no_gradient_and_sends_none():
    net = _toy_net()
    nn.init.zeros_(net[0].weight)
    nn.init.zeros_(net[0].bias)
    nn.functional.mse_loss(net(ns["X_toy"]), ns["y_toy"]).backward()
    assert not net[0].weight.grad.any()  # its outputs are 0, where ReLU's slope is 0
    assert not net[2].weight.grad.any()  # the layer above gets zero inputs
    ns["train"](net)
    assert not net[0].weight.any()  # still zero after training: the layer is dead
    chain = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    nn.init.zeros_(chain[2].weight)
    nn.functional.mse_loss(chain(ns["X_toy"]), ns["y_toy"]).backward()
    assert not chain[0].weight.grad.any()  # a zero layer sends no gradient to the layer below


def test_zeroing_only_the_last_layer_keeps_the_hidden_units_distinct():
    net = _toy_net()
    nn.init.kaiming_normal_(net[0].weight, nonlinearity="relu")
    nn.init.zeros_(net[0].bias)
    nn.init.zeros_(net[2].weight)
    nn.functional.mse_loss(net(ns["X_toy"]), ns["y_toy"]).backward()
    assert net[2].weight.grad.abs().min() > 0  # its inputs are not zero: it leaves zero at the first step
    ns["train"](net)
    assert torch.unique(net[0].weight.detach(), dim=0).shape[0] == 8


def test_an_initializer_of_the_whole_weight_overwrites_the_padding_row_for_good():
    embedding = nn.Embedding(10, 4, padding_idx=0)
    nn.init.normal_(embedding.weight)
    assert embedding.weight[0].abs().min() > 0
    row = embedding.weight[0].detach().clone()
    optimizer = torch.optim.SGD(embedding.parameters(), lr=1.0)
    for _ in range(3):
        optimizer.zero_grad()
        embedding(torch.tensor([0, 1, 0, 2])).pow(2).sum().backward()
        optimizer.step()
    assert torch.equal(embedding.weight[0], row)  # never pulled back to zero
    padded = ns["padded"]
    assert not padded.weight[0].any() and padded.weight[1:].eq(1).all()
    assert outputs["other-defaults"].splitlines()[2:4] == [
        "after nn.init.ones_, row 0: tensor([1., 1., 1., 1.])", "zeroed again, row 0: tensor([0., 0., 0., 0.])"]


def test_fans_assume_the_out_in_layout_and_the_transposed_view_fixes_an_in_out_weight():
    fan_in, fan_out = 1000, 100
    stored_in_out = torch.empty(fan_in, fan_out)  # used as x @ weight
    nn.init.kaiming_normal_(stored_in_out, nonlinearity="relu")
    assert stored_in_out.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.03)  # the wrong fan
    nn.init.kaiming_normal_(stored_in_out.T, nonlinearity="relu")  # writes through the view
    assert stored_in_out.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.03)
    x = torch.randn(2000, fan_in)
    assert torch.relu(x @ stored_in_out).pow(2).mean().item() == pytest.approx(1, rel=0.1)
    doc = " ".join(nn.init.kaiming_normal_.__doc__.split())
    assert "pass in a transposed weight matrix" in doc and "x @ w.T" in doc


def test_meta_init_restores_the_callers_deterministic_setting():
    context = ns["nan_for_uninitialized_memory"]
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        with context():
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    with context():
        pass
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_reset_loop_over_modules_undoes_my_mlps_initialization_and_a_children_first_one_keeps_it():
    def meta_then_empty():
        with torch.device("meta"):
            model = ns["MyMLP"]()
        return model.to_empty(device="cpu")

    assert list(ns["MyMLP"]().modules())[0].__class__.__name__ == "MyMLP"  # the parent comes first
    parents_first = meta_then_empty()
    for module in parents_first.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    assert parents_first.hidden1.bias.abs().min() > 0 and parents_first.hidden2.bias.abs().min() > 0
    children_first = meta_then_empty()
    children_first.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
    assert not children_first.hidden1.bias.any() and not children_first.hidden2.bias.any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")
def test_the_exercises_generator_follows_the_parameters_to_the_gpu():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
    model.to_empty(device="cuda")
    with pytest.raises(RuntimeError, match="generator"):
        nn.init.trunc_normal_(model[0].weight, std=0.02, a=-0.04, b=0.04, generator=torch.Generator())
    ns["init_like_a_transformer"](model, seed=0)
    assert model[0].weight.abs().max().item() <= 0.04 and model[0].weight.is_cuda
