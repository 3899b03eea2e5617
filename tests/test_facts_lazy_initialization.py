"""The facts docs/*/lazy-initialization.md claims, checked on the running torch."""

import pickle

import pytest
import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from tools.snippets import ROOT, run

_, ns = run(ROOT / "snippets" / "lazy-initialization.py")


def test_lazy_linear_starts_with_uninitialized_parameters():
    net = ns["lazy_mlp"]()
    assert type(net[0]).__name__ == "LazyLinear"
    assert net[0].in_features == 0
    assert all(isinstance(p, UninitializedParameter) for p in net.parameters())
    assert all(isinstance(v, UninitializedParameter) for v in net.state_dict().values())
    assert net[0].has_uninitialized_params()


def test_shape_of_uninitialized_parameter_raises():
    with pytest.raises(RuntimeError, match="uninitialized"):
        _ = ns["lazy_mlp"]()[0].weight.shape


def test_dry_run_turns_lazy_linear_into_linear_with_weight_256_by_20():
    net = ns["net"]
    assert type(net[0]) is nn.Linear and type(net[2]) is nn.Linear
    assert type(net[0].weight) is nn.Parameter
    assert net[0].weight.shape == (256, 20) and net[0].in_features == 20
    assert net[2].weight.shape == (10, 256)
    assert net(ns["X"]).shape == (2, 10)


def test_dry_run_net_has_7946_parameters():
    assert sum(p.numel() for p in ns["net"].parameters()) == 7946


def test_dry_run_applies_default_uniform_init():
    bound = 1 / 20**0.5
    fresh = ns["lazy_mlp"]()
    fresh(ns["X"])
    weight = fresh[0].weight.detach()
    assert weight.abs().max() <= bound
    assert weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.05)


def test_sized_linear_has_parameters_at_construction():
    eager = nn.Linear(20, 256)
    assert type(eager.weight) is nn.Parameter
    assert eager.weight.shape == (256, 20)
    assert not isinstance(eager, LazyModuleMixin)


def test_only_lazy_named_modules_are_lazy_and_they_cover_five_families():
    lazy_names = [name for name in dir(nn) if name.startswith("Lazy")]
    assert all(issubclass(getattr(nn, name), LazyModuleMixin) for name in lazy_names)
    families = {"Linear", "Conv", "ConvTranspose", "BatchNorm", "InstanceNorm"}
    assert {name[4:].rstrip("123d") for name in lazy_names} == families
    lazy_classes = {getattr(nn, name) for name in dir(nn) if isinstance(getattr(nn, name), type)
                    and issubclass(getattr(nn, name), LazyModuleMixin) and getattr(nn, name) is not LazyModuleMixin}
    assert {cls.__name__ for cls in lazy_classes} == set(lazy_names)


def test_lazy_cnn_infers_864_features():
    cnn = ns["cnn"]
    assert type(cnn[0]) is nn.Conv2d and cnn[0].in_channels == 1
    assert type(cnn[4]) is nn.Linear and cnn[4].in_features == 6 * 12 * 12 == 864


def test_lazy_linear_is_a_linear_subclass_before_dry_run_and_linear_after():
    layer = nn.LazyLinear(4)
    assert type(layer) is not nn.Linear and isinstance(layer, nn.Linear)
    layer(torch.rand(1, 3))
    assert type(layer) is nn.Linear


def test_type_equality_misses_multihead_attention_out_proj():
    attention = nn.MultiheadAttention(embed_dim=8, num_heads=2)
    assert type(attention.out_proj) is not nn.Linear
    assert isinstance(attention.out_proj, nn.Linear)
    assert not [m for m in attention.modules() if type(m) == nn.Linear]


def test_init_before_dry_run_raises_value_error():
    with pytest.raises(ValueError, match="uninitialized parameter"):
        ns["lazy_mlp"]().apply(ns["init_normal"])


def test_type_check_init_before_dry_run_is_silently_lost():
    skipped = ns["skipped"]
    assert skipped[0].weight.std().item() == pytest.approx((1 / 20**0.5) / 3**0.5, rel=0.05)
    assert skipped[0].weight.std().item() > 0.1
    assert not torch.equal(skipped[0].bias, torch.zeros(256))


def test_init_after_dry_run_gives_std_001_and_zero_bias():
    initialized = ns["initialized"]
    for index in (0, 2):
        assert initialized[index].weight.std().item() == pytest.approx(0.01, rel=0.1)
        assert torch.equal(initialized[index].bias, torch.zeros_like(initialized[index].bias))


def test_state_dict_loads_into_fresh_lazy_net_and_survives_first_call():
    source = ns["initialized"]
    restored = ns["lazy_mlp"]()
    result = restored.load_state_dict(source.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert type(restored[0]).__name__ == "LazyLinear" and restored[0].in_features == 0
    assert restored[0].weight.shape == (256, 20)
    assert torch.equal(restored(ns["X"]), source(ns["X"]))
    assert type(restored[0]) is nn.Linear and restored[0].in_features == 20


def test_uninitialized_state_dict_is_refused_by_weights_only_load(tmp_path):
    path = tmp_path / "empty.pt"
    torch.save(ns["lazy_mlp"]().state_dict(), path)
    with pytest.raises(pickle.UnpicklingError, match="UninitializedParameter"):
        torch.load(path, weights_only=True)


def test_allowlisted_uninitialized_state_dict_holds_only_placeholders(tmp_path):
    path = tmp_path / "empty.pt"
    torch.save(ns["lazy_mlp"]().state_dict(), path)
    with torch.serialization.safe_globals([UninitializedParameter]):
        loaded = torch.load(path, weights_only=True)
    assert loaded and all(isinstance(v, UninitializedParameter) for v in loaded.values())


def test_uninitialized_state_dict_cannot_load_into_sized_net():
    sized = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    with pytest.raises(RuntimeError, match="uninitialized"):
        sized.load_state_dict(ns["lazy_mlp"]().state_dict())


def test_to_before_dry_run_sets_dtype_of_created_parameters():
    model = ns["model"]
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model[0].weight.shape == (256, 20)
    assert model[0].weight.std().item() == pytest.approx(0.01, rel=0.1)
