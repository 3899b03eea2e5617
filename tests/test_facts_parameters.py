"""The facts docs/*/parameters.md claims, checked on the objects its snippet builds."""

import copy
import inspect
from types import SimpleNamespace

import pytest
import torch
import torchinfo.torchinfo
from torch import nn
from torchinfo import summary

from tools.snippets import ROOT, run


@pytest.fixture(scope="module")
def ns():
    return run(ROOT / "snippets" / "parameters.py")[1]


def test_last_layer_state_dict_has_weight_2x3_and_bias_2(ns):
    state = ns["net"][4].state_dict()
    assert list(state) == ["weight", "bias"]
    assert state["weight"].shape == (2, 3) and state["bias"].shape == (2,)


def test_a_parameter_is_an_nn_parameter_and_a_tensor(ns):
    bias = ns["net"][4].bias
    assert type(bias) is nn.Parameter and isinstance(bias, torch.Tensor) and bias.requires_grad


def test_a_module_registers_a_parameter_attribute_but_not_a_plain_tensor():
    module = nn.Module()
    module.kept = nn.Parameter(torch.zeros(2))
    module.plain = torch.zeros(2)
    assert [name for name, _ in module.named_parameters()] == ["kept"]
    assert list(module.state_dict()) == ["kept"]
    module.to(torch.float64)
    assert module.kept.dtype == torch.float64 and module.plain.dtype == torch.float32


def test_grad_is_none_before_any_backward():
    assert all(p.grad is None for p in nn.Linear(3, 2).parameters())


def test_grad_equals_true_is_false_before_backward_and_ambiguous_after(ns):
    layer = copy.deepcopy(ns["net"][4])
    assert (layer.weight.grad == True) is False
    layer(torch.rand(2, 3)).sum().backward()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(layer.weight.grad == True)


def test_grad_equals_true_on_a_one_element_gradient_silently_tests_for_one():
    weight = nn.Parameter(torch.tensor([3.0]))
    (weight * 1.0).sum().backward()
    assert bool(weight.grad == True) is True  # gradient 1: "has a gradient"
    weight.grad = None
    (weight * 2.0).sum().backward()
    assert bool(weight.grad == True) is False  # a gradient of 2, reported as none


def test_zero_grad_sets_to_none_by_default():
    assert inspect.signature(nn.Module.zero_grad).parameters["set_to_none"].default is True


def test_zero_grad_sets_gradients_to_none(ns):
    net = copy.deepcopy(ns["net"])
    net(ns["X"]).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_named_parameters_are_prefixed_by_layer_position(ns):
    assert [name for name, _ in ns["net"][0].named_parameters()] == ["weight", "bias"]
    names = [name for name, _ in ns["net"].named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


def test_state_dict_entry_equals_the_parameter_and_is_detached(ns):
    entry = ns["net"].state_dict()["2.bias"]
    assert torch.equal(entry, ns["net"][2].bias) and not entry.requires_grad


def test_state_dict_entries_share_storage_with_the_parameters(ns):
    net = copy.deepcopy(ns["net"])
    state = net.state_dict()
    kept = copy.deepcopy(state)
    assert all(state[name].data_ptr() == p.data_ptr() for name, p in net.named_parameters())
    with torch.no_grad():
        net[2].bias.zero_()
    assert torch.equal(state["2.bias"], torch.zeros(3))  # the earlier state dict changed too
    assert not torch.equal(kept["2.bias"], torch.zeros(3))  # the deep copy did not
    before = state["0.weight"].clone()
    net(ns["X"]).sum().backward()
    torch.optim.SGD(net.parameters(), lr=0.1).step()  # a training step
    assert torch.equal(state["0.weight"], net[0].weight) and not torch.equal(state["0.weight"], before)


def test_load_state_dict_copies_into_the_existing_parameters(ns):
    net = copy.deepcopy(ns["net"])
    kept = copy.deepcopy(net.state_dict())
    bias = net[2].bias
    with torch.no_grad():
        bias.zero_()
    net.load_state_dict(kept)
    assert net[2].bias is bias and torch.equal(bias, kept["2.bias"])


def test_snippet_restores_the_bias_it_zeroed(ns):
    assert torch.equal(ns["net"][2].bias, ns["kept"]["2.bias"])
    assert not torch.equal(ns["kept"]["2.bias"], torch.zeros(3))


def test_state_dict_holds_parameters_and_persistent_buffers(ns):
    normed = ns["normed"]
    params = {name for name, _ in normed.named_parameters()}
    buffers = {name for name, _ in normed.named_buffers()}
    assert len(params) == 4 and buffers == {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert set(normed.state_dict()) == params | buffers


def test_batchnorm_counts_training_batches_only():
    norm = nn.BatchNorm1d(3)
    norm.eval()
    norm(torch.rand(4, 3))
    assert norm.num_batches_tracked.item() == 0
    norm.train()
    norm(torch.rand(4, 3))
    assert norm.num_batches_tracked.item() == 1


def test_batchnorm_in_eval_mode_needs_its_running_statistics():
    torch.manual_seed(0)
    trained, fresh = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    trained(5 * torch.rand(8, 3) + 2)  # one training step updates the running statistics
    fresh.load_state_dict(trained.state_dict())
    X = torch.rand(4, 3)
    trained.eval(), fresh.eval()
    assert torch.equal(trained(X), fresh(X))
    fresh.register_buffer("running_mean", torch.zeros(3))  # without the trained statistics
    assert not torch.allclose(trained(X), fresh(X))


def test_a_non_persistent_buffer_is_left_out_of_the_state_dict():
    module = nn.Module()
    module.register_buffer("saved", torch.zeros(1))
    module.register_buffer("scratch", torch.zeros(1), persistent=False)
    assert [name for name, _ in module.named_buffers()] == ["saved", "scratch"]
    assert list(module.state_dict()) == ["saved"]


def test_rgnet_holds_four_block1_named_block0_to_block3(ns):
    assert [name for name, _ in ns["rgnet"][0].named_children()] == [f"block{i}" for i in range(4)]
    assert ns["rgnet"](ns["X"]).shape == (2, 1)


def test_get_submodule_reaches_the_same_layer_as_indexing(ns):
    rgnet = ns["rgnet"]
    assert rgnet.get_submodule("0.block1.0") is rgnet[0][1][0]
    assert rgnet[0][1][0].bias.shape == (8,)


def test_mlp_4_5_3_2_has_25_18_8_parameters_51_in_all(ns):
    per_layer = [sum(p.numel() for p in ns["net"][i].parameters()) for i in (0, 2, 4)]
    assert per_layer == [25, 18, 8]
    assert sum(p.numel() for p in ns["net"].parameters()) == 51


def test_freezing_the_first_layer_leaves_26_trainable_and_no_gradient_there(ns):
    net = copy.deepcopy(ns["net"])
    net[0].requires_grad_(False)
    assert sum(p.numel() for p in net.parameters() if p.requires_grad) == 26
    net(ns["X"]).sum().backward()
    assert net[0].weight.grad is None and net[2].weight.grad is not None


def test_snippet_unfreezes_the_first_layer_again(ns):
    assert all(p.requires_grad for p in ns["net"].parameters())


def test_torchinfo_counts_51(ns):
    stats = summary(ns["net"], input_data=ns["X"], verbose=0)
    assert stats.total_params == 51 and stats.trainable_params == 51


def test_torchinfo_with_input_data_moves_neither_the_batch_nor_the_model(ns, monkeypatch):
    net, X = copy.deepcopy(ns["net"]), ns["X"]
    seen, moves = [], []
    net.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    real_to = nn.Module.to
    monkeypatch.setattr(nn.Module, "to", lambda self, *a, **k: moves.append((a, k)) or real_to(self, *a, **k))
    summary(net, input_data=X, verbose=0)
    assert seen[0] is X and moves == []


def test_torchinfo_with_input_data_needs_model_and_batch_on_one_device():
    on_meta = nn.Linear(4, 2).to("meta")  # a device other than the batch's
    with pytest.raises(RuntimeError) as caught:
        summary(on_meta, input_data=torch.rand(2, 4), verbose=0)
    assert "meta" in str(caught.value.__cause__) and on_meta.weight.device.type == "meta"


def test_torchinfo_chooses_cuda_when_available_for_input_size_and_no_device_for_input_data(ns, monkeypatch):
    get_device = torchinfo.torchinfo.get_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device(ns["net"], None) == torch.device("cuda")
    assert get_device(ns["net"], ns["X"]) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device(ns["net"], None) == torch.device("cpu")


def test_torchinfo_chooses_the_gpu_the_model_is_on():
    class OnSecondGpu(nn.Module):  # stands in for a model whose parameters are on cuda:1
        def parameters(self, recurse=True):
            yield SimpleNamespace(is_cuda=True, device=torch.device("cuda", 1))

    assert torchinfo.torchinfo.get_device(OnSecondGpu(), None) == torch.device("cuda", 1)


def test_torchinfo_with_input_size_moves_the_model_to_the_device_it_chose(ns, monkeypatch):
    net = copy.deepcopy(ns["net"])
    moves = []
    real_to = nn.Module.to
    monkeypatch.setattr(nn.Module, "to", lambda self, *a, **k: moves.append(a) or real_to(self, *a, **k))
    summary(net, input_size=(2, 4), verbose=0)
    assert moves == [(torchinfo.torchinfo.get_device(net, None),)]
    moves.clear()
    summary(net, input_size=(2, 4), device="cpu", verbose=0)
    assert moves == [(torch.device("cpu"),)]


def test_torchinfo_moves_the_model_passed_in_not_a_copy(ns):
    net = copy.deepcopy(ns["net"])
    stats = summary(net, input_size=(2, 4), device="meta", verbose=0)  # meta: a device this machine has
    assert stats.total_params == 51
    assert all(p.device.type == "meta" for p in net.parameters())


def test_torchinfo_counts_a_parameter_owned_by_the_module_itself(ns):
    scaled = ns["scaled"]
    assert summary(scaled, input_data=ns["X"], verbose=0).total_params == 18
    assert sum(p.numel() for p in scaled.parameters()) == 18


def test_torchinfo_counts_the_own_parameter_of_a_module_without_layers():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(7))

        def forward(self, X):
            return X * self.scale

    assert summary(Scale(), input_data=torch.rand(2, 7), verbose=0).total_params == 7


def test_torchinfo_counts_a_shared_layer_once(ns):
    assert summary(ns["tied"], input_data=ns["X"], verbose=0).total_params == 121


def test_torchinfo_marks_the_second_call_of_a_layer_recursive():
    shared = nn.Linear(3, 3)
    stats = summary(nn.Sequential(shared, shared), input_data=torch.rand(2, 3), verbose=0)
    assert [layer.is_recursive for layer in stats.summary_list[1:]] == [False, True]
    assert "(recursive)" in str(stats) and stats.total_params == 12


def test_numpy_on_a_parameter_raises_and_detach_fixes_it(ns):
    weight = ns["net"][0].weight
    with pytest.raises(RuntimeError, match="detach"):
        weight.numpy()
    assert weight.detach().numpy().shape == (5, 4)


def test_detach_shares_storage_and_leaves_the_graph(ns):
    weight = ns["net"][0].weight
    view = weight.detach()
    assert view.data_ptr() == weight.data_ptr() and not view.requires_grad
    assert (weight * 2).grad_fn is not None and (view * 2).grad_fn is None
    assert weight.detach().clone().data_ptr() != weight.data_ptr()


def test_detach_and_views_share_the_version_counter_but_data_does_not():
    weight = nn.Linear(3, 2).weight
    start = weight._version
    weight.data.mul_(2)
    assert weight._version == start
    weight.detach().mul_(2)
    assert weight._version == start + 1
    with torch.no_grad():
        weight.t().mul_(2)
    assert weight._version == start + 2


def test_in_place_write_through_detach_is_caught_by_backward():
    weight = nn.Linear(3, 2).weight
    loss = (weight**2).sum()  # the backward pass needs the saved weight
    weight.detach().mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    weight = nn.Linear(3, 2).weight
    loss = (weight**2).sum()
    weight.data.mul_(2)  # the same change through .data
    loss.backward()  # is not caught
    assert torch.equal(weight.grad, 2 * weight.detach())  # the gradient of the new values, not the old


def test_in_place_write_to_a_parameter_needs_no_grad(ns):
    weight = copy.deepcopy(ns["net"][0]).weight
    with pytest.raises(RuntimeError, match="in-place"):
        weight[0, 0] = 42.0
    with torch.no_grad():
        weight[0, 0] = 42.0
    assert weight[0, 0].item() == 42.0 and weight.requires_grad


def test_snippet_restores_the_weight_it_changed(ns):
    assert torch.equal(ns["net"][0].weight, ns["snapshot"])
    assert ns["view"][0, 0].item() != 42.0


def test_data_edit_between_forward_and_backward_gives_ten_times_the_true_gradient(ns):
    edited, reference = copy.deepcopy(ns["net"]), copy.deepcopy(ns["net"])
    loss = edited(ns["X"]).sum()
    edited[2].weight.data.mul_(10)
    loss.backward()  # silently accepted
    reference(ns["X"]).sum().backward()
    assert not torch.allclose(edited[0].weight.grad, reference[0].weight.grad)
    assert torch.allclose(edited[0].weight.grad, 10 * reference[0].weight.grad)


def test_no_grad_edit_between_forward_and_backward_raises(ns):
    edited = copy.deepcopy(ns["net"])
    loss = edited(ns["X"]).sum()
    with torch.no_grad():
        edited[2].weight.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as caught:
        loss.backward()
    assert edited[2].weight.shape == (3, 5) and "[5, 3]" in str(caught.value)  # the transposed weight


def test_edit_after_backward_is_fine(ns):
    net = copy.deepcopy(ns["net"])
    net(ns["X"]).sum().backward()
    with torch.no_grad():
        net[2].weight.mul_(10)
    net(ns["X"]).sum().backward()  # the next forward pass uses the new weight: no error


def test_clip_grad_norm_rescales_grads_to_max_norm_and_leaves_weights(ns):
    net = copy.deepcopy(ns["net"])
    (100 * net(ns["X"])).sum().backward()
    before = [p.detach().clone() for p in net.parameters()]
    norm = nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
    assert norm.item() > 1.0
    assert nn.utils.get_total_norm([p.grad for p in net.parameters()]).item() == pytest.approx(1.0, abs=1e-4)
    assert all(torch.equal(old, p) for old, p in zip(before, net.parameters()))


def test_tied_positions_are_one_layer_and_one_weight(ns):
    tied = ns["tied"]
    assert tied[2] is tied[4] and tied[2].weight is tied[4].weight
    assert tied[4].weight[0, 0].item() == 100.0


def test_untied_copy_computes_the_same_output(ns):
    assert torch.equal(ns["tied"](ns["X"]), ns["untied"](ns["X"]))


def test_tied_gradient_is_the_sum_of_the_untied_gradients(ns):
    tied, untied = ns["tied"], ns["untied"]
    total = untied[2].weight.grad + untied[4].weight.grad
    assert torch.allclose(tied[2].weight.grad, total)
    assert not torch.allclose(tied[2].weight.grad, untied[2].weight.grad)
    assert not torch.allclose(tied[2].weight.grad, untied[4].weight.grad)


def test_parameters_count_a_shared_tensor_once(ns):
    assert sum(p.numel() for p in ns["tied"].parameters()) == 121
    assert sum(p.numel() for p in ns["untied"].parameters()) == 193
    assert len(list(ns["tied"].parameters())) == 6


def test_state_dict_lists_a_shared_tensor_under_both_names(ns):
    state = ns["tied"].state_dict()
    assert len(state) == 8 and "4.weight" in state
    assert "4.weight" not in dict(ns["tied"].named_parameters())
    assert state["2.weight"].data_ptr() == state["4.weight"].data_ptr()


def test_one_parameter_in_two_layers_is_counted_once_by_parameters_and_twice_by_torchinfo(ns):
    pair = ns["pair"]
    assert pair[0].weight is pair[2].weight and pair[0].bias is not pair[2].bias
    assert [name for name, _ in pair.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    assert list(pair.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sum(p.numel() for p in pair.parameters()) == 24
    assert summary(pair, input_data=ns["X"], verbose=0).total_params == 40


def test_one_parameter_in_two_layers_gets_the_sum_of_both_gradients(ns):
    pair = copy.deepcopy(ns["pair"])
    untied = copy.deepcopy(pair)
    untied[2].weight = nn.Parameter(untied[0].weight.detach().clone())
    assert untied[0].weight is not untied[2].weight
    assert torch.equal(pair(ns["X"]), untied(ns["X"]))
    pair(ns["X"]).sum().backward()
    untied(ns["X"]).sum().backward()
    assert torch.allclose(pair[0].weight.grad, untied[0].weight.grad + untied[2].weight.grad)
    assert not torch.allclose(pair[0].weight.grad, untied[0].weight.grad)
