"""The facts docs/*/parameters.md claims, checked on the objects its snippet builds."""

import copy

import pytest
import torch
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


def test_grad_is_none_before_any_backward():
    assert all(p.grad is None for p in nn.Linear(3, 2).parameters())


def test_grad_equals_true_is_false_before_backward_and_ambiguous_after(ns):
    layer = copy.deepcopy(ns["net"][4])
    assert (layer.weight.grad == True) is False
    layer(torch.rand(2, 3)).sum().backward()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(layer.weight.grad == True)


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


def test_state_dict_holds_parameters_and_persistent_buffers(ns):
    normed = ns["normed"]
    params = {name for name, _ in normed.named_parameters()}
    buffers = {name for name, _ in normed.named_buffers()}
    assert len(params) == 4 and buffers == {"1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert set(normed.state_dict()) == params | buffers


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


def test_torchinfo_counts_a_parameter_owned_by_the_module_itself(ns):
    scaled = ns["scaled"]
    assert summary(scaled, input_data=ns["X"], verbose=0).total_params == 18
    assert sum(p.numel() for p in scaled.parameters()) == 18


def test_torchinfo_counts_a_shared_layer_once(ns):
    assert summary(ns["tied"], input_data=ns["X"], verbose=0).total_params == 121


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
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


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
