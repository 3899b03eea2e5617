"""The facts docs/*/layers.md claims, checked on the objects its snippet builds."""

import ast
import re
import types
import warnings
from unittest import mock

import pytest
import torch
from torch import nn
from torch._dynamo.testing import CompileCounter
from torch.nn.utils import prune
from torch.overrides import TorchFunctionMode
from torchinfo import summary

from tools.snippets import ROOT, output_file, printed_by, run

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


def test_forward_skips_the_call_that_module_compile_installs():
    net, counter = ns["FixedHiddenMLP"](), CompileCounter()
    net.compile(backend=counter)
    net.forward(ns["X"])
    assert counter.frame_count == 0  # ran uncompiled
    net(ns["X"])
    assert counter.frame_count > 0


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


def test_modules_and_parameters_skip_a_shared_layer_over_the_whole_tree():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(nn.Sequential(shared), nn.ReLU(), nn.Sequential(shared))  # two different parents
    assert [m is shared for m in net.modules()].count(True) == 1
    assert len(list(net.parameters())) == 2
    assert [m is shared for m in net.modules(remove_duplicate=False)].count(True) == 2


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
    assert halvings(net, ns["X"]) != halvings(net, 100 * ns["X"])
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


# Printing a module


def test_print_shows_registered_children_in_registration_order():
    chimera = ns["chimera"]
    lines = repr(chimera).splitlines()
    tops = [line.strip().split(")")[0].lstrip("(") for line in lines if line.startswith("  (")]
    assert tops == [name for name, _ in chimera.named_children()] == ["0", "1", "2"]
    assert outputs["print-module"].strip() == repr(chimera)


def test_print_shows_neither_buffers_nor_functional_calls_nor_reuse():
    text = repr(ns["FixedHiddenMLP"]())
    assert text.count("(linear)") == 1
    assert "rand_weight" not in text and "relu" not in text.lower()


def test_extra_repr_fills_the_parentheses_and_print_adds_the_rest():
    assert nn.Linear(20, 10).extra_repr() == "in_features=20, out_features=10, bias=True"
    assert repr(ns["Scale"](0.5)) == "Scale()"
    assert repr(ns["ReadableScale"](0.5)) == "ReadableScale(factor=0.5)"
    holder = ns["ReadableScale"](2.0)
    holder.inner = nn.ReLU()
    assert repr(holder) == "ReadableScale(\n  factor=2.0\n  (inner): ReLU()\n)"
    assert "(1): Scale()" in outputs["extra-repr"] and "(2): ReadableScale(factor=0.5)" in outputs["extra-repr"]


# Finding and replacing submodules


def test_named_modules_yields_the_model_first_under_the_empty_name_then_dotted_paths():
    model = nn.Sequential(ns["NestMLP"](), nn.Linear(16, 20), ns["FixedHiddenMLP"]())
    names = [name for name, _ in model.named_modules()]
    assert names[0] == "" and dict(model.named_modules())[""] is model
    assert names == ["", "0", "0.net", "0.net.0", "0.net.1", "0.net.2", "0.net.3", "0.linear", "1", "2", "2.linear"]
    assert model.get_submodule("0.net.2") is model[0].net[2]


def test_f_relu_is_no_submodule_and_swapping_relu_modules_does_not_reach_it():
    net = ns["FixedHiddenMLP"]()
    assert not any(isinstance(m, nn.ReLU) for m in net.modules())
    before = net(ns["X"])
    for name, module in list(net.named_modules(remove_duplicate=False)):
        if isinstance(module, nn.ReLU):
            net.set_submodule(name, nn.GELU())
    assert torch.equal(net(ns["X"]), before)
    with mock.patch.object(torch.nn.functional, "relu", wraps=torch.nn.functional.relu) as relu:
        net(ns["X"])
    assert relu.call_count == 1


def shared_relu_model():
    relu = nn.ReLU()
    return nn.Sequential(nn.Linear(4, 4), relu, nn.Linear(4, 4), relu)


def test_named_modules_yields_a_shared_module_once_and_remove_duplicate_false_every_place():
    model = shared_relu_model()
    assert [n for n, m in model.named_modules() if isinstance(m, nn.ReLU)] == ["1"]
    assert [n for n, m in model.named_modules(remove_duplicate=False) if isinstance(m, nn.ReLU)] == ["1", "3"]


def test_a_default_named_modules_loop_swaps_only_the_first_place_of_a_shared_module():
    model = shared_relu_model()
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.ReLU):
            model.set_submodule(name, nn.GELU(), strict=True)
    assert isinstance(model[1], nn.GELU) and isinstance(model[3], nn.ReLU)


def test_page_swap_replaces_every_place_with_its_own_gelu_and_keeps_the_order():
    swapped = shared_relu_model()
    for name, module in list(swapped.named_modules(remove_duplicate=False)):
        if isinstance(module, nn.ReLU):
            swapped.set_submodule(name, nn.GELU(), strict=True)
    assert [type(m).__name__ for m in swapped] == ["Linear", "GELU", "Linear", "GELU"]
    assert swapped[1] is not swapped[3]
    text = outputs["swap-submodules"]
    assert "named_modules(): ['1']" in text and "remove_duplicate=False: ['1', '3']" in text
    assert text.count("GELU(approximate='none')") == 2 and "ReLU()" not in text


def test_named_modules_is_a_generator_over_the_live_dictionaries():
    model = nn.Sequential(nn.ReLU(), nn.ReLU())
    walk = model.named_modules()
    assert isinstance(walk, types.GeneratorType)
    next(walk)  # the model itself
    model.set_submodule("1", nn.GELU())
    assert [type(m).__name__ for _, m in walk] == ["ReLU", "GELU"]


def test_a_named_modules_walk_does_not_go_into_a_module_swapped_in_where_it_is():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.ReLU())
    seen = []
    for name, module in model.named_modules():
        seen.append((name, type(module).__name__))
        if name == "0":
            model.set_submodule("0", nn.Sequential(nn.Tanh()))  # swapped in where the walk is
    assert seen == [("", "Sequential"), ("0", "Sequential"), ("0.0", "Linear"), ("0.1", "ReLU"), ("1", "ReLU")]
    assert isinstance(model[0][0], nn.Tanh)  # the swap happened; the walk went on into the old module


def test_a_loop_over_named_modules_that_adds_a_submodule_stops_and_one_over_a_list_does_not():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(RuntimeError, match="dictionary changed size during iteration"):
        for _, module in model.named_modules():
            if isinstance(module, nn.ReLU):
                model.set_submodule("extra", nn.GELU())
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    for _, module in list(model.named_modules()):
        if isinstance(module, nn.ReLU):
            model.set_submodule("extra", nn.GELU())
    assert [name for name, _ in model.named_children()] == ["0", "1", "extra"]


def test_set_submodule_strict_raises_on_a_wrong_name_and_default_adds_a_new_unused_layer(seeded):
    model = nn.Sequential(ns["NestMLP"](), nn.Linear(16, 20))
    linear, before = model[0].linear, model(ns["X"])
    with pytest.raises(AttributeError, match="NestMLP has no attribute `output`"):
        model.set_submodule("0.output", nn.Linear(32, 16), strict=True)
    model.set_submodule("0.output", nn.Linear(32, 16))
    assert model[0].linear is linear and torch.equal(model(ns["X"]), before)
    assert "0.output.weight" in model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == 3952 + 340 + 528
    assert outputs["set-submodule-strict"].splitlines() == [
        "AttributeError: NestMLP has no attribute `output`", "['net', 'linear', 'output']"]


def test_set_submodule_strict_replaces_an_existing_submodule():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    model.set_submodule("1", nn.GELU(), strict=True)
    assert isinstance(model[1], nn.GELU) and len(model) == 2


def test_a_wrong_index_in_a_sequential_adds_a_step_to_its_forward():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    model.set_submodule("5", nn.Linear(2, 1))  # meant "0"
    assert len(model) == 3 and model(torch.ones(1, 2)).shape == (1, 1)


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


# Forward hooks and pre-hooks


def test_forward_hook_gets_module_args_output_after_forward_and_pre_hook_module_args_before():
    layer, seen = nn.Linear(2, 2), []
    layer.register_forward_pre_hook(lambda module, args: seen.append(("pre", module, args)))
    layer.register_forward_hook(lambda module, args, output: seen.append(("post", module, args, output)))
    X, Y = torch.ones(1, 2), None
    Y = layer(X)
    assert [entry[0] for entry in seen] == ["pre", "post"]
    assert seen[0][1] is layer and isinstance(seen[0][2], tuple) and seen[0][2][0] is X
    assert seen[1][3] is Y


def test_handle_remove_takes_the_hook_off():
    layer, calls = nn.Linear(2, 2), []
    handle = layer.register_forward_hook(lambda *args: calls.append(1))
    layer(torch.ones(1, 2))
    handle.remove()
    layer(torch.ones(1, 2))
    assert calls == [1]


def test_page_hooks_kept_every_layer_output_then_were_removed():
    lines = outputs["forward-hooks"].splitlines()
    assert lines == ["{'0': (2, 8), '1': (2, 8), '2': (2, 1)}", "{}"]
    assert not any(handle.hooks_dict_ref() for handle in ns["handles"])  # each layer's hook table is empty


def test_an_output_carries_its_graph_and_detach_drops_it():
    output = nn.Linear(2, 2)(torch.ones(1, 2))
    assert output.grad_fn is not None and output.detach().grad_fn is None


def test_page_hook_keeps_a_clone_of_the_output():
    hooked = nn.Sequential(nn.Linear(20, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))
    seen = {}
    hooked[0].register_forward_hook(lambda module, args, output: seen.update(output=output))
    hooked[0].register_forward_hook(ns["keep_output"]("0"))
    hooked(ns["X"])
    kept = ns["activations"]["0"]
    assert kept.data_ptr() != seen["output"].data_ptr() and kept.grad_fn is None
    assert torch.equal(kept, hooked[0](ns["X"]))  # the linear layer's output, not the ReLU's
    ns["activations"].clear()


def test_detach_shares_memory_and_a_later_in_place_relu_overwrites_what_it_kept():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))
    kept = {}

    def hook(module, args, output):
        kept["view"], kept["copy"] = output.detach(), output.detach().clone()

    net[0].register_forward_hook(hook)
    net(torch.randn(4, 20))
    assert kept["view"].data_ptr() != kept["copy"].data_ptr()
    assert (kept["copy"] < 0).any() and not (kept["view"] < 0).any()
    assert torch.equal(kept["view"], torch.relu(kept["copy"]))  # the ReLU's output under the linear layer's name


def test_an_in_place_addition_in_a_residual_block_overwrites_what_detach_kept():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, X):
            out = self.linear(X)
            out += X  # as torchvision's BasicBlock does: out += identity
            return out

    block, kept = Block(), {}
    block.linear.register_forward_hook(lambda m, a, output: kept.update(view=output.detach(),
                                                                        copy=output.detach().clone()))
    X = torch.ones(2, 4)
    block(X)
    assert torch.equal(kept["view"], kept["copy"] + X) and not torch.equal(kept["view"], kept["copy"])


def test_page_forward_hooks_in_place_output():
    assert outputs["forward-hooks-in-place"].splitlines() == [
        "detach()          equals the output of net[0]: False, has negatives: False",
        "detach().clone()  equals the output of net[0]: True, has negatives: True",
    ]
    assert ns["kept"]["detach()"].min() >= 0 and ns["kept"]["detach().clone()"].min() < 0


def test_registering_a_function_again_adds_a_second_hook():
    layer, calls = nn.Linear(2, 2), []

    def hook(module, args, output):
        calls.append(1)

    layer.register_forward_hook(hook)
    layer.register_forward_hook(hook)
    layer(torch.ones(1, 2))
    assert len(calls) == 2


def test_a_forward_hook_return_value_replaces_the_output_and_none_changes_nothing():
    layer, X = nn.Linear(2, 2), torch.ones(1, 2)
    expected = layer(X)
    with layer.register_forward_hook(lambda module, args, output: None):
        assert torch.equal(layer(X), expected)
    with layer.register_forward_pre_hook(lambda module, args: None):
        assert torch.equal(layer(X), expected)
    layer.register_forward_hook(lambda module, args, output: torch.zeros(3))
    assert torch.equal(layer(X), torch.zeros(3))


def test_a_pre_hook_return_value_replaces_the_args_and_a_single_value_is_wrapped():
    seen = []

    class Spy(nn.Module):
        def forward(self, *args):
            seen.append(args)
            return args[0]

    spy = Spy()
    spy.register_forward_pre_hook(lambda module, args: torch.zeros(2))  # not a tuple
    spy(torch.ones(2), torch.ones(3))
    assert len(seen[0]) == 1 and torch.equal(seen[0][0], torch.zeros(2))


def test_the_handle_is_a_context_manager_that_removes_the_hook():
    layer, calls = nn.Linear(2, 2), []
    with layer.register_forward_hook(lambda *args: calls.append(1)) as handle:
        layer(torch.ones(1, 2))
    layer(torch.ones(1, 2))
    assert calls == [1] and isinstance(handle, torch.utils.hooks.RemovableHandle)
    assert outputs["forward-pre-hook"].split() == ["inside", "with:", "True", "after", "with:", "False"]


def test_keyword_arguments_reach_only_hooks_registered_with_kwargs():
    model, seen = ns["Scaled"](), {}
    model.register_forward_pre_hook(lambda module, args: seen.update(plain=args))
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.update(pre=(args, kwargs)), with_kwargs=True)
    model.register_forward_hook(
        lambda module, args, kwargs, output: seen.update(post=(args, kwargs, output)), with_kwargs=True)
    Y = model(ns["X"], scale=3.0)
    assert len(seen["plain"]) == 1 and seen["pre"][1] == {"scale": 3.0}
    assert seen["post"][1] == {"scale": 3.0} and seen["post"][2] is Y
    assert "1 positional, {'scale': 3.0}" in outputs["hooks-with-kwargs"]


def test_a_with_kwargs_pre_hook_changes_args_and_kwargs_by_returning_a_pair():
    model = ns["Scaled"]()
    model.register_forward_pre_hook(lambda module, args, kwargs: ((2 * args[0],), {"scale": 0.5}), with_kwargs=True)
    assert torch.allclose(model(ns["X"], scale=3.0), model.linear(2 * ns["X"]) * 0.5)
    assert outputs["pre-hook-changes-kwargs"].strip() == "True"


# Backward hooks on modules


def small_net():
    return nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 1))


def test_no_backward_hook_runs_in_the_forward_pass_and_they_run_last_module_first_pre_hook_first():
    net, log = small_net(), []
    for index in (1, 2):
        net[index].register_full_backward_pre_hook(lambda module, grad_output, i=index: log.append(f"pre {i}"))
        net[index].register_full_backward_hook(lambda module, grad_input, grad_output, i=index: log.append(f"hook {i}"))
    loss = net(ns["X"]).sum()
    assert log == []
    loss.backward()
    assert log == ["pre 2", "hook 2", "pre 1", "hook 1"]
    lines = outputs["backward-hooks"].splitlines()
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "pre-hook on net[2]", "hook on net[2]", "pre-hook on net[1]", "hook on net[1]"]


def test_the_pre_hook_runs_before_the_module_backward_and_the_hook_after_the_input_gradients():
    net, seen = small_net(), {}
    net[2].register_full_backward_pre_hook(lambda module, grad_output: seen.update(pre_weight_grad=module.weight.grad))
    hidden = net[1](net[0](ns["X"]))
    hidden.retain_grad()
    net[2].register_full_backward_hook(lambda module, grad_input, grad_output: seen.update(grad_input=grad_input,
                                                                                        grad_output=grad_output))
    Y = net[2](hidden)
    Y.sum().backward()
    assert seen["pre_weight_grad"] is None  # the module's own gradients were not computed yet
    assert torch.allclose(seen["grad_input"][0], hidden.grad)  # the gradient with respect to the input
    assert torch.equal(seen["grad_output"][0], torch.ones_like(Y))


def test_grad_input_has_one_entry_per_positional_argument_and_none_for_one_that_is_not_a_tensor():
    class Scaled(nn.Module):
        def forward(self, a, scale):
            return a * scale

    module, seen = Scaled(), {}
    module.register_full_backward_hook(lambda m, grad_input, grad_output: seen.update(grad_input=grad_input,
                                                                                    grad_output=grad_output))
    a = torch.ones(3, requires_grad=True)
    module(a, 2.0).sum().backward()
    assert len(seen["grad_input"]) == 2 and seen["grad_input"][1] is None
    assert torch.equal(seen["grad_input"][0], torch.full((3,), 2.0)) and len(seen["grad_output"]) == 1


def test_a_linear_hook_sees_the_input_gradient_shape_not_the_weight_gradient_shape():
    net, seen = small_net(), {}
    net[2].register_full_backward_hook(lambda module, grad_input, grad_output: seen.update(shape=grad_input[0].shape))
    net(ns["X"]).sum().backward()
    assert seen["shape"] == (2, 8) and net[2].weight.shape == (1, 8)
    assert "hook on net[2]:     grad_input [(2, 8)], grad_output [(2, 1)]" in outputs["backward-hooks"]


def test_a_module_called_twice_runs_its_backward_hook_twice():
    layer, calls = nn.Linear(4, 4), []
    layer.register_full_backward_hook(lambda module, grad_input, grad_output: calls.append(1))
    X = torch.ones(2, 4, requires_grad=True)
    layer(torch.relu(layer(X))).sum().backward()
    assert len(calls) == 2


def test_a_hook_on_a_layer_whose_input_needs_no_gradient_fires_early_with_none_and_warns():
    net, seen = small_net(), {}
    net[0].register_full_backward_hook(
        lambda module, grad_input, grad_output: seen.update(grad_input=grad_input, weight_grad=module.weight.grad))
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with respect to "
                                         "module outputs since no inputs require gradients"):
        net(ns["X"]).sum().backward()
    assert seen["grad_input"] == (None,)
    assert seen["weight_grad"] is None and net[0].weight.grad is not None  # it came later
    with pytest.warns(UserWarning, match="Full backward hook is firing"):  # a pre-hook there warns as well
        pre = small_net()
        pre[0].register_full_backward_pre_hook(lambda module, grad_output: None)
        pre(ns["X"]).sum().backward()


def test_the_old_backward_hook_sees_the_three_inputs_of_addmm_and_warns():
    net, seen = small_net(), {}
    net[2].register_backward_hook(lambda module, grad_input, grad_output: seen.update(
        shapes=[tuple(g.shape) for g in grad_input]))
    with pytest.warns(FutureWarning, match="will be missing some grad_input"):
        Y = net(ns["X"])
    assert Y.grad_fn.name() == "AddmmBackward0"
    Y.sum().backward()
    assert seen["shapes"] == [(1,), (2, 8), (8, 1)]  # bias, input, transposed weight


def hooked_gradients(register):
    """Which gradients of a fresh small network a hook doubled, and which it left as they were."""
    with torch.random.fork_rng():
        torch.manual_seed(2)
        net = small_net()
    net(ns["X"]).sum().backward()
    reference = {name: p.grad.clone() for name, p in net.named_parameters()}
    net.zero_grad()
    with register(net):
        net(ns["X"]).sum().backward()
    doubled = {name: torch.allclose(p.grad, 2 * reference[name]) for name, p in net.named_parameters()}
    return doubled, {name: torch.equal(p.grad, reference[name]) for name, p in net.named_parameters()}


def test_a_pre_hook_return_reaches_the_module_weights_and_a_hook_return_only_earlier_modules():
    double = lambda grads: tuple(2 * g for g in grads)  # noqa: E731
    doubled, _ = hooked_gradients(
        lambda net: net[2].register_full_backward_pre_hook(lambda module, grad_output: double(grad_output)))
    assert all(doubled.values())
    doubled, same = hooked_gradients(
        lambda net: net[2].register_full_backward_hook(lambda module, grad_input, grad_output: double(grad_input)))
    assert doubled == {"0.weight": True, "0.bias": True, "2.weight": False, "2.bias": False}
    assert same["2.weight"] and same["2.bias"]
    lines = outputs["backward-hook-return"].splitlines()
    assert lines[0].endswith("['0.weight', '0.bias', '2.weight', '2.bias']")
    assert lines[1].endswith("['0.weight', '0.bias']")


def test_backward_hooks_that_return_none_change_nothing():
    _, same = hooked_gradients(lambda net: net[2].register_full_backward_hook(lambda *args: None))
    assert all(same.values())
    _, same = hooked_gradients(lambda net: net[2].register_full_backward_pre_hook(lambda *args: None))
    assert all(same.values())


def test_a_backward_hook_must_return_a_tuple_as_long_as_grad_input():
    net = small_net()
    net[2].register_full_backward_hook(lambda module, grad_input, grad_output: (grad_input[0], grad_input[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        net(ns["X"]).sum().backward()


# Hooks on tensors and parameters


def test_register_hook_sees_the_gradient_and_its_return_value_replaces_it():
    w, seen = torch.ones(3, requires_grad=True), []
    w.register_hook(lambda grad: seen.append(grad.clone()))
    (w * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(seen[0], torch.tensor([1.0, 2.0, 3.0]))
    v = torch.ones(3, requires_grad=True)
    v.register_hook(lambda grad: 2 * grad)
    (v * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(v.grad, torch.tensor([2.0, 4.0, 6.0]))


def test_a_parameter_hook_runs_before_accumulation_and_the_post_accumulate_hook_after_with_the_sum():
    layer, seen = nn.Linear(3, 1), []
    layer.weight.register_hook(lambda grad: seen.append(("hook", layer.weight.grad is None, grad.clone())))
    layer.weight.register_post_accumulate_grad_hook(lambda param: seen.append(("post", param is layer.weight,
                                                                               param.grad.clone())))
    for _ in range(2):
        layer(torch.ones(1, 3)).sum().backward()
    assert [entry[:2] for entry in seen] == [("hook", True), ("post", True), ("hook", False), ("post", True)]
    assert torch.equal(seen[0][2], seen[2][2])  # one pass's gradient each time
    assert torch.equal(seen[3][2], 2 * seen[1][2])  # .grad accumulates


def test_page_tensor_hooks_show_one_pass_each_time_and_an_accumulating_grad():
    numbers = [float(x) for x in re.findall(r"norm (\d+\.\d+)", outputs["tensor-hooks"])]
    hook_1, post_1, hook_2, post_2 = numbers
    assert hook_1 == hook_2 == post_1 and abs(post_2 - 2 * post_1) <= 0.0015
    assert "weight.grad is None: True" in outputs["tensor-hooks"].split("backward 2:")[0]
    assert "weight.grad is None: False" in outputs["tensor-hooks"].split("backward 2:")[1]


def test_a_post_accumulate_hook_must_return_none_and_exists_for_leaf_tensors_only():
    layer = nn.Linear(3, 1)
    layer.weight.register_post_accumulate_grad_hook(lambda param: param.grad * 2)
    with pytest.raises(RuntimeError, match="post accumulate grad hooks should return None"):
        layer(torch.ones(1, 3)).sum().backward()
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        layer(torch.ones(1, 3)).register_post_accumulate_grad_hook(lambda tensor: None)


def test_tensor_hook_handles_are_removable_context_managers():
    w, calls = torch.ones(2, requires_grad=True), []
    with w.register_hook(lambda grad: calls.append(1)) as first, \
            w.register_post_accumulate_grad_hook(lambda param: calls.append(2)) as second:
        w.sum().backward()
    w.sum().backward()
    assert calls == [1, 2]
    assert all(isinstance(handle, torch.utils.hooks.RemovableHandle) for handle in (first, second))


def test_a_tensor_hook_runs_once_with_the_sum_over_every_use_and_a_module_hook_once_per_call():
    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = ns["FixedHiddenMLP"]()  # calls self.linear twice
    calls = {"tensor": [], "post": 0, "module": 0}
    model.linear.weight.register_hook(lambda grad: calls["tensor"].append(grad.clone()))
    model.linear.weight.register_post_accumulate_grad_hook(lambda param: calls.__setitem__("post", calls["post"] + 1))
    model.linear.register_full_backward_hook(lambda *args: calls.__setitem__("module", calls["module"] + 1))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Full backward hook is firing")  # the first call's input X needs none
        model(ns["X"]).backward()
    assert len(calls["tensor"]) == 1 and calls["post"] == 1 and calls["module"] == 2
    assert torch.equal(calls["tensor"][0], model.linear.weight.grad)  # the sum over both uses


def test_a_tensor_hook_works_on_an_intermediate_result():
    net, seen = small_net(), {}
    hidden = net[0](ns["X"])
    hidden.register_hook(lambda grad: seen.update(grad=grad))
    net[2](net[1](hidden)).sum().backward()
    assert seen["grad"].shape == hidden.shape


def test_page_gradient_norms_arrive_last_layer_first_and_equal_a_loop_after_backward():
    logged = ns["grad_norms"]
    assert list(logged) == ["2.bias", "2.weight", "0.bias", "0.weight"]
    net, norms = small_net(), {}
    for name, p in net.named_parameters():
        p.register_post_accumulate_grad_hook(lambda param, name=name: norms.update({name: param.grad.norm().item()}))
    net(ns["X"]).sum().backward()
    assert list(norms)[:2] == ["2.bias", "2.weight"]
    assert norms == {name: p.grad.norm().item() for name, p in net.named_parameters()}


def test_an_optimizer_step_in_a_post_accumulate_hook_updates_like_step_and_frees_each_gradient():
    with torch.random.fork_rng():
        torch.manual_seed(3)
        fused, plain = small_net(), small_net()
    plain.load_state_dict(fused.state_dict())
    optimizers = {p: torch.optim.SGD([p], lr=0.1) for p in fused.parameters()}

    def step(param):
        optimizers[param].step()
        param.grad = None  # freed at once

    for p in fused.parameters():
        p.register_post_accumulate_grad_hook(step)
    fused(ns["X"]).sum().backward()
    optimizer = torch.optim.SGD(plain.parameters(), lr=0.1)
    plain(ns["X"]).sum().backward()
    optimizer.step()
    assert all(p.grad is None for p in fused.parameters())
    assert all(torch.allclose(a, b) for a, b in zip(fused.parameters(), plain.parameters()))


def test_clipping_in_a_tensor_hook_scales_one_gradient_as_clip_grad_norm_does_and_leaves_the_others():
    with torch.random.fork_rng():
        torch.manual_seed(4)
        hooked, plain = small_net(), small_net()
    plain.load_state_dict(hooked.state_dict())
    hooked[0].weight.register_hook(ns["clip_norm"](0.1))
    hooked(ns["X"]).sum().backward()
    plain(ns["X"]).sum().backward()
    assert plain[0].weight.grad.norm() > 0.1
    nn.utils.clip_grad_norm_(plain[0].weight, 0.1)
    assert torch.allclose(hooked[0].weight.grad, plain[0].weight.grad)
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(list(hooked.parameters())[1:], list(plain.parameters())[1:]))


def test_page_clip_changes_only_the_first_weight():
    norms, clipped = ns["grad_norms"], ast.literal_eval(outputs["clip-one-layer"])
    assert clipped["0.weight"] == 0.1 and norms["0.weight"] > 0.1
    assert all(clipped[name] == norms[name] for name in norms if name != "0.weight")


def test_a_clipping_hook_clips_each_pass_and_the_accumulated_sum_can_exceed_max_norm():
    layer = nn.Linear(4, 1)
    layer.weight.register_hook(ns["clip_norm"](0.1))
    for _ in range(2):
        layer(torch.ones(3, 4)).sum().backward()
    assert layer.weight.grad.norm() > 0.1 + 1e-3  # two clipped passes: 0.2
    nn.utils.clip_grad_norm_(layer.weight, 0.1)
    assert layer.weight.grad.norm() <= 0.1 + 1e-6


# Backward hooks and in-place operations


@pytest.mark.parametrize("kind", ["hook", "pre-hook"])
def test_a_module_with_a_backward_hook_returns_its_output_as_a_view_of_backward_hook_function(kind):
    layer, X = nn.Linear(4, 4), torch.ones(2, 4, requires_grad=True)
    if kind == "hook":
        layer.register_full_backward_hook(lambda *args: None)
    else:
        layer.register_full_backward_pre_hook(lambda *args: None)
    Y = layer(X)
    assert Y._is_view() and "BackwardHookFunction" in Y.grad_fn.name()
    assert not nn.Linear(4, 4)(X)._is_view()


def in_place_after(hooked):
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, X):
            out = self.linear(X)
            out += X  # as torchvision's BasicBlock: out += identity
            return out

    return {
        "in-place ReLU after it": (lambda net: net[0], nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))),
        "the in-place ReLU itself": (lambda net: net[1], nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True))),
        "out += identity": (lambda block: block.linear, Residual()),
    }[hooked]


@pytest.mark.parametrize("case", ["in-place ReLU after it", "the in-place ReLU itself", "out += identity"])
@pytest.mark.parametrize("kind", ["hook", "pre-hook"])
def test_an_in_place_change_of_a_hooked_module_input_or_output_fails_in_the_forward(case, kind):
    pick, model = in_place_after(case)
    if kind == "hook":
        pick(model).register_full_backward_hook(lambda *args: None)
    else:
        pick(model).register_full_backward_pre_hook(lambda *args: None)
    with pytest.raises(RuntimeError, match="Output 0 of BackwardHookFunction is a view and is being modified inplace"):
        model(torch.ones(2, 4))
    with torch.no_grad():
        assert model(torch.ones(2, 4)).shape == (2, 4)  # nothing is wrapped where nothing is recorded
    model.eval()
    with pytest.raises(RuntimeError, match="BackwardHookFunction"):
        model(torch.ones(2, 4))  # eval() does not help: only no_grad does


def test_page_in_place_output():
    lines = outputs["backward-hooks-in-place"].splitlines()
    assert lines[0] == "RuntimeError: Output 0 of BackwardHookFunction is a view and is being modified inplace"
    assert lines[1] == "under no_grad: torch.Size([2, 1])" and lines[3] == "inplace=False:"


def test_forward_hooks_and_tensor_hooks_wrap_nothing_and_work_with_in_place_operations():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True), nn.Linear(4, 1))
    net[0].register_forward_hook(lambda module, args, output: None)
    net[0].weight.register_hook(lambda grad: None)
    net[0].weight.register_post_accumulate_grad_hook(lambda param: None)
    Y = net[0](torch.ones(2, 4))
    assert not Y._is_view()
    net(torch.ones(2, 4)).sum().backward()
    assert net[0].weight.grad is not None


def test_relu_reads_inplace_at_every_call_so_setting_it_false_fixes_the_hook():
    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(inplace=True), nn.Linear(4, 1))
    net[0].register_full_backward_hook(lambda *args: None)
    with pytest.raises(RuntimeError, match="BackwardHookFunction"):
        net(torch.ones(2, 4))
    net[1].inplace = False
    net(torch.ones(2, 4, requires_grad=True)).sum().backward()
    assert net[0].weight.grad is not None


def test_out_of_place_residual_addition_works_with_a_backward_hook():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 4)

        def forward(self, X):
            return self.linear(X) + X

    block, calls = Residual(), []
    block.linear.register_full_backward_hook(lambda *args: calls.append(1))
    block(torch.ones(2, 4, requires_grad=True)).sum().backward()
    assert calls == [1]


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


def test_an_inference_tensor_cannot_be_saved_for_backward_and_a_no_grad_tensor_can():
    net, head = ns["MLP"](), nn.Linear(10, 1)
    with torch.inference_mode():
        features = net(ns["X"])
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        head(features).sum().backward()
    with pytest.raises(RuntimeError, match="Inference tensors do not track version counter"):
        features._version  # noqa: B018
    cloned = features.clone()  # outside inference_mode: an ordinary tensor
    assert not cloned.is_inference()
    head(cloned).sum().backward()
    with torch.no_grad():
        features = net(ns["X"])
    head(features).sum().backward()
    assert head.weight.grad is not None and features._version == 0


def test_eval_keeps_autograd_and_inference_mode_or_no_grad_turn_it_off():
    net = ns["MLP"]().eval()
    assert not net.training and not net.hidden.training
    Y = net(ns["X"])
    assert Y.requires_grad and Y.grad_fn is not None
    with torch.inference_mode():
        assert not net(ns["X"]).requires_grad
    with torch.no_grad():
        assert not net(ns["X"]).requires_grad


# Compiling a module


def test_the_default_backend_is_inductor():
    assert torch.compiler.get_default_backend() == "inductor"


def test_explain_runs_the_module_and_counts_three_graphs_and_two_breaks():
    net, calls = ns["FixedHiddenMLP"](), []
    net.load_state_dict(ns["plain"].state_dict())  # the page's weights
    net.linear.register_forward_hook(lambda *args: calls.append(1))
    explanation = torch._dynamo.explain(net)(ns["X"])
    assert len(calls) == 2
    assert (explanation.graph_count, explanation.graph_break_count) == (3, 2)
    assert outputs["compile-graph-breaks"].splitlines()[0] == "graphs: 3 | graph breaks: 2"


def test_the_three_graphs_are_up_to_the_first_test_one_turn_and_the_sum_after_the_loop():
    net, graphs = ns["FixedHiddenMLP"](), []
    net.load_state_dict(ns["plain"].state_dict())  # the page's weights: the loop turns several times
    assert halvings(net, ns["X"]) > 1

    def backend(gm, example_inputs):
        graphs.append([getattr(node.target, "__name__", node.target) for node in gm.graph.nodes
                       if node.op in ("call_function", "call_method")])
        return gm.forward

    torch.compiler.reset()
    torch.compile(net, backend=backend)(ns["X"])
    assert graphs == [
        ["linear", "matmul", "add", "relu", "linear", "abs", "sum", "gt"],  # up to the first test
        ["truediv", "abs", "sum", "gt"],  # one turn: X / 2 and the next test
        ["sum"],  # X.sum() after the loop
    ]


def test_fullgraph_true_raises_at_the_data_dependent_while():
    torch.compiler.reset()
    with pytest.raises(torch._dynamo.exc.Unsupported) as error:
        torch.compile(ns["FixedHiddenMLP"](), backend="eager", fullgraph=True)(ns["X"])
    assert str(error.value).splitlines()[0] == "Data-dependent branching"
    assert outputs["compile-graph-breaks"].splitlines()[1] == "Unsupported: Data-dependent branching"


class _Halvings(TorchFunctionMode):
    """Counts the divisions by 2 that the code run under it makes."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func is torch.Tensor.div and len(args) == 2 and isinstance(args[1], int) and args[1] == 2
        return func(*args, **(kwargs or {}))


def halvings(net, X):
    """How often the page's own forward turns its while loop (each turn halves the output)."""
    with _Halvings() as counted:
        net(X)
    return counted.count


def test_the_compiled_module_traces_and_computes_the_same_values_however_often_the_loop_turns():
    net = ns["plain"]
    turns = {halvings(net, s * ns["X"]) for s in (0.01, 1.0, 100.0)}
    assert len(turns) == 3  # a few turns or many
    torch.compiler.reset()
    counter = CompileCounter()
    compiled = torch.compile(net, backend=counter)
    assert all(torch.equal(compiled(s * ns["X"]), net(s * ns["X"])) for s in (0.01, 1.0, 100.0))
    assert counter.frame_count >= 3  # it did trace
    assert outputs["compile-same-result"].splitlines() == ["OptimizedModule True", "True"]


def test_the_wrapper_holds_the_original_as_orig_mod_and_shares_its_parameters():
    net = ns["FixedHiddenMLP"]()
    compiled = torch.compile(net, backend="eager")
    assert isinstance(compiled, nn.Module) and compiled._orig_mod is net
    assert all(a is b for a, b in zip(compiled.parameters(), net.parameters(), strict=True))
    assert list(compiled.state_dict()) == ["_orig_mod." + key for key in net.state_dict()]
    assert list(compiled._orig_mod.state_dict()) == list(net.state_dict())


def test_a_compiled_state_dict_does_not_load_into_the_plain_model():
    compiled = torch.compile(ns["FixedHiddenMLP"](), backend="eager")
    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*\n.*Unexpected key\(s\).*_orig_mod\."):
        ns["FixedHiddenMLP"]().load_state_dict(compiled.state_dict())
    assert "<All keys matched successfully>" in outputs["compile-state-dict"]


def test_module_compile_keeps_class_and_keys_and_does_compile():
    net = ns["FixedHiddenMLP"]()
    keys = list(net.state_dict())
    counter = CompileCounter()
    net.compile(backend=counter)
    assert type(net) is ns["FixedHiddenMLP"] and list(net.state_dict()) == keys
    eager = net.forward(ns["X"])
    assert torch.equal(net(ns["X"]), eager) and counter.frame_count == 3
    assert type(ns["net"]) is ns["FixedHiddenMLP"] and ns["net"]._compiled_call_impl is not None
    assert outputs["compile-in-place"].splitlines()[1] == "True | 3 graphs traced"


def test_a_backend_gets_each_graph_module_and_example_inputs_and_returns_what_runs():
    seen = []

    def backend(gm, example_inputs):
        seen.append((gm, example_inputs))
        return lambda *args: [torch.zeros(1)]  # whatever it returns is what runs

    torch.compiler.reset()
    out = torch.compile(nn.Linear(2, 1), backend=backend)(torch.ones(1, 2))
    assert isinstance(seen[0][0], torch.fx.GraphModule) and all(isinstance(t, torch.Tensor) for t in seen[0][1])
    assert torch.equal(out, torch.zeros(1))


class OwnForward(nn.Module):  # forward outside torch.nn; everything it calls inside
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, 2), nn.ReLU())

    def forward(self, X):
        return self.layers(X)


@pytest.mark.parametrize("make, traced", [
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU()), False),
    (lambda: nn.Linear(2, 2), False),
    (OwnForward, True),
], ids=["Sequential", "Linear", "own forward"])
def test_module_compile_traces_nothing_when_everything_comes_from_torch_nn(make, traced):
    torch.compiler.reset()
    counter, module = CompileCounter(), make()
    module.compile(backend=counter)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        module(torch.ones(1, 2))
    assert module._compiled_call_impl is not None
    assert (counter.frame_count > 0) == traced
    wrapped_counter = CompileCounter()
    torch.compile(make(), backend=wrapped_counter)(torch.ones(1, 2))
    assert wrapped_counter.frame_count == 1  # torch.compile(module) traces it


def test_dynamo_skips_torch_nn_code_where_a_trace_would_begin_and_inlines_it_into_a_trace():
    from torch._dynamo import trace_rules

    call_impl = nn.Module._call_impl.__code__.co_filename
    assert trace_rules.check_file(call_impl, is_inlined_call=False).skipped
    assert not trace_rules.check_file(call_impl, is_inlined_call=True).skipped
    assert not trace_rules.check_file(ns["FixedHiddenMLP"].forward.__code__.co_filename).skipped


def test_page_shows_zero_graphs_for_seq_compile_and_one_for_torch_compile():
    lines = outputs["compile-in-place-builtin"].splitlines()
    assert lines[0].endswith("| 0 graphs traced") and lines[1].endswith("| 1 graph traced")
    assert ns["seq"]._compiled_call_impl is None and ns["compiled_seq"]._orig_mod is ns["seq"]


# Exercises


def test_exercise_predict_reused_relu():
    assert outputs["exercise-predict-reused-relu-solution"].splitlines() == [
        "ChildrenSequential: 4 entries, 3 children, 4 modules, ReLU calls: 1",
        "Sequential: 4 entries, 3 children, 4 modules, ReLU calls: 2",
    ]
    relu = nn.ReLU()
    net = nn.Sequential(nn.Linear(2, 2), relu, nn.Linear(2, 2), relu)
    assert list(net.modules())[0] is net and len(list(net.modules())) == 4


def test_exercise_layers_in_a_list_hides_them_from_parameters_state_dict_optimizer_and_to(seeded):
    tower, fixed = ns["Tower"](3), ns["ModuleListTower"](3)
    assert sum(p.numel() for p in tower.parameters()) == 20 + 1
    assert sum(p.numel() for p in fixed.parameters()) == 3 * (20 * 20 + 20) + 21 == 1281
    assert list(fixed.state_dict())[:2] == ["layers.0.weight", "layers.0.bias"]
    assert "layers.2.bias" in fixed.state_dict() and len(fixed.state_dict()) == 8
    reloaded = ns["Tower"](3)
    reloaded.load_state_dict(tower.state_dict())
    assert not torch.allclose(reloaded(ns["X"]), tower(ns["X"]))  # new random hidden layers
    assert tower.to(torch.float64).layers[0].weight.dtype == torch.float32
    assert outputs["exercise-layers-in-a-list"].strip() == "torch.Size([2, 1]) 21"


def test_exercise_count_chimera_parameters():
    counts = [sum(p.numel() for p in child.parameters()) for child in ns["chimera"].children()]
    assert counts == [20 * 64 + 64 + 64 * 32 + 32 + 32 * 16 + 16, 16 * 20 + 20, 20 * 20 + 20] == [3952, 340, 420]
    fixed = ns["chimera"][2]
    assert fixed.rand_weight.numel() == 400 and "rand_weight" in fixed.state_dict()
    assert outputs["exercise-count-chimera-parameters"].splitlines()[-1] == "total: 4712"


def test_exercise_constant_after_to():
    lines = outputs["exercise-constant-after-to"].splitlines()
    assert lines[0] == "['1.weight', '1.bias']"
    model = nn.Sequential(ns["Standardize"](torch.full((20,), 0.5), torch.full((20,), 0.29)), nn.Linear(20, 1))
    model.to(torch.float64)
    assert model[0].mean.dtype == torch.float32 and model(ns["X"].double()).dtype == torch.float64
    assert (ns["X"].double() - model[0].mean).dtype == torch.float64  # type promotion
    model.to(torch.bfloat16)
    standardized = model[0](ns["X"].bfloat16())
    assert standardized.dtype == torch.float32  # Standardize does not raise
    with pytest.raises(RuntimeError, match="same dtype"):
        model[1](standardized)  # the linear layer does
    assert lines[2].startswith("torch.bfloat16 -> RuntimeError")
    assert outputs["exercise-constant-after-to-solution"].splitlines()[0] == "['0.mean', '0.std', '1.weight', '1.bias']"


def test_exercise_residual_stack():
    stack = ns["ResidualStack"](20, 3)
    assert sum(p.numel() for p in stack.parameters()) == 3 * (20 * 20 + 20) == 1260
    Y = ns["X"]
    for layer in stack.layers:
        Y = Y + torch.relu(layer(Y))
    assert torch.equal(stack(ns["X"]), Y)
    assert outputs["exercise-residual-stack"].splitlines() == ["torch.Size([2, 20]) 1260", "False", "True"]


def test_residual_blocks_compose_inside_a_sequential():
    stack = ns["ResidualStack"](20, 2)
    wrapped = nn.Sequential(*[ns["Residual"](nn.Sequential(layer, nn.ReLU())) for layer in stack.layers])
    assert isinstance(wrapped, nn.Sequential) and all(isinstance(m, ns["Residual"]) for m in wrapped)
    assert torch.equal(wrapped(ns["X"]), stack(ns["X"]))
    assert sum(p.numel() for p in wrapped.parameters()) == sum(p.numel() for p in stack.parameters())


def test_exercise_weight_gradient_norms_module_hooks_fail_in_place_and_read_the_input_gradient():
    assert outputs["exercise-weight-gradient-norms"].strip() == (
        "RuntimeError: Output 0 of BackwardHookFunction is a view and is being modified inplace")

    class OutOfPlace(ns["Block"]):
        def forward(self, X):
            return torch.relu(self.linear(X) + X)

    with torch.random.fork_rng():
        torch.manual_seed(1)
        model = nn.Sequential(OutOfPlace(20), OutOfPlace(20), nn.Linear(20, 1))
    seen = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            module.register_full_backward_hook(lambda m, grad_input, grad_output, name=name: seen.update(
                {name: grad_input[0]}))
    with pytest.warns(UserWarning, match="Full backward hook is firing"):
        model(ns["X"]).sum().backward()
    assert seen["0.linear"] is None  # so None.norm() raises AttributeError
    assert seen["1.linear"].shape == (2, 20) and model[1].linear.weight.grad.shape == (20, 20)


def test_exercise_weight_gradient_norms_solution_logs_the_head_first_and_matches_grad():
    logged = ns["weight_grad_norms"]
    assert list(logged) == ["2", "1.linear", "0.linear"]
    assert logged == {name: round(linear.weight.grad.norm().item(), 3) for name, linear in ns["linears"].items()}
    assert outputs["exercise-weight-gradient-norms-solution"].splitlines()[1] == "True"
    assert not any(linear.weight._post_accumulate_grad_hooks for linear in ns["linears"].values())  # removed


def compiled_state_dict(module):
    return torch.compile(module, backend="eager").state_dict()


def test_exercise_compiled_checkpoint():
    assert all(key.startswith("_orig_mod.") for key in compiled_state_dict(ns["FixedHiddenMLP"]()))
    assert list(ns["checkpoint"]["model"]) == list(ns["FixedHiddenMLP"]().state_dict())  # stripped in place
    assert outputs["exercise-compiled-checkpoint-solution"].splitlines() == ["<All keys matched successfully>", "True"]


def test_consume_prefix_renames_the_metadata_too_and_a_new_dict_loses_it():
    state = compiled_state_dict(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    rebuilt = {key.removeprefix("_orig_mod."): value for key, value in state.items()}
    assert not hasattr(rebuilt, "_metadata")
    torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(state, "_orig_mod.")
    assert list(state) == list(rebuilt) and state._metadata["1"]["version"] == nn.BatchNorm1d._version == 2


def test_batchnorm_converts_a_checkpoint_without_metadata_as_an_old_one():
    state = nn.BatchNorm1d(3).state_dict()
    del state["num_batches_tracked"]
    with pytest.raises(RuntimeError, match="num_batches_tracked"):
        nn.BatchNorm1d(3).load_state_dict(state)  # version 2 in the metadata: a missing key is an error
    plain = dict(state)  # no metadata: treated as a checkpoint from before the counter existed
    assert not nn.BatchNorm1d(3).load_state_dict(plain).missing_keys


def test_strict_false_loads_nothing_from_a_compiled_state_dict_and_only_reports_it():
    fresh = ns["FixedHiddenMLP"]()
    before = {key: value.clone() for key, value in fresh.state_dict().items()}
    result = fresh.load_state_dict(compiled_state_dict(ns["FixedHiddenMLP"]()), strict=False)
    assert all(torch.equal(value, before[key]) for key, value in fresh.state_dict().items())
    assert sorted(result.missing_keys) == sorted(before)
    assert all(key.startswith("_orig_mod.") for key in result.unexpected_keys)


def test_the_graph_counts_on_the_page_were_printed_by_the_python_it_names():
    """The page says its Dynamo counts are Python 3.11's: the stored outputs must come from it."""
    page = (ROOT / "docs" / "en" / "layers.md").read_text(encoding="utf-8")
    python = re.search(r"These counts are those of Python (\d+\.\d+)", page)[1]
    assert f"Python {python}." in printed_by(output_file(ROOT / "snippets" / "layers.py"))
