"""The facts docs/*/lazy-initialization.md claims, checked on the running torch."""

import copy
import pickle
import warnings

import pytest
import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.parameter import UninitializedParameter

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "lazy-initialization.py")


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


def _normalized(text):
    return " ".join(text.split())


def test_lazy_module_mixin_docstring_marks_lazy_modules_experimental():
    assert ("Lazy modules are an experimental new feature under active development, "
            "and their API is likely to change.") in _normalized(LazyModuleMixin.__doc__)


def test_every_lazy_class_derives_from_the_mixin_the_docstring_belongs_to():
    lazy_names = [name for name in dir(nn) if name.startswith("Lazy")]
    assert lazy_names and all(issubclass(getattr(nn, name), LazyModuleMixin) for name in lazy_names)


def test_dry_run_keeps_the_module_object_and_takes_its_class_from_cls_to_become():
    assert ns["first"] is ns["net"][0]
    assert nn.LazyLinear.cls_to_become is nn.Linear
    for name in (name for name in dir(nn) if name.startswith("Lazy")):
        assert getattr(nn, name).cls_to_become is getattr(nn, name[len("Lazy"):])


def test_dry_run_hook_removes_itself():
    layer = nn.LazyLinear(4)
    assert hasattr(layer, "_initialize_hook") and layer._forward_pre_hooks
    layer(torch.rand(2, 3))
    assert not hasattr(layer, "_initialize_hook") and not layer._forward_pre_hooks


def test_dry_run_initializes_exactly_as_the_sized_constructor_does():
    x = torch.rand(2, 3)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        lazy = nn.LazyLinear(4)
        lazy(x)
        torch.manual_seed(0)
        eager = nn.Linear(3, 4)
    assert torch.equal(lazy.weight, eager.weight) and torch.equal(lazy.bias, eager.bias)


@pytest.mark.parametrize("name", [name for name in dir(nn) if name.startswith("Lazy")])
def test_lazy_linear_reads_the_last_dimension_and_the_others_read_dimension_1(name):
    spatial = {"1d": 1, "2d": 2, "3d": 3}.get(name[-2:], 0)
    shape = (2, 3) + (5,) * spatial if spatial else (2, 3, 7)
    args = () if "Norm" in name else (4,) if name == "LazyLinear" else (4, 1)
    layer = getattr(nn, name)(*args)
    layer(torch.rand(*shape))
    if name == "LazyLinear":
        assert layer.in_features == shape[-1] == 7
    elif "Conv" in name:
        assert layer.in_channels == shape[1] == 3
    else:
        assert layer.num_features == shape[1] == 3


def test_which_dimension_output_shows_8_features_and_3_channels():
    lines = outputs["which-dimension"].splitlines()
    assert lines[0].startswith("Linear(in_features=8,")
    assert lines[1].startswith("Conv2d(3, 4,")
    assert lines[2].startswith("BatchNorm2d(3,")


def test_uninitialized_parameter_allows_to_but_refuses_torch_functions():
    placeholder = UninitializedParameter()
    assert placeholder.to(torch.float64).dtype == torch.float64  # allowed
    assert isinstance(placeholder.float(), UninitializedParameter)  # allowed
    layer = nn.LazyLinear(3).to(torch.float64)
    assert isinstance(layer.weight, UninitializedParameter) and layer.weight.dtype == torch.float64
    with pytest.raises(ValueError, match="uninitialized parameter"):
        torch.add(placeholder, 1)
    with pytest.raises(ValueError, match="uninitialized parameter"):
        nn.init.normal_(placeholder)


def test_loading_materializes_parameters_with_the_loaded_shape_before_the_first_call():
    source = nn.Sequential(nn.Linear(7, 256), nn.ReLU(), nn.Linear(256, 10))  # not 20 inputs
    restored = ns["lazy_mlp"]()
    restored.load_state_dict(source.state_dict())
    assert restored[0].weight.shape == (256, 7)
    assert not restored[0].has_uninitialized_params() and not restored[2].has_uninitialized_params()
    assert type(restored[0]).__name__ == "LazyLinear" and restored[0].in_features == 0
    assert outputs["load-into-lazy"].splitlines()[2] == "False False"


def test_torch_load_is_weights_only_by_default(tmp_path):
    path = tmp_path / "empty.pt"
    torch.save(ns["lazy_mlp"]().state_dict(), path)
    with pytest.raises(pickle.UnpicklingError, match="UninitializedParameter"):
        torch.load(path)


def test_docstring_converts_before_the_dry_run_and_builds_the_optimizer_after():
    doc = _normalized(LazyModuleMixin.__doc__)
    assert ("networks with lazy modules should first be converted to the desired dtype "
            "and placed on the expected device") in doc
    assert doc.index("performs a dry run") < doc.index("attaches an optimizer")


def _meta_mlp():
    with torch.device("meta"):
        return ns["sized_mlp"]()


def test_meta_device_parameters_have_shapes_but_no_data():
    net = _meta_mlp()
    assert all(type(p) is nn.Parameter and p.is_meta for p in net.parameters())
    assert net[0].weight.shape == (256, 20) and type(net[0]) is nn.Linear
    out = net(ns["X"].to("meta"))
    assert out.is_meta and out.shape == (2, 10)
    with pytest.raises(RuntimeError, match="meta tensors"):
        net[0].weight[0, 0].item()
    with pytest.raises(RuntimeError):  # the sizes are still checked
        net(torch.rand(2, 19, device="meta"))


def test_huge_meta_layer_allocates_no_memory():
    """4 TB of weights, more than any machine that runs this has: made at all, they were not allocated."""
    with torch.device("meta"):
        huge = nn.Linear(1_000_000, 1_000_000)
    assert huge.weight.is_meta and huge.bias.is_meta
    assert huge.weight.numel() * huge.weight.element_size() == 4 * 10**12


def test_to_empty_leaves_memory_unwritten_which_deterministic_mode_shows_as_nan():
    assert torch.utils.deterministic.fill_uninitialized_memory
    net = _meta_mlp()
    net.append(nn.BatchNorm1d(10))
    with ns["nan_for_uninitialized_memory"]():
        net.to_empty(device="cpu")
    assert not torch.are_deterministic_algorithms_enabled()
    assert all(t.device.type == "cpu" and not t.is_meta for t in net.state_dict().values())
    assert all(p.isnan().all() for p in net.parameters())
    assert net[3].running_mean.isnan().all()  # buffers too
    ns["reset_all"](net)
    assert torch.equal(net[3].running_mean, torch.zeros(10))


def test_to_empty_and_assign_replace_the_parameter_objects():
    net = _meta_mlp()
    old = net[0].weight
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    net.to_empty(device="cpu")
    assert net[0].weight is not old and optimizer.param_groups[0]["params"][0].is_meta
    net = _meta_mlp()
    old = net[0].weight
    net.load_state_dict(ns["initialized"].state_dict(), assign=True)
    assert net[0].weight is not old


@pytest.mark.parametrize("layer, args", [
    (nn.Linear, (5, 3)), (nn.Conv2d, (3, 4, 3)), (nn.LayerNorm, (4,)), (nn.Embedding, (10, 4)),
    (nn.BatchNorm1d, (4,)), (nn.LSTM, (4, 5)), (nn.Bilinear, (3, 4, 5)),
])
def test_reset_parameters_gives_the_constructors_initialization(layer, args):
    with torch.random.fork_rng():
        torch.manual_seed(0)
        eager = layer(*args)
        torch.manual_seed(0)
        with torch.device("meta"):
            late = layer(*args)
        late.to_empty(device="cpu")
        late.reset_parameters()
    expected, got = eager.state_dict(), late.state_dict()
    assert all(torch.equal(expected[key], got[key]) for key in expected)


def test_reset_all_gives_the_default_init_and_leaves_no_nan():
    weight, bound = ns["meta_weight"], 1 / 20**0.5
    assert weight is ns["meta_net"][0].weight and not weight.is_meta
    assert weight.abs().max() <= bound
    assert weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.05)
    assert not any(p.isnan().any() for p in ns["meta_net"].parameters())
    assert outputs["to-empty"].splitlines()[0] == "cpu False True"
    assert hasattr(nn.Linear(2, 2), "reset_parameters") and not hasattr(nn.ReLU(), "reset_parameters")


def test_reset_loop_misses_the_input_projection_of_multihead_attention():
    attention = ns["meta_attention"]
    assert not hasattr(attention, "reset_parameters") and hasattr(attention, "_reset_parameters")
    assert attention.in_proj_weight.isnan().all() and attention.in_proj_bias.isnan().all()
    assert not attention.out_proj.weight.isnan().any() and not attention.out_proj.bias.isnan().any()
    assert type(attention.out_proj) is not nn.Linear and isinstance(attention.out_proj, nn.Linear)


def test_plain_load_into_meta_model_is_a_no_op_with_one_warning_per_tensor():
    net, state = _meta_mlp(), ns["initialized"].state_dict()  # not ns["state"]: assign=True marked it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.load_state_dict(state)
    assert all(p.is_meta for p in net.parameters())
    assert len(caught) == len(state) == 4
    assert all("no-op" in str(w.message) and "assign=True" in str(w.message) for w in caught)


def test_assign_true_takes_the_loaded_tensors_as_parameters_without_copying():
    assigned, state = ns["assigned"], ns["state"]
    params = dict(assigned.named_parameters())
    assert all(params[key].data_ptr() == tensor.data_ptr() for key, tensor in state.items())
    assert not any(t.requires_grad for t in state.values())
    assert all(type(p) is nn.Parameter and not p.is_meta and p.requires_grad for p in params.values())
    assert torch.equal(assigned(ns["X"]), ns["initialized"](ns["X"]))


def test_meta_context_reaches_factory_functions_but_not_an_explicit_device_or_numpy():
    import numpy as np

    with torch.device("meta"):
        made = [torch.zeros(2), torch.empty(2), torch.tensor([1.0, 2.0])]
        explicit, converted = torch.zeros(2, device="cpu"), torch.from_numpy(np.zeros(2))
    assert all(t.is_meta for t in made)
    assert explicit.device.type == "cpu" and converted.device.type == "cpu"


def test_plain_load_in_the_snippet_left_the_meta_parameters_and_warned_four_times():
    copied = ns["copied"]
    assert all(p.is_meta for p in copied.parameters())
    assert outputs["meta-load"].splitlines()[0] == "True 4"


def test_assign_true_keeps_only_requires_grad_of_the_old_parameter():
    state = {key: value.to(torch.float64) for key, value in ns["initialized"].state_dict().items()}
    net = _meta_mlp()
    net.load_state_dict(state, assign=True)
    assert all(p.dtype == torch.float64 and p.requires_grad for p in net.parameters())
    frozen = _meta_mlp().requires_grad_(False)
    frozen.load_state_dict(state, assign=True)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_dry_run_in_training_mode_updates_batch_norm_running_statistics():
    in_training, in_eval = ns["in_training"], ns["in_eval"]
    batch_norm = in_training[1]
    with torch.no_grad():
        batch_mean = in_training[0](ns["X"]).mean(dim=0)
    assert batch_norm.num_batches_tracked.item() == 1 and batch_norm.momentum == 0.1
    assert torch.allclose(batch_norm.running_mean, 0.1 * batch_mean)
    fresh = nn.BatchNorm1d(4)
    assert in_eval[1].num_batches_tracked.item() == 0 and in_eval.training and in_eval[1].training
    assert torch.equal(in_eval[1].running_mean, fresh.running_mean)
    assert torch.equal(in_eval[1].running_var, fresh.running_var)
    assert type(in_eval[1]) is nn.BatchNorm1d and in_eval[1].num_features == 4


def test_assign_true_leaves_non_persistent_buffers_and_missing_keys_on_meta():
    cls = ns["MaskedLinear"]
    assert "mask" not in cls().state_dict() and "mask" in dict(cls().named_buffers())
    with torch.device("meta"):
        model = cls()
    result = model.load_state_dict(cls().state_dict(), assign=True)
    assert not result.missing_keys and not result.unexpected_keys  # "All keys matched"
    assert model.mask.is_meta and not model.linear.weight.is_meta
    with pytest.raises(RuntimeError, match="meta"):
        model(torch.rand(2, 4))
    partial = _meta_mlp()
    result = partial.load_state_dict({"0.weight": torch.zeros(256, 20)}, strict=False, assign=True)
    assert "0.bias" in result.missing_keys and partial[0].bias.is_meta and not partial[0].weight.is_meta


def test_rebuilt_mask_stays_non_persistent_and_gives_the_saved_outputs():
    masked = ns["masked"]
    assert not any(t.is_meta for t in [*masked.parameters(), *masked.buffers()])
    assert "mask" in masked._non_persistent_buffers_set and "mask" not in masked.state_dict()
    assert torch.equal(masked(ns["x"]), ns["saved"](ns["x"]))


def test_assign_true_marks_the_state_dict_so_a_later_plain_load_assigns_too():
    assert ns["state"]._metadata[""].get("assign_to_params_buffers") is True
    state = ns["sized_mlp"]().state_dict()
    first = ns["sized_mlp"]()
    first.load_state_dict(state, assign=True)
    second = ns["sized_mlp"]()
    old = second[0].weight
    second.load_state_dict(state)  # no assign=True here
    assert second[0].weight is not old
    assert second[0].weight.data_ptr() == first[0].weight.data_ptr() == state["0.weight"].data_ptr()


def test_kaiming_reads_the_shape_first_but_normal_goes_to_the_dispatch():
    placeholder = nn.LazyLinear(3).weight
    with pytest.raises(RuntimeError, match="shape of an uninitialized"):
        nn.init.kaiming_normal_(placeholder, nonlinearity="relu")
    with pytest.raises(ValueError, match="uninitialized parameter"):
        nn.init.normal_(placeholder)
    assert outputs["exercise-init-before-dry-run"].startswith("RuntimeError: Can't access the shape")


def test_kaiming_after_the_dry_run_gives_sqrt_2_over_fan_in():
    cnn = ns["kaiming_cnn"]
    conv, linear = cnn[0], cnn[4]
    assert conv.weight.shape == (6, 1, 5, 5) and conv.weight[0].numel() == 25
    assert linear.weight.shape == (10, 864) and linear.weight[0].numel() == 864
    assert round(linear.weight.std().item(), 3) == round((2 / 864) ** 0.5, 3) == 0.048
    expected, n = (2 / 25) ** 0.5, conv.weight.numel()
    standard_error = expected / (2 * n) ** 0.5  # of a standard deviation estimated from n normal numbers
    assert n == 150 and abs(conv.weight.std().item() - expected) < 1.5 * standard_error
    assert all(torch.equal(layer.bias, torch.zeros_like(layer.bias)) for layer in (conv, linear))


def test_lazy_conv_takes_the_height_of_channels_last_data_for_channels():
    wrong, right = ns["wrong"], ns["right"]
    assert wrong.in_channels == 28 and right.in_channels == 3
    assert wrong(torch.rand(8, 28, 28, 3)).shape == (8, 6, 26, 1)
    with pytest.raises(RuntimeError, match="to have 28 channels, but got 3"):
        wrong(torch.rand(8, 3, 28, 28))
    with pytest.raises(RuntimeError, match="to have 3 channels, but got 28"):
        nn.Conv2d(3, 6, 3)(torch.rand(8, 28, 28, 3))


def test_snapshot_before_the_dry_run_loads_without_error_and_carries_nothing():
    start = ns["lazy_mlp"]()
    snapshot = copy.deepcopy(start.state_dict())
    assert all(isinstance(v, UninitializedParameter) for v in snapshot.values())
    start(ns["X"])
    again = ns["lazy_mlp"]()
    report = again.load_state_dict(snapshot)
    assert not report.missing_keys and not report.unexpected_keys
    assert again[0].has_uninitialized_params() and again[2].has_uninitialized_params()
    assert not torch.equal(again(ns["X"]), start(ns["X"]))
    assert outputs["exercise-snapshot-before-dry-run"].splitlines()[2] == "True False"


def test_snapshot_after_the_dry_run_restores_the_network():
    start, again = ns["start"], ns["again"]
    assert torch.equal(again(ns["X"]), start(ns["X"]))
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), start.parameters()))


def test_deterministic_mode_fills_floats_with_nan_and_integers_with_their_maximum():
    with ns["nan_for_uninitialized_memory"]():
        floats, integers = torch.empty(3), torch.empty(3, dtype=torch.int64)
    assert floats.isnan().all() and (integers == torch.iinfo(torch.int64).max).all()
    assert torch.iinfo(torch.int64).max == 2**63 - 1


def test_forgotten_model_is_nan_until_reset_and_reset_restores_batch_norm_defaults():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(20, 4), nn.BatchNorm1d(4))
    with ns["nan_for_uninitialized_memory"]():
        model.to_empty(device="cpu")
    floats = [v for v in model.state_dict().values() if v.is_floating_point()]
    assert len(floats) == 6 and all(v.isnan().all() for v in floats)
    assert model[1].num_batches_tracked.item() == 2**63 - 1
    assert model(ns["X"]).isnan().all()
    ns["reset_all"](model)
    bn = model[1]
    assert torch.equal(bn.weight, torch.ones(4)) and torch.equal(bn.bias, torch.zeros(4))
    assert torch.equal(bn.running_mean, torch.zeros(4)) and torch.equal(bn.running_var, torch.ones(4))
    assert bn.num_batches_tracked.item() == 0
    assert model(ns["X"]).isfinite().all()
    assert outputs["exercise-forget-reset-parameters"].splitlines()[6].endswith("9223372036854775807")


def test_meta_load_without_assign_warns_leaves_meta_and_to_fails(tmp_path):
    path = tmp_path / "mlp.pt"
    torch.save(ns["initialized"].state_dict(), path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
            ns["load_checkpoint"](path)
    assert len(caught) == 4
    loaded = ns["load_checkpoint_fixed"](path)
    assert all(p.device.type == "cpu" and type(p) is nn.Parameter and p.requires_grad for p in loaded.parameters())
    assert torch.equal(loaded(ns["X"]), ns["initialized"](ns["X"]))


def test_to_empty_after_a_plain_meta_load_gives_uninitialized_memory_not_the_checkpoint():
    net = _meta_mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.load_state_dict(ns["initialized"].state_dict())
    with ns["nan_for_uninitialized_memory"]():
        net.to_empty(device="cpu")
    assert all(p.isnan().all() for p in net.parameters())


def test_attention_constructor_zeroes_out_proj_bias_but_the_reset_loop_draws_it():
    assert torch.equal(nn.MultiheadAttention(embed_dim=8, num_heads=2).out_proj.bias, torch.zeros(8))
    bias = ns["meta_attention"].out_proj.bias
    assert not bias.isnan().any() and (bias != 0).all()
    assert bias.abs().max() <= 1 / 8**0.5  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))


def test_nan_context_restores_the_callers_deterministic_setting():
    context = ns["nan_for_uninitialized_memory"]
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        with context():
            assert torch.are_deterministic_algorithms_enabled()
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    with context():
        pass
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("lazy, attribute", [
    (lambda: nn.LazyConv2d(4, kernel_size=3), "in_channels"),
    (lambda: nn.LazyBatchNorm2d(), "num_features"),
])
def test_only_lazy_linear_sets_its_size_at_the_first_call_after_loading(lazy, attribute):
    x = torch.rand(2, 3, 8, 8)
    source = lazy()
    source(x)
    restored = lazy()
    restored.load_state_dict(source.state_dict())
    out = restored(x)
    assert type(restored) is type(source) and getattr(source, attribute) == 3
    assert getattr(restored, attribute) == 0 and "(0," in repr(restored)
    assert torch.equal(out, source(x))
    linear = nn.LazyLinear(4)
    linear.load_state_dict(nn.Linear(8, 4).state_dict())
    linear(x)
    assert type(linear) is nn.Linear and linear.in_features == 8


def test_infer_parameters_docstring_promises_eval_mode_but_the_dry_run_keeps_the_mode():
    doc = _normalized(LazyModuleMixin._infer_parameters.__doc__)
    assert "The module is set into evaluation mode before running the forward pass" in doc
    seen = []
    net = nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())
    net[1].register_forward_pre_hook(lambda module, args: seen.append(module.training))
    net(torch.rand(2, 3))
    assert seen == [True] and net[1].num_batches_tracked.item() == 1
    assert outputs["dry-run-statistics"].splitlines()[0].startswith("training mode: (1,")


def test_the_assign_flag_is_saved_with_the_state_dict(tmp_path):
    state = ns["sized_mlp"]().state_dict()
    with torch.device("meta"):
        ns["sized_mlp"]().load_state_dict(state, assign=True)
    torch.save(state, tmp_path / "marked.pt")
    reloaded = torch.load(tmp_path / "marked.pt", weights_only=True)
    assert reloaded._metadata[""]["assign_to_params_buffers"] is True
    model = ns["sized_mlp"]()
    old = model[0].weight
    model.load_state_dict(reloaded)  # no assign=True here
    assert model[0].weight is not old


def test_lazy_layers_take_every_argument_except_the_input_size():
    conv = nn.LazyConv2d(6, kernel_size=5, stride=2, padding=1)
    assert (conv.out_channels, conv.kernel_size, conv.stride, conv.padding) == (6, (5, 5), (2, 2), (1, 1))
    with pytest.raises(TypeError):
        nn.LazyConv2d(6)  # kernel_size is required: only the input size is left out
    batch_norm = nn.LazyBatchNorm2d(eps=1e-3, momentum=0.2)
    assert (batch_norm.eps, batch_norm.momentum) == (1e-3, 0.2)


# A lazy layer draws at the dry run, after the sized layers

def test_making_one_layer_lazy_changes_every_weight_under_the_same_seed():
    x = torch.rand(2, 20)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        sized = nn.Sequential(nn.Linear(20, 4), nn.ReLU(), nn.Linear(4, 2))
        torch.manual_seed(0)
        lazy = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
        lazy(x)
        torch.manual_seed(0)
        first_drawn = nn.Linear(4, 2)
    assert not torch.equal(sized[0].weight, lazy[0].weight)
    assert not torch.equal(sized[2].weight, lazy[2].weight)  # the sized layer's too
    # because the sized layer of the lazy network drew first, at construction
    assert torch.equal(lazy[2].weight, first_drawn.weight) and torch.equal(lazy[2].bias, first_drawn.bias)
    assert ns["same_parameters"](ns["sized_net"], ns["lazy_net"]) == [True] * 4
    assert outputs["seed-order"].splitlines()[0].endswith("[False, False, False, False]")
    doc = _normalized(LazyModuleMixin.__doc__)
    assert "A final caveat when using lazy modules is that the order of initialization" in doc
    assert "the lazy modules are always initialized after other modules" in doc


def test_init_from_seed_gives_a_lazy_and_a_sized_network_the_same_weights_and_leaves_the_global_stream():
    sized = nn.Sequential(nn.Linear(20, 4), nn.ReLU(), nn.Linear(4, 2))
    lazy = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))
    lazy(torch.rand(2, 20))
    state = torch.get_rng_state()
    for model in (sized, lazy):
        ns["init_from_seed"](model, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(sized.parameters(), lazy.parameters()))


# Resetting after to_empty: children first

def test_modules_yields_a_parent_first_and_apply_visits_it_last():
    model = ns["TwoLayers"]()
    assert list(model.modules())[0] is model
    visited = []
    model.apply(visited.append)
    assert visited[-1] is model and visited[:-1] == list(model.children())


def _meta_then_empty(cls):
    with torch.device("meta"):
        model = cls()
    return model.to_empty(device="cpu")


def test_a_parents_first_reset_loop_undoes_a_modules_own_initialization_and_reset_all_keeps_it():
    class MyMLP(nn.Module):  # initialization.md's model: Kaiming and zero biases for the hidden layers
        def __init__(self):
            super().__init__()
            self.hidden1, self.hidden2, self.output = nn.Linear(4, 5), nn.Linear(5, 3), nn.Linear(3, 2)
            self.reset_parameters()

        def reset_parameters(self):
            for layer in (self.hidden1, self.hidden2):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            self.output.reset_parameters()

    for cls, biases in ((ns["TwoLayers"], ("hidden", "output")), (MyMLP, ("hidden1", "hidden2"))):
        parents_first = _meta_then_empty(cls)
        ns["reset_parents_first"](parents_first)
        assert all(getattr(parents_first, name).bias.abs().min() > 0 for name in biases)  # the defaults won
        kept = _meta_then_empty(cls)
        ns["reset_all"](kept)
        assert all(torch.equal(getattr(kept, name).bias, torch.zeros_like(getattr(kept, name).bias)) for name in biases)
    assert outputs["reset-order"].splitlines()[2:] == [
        "reset_parents_first zero biases kept: False", "reset_all           zero biases kept: True"]


def test_reset_all_gives_a_custom_hidden_layer_kaimings_scale_not_the_default():
    big = nn.Module()
    big.hidden = nn.Linear(1000, 500)
    big.reset_parameters = lambda: nn.init.kaiming_normal_(big.hidden.weight, nonlinearity="relu")
    ns["reset_all"](big)
    assert big.hidden.weight.std().item() == pytest.approx((2 / 1000) ** 0.5, rel=0.02)


# What loading does not restore, and ties that come apart

def test_to_empty_then_a_plain_load_leaves_a_non_persistent_buffer_uninitialized_without_an_error():
    cls, saved = ns["MaskedLinear"], ns["saved"]
    with torch.device("meta"):
        model = cls()
    with ns["nan_for_uninitialized_memory"]():
        model.to_empty(device="cpu")
    result = model.load_state_dict(saved.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert model.mask.isnan().all() and model(torch.rand(2, 4)).isnan().all()
    assert torch.equal(model.linear.weight, saved.linear.weight)  # the parameters did load


def test_to_empty_and_assign_untie_a_shared_parameter_and_tie_weights_ties_again():
    cls = ns["TiedLM"]
    with torch.device("meta"):
        model = cls()
    assert model.out.weight is model.embed.weight
    model.to_empty(device="cpu")
    assert model.out.weight is not model.embed.weight
    assert sum(p.numel() for p in model.parameters()) == 80
    ns["reset_all"](model)
    embedding = model.embed.weight
    model.tie_weights()
    assert model.out.weight is model.embed.weight is embedding  # the embedding's tensor is the one kept
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    assert len(optimizer.param_groups[0]["params"]) == 1
    with torch.device("meta"):
        loaded = cls()
    loaded.load_state_dict(cls().state_dict(), assign=True)
    assert loaded.out.weight is not loaded.embed.weight
    assert sum(p.numel() for p in loaded.parameters()) == 80
    assert outputs["tied-weights"].splitlines() == [
        "on meta:           (True, 40)", "after to_empty:    (False, 80)",
        "tied again:        (True, 40)", "after assign=True: (False, 80)"]


def test_assign_true_with_a_live_models_state_dict_makes_the_two_share_their_weights():
    source = nn.Linear(3, 2)
    with torch.device("meta"):
        target = nn.Linear(3, 2)
    target.load_state_dict(source.state_dict(), assign=True)
    assert target.weight is not source.weight
    with torch.no_grad():
        source.weight.add_(1.0)  # a training step of the source, say
    assert torch.equal(target.weight, source.weight)
    with torch.device("meta"):
        copied = nn.Linear(3, 2)
    copied.load_state_dict({k: v.clone() for k, v in source.state_dict().items()}, assign=True)
    with torch.no_grad():
        source.weight.add_(1.0)
    assert not torch.equal(copied.weight, source.weight)


# Consumers that need the dry run first

def test_ddp_data_parallel_and_export_refuse_uninitialized_parameters(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        with pytest.raises(RuntimeError, match="uninitialized parameters can't be used with `DistributedDataParallel`"):
            nn.parallel.DistributedDataParallel(nn.Sequential(nn.LazyLinear(4)))
        net = nn.Sequential(nn.LazyLinear(4))
        net(torch.rand(2, 3))
        nn.parallel.DistributedDataParallel(net)  # after the dry run: accepted
    finally:
        dist.destroy_process_group()
    with pytest.raises(RuntimeError, match="can't be used with `DataParallel`"):
        nn.LazyLinear(4)._replicate_for_data_parallel()
    with pytest.raises(ValueError, match="uninitialized parameter"):
        torch.export.export(nn.Sequential(nn.LazyLinear(4)), (torch.rand(2, 3),))


def test_a_constructor_that_reads_a_tensor_value_fails_on_the_meta_device():
    class ReadsAValue(nn.Module):
        def __init__(self):
            super().__init__()
            scale = torch.ones(3)
            self.weight = nn.Parameter(scale * 2 if (scale > 0).all() else scale)

    ReadsAValue()  # fine with real tensors
    with torch.device("meta"), pytest.raises(RuntimeError, match="meta tensors"):
        ReadsAValue()
    with torch.device("meta"), pytest.raises((RuntimeError, NotImplementedError)):
        torch.arange(3).tolist()


def test_untied_parameters_have_their_own_gradients_and_after_to_empty_their_own_memory():
    cls = ns["TiedLM"]
    with torch.device("meta"):
        model = cls()
    model.to_empty(device="cpu")
    ns["reset_all"](model)
    assert model.out.weight.data_ptr() != model.embed.weight.data_ptr()
    model(torch.tensor([1, 2])).sum().backward()
    assert model.out.weight.grad is not None and model.embed.weight.grad is not None
    assert not torch.equal(model.out.weight.grad, model.embed.weight.grad)
    optimizer = torch.optim.AdamW(model.parameters())
    assert len(optimizer.param_groups[0]["params"]) == 2


def test_only_the_layers_built_before_the_first_lazy_one_keep_their_weights_under_the_same_seed():
    x = torch.rand(2, 20)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        sized = nn.Sequential(nn.Linear(20, 4), nn.Linear(4, 4), nn.Linear(4, 2))
        torch.manual_seed(0)
        lazy_middle = nn.Sequential(nn.Linear(20, 4), nn.LazyLinear(4), nn.Linear(4, 2))
        lazy_middle(x)
    assert torch.equal(sized[0].weight, lazy_middle[0].weight)  # built before the lazy layer: kept
    assert not torch.equal(sized[1].weight, lazy_middle[1].weight)  # drawn after the layer built after it
    assert not torch.equal(sized[2].weight, lazy_middle[2].weight)  # built after it: drew earlier


# A lazy module of your own

def test_the_mixins_constructor_registers_a_forward_pre_hook_and_a_load_pre_hook():
    norm = ns["LazyLayerNorm"]()
    assert isinstance(norm, LazyModuleMixin) and isinstance(norm, nn.LayerNorm)
    assert norm._initialize_hook.id in norm._forward_pre_hooks
    assert norm._load_hook.id in norm._load_state_dict_pre_hooks
    assert norm.normalized_shape == (0,)  # nn.LayerNorm's constructor ran, with the placeholder size
    assert all(isinstance(p, UninitializedParameter) for p in (norm.weight, norm.bias))
    with pytest.raises(NotImplementedError):  # the mixin leaves initialize_parameters to the module
        LazyModuleMixin.initialize_parameters(norm, torch.rand(2, 3))
    hooked_yet = []

    class Watching(ns["LazyLayerNorm"]):
        def reset_parameters(self):  # nn.LayerNorm's constructor calls it
            hooked_yet.append(hasattr(self, "_initialize_hook"))
            super().reset_parameters()

    assert hasattr(Watching(), "_initialize_hook") and hooked_yet == [False]  # the layer's constructor runs first


def test_the_dry_run_calls_initialize_parameters_with_the_first_calls_arguments_before_forward():
    seen = []

    class Recording(ns["LazyLayerNorm"]):
        def initialize_parameters(self, input):
            seen.append((input, type(self), type(self.weight)))
            super().initialize_parameters(input)

    norm, x = Recording(), torch.rand(3, 7)
    out = norm(x)
    assert len(seen) == 1 and seen[0][0] is x
    assert seen[0][1] is Recording and seen[0][2] is UninitializedParameter  # before the switch, before forward
    assert type(norm) is nn.LayerNorm and norm.normalized_shape == (7,)
    assert torch.equal(out, nn.LayerNorm(7)(x))
    assert not norm._forward_pre_hooks and not norm._load_state_dict_pre_hooks
    assert not hasattr(norm, "_initialize_hook") and not hasattr(norm, "_load_hook")
    lines = outputs["lazy-layer-norm"].splitlines()
    assert lines[0].startswith("LazyLayerNorm((0,),") and lines[2].startswith("LayerNorm((20,),")
    assert lines[3:] == ["LayerNorm Parameter True", "True"]


def test_a_placeholder_left_by_initialize_parameters_fails_the_dry_run():
    class ForgetsBias(ns["LazyLayerNorm"]):
        def initialize_parameters(self, input):
            self.weight.materialize((input.shape[-1],))

    with pytest.raises(RuntimeError, match="has not been fully initialized"):
        ForgetsBias()(torch.rand(2, 3))


def test_materialize_keeps_the_object_takes_the_placeholders_dtype_and_writes_nothing():
    placeholder = UninitializedParameter(dtype=torch.float64)
    with ns["nan_for_uninitialized_memory"]():
        placeholder.materialize((4,))
    assert type(placeholder) is nn.Parameter and placeholder.dtype == torch.float64
    assert placeholder.shape == (4,) and placeholder.isnan().all()  # allocated, not written
    norm = ns["LazyLayerNorm"]().to(torch.float64)
    weight = norm.weight
    norm(torch.rand(2, 5, dtype=torch.float64))
    assert norm.weight is weight and norm.weight.dtype == torch.float64
    assert torch.equal(norm.weight, torch.ones(5, dtype=torch.float64))  # reset_parameters wrote it


def test_cls_to_become_changes_the_class_without_running_its_constructor():
    calls = []

    class Target(nn.LayerNorm):
        def __init__(self, *args, **kwargs):
            calls.append("init")
            super().__init__(*args, **kwargs)

    class LazyTarget(LazyModuleMixin, Target):
        cls_to_become = Target

        def __init__(self):
            super().__init__(0)
            self.weight, self.bias = UninitializedParameter(), UninitializedParameter()

        def reset_parameters(self):
            if not self.has_uninitialized_params():
                nn.LayerNorm.reset_parameters(self)

        initialize_parameters = ns["LazyLayerNorm"].initialize_parameters

    layer = LazyTarget()
    assert calls == ["init"]  # once, inside the lazy constructor
    layer(torch.rand(2, 3))
    assert type(layer) is Target and calls == ["init"]


def test_without_cls_to_become_the_layer_keeps_its_lazy_class():
    class StaysLazy(ns["LazyLayerNorm"]):
        cls_to_become = None

    assert LazyModuleMixin.cls_to_become is None
    layer = StaysLazy()
    x = torch.rand(2, 6)
    out = layer(x)
    assert type(layer) is StaysLazy and isinstance(layer, LazyModuleMixin)
    assert repr(layer).startswith("StaysLazy((6,),") and not layer.has_uninitialized_params()
    assert torch.equal(out, nn.LayerNorm(6)(x))


def test_the_mixin_listed_second_never_runs_and_the_first_call_raises_value_error():
    assert nn.Module.call_super_init is False  # nn.Module's constructor does not call the next class's
    base = ns["LazyLayerNorm"]

    class MixinSecond(nn.LayerNorm, LazyModuleMixin):
        cls_to_become = nn.LayerNorm

        def __init__(self):
            super().__init__(0)
            self.weight, self.bias = UninitializedParameter(), UninitializedParameter()

        def reset_parameters(self):
            if not self.has_uninitialized_params():
                nn.LayerNorm.reset_parameters(self)

        initialize_parameters = base.initialize_parameters

    layer = MixinSecond()
    assert not hasattr(layer, "_initialize_hook") and not layer._forward_pre_hooks
    with pytest.raises(ValueError, match="uninitialized parameter"):
        layer(torch.rand(2, 3))


def test_reset_parameters_skips_placeholders_as_lazy_linear_does():
    norm = ns["LazyLayerNorm"]()
    ns["reset_all"](norm)  # before the dry run: nothing to reset, no error
    assert norm.has_uninitialized_params()

    class NoGuard(ns["LazyLayerNorm"]):
        def reset_parameters(self):
            nn.LayerNorm.reset_parameters(self)

    unguarded = nn.Sequential(NoGuard())
    with pytest.raises(ValueError, match="uninitialized parameter"):
        ns["reset_all"](unguarded)
    lazy_linear = nn.LazyLinear(3)
    lazy_linear.reset_parameters()  # guarded in torch too
    assert lazy_linear.has_uninitialized_params()


def test_loading_into_lazy_layer_norm_materializes_without_initialize_parameters_and_keeps_the_values():
    calls = []

    class Recording(ns["LazyLayerNorm"]):
        def initialize_parameters(self, input):
            calls.append(self.has_uninitialized_params())
            super().initialize_parameters(input)

    state = ns["norm_state"]
    assert torch.equal(state["weight"], torch.full((20,), 2.0))  # not the initial ones
    layer = Recording()
    layer.load_state_dict(state)
    assert calls == [] and not layer.has_uninitialized_params() and layer.weight.shape == (20,)
    assert layer.normalized_shape == (0,)  # set only at the first call
    out = layer(ns["X"])
    assert calls == [False]  # the first call still goes through the hook, with no placeholder left
    assert type(layer) is nn.LayerNorm and layer.normalized_shape == (20,)
    assert torch.equal(layer.weight, state["weight"]) and torch.equal(out, ns["norm"](ns["X"]))


def test_a_size_set_only_at_creation_breaks_the_loaded_layer_for_good():
    layer = ns["ForgetsLoadedSize"]()
    layer.load_state_dict(ns["norm_state"])
    with pytest.raises(RuntimeError, match="normalized_shape"):
        layer(ns["X"])
    assert type(layer) is nn.LayerNorm and layer.normalized_shape == (0,)  # switched before forward failed
    with pytest.raises(RuntimeError, match="normalized_shape"):
        layer(ns["X"])
    fresh = ns["ForgetsLoadedSize"]()
    fresh(ns["X"])  # with a dry run instead of a load it works
    assert fresh.normalized_shape == (20,)
    lines = outputs["lazy-layer-norm-load"].splitlines()
    assert lines[1] == "True" and lines[-1].startswith("LayerNorm((0,),")


def test_lazy_conv_and_batch_norm_forward_do_not_read_the_size_they_keep_at_0():
    x = torch.rand(2, 3, 8, 8)
    for make in (lambda: nn.LazyConv2d(4, kernel_size=3), nn.LazyBatchNorm2d):
        source = make().eval()
        source(x)
        restored = make().eval()
        restored.load_state_dict(source.state_dict())
        assert torch.equal(restored(x), source(x)) and "(0," in repr(restored)


# Inferring sizes with a forward on the meta device

def test_a_meta_forward_infers_864_features_without_memory_or_random_numbers():
    assert ns["n_features"] == 864
    state = torch.get_rng_state()
    with torch.device("meta"):
        features = ns["conv_features"]()
        example = torch.empty(1, 1, 28, 28)
        out = features(example)
    assert example.is_meta
    assert torch.equal(torch.get_rng_state(), state)  # building and running on meta drew nothing
    assert out.is_meta and out.shape == (1, 864)
    assert all(p.is_meta for p in features.parameters())
    probed = ns["probed"]
    assert type(probed[1]) is nn.Linear and probed[1].in_features == 864
    assert not any(isinstance(m, LazyModuleMixin) for m in probed.modules())
    assert all(type(p) is nn.Parameter for p in probed.parameters())
    assert ns["same_parameters"](probed, ns["by_hand"]) == [True] * 4


# Exercise: a lazy PReLU

def test_lazy_prelu_reads_channels_from_dimension_1_and_survives_a_load():
    cls, images = ns["LazyPReLU"], ns["images"]
    prelu = cls()
    out = prelu(images)
    assert type(prelu) is nn.PReLU and prelu.num_parameters == 3
    assert torch.equal(prelu.weight, torch.full((3,), 0.25)) and torch.equal(out, nn.PReLU(3)(images))
    restored = ns["restored_prelu"]
    assert type(restored) is nn.PReLU and restored.num_parameters == 3
    assert torch.equal(restored.weight, torch.tensor([0.1, 0.2, 0.3]))


def test_a_lazy_prelu_that_sets_its_size_only_at_creation_computes_right_and_prints_0_after_a_load():
    class SizeAtCreation(ns["LazyPReLU"]):
        def initialize_parameters(self, input):
            if self.has_uninitialized_params():
                self.weight.materialize((input.shape[1],))
                self.reset_parameters()
                self.num_parameters = self.weight.shape[0]

    images = ns["images"]
    dry_run = SizeAtCreation()
    dry_run(images)
    assert repr(dry_run) == "PReLU(num_parameters=3)"  # the dry-run checks pass
    restored = SizeAtCreation()
    restored.load_state_dict(ns["prelu"].state_dict())
    assert torch.equal(restored(images), ns["prelu"](images))  # computes correctly
    assert repr(restored) == "PReLU(num_parameters=0)"  # only the printout is wrong
