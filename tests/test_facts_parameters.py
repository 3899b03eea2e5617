"""The facts docs/*/parameters.md claims, checked on the objects its snippet builds."""

import copy
import inspect
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torchinfo.torchinfo
from torch import nn
from torch.func import stack_module_state
from torchinfo import summary

from tools.snippets import ROOT, run


@pytest.fixture(scope="module")
def ran():
    return run(ROOT / "snippets" / "parameters.py")


@pytest.fixture(scope="module")
def ns(ran):
    return ran[1]


@pytest.fixture(scope="module")
def outputs(ran):
    return ran[0]


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
    assert inspect.signature(torch.optim.Optimizer.zero_grad).parameters["set_to_none"].default is True
    weight = nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    weight.sum().backward()
    optimizer.zero_grad()
    assert weight.grad is None


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


# every optimizer of torch.optim ("The optimizers of torch.optim leave every parameter whose grad is None
# untouched"); LBFGS, which needs a closure, has a test of its own below
OPTIMIZERS = sorted((c for c in vars(torch.optim).values()
                     if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
                     and c not in (torch.optim.Optimizer, torch.optim.LBFGS)), key=lambda c: c.__name__)


def test_the_optimizer_list_is_all_of_torch_optim():
    assert {torch.optim.SGD, torch.optim.AdamW, torch.optim.Adafactor, torch.optim.Muon} <= set(OPTIMIZERS)
    assert len(OPTIMIZERS) >= 14


@pytest.mark.parametrize("optimizer_class", OPTIMIZERS, ids=lambda c: c.__name__)
def test_optimizers_skip_a_parameter_whose_grad_is_none(optimizer_class):
    kwargs = {"lr": 0.1}
    if "weight_decay" in inspect.signature(optimizer_class).parameters:
        kwargs["weight_decay"] = 0.1  # even with weight decay, which needs no gradient to move a value
    weight = nn.Parameter(torch.ones(3, 3))  # 2-D: Muon takes only matrices
    optimizer = optimizer_class([weight], **kwargs)
    optimizer.step()
    assert weight.grad is None and torch.equal(weight, torch.ones(3, 3))


def test_frozen_weight_moves_only_when_its_grad_is_zeros_not_none(ns):
    grad, unchanged = ns["step_after_freezing"](True)
    assert grad is None and unchanged
    grad, unchanged = ns["step_after_freezing"](False)
    assert torch.equal(grad, torch.zeros_like(grad)) and not unchanged


@pytest.mark.parametrize("optimizer_class, kwargs", [
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (torch.optim.SGD, {"lr": 0.1, "weight_decay": 0.1}),
    (torch.optim.Adam, {"lr": 0.1}),
    (torch.optim.AdamW, {"lr": 0.1}),
], ids=["momentum", "weight-decay", "adam", "adamw"])
def test_zero_gradients_still_move_a_frozen_parameter(ns, optimizer_class, kwargs):
    for set_to_none in (True, False):
        model = copy.deepcopy(ns["net"])
        optimizer = optimizer_class(model.parameters(), **kwargs)
        model(ns["X"]).sum().backward()
        optimizer.step()
        model[0].requires_grad_(False)
        frozen = model[0].weight.detach().clone()
        optimizer.zero_grad(set_to_none=set_to_none)
        model(ns["X"]).sum().backward()
        optimizer.step()
        assert torch.equal(model[0].weight, frozen) is set_to_none


def test_weight_decay_alone_moves_a_parameter_with_a_zero_gradient():
    weight = nn.Parameter(torch.ones(3))
    weight.grad = torch.zeros(3)
    torch.optim.SGD([weight], lr=0.1, weight_decay=0.1).step()
    assert (weight < 1).all()


def test_filtered_optimizer_holds_the_26_trainable_values_and_a_group_added_later(ns):
    model = copy.deepcopy(ns["net"])
    model[0].requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    held = [p for group in optimizer.param_groups for p in group["params"]]
    assert sum(p.numel() for p in held) == 26
    assert not any(p is model[0].weight or p is model[0].bias for p in held)
    optimizer.add_param_group({"params": list(model[0].parameters()), "lr": 0.01})
    assert [(group["lr"], len(group["params"])) for group in optimizer.param_groups] == [(0.1, 4), (0.01, 2)]
    assert optimizer.param_groups[1]["momentum"] == 0.9  # a setting the group leaves out: the optimizer's


def test_a_group_without_a_setting_takes_the_optimizers_default():
    weight, bias = nn.Parameter(torch.ones(2, 2)), nn.Parameter(torch.ones(2))
    optimizer = torch.optim.AdamW([{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}])
    assert optimizer.param_groups[0]["lr"] == 1e-3 and optimizer.param_groups[0]["weight_decay"] == 0.01
    assert optimizer.param_groups[1]["weight_decay"] == 0.0


def test_adamw_decays_every_parameter_by_001_unless_told_otherwise(ns):
    assert inspect.signature(torch.optim.AdamW).parameters["weight_decay"].default == 0.01
    optimizer = torch.optim.AdamW(ns["Classifier"]().parameters())
    assert len(optimizer.param_groups) == 1 and optimizer.param_groups[0]["weight_decay"] == 0.01
    norm = nn.LayerNorm(3)
    norm.weight.grad = torch.zeros(3)
    torch.optim.AdamW(norm.parameters(), lr=0.1).step()
    assert (norm.weight < 1).all()  # the LayerNorm scale, which starts at 1, is pulled towards zero


def test_param_groups_split_by_head_and_by_shape(ns):
    groups = ns["param_groups"](ns["Classifier"](), lr=1e-4, head_lr=1e-3, weight_decay=0.05)
    summary_ = [(g["lr"], g["weight_decay"], [name for name, _ in g["params"]]) for g in groups]
    assert summary_ == [
        (1e-4, 0.05, ["body.0.weight"]),
        (1e-4, 0.0, ["body.0.bias", "body.1.weight", "body.1.bias"]),
        (1e-3, 0.05, ["head.weight"]),
        (1e-3, 0.0, ["head.bias"]),
    ]


def test_the_one_dimensional_parameters_are_the_biases_and_the_norm_weights(ns):
    classifier = ns["Classifier"]()
    one_d = {name for name, p in classifier.named_parameters() if p.ndim == 1}
    norm_weights = {f"body.{i}.weight" for i, m in enumerate(classifier.body) if isinstance(m, nn.LayerNorm)}
    biases = {name for name, _ in classifier.named_parameters() if name.endswith("bias")}
    assert one_d == biases | norm_weights and norm_weights == {"body.1.weight"}


def test_param_groups_leave_frozen_parameters_out(ns):
    classifier = ns["Classifier"]()
    classifier.body.requires_grad_(False)
    groups = ns["param_groups"](classifier, lr=1e-4, head_lr=1e-3, weight_decay=0.05)
    assert [name for g in groups for name, _ in g["params"]] == ["head.weight", "head.bias"]


def test_snippet_optimizer_groups_are_as_printed(ns):
    printed = [(g["lr"], g["weight_decay"], sum(p.numel() for p in g["params"]), g["param_names"])
               for g in ns["optimizer"].param_groups]
    assert [count for _, _, count, _ in printed] == [32, 24, 16, 2]
    assert sum(count for _, _, count, _ in printed) == sum(p.numel() for p in ns["classifier"].parameters())


def test_optimizers_accept_named_parameters_and_keep_the_names():
    layer = nn.Linear(3, 2)
    optimizer = torch.optim.SGD(layer.named_parameters(), lr=0.1)
    assert optimizer.param_groups[0]["param_names"] == ["weight", "bias"]
    assert optimizer.param_groups[0]["params"][0] is layer.weight


def test_a_parameter_in_two_groups_is_an_error_one_in_none_is_not():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        torch.optim.AdamW([{"params": [layer.weight, layer.bias]}, {"params": [layer.bias]}])
    optimizer = torch.optim.SGD([layer.weight], lr=0.1)  # the bias is in no group
    bias = layer.bias.detach().clone()
    layer(torch.rand(4, 3)).sum().backward()
    optimizer.step()
    assert layer.bias.grad is not None and torch.equal(layer.bias, bias)


def test_every_parameter_of_the_snippet_classifier_is_in_exactly_one_group(ns):
    held = [p for group in ns["optimizer"].param_groups for p in group["params"]]
    parameters = list(ns["classifier"].parameters())
    assert ns["grouped"] == len(parameters) == len(held) == 6
    assert all(sum(p is q for q in held) == 1 for p in parameters)


def test_adamw_first_step_moves_each_value_by_about_its_groups_learning_rate(ns):
    torch.manual_seed(0)
    classifier = ns["Classifier"]()
    optimizer = torch.optim.AdamW(ns["param_groups"](classifier, lr=1e-4, head_lr=1e-3, weight_decay=0.05))
    before = copy.deepcopy(classifier.state_dict())
    classifier(ns["X"]).sum().backward()
    optimizer.step()
    for name, p in classifier.named_parameters():
        lr = 1e-3 if name.startswith("head.") else 1e-4
        moved = (p.detach() - before[name]).abs()
        assert (moved[p.grad != 0] > 0.95 * lr).all(), name  # every value with a gradient
        assert moved.max().item() < 1.05 * lr, name


def test_a_group_with_lr_zero_is_not_a_freeze(ns):
    model = copy.deepcopy(ns["net"])
    optimizer = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.0},
                                 {"params": [*model[2].parameters(), *model[4].parameters()]}], lr=0.1)
    weight = model[0].weight.detach().clone()
    model(ns["X"]).sum().backward()
    assert model[0].weight.grad is not None  # computed and stored all the same
    optimizer.step()
    assert torch.equal(model[0].weight, weight)


def test_requires_grad_false_leaves_batchnorm_statistics_and_dropout_live():
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Dropout(p=0.5))
    body.requires_grad_(False)
    assert not any(p.requires_grad for p in body.parameters())
    before = copy.deepcopy(body.state_dict())
    out = body(torch.rand(8, 4))
    assert not torch.equal(body[1].running_mean, before["1.running_mean"])
    assert not torch.equal(body[1].running_var, before["1.running_var"])
    assert body[1].num_batches_tracked.item() == 1
    assert (out == 0).any()  # dropout still zeroes values
    body.load_state_dict(before)
    body.eval()
    X = torch.rand(8, 4)
    assert torch.equal(body(X), body(X))  # no dropout: the same output twice
    assert all(torch.equal(before[name], t) for name, t in body.state_dict().items())


def test_model_train_puts_a_body_set_to_eval_back_in_training_mode(ns):
    model = ns["FineTuner"]()
    model.body.eval()
    model.train()
    assert model.body.training and model.body[1].training


def test_fine_tuner_body_is_frozen_and_its_statistics_move_in_training_mode(ns):
    model = ns["FineTuner"]()
    assert not any(p.requires_grad for p in model.body.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    running_mean = model.body[1].running_mean.clone()
    model.train()
    model(ns["X"]).sum().backward()
    assert all(p.grad is None for p in model.body.parameters())
    assert not torch.equal(model.body[1].running_mean, running_mean)


def test_frozen_body_fine_tuner_keeps_the_body_in_eval_through_train_and_eval(ns):
    model = ns["FrozenBodyFineTuner"]()
    before = copy.deepcopy(model.body.state_dict())
    for mode in (model.train, model.eval, model.train):
        assert mode() is model
        assert not any(m.training for m in model.body.modules())
    assert model.training and model.head.training
    model(ns["X"]).sum().backward()
    assert all(p.grad is not None for p in model.head.parameters())
    assert all(torch.equal(before[name], t) for name, t in model.body.state_dict().items())
    model.eval()
    assert not model.training and not model.head.training


def test_page_frozen_batchnorm_output(ns, outputs):
    lines = outputs["frozen-batchnorm"].splitlines()
    assert lines[0].endswith("body in training mode: True, statistics moved: True")
    assert lines[1].endswith("body in training mode: False, statistics moved: False")


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
    total = nn.utils.get_total_norm([p.grad for p in net.parameters()])
    norm = nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
    assert torch.equal(norm, total) and norm.item() > 1.0  # it returns the norm before clipping
    assert nn.utils.get_total_norm([p.grad for p in net.parameters()]).item() == pytest.approx(1.0, abs=1e-4)
    assert all(torch.equal(old, p) for old, p in zip(before, net.parameters()))


def test_a_gradient_can_be_changed_in_place_without_data():
    layer = nn.Linear(3, 2)
    layer(torch.rand(4, 3)).sum().backward()
    grad = layer.weight.grad
    assert not grad.requires_grad
    expected = grad.clone() / 2
    grad.mul_(0.5)  # no .data, no torch.no_grad(): no error
    assert torch.equal(layer.weight.grad, expected)


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


def meta_tied_pair(ns):
    with torch.device("meta"):
        return ns["TiedPair"]()


def count(model):
    return sum(p.numel() for p in model.parameters())


def test_to_empty_unties_a_parameter_shared_by_two_layers_and_tie_weights_ties_it_again(ns):
    model = meta_tied_pair(ns)
    assert model.second.weight is model.first.weight and model.first.weight.is_meta and count(model) == 24
    model = model.to_empty(device="cpu")
    assert model.second.weight is not model.first.weight and count(model) == 40
    assert model.second.weight.data_ptr() != model.first.weight.data_ptr()  # two matrices
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # built too early
    model.tie_weights()
    assert model.second.weight is model.first.weight and count(model) == 24
    held = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(held) == 4 and not all(any(p is q for q in model.parameters()) for p in held)  # an orphan


def test_load_state_dict_assign_unties_and_a_plain_load_keeps_the_tie(ns):
    state = ns["TiedPair"]().state_dict()
    model = meta_tied_pair(ns)
    model.load_state_dict(state, assign=True)
    assert model.second.weight is not model.first.weight and count(model) == 40
    model.tie_weights()
    assert model.second.weight is model.first.weight and torch.equal(model.first.weight, state["first.weight"])
    plain = ns["TiedPair"]()
    state = ns["TiedPair"]().state_dict()  # a fresh one: assign=True marked the first in its _metadata
    plain.load_state_dict(state)  # copies into the existing parameters
    assert plain.second.weight is plain.first.weight and torch.equal(plain.first.weight, state["first.weight"])


def test_tinylm_gets_40_more_parameters_after_to_empty_until_tied_again(ns):
    with torch.device("meta"):
        lm = ns["TinyLM"]()
    lm = lm.to_empty(device="cpu")
    assert lm.out.weight is not lm.embed.weight and count(lm) == 60 + 40
    lm.tie_weights()
    assert lm.out.weight is lm.embed.weight and count(lm) == 60


def test_a_reused_layer_object_stays_shared_after_to_empty_and_assign():
    with torch.device("meta"):
        shared = nn.Linear(4, 4)
        model = nn.Sequential(shared, nn.ReLU(), shared)
    model = model.to_empty(device="cpu")
    assert model[0] is model[2] and model[0].weight is model[2].weight
    with torch.device("meta"):
        shared = nn.Linear(4, 4)
        loaded = nn.Sequential(shared, nn.ReLU(), shared)
    loaded.load_state_dict(model.state_dict(), assign=True)
    assert loaded[0] is loaded[2] and loaded[0].weight is loaded[2].weight


def test_to_dtype_keeps_both_kinds_of_tie(ns):
    pair = ns["TiedPair"]().to(torch.float64)
    assert pair.second.weight is pair.first.weight and pair.first.weight.dtype == torch.float64
    shared = nn.Linear(4, 4)
    reused = nn.Sequential(shared, nn.ReLU(), shared).to(torch.float64)
    assert reused[0] is reused[2]


def test_page_tied_after_to_empty_output(outputs):
    lines = outputs["tied-after-to-empty"].splitlines()
    assert [line.split("tied: ")[1] for line in lines] == [
        "True, parameters: 24", "False, parameters: 40", "True, parameters: 24", "False, parameters: 40"]


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


def test_functional_call_computes_what_a_copy_with_the_dicts_values_computes(ns):
    net, X, noisy = ns["net"], ns["X"], ns["noisy"]
    copy_ = copy.deepcopy(net)
    copy_.load_state_dict(noisy)
    assert torch.allclose(ns["out"], copy_(X))
    difference = (ns["out"] - net(X)).abs().max().item()
    assert round(difference, 4) == 0.0049


def test_functional_call_leaves_the_module_unchanged(ns):
    net, X = copy.deepcopy(ns["net"]), ns["X"]
    before, objects = copy.deepcopy(net.state_dict()), list(net.parameters())
    ns["functional_call"](net, ns["noisy"], (X,))
    assert ns["unchanged"](net, before) and list(net.buffers()) == []  # net has no buffers to change
    assert all(p is q for p, q in zip(net.parameters(), objects))  # the same Parameter objects, put back


def test_unchanged_compares_buffers_too(ns):
    normed = copy.deepcopy(ns["normed"])
    before = copy.deepcopy(normed.state_dict())
    assert ns["unchanged"](normed, before)
    normed[1].num_batches_tracked += 1
    assert ns["unchanged"](normed, before) is False


def batchnorm_model():
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))


def test_functional_call_with_parameters_only_updates_the_modules_own_batchnorm_statistics(ns):
    model = batchnorm_model()
    assert model.training  # a new module is in training mode
    before = copy.deepcopy(model.state_dict())
    weights = {name: p.detach() + 1 for name, p in model.named_parameters()}
    ns["functional_call"](model, weights, (ns["X"],))
    assert all(torch.equal(before[name], p) for name, p in model.named_parameters())  # what a parameter check sees
    assert not torch.equal(model[1].running_mean, before["1.running_mean"])
    assert not torch.equal(model[1].running_var, before["1.running_var"])
    assert model[1].num_batches_tracked.item() == 1


def test_functional_call_with_cloned_buffers_updates_the_copies_and_leaves_the_module(ns):
    model = batchnorm_model()
    before = copy.deepcopy(model.state_dict())
    weights = {name: p.detach() + 1 for name, p in model.named_parameters()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    out = ns["functional_call"](model, {**weights, **buffers}, (ns["X"],))
    assert ns["unchanged"](model, before)
    assert buffers["1.num_batches_tracked"].item() == 1
    assert not torch.equal(buffers["1.running_mean"], before["1.running_mean"])
    copy_ = copy.deepcopy(model)
    copy_.load_state_dict(weights, strict=False)
    assert torch.allclose(out, copy_(ns["X"]))  # training mode: normalized with the batch's statistics


def test_functional_call_in_eval_mode_only_reads_the_statistics_and_uses_them(ns):
    model = batchnorm_model()
    with torch.no_grad():
        model[1].running_mean.fill_(3.0)  # statistics far from the batch's
    before = copy.deepcopy(model.state_dict())
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    train_out = ns["functional_call"](model, {**weights, **{n: b.clone() for n, b in model.named_buffers()}},
                                      (ns["X"],))
    model.eval()
    eval_out = ns["functional_call"](model, weights, (ns["X"],))
    assert ns["unchanged"](model, before)
    assert not torch.allclose(eval_out, train_out)  # normalized with the stored statistics, not the batch's


def test_page_functional_call_buffers_output(ns, outputs):
    assert outputs["functional-call-buffers"].splitlines() == [
        "parameters only:    False 1", "buffers passed too: True 1", "in eval():          True"]
    assert not ns["normed"].training  # the snippet left it in evaluation mode


def test_functional_call_sends_the_gradients_to_the_dicts_tensors(ns):
    net, X = copy.deepcopy(ns["net"]), ns["X"]
    trial = {name: p.detach().clone().requires_grad_() for name, p in net.named_parameters()}
    ns["functional_call"](net, trial, (X,)).sum().backward()
    assert all(p.grad is None for p in net.parameters())
    net(X).sum().backward()  # the same values: the same gradients
    assert all(torch.allclose(trial[name].grad, p.grad) for name, p in net.named_parameters())


def test_functional_call_gradients_flow_through_tensors_computed_from_the_parameters(ns):
    net, X = copy.deepcopy(ns["net"]), ns["X"]
    net(X).sum().backward()
    fast = {name: p - 0.1 * p.grad for name, p in net.named_parameters()}  # as in meta-learning
    net.zero_grad()
    ns["functional_call"](net, fast, (X,)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_functional_call_ignores_a_misspelt_or_missing_name_unless_strict(ns):
    net, X, noisy = ns["net"], ns["X"], ns["noisy"]
    own_first_weight = dict(noisy, **{"0.weight": net[0].weight.detach()})
    assert torch.equal(ns["functional_call"](net, ns["typo"], (X,)), ns["functional_call"](net, own_first_weight, (X,)))
    assert not torch.equal(ns["functional_call"](net, ns["typo"], (X,)), ns["out"])
    partial = {"0.weight": noisy["0.weight"]}
    assert torch.equal(ns["functional_call"](net, partial, (X,)),
                       ns["functional_call"](net, dict(dict(net.named_parameters()), **partial), (X,)))
    with pytest.raises(RuntimeError, match="Missing key"):
        ns["functional_call"](net, partial, (X,), strict=True)
    with pytest.raises(RuntimeError, match="Unexpected key.*'0.weights'"):
        ns["functional_call"](net, ns["typo"], (X,), strict=True)


def test_functional_call_ignores_a_wrong_last_name_but_not_a_wrong_submodule_path(ns):
    net, X = copy.deepcopy(ns["net"]), ns["X"]
    expected = net(X)
    assert torch.equal(ns["functional_call"](net, {"0.weights": torch.zeros(5, 4)}, (X,)), expected)
    assert not hasattr(net[0], "weights")  # nothing left behind
    with pytest.raises(AttributeError, match="has no attribute `9`"):
        ns["functional_call"](net, {"9.weight": torch.zeros(5, 4)}, (X,))  # strict=False, the default
    assert "strict" in inspect.signature(ns["functional_call"]).parameters
    assert inspect.signature(ns["functional_call"]).parameters["strict"].default is False


def test_functional_call_keeps_tied_parameters_tied(ns):
    pair, X = ns["pair"], ns["X"]
    first, second = pair[0], pair[2]
    hidden = torch.relu(X + first.bias)  # the first layer with an identity weight
    out = ns["functional_call"](pair, {"0.weight": torch.eye(4)}, (X,))
    assert torch.allclose(out, hidden + second.bias)  # the second layer used it too
    untied = ns["functional_call"](pair, {"0.weight": torch.eye(4)}, (X,), tie_weights=False)
    assert torch.allclose(untied, hidden @ second.weight.T + second.bias) and not torch.allclose(untied, out)
    with pytest.raises(ValueError, match="tied"):
        ns["functional_call"](pair, {"0.weight": torch.eye(4), "2.weight": torch.ones(4, 4)}, (X,))
    with pytest.raises(ValueError, match="tied"):  # two tensors with equal values
        ns["functional_call"](pair, {"0.weight": torch.eye(4), "2.weight": torch.eye(4)}, (X,))
    eye = torch.eye(4)
    assert torch.equal(ns["functional_call"](pair, {"0.weight": eye, "2.weight": eye}, (X,)), out)


def test_a_parametrized_module_cannot_be_saved_whole_but_its_state_dict_can(ns, tmp_path):
    layer = make_symmetric(ns)
    message = r"Serialization of parametrized modules is only supported through state_dict\(\)"
    with pytest.raises(RuntimeError, match=message):
        torch.save(nn.Sequential(layer), tmp_path / "whole.pt")
    torch.save(layer.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    assert list(state) == ["bias", "parametrizations.weight.original"]


def make_symmetric(ns, seed=0):
    torch.manual_seed(seed)
    layer = nn.Linear(4, 4)
    ns["parametrize"].register_parametrization(layer, "weight", ns["Symmetric"]())
    return layer


def test_a_parametrized_layer_is_a_subclass_with_a_computed_weight(ns):
    layer = make_symmetric(ns)
    assert type(layer).__name__ == "ParametrizedLinear"
    assert isinstance(layer, nn.Linear) and type(layer) is not nn.Linear
    weight = layer.weight
    assert torch.equal(weight, weight.T) and type(weight) is torch.Tensor and weight.grad_fn is not None
    assert [name for name, _ in layer.named_parameters()] == ["bias", "parametrizations.weight.original"]
    assert layer.weight is not weight  # a new tensor at each access


def test_registering_makes_the_old_weight_object_the_original(ns):
    torch.manual_seed(0)
    layer = nn.Linear(4, 4)
    weight = layer.weight
    ns["parametrize"].register_parametrization(layer, "weight", ns["Symmetric"]())
    assert layer.parametrizations.weight.original is weight


def test_the_originals_gradient_is_zero_below_the_diagonal_and_collects_both_positions_above(ns):
    layer = make_symmetric(ns)
    weight = layer.weight
    weight.retain_grad()
    nn.functional.linear(ns["X"], weight, layer.bias).pow(2).sum().backward()
    G, grad = weight.grad, layer.parametrizations.weight.original.grad
    assert torch.equal(grad.tril(-1), torch.zeros(4, 4))
    assert torch.allclose(grad.triu(1), (G + G.T).triu(1))
    assert torch.allclose(grad.diagonal(), G.diagonal())


def test_the_weight_stays_exactly_symmetric_after_optimizer_steps(ns):
    layer = make_symmetric(ns)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        layer(ns["X"]).pow(2).sum().backward()
        optimizer.step()
    assert torch.equal(layer.weight, layer.weight.T)
    assert not torch.equal(layer.parametrizations.weight.original, layer.parametrizations.weight.original.T)


def test_writing_into_a_parametrized_weight_changes_nothing(ns):
    layer = make_symmetric(ns)
    original = layer.parametrizations.weight.original.detach().clone()
    weight = layer.weight.detach().clone()
    nn.init.eye_(layer.weight)
    nn.init.zeros_(layer.weight)
    with torch.no_grad():
        layer.weight.fill_(3.0)
    assert torch.equal(layer.parametrizations.weight.original, original) and torch.equal(layer.weight, weight)
    with torch.no_grad():
        layer.parametrizations.weight.original.copy_(torch.eye(4))
    assert torch.equal(layer.weight, torch.eye(4))


def test_assigning_the_weight_needs_a_right_inverse(ns):
    layer = make_symmetric(ns)
    assert not hasattr(ns["Symmetric"](), "right_inverse")
    with pytest.raises(RuntimeError, match="right_inverse"):
        layer.weight = torch.eye(4)
    torch.manual_seed(0)
    rotation = ns["orthogonal"](nn.Linear(4, 4))
    Q = torch.linalg.qr(torch.randn(4, 4)).Q
    rotation.weight = Q
    assert torch.allclose(rotation.weight, Q, atol=1e-5)
    value = torch.randn(4, 4)  # not orthogonal: made orthogonal first, so the weight is not value
    rotation.weight = value
    W = rotation.weight
    assert torch.allclose(W @ W.T, torch.eye(4), atol=1e-5) and not torch.allclose(W, value, atol=1e-2)
    scaled = ns["weight_norm"](nn.Linear(4, 3))
    value = torch.randn(3, 4)
    scaled.weight = value
    assert torch.allclose(scaled.weight, value, atol=1e-6)


def test_cached_computes_each_parametrized_weight_once(ns):
    calls = []

    class Counted(ns["Symmetric"]):
        def forward(self, X):
            calls.append(1)
            return super().forward(X)

    layer = nn.Linear(4, 4)
    ns["parametrize"].register_parametrization(layer, "weight", Counted())
    calls.clear()
    layer(ns["X"]), layer(ns["X"])
    assert len(calls) == 2
    calls.clear()
    with ns["parametrize"].cached():
        layer(ns["X"]), layer(ns["X"])
    assert len(calls) == 1


def test_state_dict_of_a_parametrized_layer_and_plain_checkpoints(ns):
    layer = make_symmetric(ns)
    assert list(layer.state_dict()) == ["bias", "parametrizations.weight.original"]
    with pytest.raises(RuntimeError, match="Unexpected key.*\"weight\""):
        layer.load_state_dict(nn.Linear(4, 4).state_dict())
    with pytest.raises(RuntimeError, match="parametrizations.weight.original"):
        nn.Linear(4, 4).load_state_dict(layer.state_dict())
    plain = nn.Linear(4, 4)
    checkpoint = nn.Linear(4, 4).state_dict()
    plain.load_state_dict(checkpoint)  # before registering
    ns["parametrize"].register_parametrization(plain, "weight", ns["Symmetric"]())
    assert torch.equal(plain.parametrizations.weight.original, checkpoint["weight"])
    assert torch.equal(plain.weight, ns["Symmetric"]()(checkpoint["weight"]))


def test_remove_parametrizations_keeps_the_constrained_or_the_original_values(ns):
    assert inspect.signature(ns["parametrize"].remove_parametrizations).parameters["leave_parametrized"].default is True
    for leave in (True, False):
        layer = make_symmetric(ns)
        original = layer.parametrizations.weight.original
        kept = layer.weight.detach().clone() if leave else original.detach().clone()
        ns["parametrize"].remove_parametrizations(layer, "weight", leave_parametrized=leave)
        assert type(layer) is nn.Linear and list(layer.state_dict()) == ["bias", "weight"]
        assert type(layer.weight) is nn.Parameter and layer.weight is original
        assert torch.equal(layer.weight, kept)
    assert not torch.equal(kept, kept.T)  # leave_parametrized=False: the unconstrained values


def test_snippet_removed_the_parametrization_keeping_the_values(ns):
    sym = ns["sym"]
    assert type(sym) is nn.Linear and sym.weight is ns["original"] and torch.equal(sym.weight, ns["values"])


def test_an_optimizer_created_before_removal_goes_on_training_the_weight(ns):
    layer = make_symmetric(ns)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    ns["parametrize"].remove_parametrizations(layer, "weight")
    weight = layer.weight.detach().clone()
    layer(ns["X"]).pow(2).sum().backward()
    optimizer.step()
    assert not torch.equal(layer.weight, weight)
    assert not torch.equal(layer.weight, layer.weight.T)  # no constraint any more


def test_orthogonal_is_orthogonal_from_the_start_and_after_steps(ns):
    rotation = ns["orthogonal"](nn.Linear(4, 4))
    Q = rotation.weight
    assert torch.allclose(Q @ Q.T, torch.eye(4), atol=1e-5)
    Q = ns["rotation"].weight
    assert not torch.equal(Q, ns["start"]) and torch.allclose(Q @ Q.T, torch.eye(4), atol=1e-5)


def test_orthogonals_extra_state_dict_entry_is_a_buffer_the_weight_is_expressed_relative_to(ns):
    rotation = ns["orthogonal"](nn.Linear(4, 4))
    assert [name for name, _ in rotation.named_buffers()] == ["parametrizations.weight.0.base"]
    assert list(rotation.state_dict())[-1] == "parametrizations.weight.0.base"
    inspect_source = inspect.getsource(type(rotation.parametrizations.weight[0]).forward)
    assert "self.base @ Q" in inspect_source
    assert inspect.signature(ns["orthogonal"]).parameters["use_trivialization"].default is True
    plain = ns["orthogonal"](nn.Linear(4, 4), use_trivialization=False)
    assert "parametrizations.weight.0.base" not in plain.state_dict()


def test_weight_norm_has_g_and_v_and_keeps_the_weights_values(ns):
    torch.manual_seed(3)
    layer = nn.Linear(4, 3)
    weight = layer.weight.detach().clone()
    ns["weight_norm"](layer)
    g, v = layer.parametrizations.weight.original0, layer.parametrizations.weight.original1
    assert g.shape == (3, 1) and v.shape == (3, 4)
    assert torch.allclose(layer.weight, weight) and torch.equal(v, weight)
    assert torch.allclose(g, weight.norm(dim=1, keepdim=True))
    assert torch.allclose(layer.weight, g * v / v.norm(dim=1, keepdim=True))


def test_old_weight_norm_warns_on_each_call_and_still_works():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = nn.utils.weight_norm(nn.Linear(4, 3)), nn.utils.weight_norm(nn.Linear(4, 3))
    assert [w.category for w in caught] == [FutureWarning, FutureWarning]
    assert "torch.nn.utils.parametrizations.weight_norm" in str(caught[0].message)
    assert "deprecated" in nn.utils.weight_norm.__doc__
    assert [name for name, _ in first.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert any(type(hook).__name__ == "WeightNorm" for hook in second._forward_pre_hooks.values())
    assert first.weight is first.weight  # recomputed before each call, not on each access
    scaled = torch.nn.utils.parametrizations.weight_norm(nn.Linear(4, 3))
    assert scaled.weight is not scaled.weight  # the new one: on each access


def test_new_weight_norm_loads_an_old_state_dict_and_computes_the_same(ns):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        old = nn.utils.weight_norm(nn.Linear(4, 3))
    new = ns["weight_norm"](nn.Linear(4, 3))
    result = new.load_state_dict(old.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(new.parametrizations.weight.original0, old.weight_g)
    assert torch.equal(new.parametrizations.weight.original1, old.weight_v)
    assert torch.allclose(new(ns["X"]), old(ns["X"]))
    ns["parametrize"].remove_parametrizations(new, "weight")
    assert list(new.state_dict()) == ["bias", "weight"]


def test_exercise_count_parameters(ns):
    counted = ns["counted"]
    assert sum(p.numel() for p in counted.parameters()) == 544
    assert sum(t.numel() for t in counted.state_dict().values()) == 609 == 544 + 65
    assert sum(t.numel() for t in counted.buffers()) == 65
    assert 544 - sum(p.numel() for p in counted[1].parameters()) == 480


def test_exercise_which_gradients(ns):
    two_heads = ns["two_heads"]
    none = {name for name, p in two_heads.named_parameters() if p.grad is None}
    assert none == {"body.weight", "body.bias", "head_b.weight", "head_b.bias"}
    assert two_heads.scale.grad.numel() == 1 and round(two_heads.scale.grad.item(), 4) == -0.1791
    assert (two_heads.scale.grad == True).tolist() == [False]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(two_heads.head_a.weight.grad == True)


def test_exercise_data_edit(ns):
    assert ns["cube"].item() == 8.0
    w = nn.Parameter(torch.tensor(2.0))
    cube = w**3
    w.data.add_(1.0)
    cube.backward()
    assert w.grad.item() == 27.0 != 3 * 2.0**2
    w = nn.Parameter(torch.tensor(2.0))
    loss = 3 * w
    w.data.add_(1.0)
    loss.backward()
    assert w.grad.item() == 3.0  # its backward does not read w


def test_exercise_tied_counting(ns):
    lm = ns["lm"]
    assert lm.out.weight is lm.embed.weight and lm.out.weight.shape == nn.Linear(4, 10).weight.shape
    assert (len(list(lm.parameters())), sum(p.numel() for p in lm.parameters())) == (3, 60)
    assert (len(lm.state_dict()), sum(t.numel() for t in lm.state_dict().values())) == (4, 100)
    assert summary(lm, input_data=torch.tensor([[1, 2, 3]]), verbose=0).total_params == 100


def test_exercise_param_groups(ns):
    with pytest.raises(ValueError, match="more than one parameter group"):
        torch.optim.AdamW(ns["buggy_groups"](ns["Classifier"]()), lr=1e-4, weight_decay=0.05)
    groups = ns["buggy_groups"](ns["Classifier"]())
    classifier = ns["Classifier"]()
    decay = ns["buggy_groups"](classifier)[0]["params"]
    assert any(p is classifier.body[1].weight for p in decay)  # the LayerNorm scale would be decayed
    assert len(groups) == 3
    fixed = ns["fixed"].param_groups
    assert [(g["lr"], g["weight_decay"], g["param_names"]) for g in fixed] == [
        (1e-4, 0.05, ["body.0.weight"]),
        (1e-4, 0.0, ["body.0.bias", "body.1.weight", "body.1.bias"]),
        (1e-3, 0.05, ["head.weight"]),
        (1e-3, 0.0, ["head.bias"]),
    ]


def test_orthogonal_weight_is_orthogonal_whatever_value_original_takes(ns):
    rotation = ns["orthogonal"](nn.Linear(4, 4))
    torch.manual_seed(5)
    with torch.no_grad():
        rotation.parametrizations.weight.original.copy_(5 * torch.randn(4, 4))
    Q = rotation.weight
    assert torch.allclose(Q @ Q.T, torch.eye(4), atol=1e-5)


def test_lbfgs_also_leaves_a_parameter_whose_grad_is_none_untouched(ns):
    model = copy.deepcopy(ns["net"])
    model[0].requires_grad_(False)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=0.5)
    weight = model[0].weight.detach().clone()

    def closure():
        optimizer.zero_grad()
        loss = model(ns["X"]).pow(2).sum()
        loss.backward()
        return loss

    for _ in range(2):
        optimizer.step(closure)
    assert model[0].weight.grad is None and torch.equal(model[0].weight, weight)
    assert not torch.equal(model[2].weight, ns["net"][2].weight)


# Parameter identity: which operations keep a Parameter object, and what replacing it breaks.

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")


@pytest.fixture
def swap_flag():
    """Sets torch.__future__'s swap flag for one test, and restores it whatever happens."""
    previous = torch.__future__.get_swap_module_params_on_conversion()
    torch.__future__.set_swap_module_params_on_conversion(True)
    yield
    torch.__future__.set_swap_module_params_on_conversion(previous)


def test_the_snippets_identity_table(ns):
    kept = {what: ns["keeps_objects"](change, build()) for what, change, build in ns["changes"]}
    assert kept == {".to(torch.float64)": True, ".half()": True, "load_state_dict(state)": True, '.to("meta")': False,
                    'to_empty(device="cpu") of a meta model': False, "load_state_dict(state, assign=True)": False}


def test_dtype_conversions_and_a_plain_load_keep_the_parameter_objects():
    for change in (lambda m: m.to(torch.float64), lambda m: m.half(), lambda m: m.to(torch.bfloat16).float(),
                   lambda m: m.load_state_dict(nn.Linear(4, 2).state_dict())):
        layer = nn.Linear(4, 2)
        weight = layer.weight
        change(layer)
        assert layer.weight is weight


def test_meta_to_empty_and_assign_make_new_parameter_objects():
    layer = nn.Linear(4, 2)
    weight = layer.weight
    layer.to("meta")
    assert layer.weight is not weight and isinstance(layer.weight, nn.Parameter) and layer.weight.is_meta
    moved_back = layer.weight
    layer.to_empty(device="cpu")
    assert layer.weight is not moved_back and layer.weight.device.type == "cpu"
    weight = layer.weight
    layer.load_state_dict(nn.Linear(4, 2).state_dict(), assign=True)
    assert layer.weight is not weight and isinstance(layer.weight, nn.Parameter)


def test_conversions_go_through_apply(monkeypatch):
    calls = []
    monkeypatch.setattr(nn.Module, "_apply", lambda self, fn, recurse=True: calls.append(type(self).__name__) or self)
    layer = nn.Linear(4, 2)
    layer.to(torch.float64)
    layer.half()
    layer.cuda()  # recorded, not run: this works on a machine without a GPU
    layer.to_empty(device="cpu")
    assert calls == ["Linear"] * 4


def test_cpu_and_accelerator_dense_tensors_are_one_compatible_kind_and_meta_is_not():
    cpu = torch.zeros(2)
    assert torch._has_compatible_shallow_copy_type(cpu, torch.zeros(2, dtype=torch.float64))
    assert not torch._has_compatible_shallow_copy_type(cpu, torch.zeros(2, device="meta"))
    header = (Path(torch.__file__).parent / "include" / "c10" / "core" / "TensorImpl.h").read_text()
    start = header.index("inline bool has_compatible_shallow_copy_type")
    dense = header[start:header.index("auto is_sparse", start)]
    for backend in ("CPUBit", "CUDABit", "MPSBit", "XPUBit"):
        assert f"BackendComponent::{backend}" in dense
    assert "Meta" not in dense


@needs_cuda
def test_moving_to_a_gpu_and_back_keeps_the_parameter_objects():
    layer = nn.Linear(4, 2)
    weight = layer.weight
    layer.to("cuda")
    assert layer.weight is weight and weight.is_cuda
    layer.cpu()
    assert layer.weight is weight and not weight.is_cuda


def test_an_id_is_unique_only_among_objects_that_exist_at_the_same_time():
    """The page: a freed object's id() may be given to a new one, so compare ids only while the old
    objects are alive. Python promises uniqueness only among objects that exist at once."""
    assert "unique among simultaneously existing objects" in " ".join(id.__doc__.split())


def test_a_buffer_gets_a_new_object_when_its_dtype_or_device_changes():
    for change, new in ((lambda m: m.to(torch.float64), True), (lambda m: m.to("meta"), True),
                        (lambda m: m.to(torch.float32), False)):
        norm = nn.BatchNorm1d(3)
        running_mean = norm.running_mean
        change(norm)
        assert (norm.running_mean is not running_mean) == new
    norm = nn.BatchNorm1d(3)
    running_mean = norm.running_mean
    norm.to(torch.float64)
    with torch.no_grad():
        norm.running_mean.fill_(5.0)
    assert running_mean.dtype == torch.float32 and torch.equal(running_mean, torch.zeros(3))  # the old values


def test_an_optimizer_built_before_assign_holds_orphans_and_trains_nothing_without_a_warning(ns):
    model = nn.Linear(4, 2)
    early = torch.optim.SGD(model.parameters(), lr=0.1)
    model.load_state_dict(nn.Linear(4, 2).state_dict(), assign=True)
    assert not ns["holds"](early, model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not ns["step_moves"](early, model)
    assert all(p.grad is not None for p in model.parameters())  # the model's new parameters got gradients
    assert all(p.grad is None for p in early.param_groups[0]["params"])  # the optimizer's got none


def test_an_optimizer_built_before_to_empty_trains_nothing(ns):
    with torch.device("meta"):
        model = nn.Linear(4, 2)
    early = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to_empty(device="cpu")
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    assert not ns["holds"](early, model) and not ns["step_moves"](early, model)


def test_an_optimizer_built_before_a_dtype_change_still_trains(ns):
    model = nn.Linear(4, 2)
    early = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to(torch.float64)
    assert ns["holds"](early, model) and ns["step_moves"](early, model)
    assert early.param_groups[0]["params"][0].dtype == torch.float64


def test_holds_is_false_for_an_optimizer_holding_too_many_or_too_few(ns):
    model, other = nn.Linear(4, 2), nn.Linear(4, 2)
    assert ns["holds"](torch.optim.SGD(model.parameters(), lr=0.1), model)
    assert not ns["holds"](torch.optim.SGD([model.weight], lr=0.1), model)
    assert not ns["holds"](torch.optim.SGD([*model.parameters(), other.bias], lr=0.1), model)


def test_a_hook_on_the_old_weight_is_left_behind_by_assign():
    model = nn.Linear(4, 2)
    calls = []
    model.weight.register_post_accumulate_grad_hook(lambda p: calls.append("post"))
    model.weight.register_hook(lambda g: calls.append("hook"))
    model(torch.rand(2, 4)).sum().backward()
    assert sorted(calls) == ["hook", "post"]
    calls.clear()
    model.load_state_dict(nn.Linear(4, 2).state_dict(), assign=True)
    model(torch.rand(2, 4)).sum().backward()
    assert calls == []


def test_swap_tensors_exchanges_everything_but_the_objects(ns):
    first, second = nn.Parameter(torch.zeros(2, 4)), torch.ones(3, dtype=torch.float64)
    first.note = "first"
    first_id, second_id = id(first), id(second)
    torch.utils.swap_tensors(first, second)
    assert (id(first), id(second)) == (first_id, second_id)
    assert type(first) is torch.Tensor and first.shape == (3,) and first.dtype == torch.float64
    assert type(second) is nn.Parameter and second.shape == (2, 4) and second.note == "first"
    assert not hasattr(first, "note")
    assert torch.equal(ns["loaded"], ns["old_weight"])  # the snippet's: the other object holds the old weight
    layer = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    torch.utils.swap_tensors(layer.weight, nn.Parameter(torch.ones(2, 4)))
    assert ns["holds"](optimizer, layer) and ns["step_moves"](optimizer, layer)
    assert not torch.equal(layer.weight, torch.ones(2, 4))  # the step trained the swapped-in values


def test_swapping_with_a_plain_tensor_leaves_a_parameter_that_is_never_trained():
    layer = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    torch.utils.swap_tensors(layer.bias, torch.zeros(2))
    assert type(layer.bias) is torch.Tensor and not layer.bias.requires_grad
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    layer(torch.rand(2, 4)).sum().backward()
    optimizer.step()
    assert layer.bias.grad is None and torch.equal(layer.bias, torch.zeros(2))


def test_the_swap_flag_is_off_by_default_and_the_snippet_restores_it(ns):
    assert inspect.getsource(torch.__future__).splitlines()[1] == "_swap_module_params_on_conversion: bool = False"
    assert torch.__future__.get_swap_module_params_on_conversion() is False  # after the snippet ran
    assert ns["previous"] is False


def test_with_the_swap_flag_every_change_keeps_the_objects(ns, swap_flag):
    for what, change, build in ns["changes"]:
        assert ns["keeps_objects"](change, build()), what
    norm = nn.BatchNorm1d(3)
    running_mean = norm.running_mean
    norm.load_state_dict(nn.BatchNorm1d(3).state_dict(), assign=True)  # buffers are swapped by load_state_dict
    assert norm.running_mean is running_mean


def test_with_the_swap_flag_a_tie_survives_to_empty_and_assign_and_an_early_optimizer_trains(ns, swap_flag):
    with torch.device("meta"):
        model = ns["TiedPair"]()
    early = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to_empty(device="cpu")
    assert model.second.weight is model.first.weight
    for layer in (model.first, model.second):
        layer.reset_parameters()
    assert ns["holds"](early, model) and ns["step_moves"](early, model)
    with torch.device("meta"):
        model = ns["TiedPair"]()
    model.load_state_dict(ns["TiedPair"]().state_dict(), assign=True)
    assert model.second.weight is model.first.weight and not model.first.weight.is_meta


def test_with_the_swap_flag_a_conversion_between_forward_and_backward_fails(swap_flag):
    layer = nn.Linear(4, 2)
    loss = layer(torch.rand(2, 4)).sum()
    layer.to(torch.float64)  # no error here: only the accumulating nodes hold the parameters
    with pytest.raises(RuntimeError, match="poisoned by swap_tensors"):
        loss.backward()
    two = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    loss = two(torch.rand(2, 4)).sum()
    with pytest.raises(RuntimeError, match=r"_apply\(\): Couldn't swap Linear.weight") as caught:
        two.to(torch.float64)
    assert "use_count" in str(caught.value.__cause__)  # the second weight is saved for the backward pass
    assert [p.dtype for p in two.parameters()] == [torch.float64] * 2 + [torch.float32] * 2  # half converted
    del loss
    layer = nn.Linear(4, 2)
    layer(torch.rand(2, 4)).sum().backward()
    layer.to(torch.float64)  # after the backward pass: fine
    assert layer.weight.dtype == layer.weight.grad.dtype == torch.float64


def test_with_the_swap_flag_a_weak_reference_makes_the_conversion_fail(swap_flag):
    import weakref

    layer = nn.Linear(4, 2)
    reference = weakref.ref(layer.weight)
    with pytest.raises(RuntimeError, match=r"_apply\(\): Couldn't swap Linear.weight") as caught:
        layer.to(torch.float64)
    assert "weakref" in str(caught.value.__cause__) and reference() is layer.weight


def test_build_materialize_tie_then_the_optimizer(ns):
    assert ns["holds"](ns["optimizer_last"], ns["model"]) and ns["model"].second.weight is ns["model"].first.weight
    with torch.device("meta"):
        model = ns["TiedPair"]()
    too_early = torch.optim.SGD(model.parameters(), lr=0.1)  # before materializing
    model.to_empty(device="cpu")
    for layer in (model.first, model.second):
        layer.reset_parameters()
    before_tie = torch.optim.SGD(model.parameters(), lr=0.1)  # after materializing, before tying
    model.tie_weights()
    assert not ns["holds"](too_early, model) and not ns["holds"](before_tie, model)
    assert len(before_tie.param_groups[0]["params"]) == 4 and len(list(model.parameters())) == 3
    last = torch.optim.SGD(model.parameters(), lr=0.1)
    assert ns["holds"](last, model) and ns["step_moves"](last, model)
    assert sum(p.numel() for p in model.parameters()) == 24 == 16 + 4 + 4


def test_tying_before_initializing_gives_the_shared_weight_the_last_modules_initialization(ns):
    def materialized(tie_first):
        with torch.device("meta"):
            model = ns["TiedPair"]()
        model.to_empty(device="cpu")
        if tie_first:
            model.tie_weights()
        torch.manual_seed(0)
        model.first.reset_parameters()
        first_init = model.first.weight.detach().clone()
        model.second.reset_parameters()
        model.tie_weights()
        return torch.equal(model.first.weight, first_init)

    assert materialized(tie_first=False) and not materialized(tie_first=True)


# torch.func: per-sample gradients and ensembles.


def test_per_sample_gradients_have_one_entry_per_example(ns):
    per_example, clf = ns["per_example"], ns["clf"]
    assert list(per_example) == [name for name, _ in clf.named_parameters()]  # parameters only, no buffers
    assert all(per_example[name].shape == (6, *p.shape) for name, p in clf.named_parameters())


def test_per_sample_gradients_equal_a_loop_and_average_to_the_batch_gradient(ns):
    clf, inputs, labels = copy.deepcopy(ns["clf"]), ns["inputs"], ns["labels"]
    assert not clf.training
    per_example = ns["per_example"]
    for i in range(len(inputs)):
        clf.zero_grad()
        nn.functional.cross_entropy(clf(inputs[i : i + 1]), labels[i : i + 1]).backward()
        assert all(torch.allclose(per_example[name][i], p.grad, atol=1e-6) for name, p in clf.named_parameters())
    clf.zero_grad()
    nn.functional.cross_entropy(clf(inputs), labels).backward()
    assert all(torch.allclose(per_example[name].mean(0), p.grad, atol=1e-6) for name, p in clf.named_parameters())
    norms = ns["norms"]
    assert norms.shape == (6,) and norms.max() > 1.3 * norms.min()  # some examples pull harder


def test_grad_differentiates_the_first_argument_and_vmap_calls_the_function_once(ns):
    calls = []

    def loss(params, buffers, x, label):
        calls.append(x.shape)
        return ns["example_loss"](params, buffers, x, label)

    grads = torch.func.vmap(torch.func.grad(loss), in_dims=(None, None, 0, 0))(
        ns["params"], ns["buffers"], ns["inputs"], ns["labels"])
    assert len(calls) == 1 and calls[0] == (4,)  # one call; inside it, x looks like one example
    assert set(grads) == set(ns["params"]) and not set(grads) & set(ns["buffers"])


def test_batchnorm_in_training_mode_refuses_a_batch_of_one_under_vmap(ns):
    clf = copy.deepcopy(ns["clf"]).train()
    params = {name: p.detach() for name, p in clf.named_parameters()}
    buffers = {name: b.detach() for name, b in clf.named_buffers()}

    def loss(params, buffers, x, label):
        out = ns["functional_call"](clf, (params, buffers), (x.unsqueeze(0),))
        return nn.functional.cross_entropy(out, label.unsqueeze(0))

    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        torch.func.vmap(torch.func.grad(loss), in_dims=(None, None, 0, 0))(params, buffers, ns["inputs"], ns["labels"])
    assert not ns["clf"].training  # the snippet put it back in evaluation mode


def test_in_training_mode_batchnorm_makes_each_examples_output_depend_on_the_others(ns):
    clf = copy.deepcopy(ns["clf"]).train()
    inputs = ns["inputs"].clone()
    before = clf(inputs)[0]
    inputs[1] += 1.0
    assert not torch.allclose(clf(inputs)[0], before)
    clf.eval()
    before = clf(inputs)[0]
    inputs[1] += 1.0
    assert torch.equal(clf(inputs)[0], before)


@pytest.mark.parametrize("norm", [nn.LayerNorm(8), nn.GroupNorm(2, 8)], ids=["LayerNorm", "GroupNorm"])
def test_per_sample_gradients_work_in_training_mode_with_per_example_normalization(ns, norm):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), norm, nn.ReLU(), nn.Linear(8, 3)).train()
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss(params, x, label):
        return nn.functional.cross_entropy(ns["functional_call"](model, params, (x.unsqueeze(0),)), label.unsqueeze(0))

    inputs, labels = ns["inputs"], ns["labels"]
    per_example = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, inputs, labels)
    for i in range(len(inputs)):
        model.zero_grad()
        nn.functional.cross_entropy(model(inputs[i : i + 1]), labels[i : i + 1]).backward()
        assert all(torch.allclose(per_example[name][i], p.grad, atol=1e-6) for name, p in model.named_parameters())


def test_stack_module_state_stacks_every_parameter_and_buffer_under_its_name(ns):
    members, params, buffers = ns["members"], ns["stacked_params"], ns["stacked_buffers"]
    assert list(params) == [name for name, _ in members[0].named_parameters()]
    assert list(buffers) == [name for name, _ in members[0].named_buffers()]
    for name, stacked in {**params, **buffers}.items():
        assert all(torch.equal(stacked[i], member.state_dict()[name]) for i, member in enumerate(members))
        assert stacked.shape[0] == 5


def test_the_ensemble_computes_what_the_loop_computes_and_the_skeleton_holds_nothing(ns):
    assert torch.allclose(ns["together"], torch.stack([member(ns["inputs"]) for member in ns["members"]]), atol=1e-6)
    assert all(t.is_meta for t in ns["skeleton"].state_dict().values())
    batches = torch.rand(5, 6, 4)
    own = torch.func.vmap(ns["run_member"], in_dims=(0, 0, 0))(ns["stacked_params"], ns["stacked_buffers"], batches)
    loop = torch.stack([member(batch) for member, batch in zip(ns["members"], batches)])
    assert torch.allclose(own, loop, atol=1e-6)  # in_dims 0 for the inputs: a batch for each member


def test_buffers_left_out_raise_with_a_meta_skeleton_and_are_silently_wrong_with_a_real_one(ns):
    with pytest.raises(RuntimeError, match="meta"):
        ns["run_without_buffers"](ns["skeleton"])(ns["stacked_params"], ns["inputs"])
    members = ns["members"]
    assert not torch.allclose(members[1][1].running_mean, members[0][1].running_mean)  # statistics of their own
    silent = ns["run_without_buffers"](members[0])(ns["stacked_params"], ns["inputs"])
    assert not torch.allclose(silent, ns["looped_outputs"], atol=1e-6)
    with_first_statistics = []
    for member in members:
        copy_ = copy.deepcopy(member)
        copy_[1].running_mean.copy_(members[0][1].running_mean)
        copy_[1].running_var.copy_(members[0][1].running_var)
        with_first_statistics.append(copy_(ns["inputs"]))
    assert torch.allclose(silent, torch.stack(with_first_statistics), atol=1e-6)  # members[0]'s statistics for all


def test_an_ensemble_in_training_mode_needs_the_buffers_and_updates_the_copies(ns):
    torch.manual_seed(0)
    members = [nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)) for _ in range(3)]
    params, buffers = stack_module_state(members)
    skeleton = copy.deepcopy(members[0]).to("meta")
    with pytest.raises(RuntimeError, match="Batch norm got a batched tensor as input while the running_mean"):
        torch.func.vmap(lambda p, x: ns["functional_call"](skeleton, p, (x,)), in_dims=(0, None))(params, ns["inputs"])
    out = torch.func.vmap(lambda p, b, x: ns["functional_call"](skeleton, (p, b), (x,)), in_dims=(0, 0, None))(
        params, buffers, ns["inputs"])
    assert buffers["1.num_batches_tracked"].tolist() == [1, 1, 1]
    assert [member[1].num_batches_tracked.item() for member in members] == [0, 0, 0]
    assert torch.allclose(out, torch.stack([member(ns["inputs"]) for member in members]), atol=1e-6)


def test_dropout_under_vmap_needs_a_randomness_setting(ns):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).train()
    params, buffers = stack_module_state([model, copy.deepcopy(model)])
    skeleton = copy.deepcopy(model).to("meta")

    def run_one(p, b, x):
        return ns["functional_call"](skeleton, (p, b), (x,))

    with pytest.raises(RuntimeError, match="randomness"):
        torch.func.vmap(run_one, in_dims=(0, 0, None))(params, buffers, ns["inputs"])
    for randomness in ("different", "same"):
        out = torch.func.vmap(run_one, in_dims=(0, 0, None), randomness=randomness)(params, buffers, ns["inputs"])
        assert out.shape == (2, 6, 4)


def test_stacked_parameters_are_new_leaf_copies_and_training_them_leaves_the_members(ns):
    members = copy.deepcopy(ns["members"])
    params, buffers = stack_module_state(members)
    weight = params["0.weight"]
    assert weight.is_leaf and weight.requires_grad and weight.grad_fn is None
    assert weight[0].data_ptr() != members[0][0].weight.data_ptr()
    assert not buffers["1.running_mean"].requires_grad
    before = copy.deepcopy(members[0].state_dict())
    skeleton = copy.deepcopy(members[0]).to("meta")
    optimizer = torch.optim.SGD(params.values(), lr=0.1)
    torch.func.vmap(lambda p, b, x: ns["functional_call"](skeleton, (p, b), (x,)), in_dims=(0, 0, None))(
        params, buffers, ns["inputs"]).sum().backward()
    optimizer.step()
    assert ns["unchanged"](members[0], before) and not torch.equal(params["0.weight"][0], before["0.weight"])


def test_exercise_train_an_ensemble(ns, outputs):
    torch.manual_seed(0)
    team = [nn.Linear(4, 1) for _ in range(3)]
    params, buffers = stack_module_state(team)
    skeleton = copy.deepcopy(team[0]).to("meta")

    def loss():
        run_one = lambda p, b, x: ns["functional_call"](skeleton, (p, b), (x,))  # noqa: E731
        return (torch.func.vmap(run_one, in_dims=(0, 0, None))(params, buffers, ns["X"]) - 1).pow(2).mean()

    def members_loss():
        return torch.stack([member(ns["X"]) for member in team]).sub(1).pow(2).mean()

    start = members_loss().item()
    wrong = torch.optim.SGD([p for member in team for p in member.parameters()], lr=0.1)
    for _ in range(5):
        wrong.zero_grad()
        loss().backward()
        wrong.step()
    assert loss().item() == members_loss().item() == start
    assert all(p.grad is None for member in team for p in member.parameters())
    right = torch.optim.SGD(params.values(), lr=0.1)
    for _ in range(5):
        right.zero_grad()
        loss().backward()
        right.step()
    assert loss().item() < start / 2 and members_loss().item() == start
    for i, member in enumerate(team):
        member.load_state_dict({name: t[i] for name, t in params.items()})
    assert members_loss().item() == pytest.approx(loss().item(), abs=1e-6)
    first, second, third = outputs["exercise-train-an-ensemble-solution"].splitlines()
    assert first.split()[0] == first.split()[1] == second.split()[1] and second.split()[0] == third


def test_only_these_backends_share_one_kind_of_dense_tensor_with_the_cpu():
    """The page: moving between them keeps the Parameter objects; XLA and PrivateUse1 are not among them."""
    header = (Path(torch.__file__).parent / "include" / "c10" / "core" / "TensorImpl.h").read_text(encoding="utf-8")
    start = header.index("constexpr auto dense_backends")
    listed = re.findall(r"BackendComponent::(\w+)Bit", header[start:header.index("});", start)])
    assert listed == ["CPU", "CUDA", "MPS", "HIP", "XPU", "HPU", "MTIA"]
