"""The facts docs/*/layers.md claims, checked on the objects its snippet builds."""

from unittest import mock

import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from torchinfo import summary

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "layers.py")


@pytest.fixture
def seeded():
    """Fresh random layers in a test, without disturbing the global random stream."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        yield


def mlp_net():
    return nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))


# A first network


def test_relu_has_no_parameters_and_linear_has():
    assert list(nn.ReLU().parameters()) == []
    assert len(list(nn.Linear(2, 2).parameters())) == 2


def test_sequential_maps_2x20_to_2x10():
    assert ns["X"].shape == (2, 20)
    assert mlp_net()(ns["X"]).shape == (2, 10)


def test_relu_class_without_parentheses_raises_type_error():
    with pytest.raises(TypeError, match="is not a Module subclass"):
        nn.Sequential(nn.Linear(20, 256), nn.ReLU, nn.Linear(256, 10))


# What nn.Module gives you


def test_layers_blocks_and_models_are_instances_of_module_subclasses():
    for module in (nn.Linear(2, 2), nn.ReLU(), mlp_net(), ns["MLP"](), ns["NestMLP"]()):
        assert isinstance(module, nn.Module) and type(module) is not nn.Module


def test_apply_visits_every_submodule_then_the_module_itself():
    net, visited = mlp_net(), []
    net.apply(visited.append)
    assert visited == [net[0], net[1], net[2], net]


def test_to_parameters_and_state_dict_walk_the_tree_of_submodules():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 3)), nn.Linear(3, 1))
    assert list(net.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    assert len(list(net.parameters())) == 4
    assert net.to(torch.float64)[0][0].weight.dtype == torch.float64


def test_train_and_eval_switch_the_mode_of_every_submodule():
    net = ns["NestMLP"]()
    net.eval()
    assert not any(module.training for module in net.modules())
    net.train()
    assert all(module.training for module in net.modules())


def hooked_net(log):
    net = mlp_net()
    net.register_forward_pre_hook(lambda module, inputs: log.append("net pre"))
    net.register_forward_hook(lambda module, inputs, output: log.append("net post"))
    net.register_full_backward_hook(lambda module, grad_in, grad_out: log.append("net backward"))
    net[0].register_forward_pre_hook(lambda module, inputs: log.append("net[0] pre"))
    net[0].register_forward_hook(lambda module, inputs, output: log.append("net[0] post"))
    net[0].register_full_backward_hook(lambda module, grad_in, grad_out: log.append("net[0] backward"))
    return net


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_calling_the_module_runs_its_pre_forward_and_backward_hooks():
    log = []
    hooked_net(log)(ns["X"]).sum().backward()
    assert log == ["net pre", "net[0] pre", "net[0] post", "net post", "net backward", "net[0] backward"]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_forward_skips_the_hooks_of_net_itself_but_runs_those_of_its_submodules():
    log = []
    hooked_net(log).forward(ns["X"]).sum().backward()
    assert log == ["net[0] pre", "net[0] post", "net[0] backward"]


def test_forward_skips_global_module_hooks_for_net_only():
    net, seen = mlp_net(), []
    handle = nn.modules.module.register_module_forward_hook(lambda module, inputs, output: seen.append(module))
    try:
        net.forward(ns["X"])
    finally:
        handle.remove()
    assert seen == [net[0], net[1], net[2]]


def test_page_run_prints_net_hook_once_and_net0_hook_twice():
    text = outputs["call-not-forward"]
    called, forwarded = text.split("net.forward(X):")
    assert "hook on net saw" in called and "hook on net[0] saw" in called
    assert "hook on net saw" not in forwarded and "hook on net[0] saw" in forwarded


def test_pruning_works_through_a_forward_pre_hook():
    layer = nn.Linear(4, 4)
    prune.l1_unstructured(layer, "weight", amount=0.5)
    assert len(layer._forward_pre_hooks) == 1
    with torch.no_grad():
        layer.weight_orig.fill_(1.0)
    stale = layer.forward(torch.ones(1, 4))  # the pre-hook did not recompute weight
    fresh = layer(torch.ones(1, 4))
    assert not torch.equal(stale, fresh)
    assert torch.equal(fresh, torch.ones(1, 4) @ (layer.weight_mask.T) + layer.bias)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_eager_mode_quantization_attaches_observers_with_hooks():
    model = nn.Sequential(nn.Linear(4, 4))
    model.qconfig = torch.ao.quantization.default_qconfig
    prepared = torch.ao.quantization.prepare(model)
    assert len(prepared[0]._forward_hooks) > 0


def test_torchinfo_summary_registers_forward_hooks():
    original = nn.Module.register_forward_hook
    with mock.patch.object(nn.Module, "register_forward_hook", autospec=True, side_effect=original) as spy:
        summary(mlp_net(), input_data=ns["X"], verbose=0)
    assert spy.call_count >= 4  # the Sequential and its three layers


# A custom module


def test_mlp_has_7946_parameters_counted_by_hand():
    net = ns["MLP"]()
    assert net(ns["X"]).shape == (2, 10)
    assert sum(p.numel() for p in net.parameters()) == 20 * 256 + 256 + 256 * 10 + 10 == 7946
    assert outputs["mlp"].split() == ["torch.Size([2,", "10])", "7946"]


def test_mlp_has_a_backward_pass_from_autograd():
    net = ns["MLP"]()
    net(ns["X"]).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize("value", [nn.Linear(2, 2), nn.Parameter(torch.ones(2))], ids=["layer", "parameter"])
def test_assigning_before_super_init_raises_attribute_error(value):
    class Early(nn.Module):
        def __init__(self):
            self.early = value
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


# What gets registered


def test_only_modules_parameters_and_buffers_are_registered():
    module = ns["WhatIsRegistered"]()
    assert [name for name, _ in module.named_parameters()] == ["scale", "layer.weight", "layer.bias"]
    assert list(module.state_dict()) == ["scale", "offset", "layer.weight", "layer.bias"]
    assert [name for name, _ in module.named_buffers()] == ["offset"]
    assert "plain" not in dict(module.named_children()) and "in_a_list" not in dict(module.named_children())


def test_to_converts_registered_tensors_and_leaves_plain_and_listed_ones():
    module = ns["WhatIsRegistered"]().to(torch.float64)
    assert module.layer.weight.dtype == module.scale.dtype == module.offset.dtype == torch.float64
    assert module.plain.dtype == module.in_a_list[0].weight.dtype == torch.float32


def test_an_optimizer_from_parameters_never_sees_a_layer_in_a_list():
    module = ns["WhatIsRegistered"]()
    seen = {id(p) for group in torch.optim.SGD(module.parameters(), lr=0.1).param_groups for p in group["params"]}
    assert not any(id(p) in seen for p in module.in_a_list[0].parameters())


def test_module_list_registers_what_a_python_list_hides():
    class WithModuleList(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(2, 2)])

    assert [name for name, _ in WithModuleList().named_parameters()] == ["layers.0.weight", "layers.0.bias"]


def test_assigning_an_nn_buffer_registers_a_buffer():
    module = nn.Module()
    module.constant = nn.Buffer(torch.zeros(2))
    assert list(module.state_dict()) == ["constant"]
    assert module.to(torch.float64).constant.dtype == torch.float64


# A sequential block of your own


def test_my_sequential_registers_in_order_under_0_1_2():
    net = ns["MySequential"](nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    assert [name for name, _ in net.named_children()] == ["0", "1", "2"]
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert net(ns["X"]).shape == (2, 10)


def test_add_module_checks_name_and_type_and_a_direct_modules_write_does_not():
    module = nn.Module()
    with pytest.raises(KeyError, match=r'contain "\."'):
        module.add_module("a.b", nn.Linear(1, 1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        module.add_module("layer", nn.Linear)
    module._modules["a.b"] = nn.Linear(1, 1)  # accepted without a word
    assert list(module.state_dict()) == ["a.b.weight", "a.b.bias"]


def test_nn_sequential_iterates_over_modules_values():
    net = nn.Sequential(nn.ReLU(), nn.ReLU())
    assert list(iter(net)) == list(net._modules.values())


def test_my_sequential_forward_loops_over_modules_values_not_children():
    source = ns["MySequential"].forward.__code__.co_names
    assert "_modules" in source and "children" not in source


@pytest.mark.parametrize("case", ["reused ReLU", "tied layer"])
def test_my_sequential_equals_nn_sequential_with_repeated_modules(case, seeded):
    modules = fresh_cases()[case]
    X = torch.randn(3, 20)
    assert torch.equal(ns["MySequential"](*modules)(X), nn.Sequential(*modules)(X))


@pytest.mark.parametrize("case", ["reused ReLU", "tied layer"])
def test_a_children_loop_differs_from_nn_sequential_with_repeated_modules(case, seeded):
    modules = fresh_cases()[case]

    class ChildrenLoop(nn.Module):  # the common version, written independently of the page
        def __init__(self, *modules):
            super().__init__()
            for index, module in enumerate(modules):
                self.add_module(str(index), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    X = torch.randn(3, 20)
    expected = nn.Sequential(*modules)(X)
    assert not torch.allclose(ChildrenLoop(*modules)(X), expected)
    assert not torch.allclose(ns["ChildrenSequential"](*modules)(X), expected)


def fresh_cases():
    relu, tied = nn.ReLU(), nn.Linear(20, 20)
    return {
        "reused ReLU": (nn.Linear(20, 20), relu, nn.Linear(20, 20), relu, nn.Linear(20, 10)),
        "tied layer": (tied, relu, tied, nn.Linear(20, 10)),
    }


def test_nn_sequential_runs_a_repeated_module_every_time():
    relu, calls = nn.ReLU(), []
    relu.register_forward_hook(lambda module, inputs, output: calls.append(module))
    net = nn.Sequential(relu, nn.Linear(4, 4), relu)
    net(torch.randn(1, 4))
    assert len(calls) == 2 and len(net) == 3


def test_page_cases_count_entries_and_children_and_show_the_difference():
    assert outputs["my-sequential-repeats"].split("\n")[0] == "reused ReLU: 5 entries, children() yields 4"
    for modules in ns["cases"].values():
        mine, children_loop = ns["MySequential"](*modules), ns["ChildrenSequential"](*modules)
        assert len(mine._modules) == len(modules) > len(list(mine.children()))
        expected = nn.Sequential(*modules)(ns["X"])
        assert torch.equal(mine(ns["X"]), expected)
        assert not torch.equal(children_loop(ns["X"]), expected)


def test_children_skips_a_module_seen_before_by_identity_not_equality():
    relu = nn.ReLU()
    net = ns["MySequential"](relu, relu, nn.ReLU())
    assert list(net.children()) == [relu, net._modules["2"]]
    assert [name for name, _ in net.named_children()] == ["0", "2"]  # a distinct but equal ReLU stays


def test_a_children_loop_equals_my_sequential_when_every_module_appears_once(seeded):
    modules = (nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    X = torch.randn(3, 20)
    assert torch.equal(ns["ChildrenSequential"](*modules)(X), ns["MySequential"](*modules)(X))


def test_apply_and_parameters_visit_a_shared_layer_once():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    visited = []
    net.apply(visited.append)
    assert visited.count(shared) == 1
    assert len(list(net.parameters())) == 2


# Code in forward


def test_fixed_hidden_mlp_constant_is_a_buffer_not_a_parameter():
    net = ns["FixedHiddenMLP"]()
    assert [name for name, _ in net.named_buffers()] == ["rand_weight"]
    assert "rand_weight" in net.state_dict()
    assert [name for name, _ in net.named_parameters()] == ["linear.weight", "linear.bias"]


def test_fixed_hidden_mlp_uses_the_same_linear_layer_twice(seeded):
    net, calls = ns["FixedHiddenMLP"](), []
    net.linear.register_forward_hook(lambda module, inputs, output: calls.append(module))
    net(ns["X"])
    assert len(calls) == 2
    assert sum(p.numel() for p in net.parameters()) == 20 * 20 + 20


def test_fixed_hidden_mlp_while_loop_depends_on_the_data(seeded):
    net = ns["FixedHiddenMLP"]()
    halvings = []
    for scale in (1.0, 100.0):
        Y = net.linear(torch.relu(net.linear(ns["X"] * scale) @ net.rand_weight + 1))
        steps = 0
        while Y.abs().sum() > 1:
            Y, steps = Y / 2, steps + 1
        halvings.append(steps)
    assert halvings[0] != halvings[1]
    assert abs(net(ns["X"]).item()) <= 1


def test_fixed_hidden_mlp_float64_gives_the_same_value(seeded):
    net = ns["FixedHiddenMLP"]()
    single = net(ns["X"]).item()
    assert abs(net.to(torch.float64)(ns["X"].double()).item() - single) < 1e-5


def test_a_reloaded_model_computes_the_same_function_because_the_buffer_is_saved(seeded):
    original = ns["FixedHiddenMLP"]()
    reloaded = ns["FixedHiddenMLP"]()  # other random weights and constant
    assert not torch.equal(original.rand_weight, reloaded.rand_weight)
    reloaded.load_state_dict(original.state_dict())
    assert torch.equal(reloaded(ns["X"]), original(ns["X"]))


def test_the_buffer_follows_the_module_to_another_device():
    net = ns["FixedHiddenMLP"]().to("meta")
    assert net.rand_weight.device.type == "meta"
    plain = ns["PlainConstantMLP"]().to("meta")
    assert plain.rand_weight.device.type == "cpu"


def test_a_plain_tensor_constant_is_neither_saved_nor_converted_and_the_model_fails():
    net = ns["PlainConstantMLP"]().to(torch.float64)
    assert "rand_weight" not in net.state_dict() and net.rand_weight.dtype == torch.float32
    with pytest.raises(RuntimeError, match="same dtype"):
        net(ns["X"].double())


def test_assigning_a_tensor_to_a_buffer_name_keeps_it_a_buffer():
    net = ns["FixedHiddenMLP"]()
    net.rand_weight = torch.zeros(20, 20)
    assert "rand_weight" in net.state_dict() and torch.equal(net.state_dict()["rand_weight"], torch.zeros(20, 20))
    assert net.to(torch.float64).rand_weight.dtype == torch.float64


# Nesting blocks


def test_nest_mlp_returns_16_features():
    net = ns["NestMLP"]()
    assert net(ns["X"]).shape == (2, 16)
    assert isinstance(net.net, nn.Sequential) and isinstance(net.linear, nn.Linear)


def test_chimera_returns_a_scalar():
    assert ns["chimera"](ns["X"]).shape == ()
    assert [type(m).__name__ for m in ns["chimera"]] == ["NestMLP", "Linear", "FixedHiddenMLP"]


def test_a_linear_30_20_after_nest_mlp_fails_on_the_first_input():
    with pytest.raises(RuntimeError, match=r"2x16 and 30x20"):
        ns["wrong"](ns["X"])


# Containers


def test_sequential_is_ordered_indexable_and_has_forward():
    net = mlp_net()
    assert isinstance(net[0], nn.Linear) and isinstance(net[1], nn.ReLU) and isinstance(net[-1], nn.Linear)
    assert torch.equal(net(ns["X"]), net[2](net[1](net[0](ns["X"]))))


def test_module_list_is_ordered_and_indexable_and_has_no_forward():
    blocks = ns["blocks"]
    assert [type(block).__name__ for block in blocks] == ["Linear", "ReLU", "Linear"]
    assert blocks[0] is list(blocks)[0] and blocks[-1] is list(blocks)[2]
    blocks.insert(0, nn.Identity())
    assert isinstance(blocks[0], nn.Identity)
    del blocks[0]
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        blocks(ns["X"])


def test_module_dict_keeps_insertion_order_is_accessed_by_name_and_has_no_forward():
    heads = nn.ModuleDict({"b": nn.Linear(2, 1), "a": nn.Linear(2, 1)})
    heads["c"] = nn.Linear(2, 1)
    assert list(heads) == ["b", "a", "c"]
    assert isinstance(ns["heads"]["classify"], nn.Linear)
    with pytest.raises(NotImplementedError):
        heads(torch.ones(1, 2))


def test_all_three_containers_register_their_modules_630_and_84():
    assert sum(p.numel() for p in ns["blocks"].parameters()) == 20 * 20 + 20 + 20 * 10 + 10 == 630
    assert sum(p.numel() for p in ns["heads"].parameters()) == 20 * 3 + 3 + 20 * 1 + 1 == 84
    assert len(list(mlp_net().parameters())) == 4


# Training and evaluation mode


def test_dropout_in_training_zeroes_with_probability_p_and_scales_by_1_over_1_minus_p(seeded):
    for p in (0.5, 0.2):
        dropout = nn.Dropout(p=p).train()
        Y = dropout(torch.ones(100_000))
        survivors = Y[Y != 0]
        assert torch.allclose(survivors, torch.full_like(survivors, 1 / (1 - p)))
        assert abs((Y == 0).float().mean().item() - p) < 0.01
        assert abs(Y.mean().item() - 1) < 0.02  # the expected value stays the same


def test_page_dropout_output_has_only_zeros_and_twos():
    values = outputs["dropout-modes"].split("\n")[0]
    assert set(values.removeprefix("train: tensor([").removesuffix("])").split(", ")) == {"0.", "2."}


def test_dropout_in_evaluation_mode_is_the_identity():
    X = torch.randn(1000)
    assert torch.equal(nn.Dropout(p=0.5).eval()(X), X)


def test_eval_keeps_autograd_and_inference_mode_or_no_grad_turn_it_off():
    net = ns["MLP"]().eval()
    assert not net.training and not net.hidden.training
    Y = net(ns["X"])
    assert Y.requires_grad and Y.grad_fn is not None
    with torch.inference_mode():
        assert not net(ns["X"]).requires_grad
    with torch.no_grad():
        assert not net(ns["X"]).requires_grad
