"""The facts that docs/*/saving-loading.md states, checked on the running torch."""

import argparse
import collections
import copy
import dataclasses
import inspect
import io
import json
import logging
import os
import pickle
import random
import re
import signal
import struct
import subprocess
import sys
import types
import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.distributed.checkpoint as dcp
from safetensors import SafetensorError, safe_open
from safetensors.torch import load, load_file, load_model, save_file, save_model
from torch import nn
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.export import Dim

from tools.snippets import ROOT, run, running_as_main

outputs, ns = run(ROOT / "snippets" / "saving-loading.py")


@dataclasses.dataclass
class Settings:  # "your own class": importable as <this test module>.Settings
    lr: float
    hidden: int


class CountsInit(nn.Module):
    created = 0

    def __init__(self):
        super().__init__()
        CountsInit.created += 1
        self.layer = nn.Linear(2, 2)


class Recorder:  # an allowed class that a file calls with arguments of its choosing
    calls = []

    def __init__(self, message):
        Recorder.calls.append(message)


class SaveInterrupted(Exception):
    pass


class FailsHalfway:  # stands in for a crash in the middle of torch.save: it fails after the file is opened
    def __reduce__(self):
        raise SaveInterrupted


class CallsRecorder:
    def __reduce__(self):
        return (Recorder, ("chosen by the file",))


def fake_cuda_file(monkeypatch, obj):
    """A file whose tensors record "cuda:0", as if saved on a GPU (none here)."""
    buffer = io.BytesIO()
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(obj, buffer)
    buffer.seek(0)
    return buffer


def make_tied_net():
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))


def trained_adam(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, model[0].in_features)).sum().backward()
    optimizer.step()
    return optimizer


def saved_and_loaded(obj, **load_args):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True, **load_args)


def test_weights_only_loads_plain_data_and_a_few_torch_types():
    data = {
        "n": 3,
        "f": 0.5,
        "c": 1 + 2j,
        "s": "text",
        "b": b"raw",
        "none": None,
        "list": [1, 2],
        "tuple": (1, 2),
        "set": {1, 2},
        "ordered": collections.OrderedDict(a=1),
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
    }
    assert saved_and_loaded(data) == data


def test_weights_only_refuses_other_classes():
    buffer = io.BytesIO()
    torch.save({"args": argparse.Namespace(lr=0.1)}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="argparse.Namespace"):
        torch.load(buffer, weights_only=True)


def test_weights_only_refuses_numpy_scalars_and_loads_their_float(tmp_path):
    path = tmp_path / "metrics.pt"
    torch.save({"loss": np.mean(np.array([0.25, 0.75]))}, path)  # np.mean returns a np.float64
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        torch.load(path, weights_only=True)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    assert unsafe and all(name.startswith("numpy.") for name in unsafe)
    torch.save({"loss": float(np.mean(np.array([0.25, 0.75])))}, path)
    assert torch.load(path, weights_only=True) == {"loss": 0.5}
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []


def test_get_unsafe_globals_lists_what_a_file_needs_without_running_it(tmp_path, capsys):
    path = tmp_path / "payload.pt"
    torch.save(ns["Payload"](), path)
    capsys.readouterr()
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == ["builtins.print"]
    assert capsys.readouterr().out == ""  # nothing ran


def test_tensor_list_and_dict_round_trips_are_exact():
    x, y = torch.randn(5, 3), torch.arange(4)
    assert torch.equal(saved_and_loaded(x), x)
    assert all(torch.equal(a, b) for a, b in zip(saved_and_loaded([x, y]), [x, y]))
    loaded = saved_and_loaded({"x": x, "y": y})
    assert torch.equal(loaded["x"], x) and torch.equal(loaded["y"], y)
    assert loaded["y"].dtype == torch.int64


def test_double_equals_is_elementwise_and_cannot_be_used_in_if():
    x = ns["x"]
    result = x == ns["x2"]
    assert isinstance(result, torch.Tensor) and result.shape == x.shape
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(result)
    assert bool(x[:1] == ns["x2"][:1])  # a single element is accepted


def test_double_equals_broadcasts_where_torch_equal_checks_shapes():
    assert bool((torch.ones(3) == torch.ones(1)).all())
    assert not torch.equal(torch.ones(3), torch.ones(1))


def test_fresh_instance_differs_until_state_dict_is_loaded():
    MLP, X, Y = ns["MLP"], ns["X"], ns["Y"]
    fresh = MLP()
    assert not torch.equal(fresh(X), Y)
    result = fresh.load_state_dict(ns["net"].state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert torch.equal(fresh(X), Y)
    assert torch.equal(ns["Y_clone"], Y)


def test_state_dict_is_an_ordered_dict_from_names_to_tensors():
    state = ns["net"].state_dict()
    assert isinstance(state, collections.OrderedDict)
    assert all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())


def test_strict_load_state_dict_returns_the_unmatched_names():
    result = ns["MLP"]().load_state_dict(ns["net"].state_dict())
    assert (result.missing_keys, result.unexpected_keys) == ([], [])
    assert outputs["load-parameters"].splitlines()[1] == "<All keys matched successfully>"


def test_mlp_state_dict_has_weights_and_biases_of_both_layers():
    shapes = {name: tuple(t.shape) for name, t in ns["net"].state_dict().items()}
    assert shapes == {
        "hidden.weight": (256, 20),
        "hidden.bias": (256,),
        "output.weight": (10, 256),
        "output.bias": (10,),
    }


def test_state_dict_holds_batchnorm_buffers_besides_parameters():
    bn_net = ns["make_bn_net"]()
    state = bn_net.state_dict()
    parameters = dict(bn_net.named_parameters())
    buffers = dict(bn_net.named_buffers())
    assert (len(parameters), len(buffers), len(state)) == (6, 3, 9)
    assert set(state) == set(parameters) | set(buffers)
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(state)


def test_without_buffers_an_eval_mode_copy_computes_a_different_function():
    bn_net, inputs = ns["bn_net"], ns["inputs"]
    assert not bn_net.training
    assert not torch.equal(ns["params_only"](inputs), bn_net(inputs))
    assert torch.equal(ns["full"](inputs), bn_net(inputs))


def test_non_persistent_buffer_moves_with_to_but_is_not_saved():
    module = ns["WithScratch"]().to(torch.float64)
    assert module.scratch.dtype == torch.float64
    assert "scratch" not in module.state_dict() and "mean" in module.state_dict()


def test_state_dict_tensors_are_detached_tensors_sharing_the_parameters_memory():
    net = ns["MLP"]()
    state = net.state_dict()
    for name, parameter in net.named_parameters():
        assert state[name] is not parameter and not isinstance(state[name], nn.Parameter)
        assert parameter.requires_grad and not state[name].requires_grad
        assert state[name].data_ptr() == parameter.data_ptr()
    assert outputs["state-dict-references"].splitlines()[:3] == [
        "same object:   False",
        "same memory:   True",
        "requires_grad: False True",
    ]


def test_state_dict_sharing_works_both_ways_and_deepcopy_is_a_snapshot():
    net = ns["MLP"]()
    snapshot, frozen = net.state_dict(), copy.deepcopy(net.state_dict())
    with torch.no_grad():
        net.output.bias.add_(1)  # editing the parameter changes the state dict
    assert torch.equal(snapshot["output.bias"], net.output.bias)
    assert not torch.equal(frozen["output.bias"], net.output.bias)
    snapshot["hidden.bias"].fill_(7.0)  # editing the state dict changes the parameter
    assert torch.equal(net.hidden.bias, torch.full((256,), 7.0))


def test_keep_vars_returns_the_parameter_objects():
    net = ns["MLP"]()
    state = net.state_dict(keep_vars=True)
    assert all(state[name] is parameter for name, parameter in net.named_parameters())


def test_snippet_snapshot_showed_zeros_and_deepcopy_the_old_values():
    lines = outputs["state-dict-references"].splitlines()
    assert lines[3] == "state_dict(): tensor([0., 0., 0.])"
    assert "0., 0., 0." not in lines[4]


def test_snippet_restored_the_edited_bias():
    net = ns["net"]
    assert not torch.equal(net.output.bias, torch.zeros(10))
    assert torch.equal(net(ns["X"]), ns["Y"])


def test_adam_state_has_step_and_two_running_averages_per_parameter():
    state = ns["optimizer"].state_dict()["state"]
    assert len(state) == len(list(ns["model"].parameters()))
    assert all(set(entry) == {"step", "exp_avg", "exp_avg_sq"} for entry in state.values())


def test_scheduler_and_grad_scaler_have_state_dicts_that_load_with_weights_only():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)
    scaler = torch.amp.GradScaler("cpu")
    loaded = saved_and_loaded({"scheduler": scheduler.state_dict(), "scaler": scaler.state_dict()})
    assert loaded == {"scheduler": scheduler.state_dict(), "scaler": scaler.state_dict()}


def test_restoring_the_rng_state_repeats_the_random_numbers():
    state = saved_and_loaded(torch.get_rng_state())
    first = (torch.randperm(10), torch.rand(3))  # a shuffle and a dropout mask draw these
    torch.set_rng_state(state)
    second = (torch.randperm(10), torch.rand(3))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_torch_save_empties_its_target_first_so_a_failed_save_destroys_the_old_file(tmp_path):
    path = tmp_path / "checkpoint.pt"
    torch.save({"epoch": 1}, path)
    with pytest.raises(SaveInterrupted):
        torch.save({"epoch": 2, "broken": FailsHalfway()}, path)
    with pytest.raises(RuntimeError):
        torch.load(path, weights_only=True)  # neither the old checkpoint nor the new one


def test_save_checkpoint_keeps_the_old_file_whole_until_the_new_one_is_written(tmp_path):
    save_checkpoint = ns["save_checkpoint"]
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"epoch": 1}, path)
    with pytest.raises(SaveInterrupted):
        save_checkpoint({"epoch": 2, "broken": FailsHalfway()}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    save_checkpoint({"epoch": 3}, path)
    assert torch.load(path, weights_only=True) == {"epoch": 3}
    assert [child.name for child in tmp_path.iterdir()] == ["checkpoint.pt"]  # the partial file was renamed


def test_optimizer_load_state_dict_replaces_the_constructors_hyperparameters():
    assert outputs["checkpoint-resume"].splitlines()[-1] == "lr after loading: 0.01"
    saved = torch.optim.Adam(nn.Linear(2, 1).parameters(), lr=0.01, betas=(0.8, 0.9)).state_dict()
    optimizer = torch.optim.Adam(nn.Linear(2, 1).parameters(), lr=0.5)
    optimizer.load_state_dict(saved)
    assert optimizer.param_groups[0]["lr"] == 0.01 and optimizer.param_groups[0]["betas"] == (0.8, 0.9)
    for group in optimizer.param_groups:  # the page's way to resume with another learning rate
        group["lr"] = 0.5
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_a_restored_lambda_lr_sets_the_saved_rate_again_at_its_next_step():
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    saved = saved_and_loaded({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
    resumed_optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    resumed_scheduler = torch.optim.lr_scheduler.LambdaLR(resumed_optimizer, lambda epoch: 1.0)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed_scheduler.load_state_dict(saved["scheduler"])
    for group in resumed_optimizer.param_groups:
        group["lr"] = 0.5
    resumed_optimizer.step()
    resumed_scheduler.step()
    assert resumed_scheduler.base_lrs == [0.1] and resumed_optimizer.param_groups[0]["lr"] == 0.1


def test_checkpoint_loads_with_weights_only_and_keeps_the_epoch_as_an_int():
    checkpoint = ns["checkpoint"]
    assert set(checkpoint) == {"epoch", "model", "optimizer"}
    assert checkpoint["epoch"] == 50 and isinstance(checkpoint["epoch"], int)


def test_resuming_with_optimizer_state_reproduces_the_run_bit_for_bit():
    model, resumed = ns["model"], ns["resumed"]
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), resumed.parameters()))


def test_resuming_without_optimizer_state_is_a_different_run():
    model, restarted = ns["model"], ns["restarted"]
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), restarted.parameters()))


def test_the_file_records_a_location_for_every_stored_tensor():
    model, optimizer = ns["model"], ns["optimizer"]
    adam_state = sum(len(entry) for entry in optimizer.state_dict()["state"].values())
    assert adam_state == 3 * len(list(model.parameters()))
    assert len(ns["locations"]) == len(model.state_dict()) + adam_state == 16
    assert set(ns["locations"]) == {"cpu"}
    assert outputs["map-location"].splitlines()[0] == "16 {'cpu'}"


def test_cuda_file_needs_map_location_on_a_cpu_machine(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("the error only happens without CUDA")
    buffer = fake_cuda_file(monkeypatch, {"w": torch.ones(2)})
    with pytest.raises(RuntimeError, match="(?s)CUDA.*map_location"):
        torch.load(buffer, weights_only=True)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True, map_location="cpu")
    assert loaded["w"].device.type == "cpu" and torch.equal(loaded["w"], torch.ones(2))


def test_map_location_takes_a_dictionary_of_locations_or_a_device(monkeypatch):
    buffer = fake_cuda_file(monkeypatch, {"w": torch.ones(2)})
    loaded = torch.load(buffer, weights_only=True, map_location={"cuda:0": "cpu"})
    assert loaded["w"].device.type == "cpu" and torch.equal(loaded["w"], torch.ones(2))
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True, map_location="meta")["w"].device.type == "meta"


def test_map_location_cpu_puts_model_and_optimizer_tensors_on_the_cpu():
    checkpoint = ns["checkpoint"]
    tensors = list(checkpoint["model"].values())
    tensors += [t for entry in checkpoint["optimizer"]["state"].values() for t in entry.values()]
    assert {t.device.type for t in tensors} == {"cpu"}


def test_load_state_dict_copies_into_the_models_existing_tensors():
    net = ns["MLP"]().to(torch.float64)
    weight = net.hidden.weight
    net.load_state_dict(ns["net"].state_dict())  # float32 values
    assert net.hidden.weight is weight and weight.dtype == torch.float64
    assert torch.equal(weight, ns["net"].hidden.weight.double())


def test_optimizer_state_follows_the_parameters_device_but_step_stays():
    on_device, optimizer = ns["on_device"], ns["device_optimizer"]
    assert all(p.device.type == "meta" for p in on_device.parameters())
    for parameter in on_device.parameters():
        state = optimizer.state[parameter]
        assert state["exp_avg"].device.type == state["exp_avg_sq"].device.type == "meta"
        assert state["step"].device.type == "cpu"
    assert outputs["optimizer-device"].strip() == "meta {'step': 'cpu', 'exp_avg': 'meta', 'exp_avg_sq': 'meta'}"


def test_optimizer_load_state_dict_casts_floating_state_to_the_parameters_dtype():
    saved = trained_adam(nn.Sequential(nn.Linear(3, 1))).state_dict()
    model = nn.Sequential(nn.Linear(3, 1)).to(torch.float64)
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(saved)
    assert optimizer.state[model[0].weight]["exp_avg"].dtype == torch.float64


def test_the_conversion_is_the_param_policy_in_load_state_dict():
    source = inspect.getsource(torch.optim.Optimizer._process_value_according_to_param_policy)
    assert "value.to(dtype=param.dtype, device=param.device)" in source
    assert "value.to(device=param.device)" in source


def test_a_saved_capturable_optimizer_moves_the_step_too():
    saved = copy.deepcopy(trained_adam(nn.Sequential(nn.Linear(3, 1))).state_dict())
    saved["param_groups"][0]["capturable"] = True
    model = nn.Sequential(nn.Linear(3, 1)).to("meta")
    optimizer = torch.optim.Adam(model.parameters())  # not capturable: the saved setting decides
    optimizer.load_state_dict(saved)
    assert optimizer.state[model[0].weight]["step"].device.type == "meta"
    saved["param_groups"][0]["capturable"] = False
    optimizer = torch.optim.Adam(model.parameters(), capturable=True)
    optimizer.load_state_dict(saved)
    assert optimizer.state[model[0].weight]["step"].device.type == "cpu"


def test_state_loaded_before_the_model_moves_stays_behind():
    saved = trained_adam(nn.Sequential(nn.Linear(3, 1))).state_dict()
    model = nn.Sequential(nn.Linear(3, 1))
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(saved)
    weight = model[0].weight
    model.to(torch.float64)
    assert model[0].weight is weight and weight.dtype == torch.float64  # same parameter object
    assert optimizer.state[weight]["exp_avg"].dtype == torch.float32  # its state was not cast


def test_moving_to_meta_replaces_the_parameter_objects():
    model = nn.Sequential(nn.Linear(3, 1))
    optimizer = torch.optim.Adam(model.parameters())
    model.to("meta")
    held = optimizer.param_groups[0]["params"]
    assert all(p.device.type == "cpu" for p in held)
    assert not any(p is q for p in held for q in model.parameters())


def test_moving_between_dense_devices_or_dtypes_keeps_the_parameter_objects():
    cpu, meta = torch.ones(1), torch.ones(1, device="meta")
    assert not torch._has_compatible_shallow_copy_type(cpu, meta)  # so .to("meta") makes new objects
    assert torch._has_compatible_shallow_copy_type(cpu, cpu.double())  # a dtype change swaps the data
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to(torch.float64)
    assert all(p is q for p, q in zip(optimizer.param_groups[0]["params"], model.parameters()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")
def test_moving_to_a_gpu_keeps_the_parameter_objects():
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to("cuda")
    assert all(p is q for p, q in zip(optimizer.param_groups[0]["params"], model.parameters()))
    assert model.weight.device.type == "cuda"


def test_strict_loading_rejects_other_names():
    with pytest.raises(RuntimeError, match="(?s)Missing key.*Unexpected key"):
        ns["NewTask"]().load_state_dict(ns["pretrained"])


def test_non_strict_loading_reports_missing_and_unexpected_keys_and_loads_the_rest():
    new_net = ns["NewTask"]()
    head = new_net.head.weight.clone()
    result = new_net.load_state_dict(ns["pretrained"], strict=False)
    assert result.missing_keys == ["head.weight", "head.bias"]
    assert result.unexpected_keys == ["output.weight", "output.bias"]
    assert torch.equal(new_net.hidden.weight, ns["net"].hidden.weight)
    assert torch.equal(new_net.head.weight, head)  # missing keys keep their initial values


def test_non_strict_loading_still_rejects_a_shape_mismatch():
    with pytest.raises(RuntimeError, match="size mismatch"):
        ns["NewOutput"]().load_state_dict(ns["pretrained"], strict=False)
    other = ns["other"]
    assert torch.equal(other.hidden.weight, ns["net"].hidden.weight)
    assert other.output.weight.shape == (3, 256)


def test_a_load_that_raises_has_already_copied_the_tensors_that_fit():
    half = ns["NewOutput"]()
    head = half.output.weight.clone()
    with pytest.raises(RuntimeError, match="size mismatch"):
        half.load_state_dict(ns["pretrained"], strict=False)
    assert torch.equal(half.hidden.weight, ns["net"].hidden.weight)
    assert torch.equal(half.output.weight, head)


def test_selected_entries_load_and_the_head_keeps_its_initial_values():
    fresh = ns["NewOutput"]()
    head = fresh.output.weight.clone()
    result = fresh.load_state_dict(ns["hidden_only"], strict=False)
    assert result.missing_keys == ["output.weight", "output.bias"] and result.unexpected_keys == []
    assert torch.equal(fresh.output.weight, head)


def test_whole_model_does_not_load_with_weights_only():
    buffer = io.BytesIO()
    torch.save(nn.Sequential(nn.Linear(2, 2)), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)


def test_weights_only_is_the_default_since_2_6():
    buffer = io.BytesIO()
    torch.save(nn.Sequential(nn.Linear(2, 2)), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError) as error:
        torch.load(buffer)
    assert (
        "In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
        "`torch.load` from `False` to `True`"
    ) in str(error.value)


def test_the_pinned_torch_is_past_the_weights_only_fix_of_cve_2025_32434():
    """GHSA-53q9-r3pm-6pq6: code ran through torch.load(weights_only=True) before torch 2.6.0.

    The page tells readers to keep torch current; the site's own pin and the running torch must be.
    """
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert torch.torch_version.TorchVersion(pinned) >= (2, 6, 0)
    assert torch.torch_version.TorchVersion(torch.__version__) >= (2, 6, 0)


def test_a_safetensors_file_is_a_header_and_raw_bytes_with_no_pickle(tmp_path):
    state = {"weight": torch.randn(3, 4), "steps": torch.arange(5)}
    path = tmp_path / "weights.safetensors"
    save_file(state, path)
    raw = path.read_bytes()
    header_size = int.from_bytes(raw[:8], "little")
    json.loads(raw[8 : 8 + header_size])  # the header is JSON
    assert len(raw) == 8 + header_size + sum(t.nbytes for t in state.values())  # then the tensors' bytes, nothing else


def test_pickle_restores_a_module_by_class_path_without_running_init():
    buffer = io.BytesIO()
    module = CountsInit()
    torch.save(module, buffer)
    created = CountsInit.created
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)  # our own file
    assert CountsInit.created == created  # __init__ did not run
    assert type(loaded) is CountsInit and torch.equal(loaded.layer.weight, module.layer.weight)
    assert f"{CountsInit.__module__}\nCountsInit".encode() in buffer.getvalue()  # the class path


def test_a_pickled_model_needs_its_class_importable_under_the_same_name(monkeypatch):
    buffer = io.BytesIO()
    torch.save(CountsInit(), buffer)
    buffer.seek(0)
    monkeypatch.delattr(sys.modules[CountsInit.__module__], "CountsInit")
    with pytest.raises(AttributeError, match="CountsInit"):
        torch.load(buffer, weights_only=False)


def test_weights_only_blocks_the_call_that_weights_only_false_would_make(capsys):
    buffer = io.BytesIO()
    torch.save(ns["Payload"](), buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    assert "this ran while the file was loading" not in capsys.readouterr().out
    buffer.seek(0)
    torch.load(buffer, weights_only=False)  # our own harmless file: it calls print
    assert "this ran while the file was loading" in capsys.readouterr().out


def test_snippet_checkpoint_with_config_is_refused_then_loads_inside_safe_globals():
    lines = outputs["safe-globals"].splitlines()
    assert lines[:2] == [
        "UnpicklingError: Weights only load failed",
        "Unsupported global: GLOBAL __main__.TrainConfig was not an allowed global by default.",
    ]
    assert ns["with_config"]["config"] == ns["config"] and ns["with_config"]["epoch"] == 50
    assert type(ns["with_config"]["config"]) is ns["TrainConfig"]
    assert lines[2] == "TrainConfig(lr=0.01, hidden=8, epochs=50) True"
    assert ns["TrainConfig"] not in torch.serialization.get_safe_globals()  # only in the block


def _saved_from_main(obj_class, *args):
    """A file saved by a script that defines obj_class (as `python train.py` would): it names __main__."""
    script = types.ModuleType("__main__")
    setattr(script, obj_class.__name__, obj_class)
    buffer = io.BytesIO()
    with running_as_main(script):
        torch.save({"config": obj_class(*args)}, buffer)
    buffer.seek(0)
    return buffer


def test_a_class_defined_in_the_script_is_saved_as_main():
    assert ns["TrainConfig"].__module__ == "__main__"
    buffer = _saved_from_main(ns["TrainConfig"])
    assert b"__main__\nTrainConfig" in buffer.getvalue()


def test_the_full_message_suggests_add_safe_globals_and_safe_globals():
    buffer = _saved_from_main(ns["TrainConfig"])
    with pytest.raises(pickle.UnpicklingError) as error:
        torch.load(buffer, weights_only=True)
    message = str(error.value)
    assert "torch.serialization.add_safe_globals([__main__.TrainConfig])" in message
    assert "torch.serialization.safe_globals([__main__.TrainConfig])" in message


def test_the_same_class_imported_from_a_module_does_not_match_a_main_name_unless_named():
    imported = dataclasses.make_dataclass("TrainConfig", [("lr", float, dataclasses.field(default=0.01))])
    imported.__module__ = "train"  # the class as another script imports it: train.TrainConfig
    script_class = dataclasses.make_dataclass("TrainConfig", [("lr", float, dataclasses.field(default=0.01))])
    script_class.__module__ = "__main__"
    buffer = _saved_from_main(script_class)  # saved by train.py itself: __main__.TrainConfig
    with torch.serialization.safe_globals([imported]), pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    buffer.seek(0)
    with torch.serialization.safe_globals([(imported, "__main__.TrainConfig")]):
        loaded = torch.load(buffer, weights_only=True)["config"]
    assert type(loaded) is imported and loaded.lr == 0.01


def test_safe_globals_allows_a_class_only_inside_the_block():
    buffer = io.BytesIO()
    torch.save({"args": argparse.Namespace(lr=0.1)}, buffer)
    with torch.serialization.safe_globals([argparse.Namespace]):
        buffer.seek(0)
        assert torch.load(buffer, weights_only=True)["args"].lr == 0.1
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)


def test_add_safe_globals_allows_a_class_for_the_rest_of_the_process():
    before = torch.serialization.get_safe_globals()
    buffer = io.BytesIO()
    torch.save({"args": argparse.Namespace(lr=0.1)}, buffer)
    try:
        torch.serialization.add_safe_globals([argparse.Namespace])
        buffer.seek(0)
        assert torch.load(buffer, weights_only=True)["args"].lr == 0.1
        buffer.seek(0)
        assert torch.load(buffer, weights_only=True)["args"].lr == 0.1  # still allowed
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


def test_your_own_dataclass_is_named_refused_and_allowed_the_same_way():
    buffer = io.BytesIO()
    torch.save({"settings": Settings(lr=0.01, hidden=8)}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match=f"GLOBAL {Settings.__module__}.Settings"):
        torch.load(buffer, weights_only=True)
    buffer.seek(0)
    with torch.serialization.safe_globals([Settings]):
        assert torch.load(buffer, weights_only=True)["settings"] == Settings(lr=0.01, hidden=8)


def test_an_allowed_class_is_matched_by_module_and_name():
    buffer = io.BytesIO()
    torch.save({"settings": Settings(lr=0.01, hidden=8)}, buffer)
    assert f"{Settings.__module__}\nSettings".encode() in buffer.getvalue()
    moved = dataclasses.make_dataclass("Settings", [("lr", float), ("hidden", int)])
    moved.__module__ = "elsewhere"  # the same class, moved to another module
    buffer.seek(0)
    with torch.serialization.safe_globals([moved]), pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)


def test_a_file_can_call_an_allowed_class_with_its_own_arguments():
    buffer = io.BytesIO()
    torch.save(CallsRecorder(), buffer)
    buffer.seek(0)
    Recorder.calls.clear()
    with torch.serialization.safe_globals([Recorder]):
        torch.load(buffer, weights_only=True)
    assert Recorder.calls == ["chosen by the file"]


def test_safetensors_round_trip_gives_identical_outputs(tmp_path):
    net = ns["net"]
    save_file(net.state_dict(), tmp_path / "m.safetensors")
    tensors = load_file(tmp_path / "m.safetensors")
    assert set(tensors) == set(net.state_dict())
    assert all(torch.equal(tensors[k], v) for k, v in net.state_dict().items())
    assert torch.equal(ns["from_safetensors"](ns["X"]), ns["Y"])


def test_safetensors_metadata_must_be_strings(tmp_path):
    with pytest.raises(TypeError):
        save_file({"a": torch.ones(1)}, tmp_path / "a.safetensors", metadata={"epoch": 50})


def test_safetensors_header_describes_every_tensor_and_the_metadata():
    header = ns["header"]
    assert header["__metadata__"] == {"class": "MLP"}
    assert set(header) - {"__metadata__"} == set(ns["net"].state_dict())
    for name, tensor in ns["net"].state_dict().items():
        start, end = header[name]["data_offsets"]
        assert header[name]["shape"] == list(tensor.shape) and end - start == tensor.numel() * 4


def test_save_file_refuses_tied_weights(tmp_path):
    tied = make_tied_net()
    with pytest.raises(RuntimeError, match="Some tensors share memory"):
        save_file(tied.state_dict(), tmp_path / "tied.safetensors")
    assert outputs["safetensors-shared"].splitlines()[1] == (
        "RuntimeError: Some tensors share memory, this will lead to duplicate memory on disk "
        "and potential differences when loading them again"
    )
    assert list(ns["tied_net"].state_dict())[2:6] == ["2.weight", "2.bias", "4.weight", "4.bias"]


def test_save_model_stores_shared_tensors_once_and_notes_the_dropped_names(tmp_path):
    tied = make_tied_net()
    save_model(tied, tmp_path / "tied.safetensors")
    with safe_open(tmp_path / "tied.safetensors", framework="pt") as file:
        assert set(file.keys()) == {"0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"}
        assert file.metadata() == {"4.weight": "2.weight", "4.bias": "2.bias"}


def test_load_model_keeps_the_tie_and_the_outputs(tmp_path):
    tied = make_tied_net()
    save_model(tied, tmp_path / "tied.safetensors")
    copy_ = make_tied_net()
    missing, unexpected = load_model(copy_, tmp_path / "tied.safetensors")
    assert not missing and not unexpected
    assert copy_[2].weight is copy_[4].weight and copy_[2].bias is copy_[4].bias
    inputs = torch.randn(3, 4)
    assert torch.equal(copy_(inputs), tied(inputs))
    assert ns["tied_copy"][2].weight is ns["tied_copy"][4].weight
    assert torch.equal(ns["tied_copy"](ns["tied_inputs"]), ns["tied_net"](ns["tied_inputs"]))
    assert outputs["safetensors-save-model"].splitlines()[1:] == ["(set(), [])", "True", "True"]


def test_the_tie_comes_from_the_code_not_from_the_file(tmp_path):
    tied = make_tied_net()
    save_model(tied, tmp_path / "tied.safetensors")
    with pytest.raises(RuntimeError, match="4.weight"):
        make_tied_net().load_state_dict(load_file(tmp_path / "tied.safetensors"))
    untied = nn.Sequential(
        nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)
    )
    with pytest.raises(RuntimeError, match="4.weight"):
        load_model(untied, tmp_path / "tied.safetensors")


def test_torch_save_writes_shared_memory_once_and_restores_the_sharing():
    tied = make_tied_net()
    buffer, copies = io.BytesIO(), io.BytesIO()
    torch.save(tied.state_dict(), buffer)
    torch.save({name: t.clone() for name, t in tied.state_dict().items()}, copies)  # no sharing
    shared_bytes = (8 * 8 + 8) * 4
    assert len(copies.getvalue()) - len(buffer.getvalue()) >= shared_bytes
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert loaded["2.weight"].data_ptr() == loaded["4.weight"].data_ptr()


def test_cleanup_removes_the_temporary_directory():
    assert not ns["folder"].exists()


def test_safetensors_refuses_two_names_for_one_range_of_bytes():
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    header = json.dumps({"a": entry, "b": entry}).encode()
    data = struct.pack("<Q", len(header)) + header + torch.ones(2).numpy().tobytes()
    with pytest.raises(SafetensorError, match="invalid offset"):
        load(data)


def test_the_training_loop_draws_no_random_numbers():
    model = ns["make_regressor"]()
    before = torch.get_rng_state()
    ns["train"](model, torch.optim.Adam(model.parameters(), lr=0.01), 3)
    assert torch.equal(torch.get_rng_state(), before)


# --- torch.equal: values, not bits or dtypes -------------------------------------------------------


def test_torch_equal_is_false_for_nan_even_after_an_exact_round_trip():
    a = torch.tensor([1.0, float("nan"), 3.0])
    b = saved_and_loaded(a)
    assert torch.equal(a.view(torch.int32), b.view(torch.int32))  # the same bits
    assert not torch.equal(a, b)
    assert outputs["exercise-compare-round-trip"].splitlines()[:2] == ["tensor([ True, False,  True])", "False"]


def test_torch_equal_does_not_compare_dtypes_and_assert_close_does():
    ints, floats = torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 3.0])
    assert torch.equal(ints, floats)
    with pytest.raises(AssertionError, match="dtype"):
        torch.testing.assert_close(ints, floats, rtol=0, atol=0)
    assert outputs["exercise-compare-round-trip"].splitlines()[2:4] == ["True", "True"]


def test_assert_close_needs_equal_nan_and_exact_tolerances_catch_any_change():
    a = torch.tensor([1.0, float("nan"), 3.0])
    with pytest.raises(AssertionError):
        torch.testing.assert_close(a.clone(), a, rtol=0, atol=0)  # NaN != NaN by default
    torch.testing.assert_close(a.clone(), a, rtol=0, atol=0, equal_nan=True)
    with pytest.raises(AssertionError):
        torch.testing.assert_close(a + torch.tensor([1e-7, 0.0, 0.0]), a, rtol=0, atol=0, equal_nan=True)
    assert outputs["exercise-compare-round-trip"].splitlines()[4] == "assert_close: the round trip is exact"


def test_assert_close_accepts_a_changed_sign_of_zero_and_any_nan_where_the_bits_differ():
    zero, minus_zero = torch.tensor([0.0]), torch.tensor([-0.0])
    torch.testing.assert_close(minus_zero, zero, rtol=0, atol=0, equal_nan=True)
    assert not torch.equal(minus_zero.view(torch.int32), zero.view(torch.int32))
    nan = torch.tensor([float("nan")])
    other_nan = (nan.view(torch.int32) + 1).view(torch.float32)  # another NaN, other bits
    assert other_nan.isnan().all()
    torch.testing.assert_close(other_nan, nan, rtol=0, atol=0, equal_nan=True)
    assert not torch.equal(other_nan.view(torch.int32), nan.view(torch.int32))
    back = saved_and_loaded(torch.cat([minus_zero, other_nan]))  # a round trip keeps every bit
    assert torch.equal(back.view(torch.int32), torch.cat([minus_zero, other_nan]).view(torch.int32))
    assert outputs["exercise-compare-round-trip"].splitlines()[5:] == [
        "same bits: True",
        "-0.0 passes assert_close; same bits: False",
    ]


# --- slices -------------------------------------------------------------------------------------------


def size_line(section, name):
    line = next(line for line in outputs[section].splitlines() if line.startswith(name + " "))
    return int(line[len(name) :].split()[0].replace(",", ""))


def test_a_saved_slice_writes_and_loads_the_whole_storage():
    big, first_rows = ns["big"], ns["first_rows"]
    assert first_rows.untyped_storage().data_ptr() == big.untyped_storage().data_ptr()  # a view, no copy
    assert big.nbytes == first_rows.untyped_storage().nbytes() == 1_024_000
    assert first_rows.nbytes == 10_240
    assert size_line("save-slice", "view.pt") > big.nbytes
    assert ns["loaded_view"].shape == (10, 256) and ns["loaded_view"].untyped_storage().nbytes() == big.nbytes
    assert torch.equal(ns["loaded_view"], first_rows)


def test_a_cloned_slice_is_its_rows_plus_about_1_5_kb():
    overhead = size_line("save-slice", "clone.pt") - 10_240
    assert 1_250 <= overhead <= 1_750


def test_views_saved_together_share_their_storage_after_loading():
    big = torch.randn(100, 4)
    loaded = saved_and_loaded({"all": big, "first": big[:10]})
    assert loaded["first"].untyped_storage().data_ptr() == loaded["all"].untyped_storage().data_ptr()
    loaded["all"][0, 0] = 123.0
    assert loaded["first"][0, 0] == 123.0


def test_contiguous_returns_a_row_slice_itself_and_copies_a_column_slice():
    table = torch.randn(1000, 256)
    rows, columns = table[:10], table[:, :10]
    assert rows.is_contiguous() and rows.contiguous() is rows
    assert not columns.is_contiguous() and columns.stride() == (256, 1)  # each row skips 256 - 10 = 246
    copied = columns.contiguous()
    assert copied.untyped_storage().nbytes() == 10_000 * 4
    assert table[5].untyped_storage().nbytes() == table.nbytes


def test_exercise_sizes_only_clone_and_a_copied_column_slice_are_small():
    sizes = {line.rsplit(None, 2)[0]: int(line.rsplit(None, 2)[1].replace(",", ""))
             for line in outputs["exercise-slice-fixes"].splitlines()}
    big = {name for name, size in sizes.items() if size > 1_024_000}
    assert big == {"table[:10]", "table[:10].contiguous()", "table[5]"}
    assert sizes["table[:10].clone()"] < 12_000 and 40_000 < sizes["table[:, :10].contiguous()"] < 42_000


# --- RNG state in a checkpoint ------------------------------------------------------------------------


def test_get_rng_state_is_the_cpu_generators_state_as_bytes():
    assert torch.get_rng_state is torch.random.get_rng_state
    state = ns["rng_checkpoint"]["rng"]
    assert state.dtype == torch.uint8 and state.dim() == 1
    assert callable(torch.cuda.get_rng_state_all) and callable(torch.cuda.set_rng_state_all)


def test_the_cuda_states_are_saved_where_there_is_cuda_and_the_guard_says_so_where_not():
    cuda = torch.cuda.is_available()
    assert ("cuda_rng" in ns["rng_checkpoint"]) == cuda
    if cuda:
        assert len(ns["rng_checkpoint"]["cuda_rng"]) == torch.cuda.device_count()  # one state per GPU
    said = outputs["rng-save"].splitlines()[0] == "No CUDA here: only the CPU generator's state is saved."
    assert said != cuda


def test_resumed_run_with_rng_state_is_the_uninterrupted_run_and_without_it_is_not():
    noisy, with_rng, without_rng = ns["noisy"], ns["with_rng"], ns["without_rng"]
    assert all(torch.equal(a, b) for a, b in zip(noisy.parameters(), with_rng.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(noisy.parameters(), without_rng.parameters()))
    uninterrupted = outputs["rng-save"].splitlines()[-1].split()[-1]
    lines = outputs["rng-resume"].splitlines()
    assert lines[0].split()[-1] == uninterrupted != lines[1].split()[-1]
    assert lines[2:] == ["True", "False"]


def test_shuffling_and_dropout_draw_from_the_global_generator():
    loader, state = ns["loader"], torch.get_rng_state()
    dropout = nn.Dropout(0.2)
    first = ([targets for _, targets in loader], dropout(torch.ones(100)))
    after = torch.get_rng_state()
    assert not torch.equal(after, state)  # they moved the global generator on
    torch.set_rng_state(state)
    second = ([targets for _, targets in loader], dropout(torch.ones(100)))
    assert all(torch.equal(a, b) for a, b in zip(first[0], second[0])) and torch.equal(first[1], second[1])


def test_restoring_the_state_before_building_the_model_is_too_early():
    make, train = ns["make_dropout_regressor"], ns["train_batches"]
    torch.manual_seed(3)
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train(model, optimizer, 1)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}, buffer)
    train(model, optimizer, 1)

    def resume(restore_first):
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=True)
        if restore_first:
            torch.set_rng_state(saved["rng"])
        resumed = make()  # draws random numbers for its initialization
        resumed.load_state_dict(saved["model"])
        resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
        resumed_optimizer.load_state_dict(saved["optimizer"])
        if not restore_first:
            torch.set_rng_state(saved["rng"])
        train(resumed, resumed_optimizer, 1)
        return resumed

    same = lambda other: all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))  # noqa: E731
    assert same(resume(restore_first=False))
    assert not same(resume(restore_first=True))


def test_other_generators_states_and_weights_only():
    generator = torch.Generator().manual_seed(0)
    assert torch.equal(saved_and_loaded(generator.get_state()), generator.get_state())
    version, internal, gauss_next = random.getstate()  # plain values: integers, and None or a float
    assert isinstance(version, int) and all(isinstance(v, int) for v in internal)
    assert gauss_next is None or isinstance(gauss_next, float)
    before = random.getstate()
    random.gauss(0, 1)  # draws two values and keeps the second: a float in the state
    assert isinstance(random.getstate()[2], float)
    assert saved_and_loaded({"py": random.getstate()})["py"] == random.getstate()
    random.setstate(before)
    assert saved_and_loaded({"py": random.getstate()})["py"] == random.getstate()
    buffer = io.BytesIO()
    torch.save({"np": np.random.get_state()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    state = np.random.default_rng(0).bit_generator.state
    assert saved_and_loaded({"np": state})["np"] == state


# --- assign=True ----------------------------------------------------------------------------------------


def test_a_plain_load_holds_the_weights_twice():
    state = saved_and_loaded(ns["net"].state_dict())
    fresh = ns["MLP"]()
    fresh.load_state_dict(state)
    assert all(fresh.state_dict()[k].data_ptr() != v.data_ptr() for k, v in state.items())


def test_assign_makes_the_loaded_tensors_the_parameters_of_a_meta_model():
    meta_net, weights = ns["meta_net"], ns["weights"]
    for name, parameter in meta_net.named_parameters():
        assert type(parameter) is nn.Parameter and parameter.device.type == "cpu"
        assert parameter.data_ptr() == weights[name].data_ptr()
    assert torch.equal(meta_net(ns["X"]), ns["Y"])
    assert outputs["assign"].splitlines() == ["<All keys matched successfully>", "True", "Parameter True", "True"]


def test_a_plain_load_into_a_meta_model_copies_nothing():
    with torch.device("meta"):
        meta = ns["MLP"]()
    with pytest.warns(UserWarning, match="no-op"):
        meta.load_state_dict(saved_and_loaded(ns["net"].state_dict()))
    assert meta.hidden.weight.is_meta


def test_assign_replaces_the_parameter_objects_keeping_requires_grad():
    model = nn.Linear(3, 2)
    model.weight.requires_grad_(False)
    old = model.weight
    model.load_state_dict(saved_and_loaded(nn.Linear(3, 2).state_dict()), assign=True)
    assert model.weight is not old and isinstance(model.weight, nn.Parameter)
    assert not model.weight.requires_grad and model.bias.requires_grad


def test_assign_with_a_live_models_state_dict_makes_the_models_share_parameters():
    source = nn.Linear(3, 2)
    with torch.device("meta"):
        shared, cloned = nn.Linear(3, 2), nn.Linear(3, 2)
    shared.load_state_dict(source.state_dict(), assign=True)
    assert shared.weight.data_ptr() == source.weight.data_ptr()
    with torch.no_grad():
        source.weight.add_(1.0)  # a training step of one model ...
    assert torch.equal(shared.weight, source.weight)  # ... changes the other
    cloned.load_state_dict({name: tensor.clone() for name, tensor in source.state_dict().items()}, assign=True)
    assert cloned.weight.data_ptr() != source.weight.data_ptr()
    copied = nn.Linear(3, 2)
    copied.load_state_dict(source.state_dict())  # a plain load copies
    assert copied.weight.data_ptr() != source.weight.data_ptr()


def test_assign_unties_a_tie_made_by_sharing_one_parameter():
    TiedLM = ns["TiedLM"]
    state = saved_and_loaded(TiedLM().state_dict())
    with torch.device("meta"):
        model = TiedLM()
    assert model.head.weight is model.embedding.weight and len(list(model.parameters())) == 1
    model.load_state_dict(state, assign=True)
    assert model.head.weight is not model.embedding.weight
    assert model.head.weight.data_ptr() == model.embedding.weight.data_ptr()  # same memory, two parameters
    assert len(list(model.parameters())) == 2
    model.head.weight = model.embedding.weight  # tie again, before creating the optimizer
    assert len(list(model.parameters())) == 1


def test_assign_takes_the_files_dtype_and_device_a_plain_load_keeps_the_models():
    assert outputs["assign-dtype"].splitlines() == ["torch.float64", "torch.float32"]
    saved = nn.Linear(3, 2).state_dict()
    model = nn.Linear(3, 2).to(torch.float64)
    model.load_state_dict(saved_and_loaded(saved))
    assert model.weight.dtype == torch.float64
    model.load_state_dict(saved_and_loaded(saved), assign=True)
    assert model.weight.dtype == torch.float32
    model.load_state_dict(saved_and_loaded(saved, map_location="meta"), assign=True)
    assert model.weight.device.type == "meta"


def test_assign_leaves_a_flag_in_the_state_dict_torch_issue_188166():
    """If this fails, PyTorch fixed the bug: remove the sentence about it from both pages."""
    state = saved_and_loaded(nn.Linear(3, 2).state_dict())
    nn.Linear(3, 2).load_state_dict(state, assign=True)
    model = nn.Linear(3, 2).to(torch.float64)
    old = model.weight
    model.load_state_dict(state)  # a plain load of the same dictionary object
    assert model.weight is not old and model.weight.dtype == torch.float32  # it assigned


# --- mmap=True --------------------------------------------------------------------------------------------


def test_mapped_tensors_lie_in_memory_as_in_the_file():
    rows = [line.split() for line in outputs["mmap"].splitlines()]
    assert [row[0] for row in rows] == list(ns["net"].state_dict())
    assert all(row[1] == row[2] for row in rows)
    assert rows[0][1:] == ["0", "0"] and rows[1][1] != "0"


def test_the_gaps_between_tensors_are_zip_bookkeeping(tmp_path):
    path = tmp_path / "mlp.params"
    torch.save(ns["net"].state_dict(), path)
    assert zipfile.is_zipfile(path)
    raw, state = path.read_bytes(), ns["net"].state_dict()
    spans = [(raw.find(t.detach().numpy().tobytes()), t.nbytes) for t in state.values()]
    for (start, size), (next_start, _) in zip(spans, spans[1:]):
        gap = raw[start + size : next_start]
        assert len(gap) == 64 and gap.startswith(b"PK")


def test_mmap_is_documented_as_lazy_and_reads_pages_only_when_used(tmp_path):
    assert "lazily loaded when their data is accessed" in " ".join(torch.load.__doc__.split())
    if not os.path.exists("/proc/self/smaps"):
        pytest.skip("reads Linux's /proc/self/smaps")
    path = tmp_path / "big.pt"
    torch.save({"w": torch.randn(4_000_000)}, path)  # 16 MB

    def resident_kb():
        total, inside = 0, False
        with open("/proc/self/smaps") as smaps:
            for line in smaps:
                fields = line.split()
                if "-" in fields[0] and len(fields) >= 5:
                    inside = line.rstrip().endswith(str(path))
                elif inside and fields[0] == "Rss:":
                    total += int(fields[1])
        return total

    mapped = torch.load(path, mmap=True, weights_only=True)
    assert resident_kb() < 1_000  # mapped, nothing read yet
    mapped["w"].sum()
    assert resident_kb() > 15_000  # read when used


def test_mmap_assign_parameters_are_the_mapped_tensors():
    mapped_net, mapped = ns["mapped_net"], ns["mapped"]
    assert all(p.data_ptr() == mapped[name].data_ptr() for name, p in mapped_net.named_parameters())
    assert outputs["mmap-assign"].splitlines() == ["True", "True"]


def test_without_assign_the_model_copies_the_mapped_tensors(tmp_path):
    torch.save(ns["net"].state_dict(), tmp_path / "m.pt")
    mapped = torch.load(tmp_path / "m.pt", mmap=True, weights_only=True)
    model = ns["MLP"]()
    model.load_state_dict(mapped)
    assert all(model.state_dict()[k].data_ptr() != v.data_ptr() for k, v in mapped.items())


def test_mmap_needs_a_path():
    buffer = io.BytesIO()
    torch.save(torch.ones(2), buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="file path"):
        torch.load(buffer, mmap=True, weights_only=True)


def test_mmap_refuses_what_weights_only_refuses_and_does_not_make_a_pickle_safe(tmp_path, capsys):
    torch.save(ns["Payload"](), tmp_path / "payload.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "payload.pt", mmap=True, weights_only=True)
    assert "this ran while the file was loading" not in capsys.readouterr().out
    torch.load(tmp_path / "payload.pt", mmap=True, weights_only=False)  # our own harmless file
    assert "this ran while the file was loading" in capsys.readouterr().out


def test_the_mapping_is_private_writes_never_reach_the_file(tmp_path):
    import mmap

    assert torch.serialization.get_default_mmap_options() == mmap.MAP_PRIVATE
    torch.save({"w": torch.zeros(4)}, tmp_path / "w.pt")
    mapped = torch.load(tmp_path / "w.pt", mmap=True, weights_only=True)
    mapped["w"].add_(1)
    assert torch.equal(mapped["w"], torch.ones(4))
    assert torch.equal(torch.load(tmp_path / "w.pt", weights_only=True)["w"], torch.zeros(4))
    if sys.platform.startswith("win"):
        return  # Windows cannot change the default
    with torch.serialization.set_default_mmap_options(mmap.MAP_SHARED):  # the default can be changed
        shared = torch.load(tmp_path / "w.pt", mmap=True, weights_only=True)
    shared["w"].add_(1)
    del shared
    assert torch.equal(torch.load(tmp_path / "w.pt", weights_only=True)["w"], torch.ones(4))


def save_mapped_model(path, over_the_mapped_file):
    torch.save(nn.Linear(512, 512).state_dict(), path)
    with torch.device("meta"):
        model = nn.Linear(512, 512)
    model.load_state_dict(torch.load(path, mmap=True, weights_only=True), assign=True)
    if over_the_mapped_file:
        torch.save(model.state_dict(), path)
    else:
        torch.save(model.state_dict(), path.with_suffix(".new"))
        os.replace(path.with_suffix(".new"), path)
    return torch.equal(torch.load(path, weights_only=True)["weight"], model.weight)


def test_saving_under_a_new_name_and_os_replace_keeps_the_mapped_model_working(tmp_path):
    assert save_mapped_model(tmp_path / "model.pt", over_the_mapped_file=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bus error is Linux's behaviour")
def test_saving_over_the_mapped_file_kills_the_process_with_sigbus(tmp_path):
    # A child process runs save_mapped_model alone (importing this module would run the snippet).
    code = "import os, sys, torch\nfrom pathlib import Path\nfrom torch import nn\n"
    code += inspect.getsource(save_mapped_model)
    code += "save_mapped_model(Path(sys.argv[1]), over_the_mapped_file=True)\nprint('survived')\n"
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path / "model.pt")], capture_output=True, text=True)
    assert child.returncode == -signal.SIGBUS and "survived" not in child.stdout, child.stderr


# --- compiled models ------------------------------------------------------------------------------------------


def test_a_compiled_models_state_dict_names_start_with_orig_mod_and_share_its_tensors():
    compiled, regressor = ns["compiled"], ns["regressor"]
    assert type(compiled).__name__ == "OptimizedModule" and compiled._orig_mod is regressor
    assert list(compiled.state_dict()) == [f"_orig_mod.{name}" for name in regressor.state_dict()]
    assert all(a is b for a, b in zip(compiled.parameters(), regressor.parameters()))
    assert outputs["compiled-keys"].splitlines()[:3] == [
        "OptimizedModule True",
        "['_orig_mod.0.weight', '_orig_mod.0.bias']",
        "['0.weight', '0.bias']",
    ]
    assert "Unexpected key(s) in state_dict: \"_orig_mod.0.weight\"" in outputs["compiled-keys"]


def test_the_wrapper_and_its_names_do_not_depend_on_the_backend():
    for backend in ["eager", "aot_eager", lambda graph_module, example_inputs: graph_module.forward]:
        compiled = torch.compile(nn.Linear(2, 2), backend=backend)  # nothing is compiled before a call
        assert type(compiled).__name__ == "OptimizedModule"
        assert list(compiled.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert "self._orig_mod = mod" in inspect.getsource(type(compiled).__init__)


def test_compile_compiles_at_the_first_call_not_before():
    calls = []

    def backend(graph_module, example_inputs):
        calls.append(graph_module)
        return graph_module.forward

    model = nn.Linear(2, 2)
    compiled = torch.compile(model, backend=backend)
    assert calls == []
    assert torch.equal(compiled(torch.ones(1, 2)), model(torch.ones(1, 2)))
    assert len(calls) == 1
    torch._dynamo.reset()


def test_consume_prefix_strips_names_and_metadata_where_a_comprehension_drops_metadata():
    compiled = torch.compile(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), backend="eager")
    comprehension = {name.removeprefix("_orig_mod."): tensor for name, tensor in compiled.state_dict().items()}
    assert not hasattr(comprehension, "_metadata")
    state = compiled.state_dict()
    assert "_orig_mod.1" in state._metadata
    from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

    consume_prefix_in_state_dict_if_present(state, "_orig_mod.")
    assert list(state) == list(comprehension) and "1" in state._metadata
    assert state._metadata["1"]["version"] == nn.BatchNorm1d._version  # the format version load_state_dict passes on
    from_wrapper = ns["from_wrapper"]
    assert not any(name.startswith("_orig_mod.") for name in from_wrapper)
    assert not any(key.startswith("_orig_mod") for key in from_wrapper._metadata)


def test_the_compiled_wrapper_refuses_plain_names_and_loads_through_orig_mod():
    compiled = torch.compile(ns["make_regressor"](), backend="eager")
    plain = ns["regressor"].state_dict()
    with pytest.raises(RuntimeError, match="_orig_mod.0.weight"):
        compiled.load_state_dict(plain)
    result = compiled._orig_mod.load_state_dict(plain)
    assert not result.missing_keys and not result.unexpected_keys
    assert outputs["compiled-fix"].splitlines()[:3] == ["<All keys matched successfully>"] * 3


def counting_backend(calls):
    def backend(graph_module, example_inputs):
        calls.append(graph_module)
        return graph_module.forward

    return backend


def test_module_compile_compiles_in_place_and_keeps_plain_names():
    in_place = ns["in_place"]
    assert type(in_place) is ns["MLP"] and in_place._compiled_call_impl is not None
    assert list(in_place.state_dict()) == list(ns["net"].state_dict())
    assert outputs["compiled-fix"].splitlines()[3] == "MLP ['hidden.weight', 'hidden.bias']"
    calls = []
    model = ns["MLP"]()
    model.compile(backend=counting_backend(calls))
    assert calls == []  # compiled at the first call, as with torch.compile
    inputs = torch.randn(2, 20)
    assert torch.allclose(model(inputs), model.output(torch.relu(model.hidden(inputs))))
    assert len(calls) == 1  # its calls run the compiled code
    torch._dynamo.reset()


def test_module_compile_on_a_bare_builtin_module_compiles_nothing_torch_issue_150915():
    """If this fails, PyTorch fixed the bug: remove the sentence about it from both pages."""
    calls = []
    for model in [ns["make_regressor"](), nn.Linear(4, 4)]:  # made only of torch.nn modules
        model.compile(backend=counting_backend(calls))
        model(torch.ones(1, 4))
    assert calls == []
    wrapped = torch.compile(ns["make_regressor"](), backend=counting_backend(calls))
    wrapped(torch.ones(1, 4))
    assert len(calls) == 1  # torch.compile(model) does compile it
    torch._dynamo.reset()


def test_data_parallel_adds_module_and_ddp_holds_the_model_as_module():
    wrapped = nn.DataParallel(nn.Linear(2, 2))
    assert list(wrapped.state_dict()) == ["module.weight", "module.bias"]
    source = inspect.getsource(torch.nn.parallel.DistributedDataParallel.__init__)
    assert "self.module = module" in source


# --- torch.export ---------------------------------------------------------------------------------------------


def ops(program):
    return [str(node.target) for node in program.graph.nodes if node.op == "call_function"]


def test_export_traces_forward_with_tensors_that_have_shapes_but_no_values():
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            seen.append(x)
            return x * 2

    torch.export.export(Spy(), (torch.ones(3, 4),))
    from torch._subclasses.fake_tensor import FakeTensor

    assert len(seen) == 1 and isinstance(seen[0], FakeTensor)  # one call, on a fake tensor
    assert seen[0].shape == (3, 4) and seen[0].dtype == torch.float32
    assert "strict: bool = False" in str(inspect.signature(torch.export.export))  # the default traces this way


def test_an_exported_program_is_aten_operations_with_the_parameters_and_buffers():
    exported, net = ns["exported"], ns["net"]
    assert type(exported).__name__ == "ExportedProgram"
    assert ops(exported) == ["aten.linear.default", "aten.relu.default", "aten.linear.default"]
    assert all(torch.equal(exported.state_dict[name], tensor) for name, tensor in net.state_dict().items())
    bn_program = torch.export.export(nn.BatchNorm1d(3).eval(), (torch.randn(4, 3),))
    assert set(bn_program.state_dict) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    assert outputs["export"].splitlines()[:2] == ["ExportedProgram", str(ops(exported))]


def test_the_pt2_archive_holds_json_graph_raw_weights_and_pickled_example_inputs(tmp_path):
    net = ns["net"]
    path = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (ns["X"],)), path)
    archive = zipfile.ZipFile(path)
    json.loads(archive.read("net/models/model.json"))  # the graph, as JSON
    config = json.loads(archive.read("net/data/weights/model_weights_config.json"))["config"]
    for name, tensor in net.state_dict().items():
        entry = config[name]
        assert entry["use_pickle"] is False
        assert archive.read(f"net/data/weights/{entry['path_name']}") == tensor.numpy().tobytes()  # raw bytes
    inputs = torch.load(io.BytesIO(archive.read("net/data/sample_inputs/model.pt")), weights_only=True)
    assert torch.equal(inputs[0][0], ns["X"])  # a torch.save file of the example inputs


def test_export_load_needs_no_class_and_runs_in_a_process_that_never_saw_it(tmp_path):
    runnable, net = ns["runnable"], ns["net"]
    assert type(ns["program"]).__name__ == "ExportedProgram"
    assert isinstance(runnable, torch.fx.GraphModule) and not isinstance(runnable, ns["MLP"])
    assert list(runnable.state_dict()) == list(net.state_dict())
    torch.export.save(ns["exported"], tmp_path / "mlp.pt2")
    torch.save(ns["X"], tmp_path / "x.pt")
    code = (
        "import sys, torch\n"
        "program = torch.export.load(sys.argv[1] + '/mlp.pt2')\n"
        "x = torch.load(sys.argv[1] + '/x.pt', weights_only=True)\n"
        "torch.save(program.module()(x), sys.argv[1] + '/y.pt')\n"
        "print('MLP' in dir(sys.modules['__main__']))\n"
    )
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert child.returncode == 0 and child.stdout.strip() == "False", child.stderr
    assert torch.equal(torch.load(tmp_path / "y.pt", weights_only=True), ns["Y"])
    assert outputs["export-load"].splitlines() == ["GraphModule False", "True", "True"]


def test_export_load_runs_code_from_a_crafted_file_and_its_documentation_says_so(tmp_path, capsys, monkeypatch):
    torch.export.save(ns["exported"], tmp_path / "mlp.pt2")
    payload = io.BytesIO()
    torch.save(((ns["Payload"](),), {}), payload)  # "example inputs" whose loading calls print
    with zipfile.ZipFile(tmp_path / "mlp.pt2") as source, zipfile.ZipFile(tmp_path / "crafted.pt2", "w") as crafted:
        for info in source.infolist():
            inputs = info.filename.endswith("data/sample_inputs/model.pt")
            crafted.writestr(info, payload.getvalue() if inputs else source.read(info.filename))
    capsys.readouterr()
    # torch's warning about the fallback has a format string that fails under pytest's log capture
    monkeypatch.setattr(logging.getLogger("torch._export.serde.serialize"), "disabled", True)
    torch.export.load(tmp_path / "crafted.pt2")
    assert "this ran while the file was loading" in capsys.readouterr().out  # weights_only=True refused, False ran it
    source = inspect.getsource(torch._export.serde.serialize.deserialize_torch_artifact)
    assert "weights_only=True" in source and "weights_only=False" in source
    assert "Never load data from an untrusted source" in torch.export.load.__doc__


def test_the_documentation_warns_that_pt2_files_may_not_load_in_newer_pytorch():
    for function in (torch.export.save, torch.export.load):
        assert "saved files may not be usable in newer versions" in " ".join(function.__doc__.split())


def test_export_fixes_the_mode_dropout_runs_and_eval_is_refused():
    dropper = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
    few = torch.ones(3, 4)
    in_training = torch.export.export(dropper, (few,)).module()
    assert not torch.equal(in_training(few), in_training(few))  # a new mask each call
    with pytest.raises(NotImplementedError):
        in_training.eval()
    in_eval = torch.export.export(dropper.eval(), (few,)).module()
    assert torch.equal(in_eval(few), in_eval(few)) and torch.equal(in_eval(few), dropper(few))
    assert outputs["export-mode"].splitlines() == [
        "False", "NotImplementedError: Calling eval() is not supported yet.", "True"]


def test_batch_norm_exported_in_training_mode_uses_the_batchs_statistics():
    torch.manual_seed(0)
    bn = nn.BatchNorm1d(3)
    with torch.no_grad():
        bn.running_mean.fill_(5.0)  # far from the batch's mean
    batch = torch.randn(6, 3)
    in_training = torch.export.export(bn, (batch,)).module()
    expected = (batch - batch.mean(0)) / torch.sqrt(batch.var(0, unbiased=False) + bn.eps)
    assert torch.allclose(in_training(batch), expected, atol=1e-5)


def test_a_python_if_on_a_setting_is_decided_while_tracing_only_the_branch_taken_is_recorded():
    class Flagged(nn.Module):
        def __init__(self):
            super().__init__()
            self.double = True

        def forward(self, x):
            if self.double:
                return x * 2
            return x.sin()

    model = Flagged()
    program = torch.export.export(model, (torch.ones(3),))
    assert ops(program) == ["aten.mul.Tensor"]
    model.double = False  # too late: the program has only the branch taken
    assert torch.equal(program.module()(torch.ones(3)), torch.full((3,), 2.0))


def test_an_if_on_a_tensor_value_stops_export_and_the_partial_graph_goes_to_stderr(capfd):
    from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

    capfd.readouterr()
    with pytest.raises(GuardOnDataDependentSymNode, match="data-dependent"):
        torch.export.export(ns["Gate"](), (torch.ones(3, 4),))
    assert "def forward" in capfd.readouterr().err
    assert outputs["export-data-dependent"].startswith("GuardOnDataDependentSymNode: Could not guard on data-dependent")
    assert "u0" in outputs["export-data-dependent"]


def test_a_failed_export_warns_that_no_variable_holds_u0_and_set_logs_dynamic_error_turns_it_off(tmp_path):
    # in a fresh process: the snippet's run here already turned the warning off
    program = """
import contextlib, io, logging, sys, torch
from torch import nn
class Gate(nn.Module):
    def forward(self, x):
        if x.mean() > 0:
            return x
        return -x
def export():
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # the partial graph, printed
            torch.export.export(Gate(), (torch.ones(3, 4),))
    except RuntimeError as error:
        print(error)
export()
print("----", file=sys.stderr, flush=True)
torch._logging.set_logs(dynamic=logging.ERROR)
export()
"""
    (tmp_path / "gate.py").write_text(program, encoding="utf-8")  # a file: the error quotes its line
    child = subprocess.run([sys.executable, tmp_path / "gate.py"], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    before, after = child.stderr.split("----\n")
    warning = r"^W.*symbolic_shapes.py:\d+\] Unable to find user code corresponding to \{u0\}$"
    assert re.search(warning, before, re.M), before
    assert after == "", after
    # export found the user's line; with no variable holding u0 it suggests no torch._check
    assert "if x.mean() > 0" in child.stdout and "torch._check" not in child.stdout, child.stdout


def test_torch_cond_records_both_branches_and_chooses_at_run_time():
    gate_program, gate = ns["gate_program"], ns["gate"]
    assert "cond" in ops(gate_program) and torch.ops.higher_order.cond in [n.target for n in gate_program.graph.nodes]
    assert [name for name, _ in gate_program.graph_module.named_children()] == ["true_graph_0", "false_graph_0"]
    runnable, Gate = gate_program.module(), ns["Gate"]
    for branch_input in (torch.rand(3, 4) + 0.1, -torch.rand(3, 4) - 0.1):  # other values than the example's
        assert torch.equal(runnable(branch_input), gate(branch_input))
        assert torch.equal(runnable(branch_input), Gate.forward(gate, branch_input))  # the model's own if
    # the page compares with Gate.forward, the model with its Python if (here the last input's branch,
    # -linear), so the comparison fails for a program whose branches are swapped
    assert torch.equal(ns["as_in_the_model"], -gate.linear(-ns["gate_input"]))

    class Swapped(ns["Gate"]):
        def forward(self, x):
            return torch.cond(x.mean() > 0, ns["negative"], ns["positive"], (self.linear(x),))

    swapped = Swapped()
    swapped.load_state_dict(gate.state_dict())
    swapped_runnable = torch.export.export(swapped, (ns["gate_input"],)).module()
    for branch_input in (ns["gate_input"], -ns["gate_input"]):
        assert not torch.equal(swapped_runnable(branch_input), Gate.forward(gate, branch_input))
    assert ops(gate_program).index("aten.linear.default") < ops(gate_program).index("cond")  # before the choice
    branches = [ops(graph) for _, graph in gate_program.graph_module.named_children()]
    assert branches == [["aten.relu.default"], ["aten.neg.default"]]  # only what differs
    assert outputs["export-cond"].splitlines()[2:] == ["mean > 0: True  True", "mean > 0: False True"]


def test_cond_branches_may_call_the_modules_layers_whose_parameters_become_inputs_of_both_subgraphs():
    Gate = ns["Gate"]

    class LayersInBranches(Gate):
        def forward(self, x):
            return torch.cond(x.mean() > 0, lambda h: self.linear(h).relu(), lambda h: -self.linear(h), (x,))

    model = LayersInBranches()
    program = torch.export.export(model, (torch.ones(3, 4),))
    assert "aten.linear.default" not in ops(program)  # nothing computed before the choice ...
    parameters = {"p_linear_weight", "p_linear_bias"}
    for _, branch in program.graph_module.named_children():  # ... the layer runs in each branch
        assert ops(branch)[0] == "aten.linear.default"
        assert parameters < {node.name for node in branch.graph.nodes if node.op == "placeholder"}
    (cond,) = [node for node in program.graph.nodes if node.target is torch.ops.higher_order.cond]
    assert parameters < {operand.name for operand in cond.args[3]}  # passed in as operands of cond
    runnable = program.module()
    for branch_input in (torch.rand(3, 4) + 0.1, -torch.rand(3, 4) - 0.1):
        assert torch.equal(runnable(branch_input), Gate.forward(model, branch_input))
    assert ops(program.graph_module.true_graph_0) == ["aten.linear.default", "aten.relu.default"]


def test_a_cond_branch_may_not_return_an_operand_itself():
    class ReturnsOperand(nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda x: x, lambda x: -x, (x,))

    class ReturnsClone(nn.Module):
        def forward(self, x):
            return torch.cond(x.sum() > 0, lambda x: x.clone(), lambda x: -x, (x,))

    with pytest.raises(Exception, match="aliasing"):
        torch.export.export(ReturnsOperand(), (torch.ones(3),))
    torch.export.export(ReturnsClone(), (torch.ones(3),))


def test_cond_branches_must_agree_in_dtype_and_number_of_dimensions_not_in_sizes():
    def export_branches(other):
        class Branches(nn.Module):
            def forward(self, x):
                return torch.cond(x.sum() > 0, lambda x: x * 2, other, (x,))

        return torch.export.export(Branches(), (torch.ones(3, 4),))

    with pytest.raises(Exception, match="expected same dim"):
        export_branches(lambda x: x.sum(0))
    with pytest.raises(Exception, match="expected same dtype"):
        export_branches(lambda x: (x * 2).double())
    runnable = export_branches(lambda x: x[:2] * 3).module()
    assert runnable(-torch.ones(3, 4)).shape == (2, 4)


def test_torch_cond_is_documented_as_a_prototype():
    assert "`torch.cond` is a prototype feature" in torch.cond.__doc__


def test_static_shapes_by_default_and_a_named_dim_makes_one_dimension_dynamic():
    assert outputs["export-dynamic"].splitlines()[0] == "AssertionError: Guard failed: X.size()[0] == 2"
    any_batch = ns["any_batch"]
    (valid,) = any_batch.range_constraints.values()
    assert (valid.lower, valid.upper) == (0, torch.utils._sympy.numbers.int_oo) and str(valid) == "VR[0, int_oo]"
    runnable = any_batch.module()
    net = ns["net"]
    for rows in (0, 1, 5, 33):
        inputs = torch.randn(rows, 20)
        assert torch.allclose(runnable(inputs), net(inputs))
    with pytest.raises(AssertionError, match=r"X.size\(\)\[1\] == 20"):
        runnable(torch.zeros(5, 21))


def test_dim_takes_a_range_and_a_saved_program_keeps_its_dynamic_dimension(tmp_path):
    ranged = torch.export.export(ns["net"], (ns["X"],), dynamic_shapes={"X": {0: Dim("batch", min=1, max=64)}})
    (valid,) = ranged.range_constraints.values()
    assert (valid.lower, valid.upper) == (1, 64)
    with pytest.raises(AssertionError):
        ranged.module()(torch.zeros(65, 20))
    torch.export.save(ns["any_batch"], tmp_path / "any.pt2")
    assert torch.export.load(tmp_path / "any.pt2").module()(torch.zeros(7, 20)).shape == (7, 10)


def test_a_named_dim_that_the_code_fixes_makes_export_fail():
    from torch._dynamo.exc import UserError

    with pytest.raises(UserError, match="specialized it to be a constant \\(20\\)"):
        torch.export.export(ns["net"], (ns["X"],), dynamic_shapes={"X": {1: Dim("features")}})  # nn.Linear(20, ...)


@pytest.mark.parametrize("rows", [0, 1])
def test_an_example_size_of_0_or_1_contradicts_a_named_dim(rows):
    from torch._dynamo.exc import UserError

    with pytest.raises(UserError, match=f"specialized it to be a constant \\({rows}\\)"):
        torch.export.export(ns["net"], (torch.zeros(rows, 20),), dynamic_shapes={"X": {0: Dim("batch")}})


# --- safe_open -------------------------------------------------------------------------------------------------


def test_safe_open_gives_names_metadata_shapes_and_single_tensors_and_slices(tmp_path):
    net = ns["net"]
    save_file(net.state_dict(), tmp_path / "m.safetensors", metadata={"class": "MLP"})
    with safe_open(tmp_path / "m.safetensors", framework="pt") as file:
        assert sorted(file.keys()) == sorted(net.state_dict()) and file.metadata() == {"class": "MLP"}
        rows = file.get_slice("hidden.weight")
        assert rows.get_shape() == [256, 20] and rows.get_dtype() == "F32"
        assert torch.equal(rows[:2], net.hidden.weight[:2]) and torch.equal(rows[:, 3:5], net.hidden.weight[:, 3:5])
        assert torch.equal(file.get_tensor("output.bias"), net.output.bias)
    assert outputs["safe-open"].splitlines()[-1] == "20480 20480"


def test_safe_open_tensors_lie_in_a_private_mapping_of_the_file(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"a": torch.zeros(6), "b": torch.ones(4)}, path)
    with safe_open(path, framework="pt") as file:
        a, b = file.get_tensor("a"), file.get_tensor("b")
    regions = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith(str(path)):
                start, end = (int(bound, 16) for bound in line.split()[0].split("-"))
                regions.append((start, end, line.split()[1]))
    assert any(start <= a.data_ptr() < end and mode.endswith("p") for start, end, mode in regions)  # p: private
    assert b.data_ptr() - a.data_ptr() == 24  # as in the file: b right after a's 6 floats
    a.add_(1)  # writes the process's copy
    assert torch.equal(load_file(path)["a"], torch.zeros(6))  # never the file


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_safe_open_reads_a_tensor_from_disk_only_when_it_is_used(tmp_path):
    code = """
import sys, torch
from safetensors import safe_open
from safetensors.torch import save_file
path = sys.argv[1]
save_file({"big": torch.ones(4096, 4096), "small": torch.ones(4)}, path)  # 64 MB
def resident_kb():
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5:
                inside = line.rstrip().endswith(path)
            elif inside and fields[0] == "Rss:":
                total += int(fields[1])
    return total
with safe_open(path, framework="pt") as file:
    small, big = file.get_tensor("small"), file.get_tensor("big")
    before = resident_kb()
    big.sum()
    print(before, resident_kb())
"""
    child = subprocess.run([sys.executable, "-c", code, str(tmp_path / "big.safetensors")],
                           capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    before, after = map(int, child.stdout.split())
    assert before < 1_000 and after > 60_000  # taken but unread; read when used


# --- torch.distributed.checkpoint --------------------------------------------------------------------------------


def quiet_dcp(function, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function(*args, **kwargs)
    return [str(warning.message) for warning in caught]


def trained_regressor():
    model = ns["make_regressor"]()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    ns["train"](model, optimizer, 3)
    return model, optimizer


def test_dcp_saves_into_a_directory_in_one_process_with_a_warning(tmp_path):
    assert not torch.distributed.is_initialized()
    model, optimizer = trained_regressor()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    said = quiet_dcp(dcp.save, {"model": model_state, "optimizer": optimizer_state}, checkpoint_id=tmp_path)
    assert said == [outputs["dcp-save"].splitlines()[1]]
    assert sorted(path.name for path in tmp_path.iterdir()) == [".metadata", "__0_0.distcp"]
    assert outputs["dcp-save"].splitlines()[2] == "['.metadata', '__0_0.distcp']"


def test_get_state_dict_keys_the_optimizer_state_by_parameter_name():
    model, optimizer = trained_regressor()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    assert list(optimizer_state["state"]) == list(model.state_dict())
    assert list(optimizer.state_dict()["state"]) == [0, 1, 2, 3]
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(model_state.values(), model.state_dict().values()))


def test_get_state_dict_gives_a_fresh_optimizer_state_with_a_zero_step():
    model = ns["make_regressor"]()
    before = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    assert not optimizer.state
    _, optimizer_state = get_state_dict(model, optimizer)
    assert all(state["step"] == 1 for state in optimizer.state.values())  # one step was taken
    assert all(torch.equal(state["exp_avg"], torch.zeros_like(state["exp_avg"])) for state in optimizer.state.values())
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())  # with lr 0
    assert optimizer.param_groups[0]["lr"] == 0.01 and all(p.grad is None for p in model.parameters())
    source = inspect.getsource(torch.distributed.checkpoint.state_dict._init_optim_state)
    assert "zeros_like" in source and "optim.step(" in source


def test_dcp_load_copies_in_place_into_the_tensors_it_is_given(tmp_path):
    model, optimizer = trained_regressor()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    quiet_dcp(dcp.save, {"model": model_state, "optimizer": optimizer_state, "epoch": 3}, checkpoint_id=tmp_path)
    fresh = ns["make_regressor"]()
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.5)
    fresh_state, fresh_optimizer_state = get_state_dict(fresh, fresh_optimizer)
    target = {"model": fresh_state, "optimizer": fresh_optimizer_state, "epoch": 0}
    objects = {name: tensor for name, tensor in fresh_state.items()}
    quiet_dcp(dcp.load, target, checkpoint_id=tmp_path)
    assert all(target["model"][name] is tensor for name, tensor in objects.items())  # the same tensors, filled
    assert all(torch.equal(a, b) for a, b in zip(fresh.parameters(), model.parameters()))  # so the model has them
    assert target["epoch"] == 3  # a value that is not a tensor is replaced
    set_state_dict(fresh, fresh_optimizer, model_state_dict=target["model"], optim_state_dict=target["optimizer"])
    assert fresh_optimizer.param_groups[0]["lr"] == 0.01
    assert ns["train"](fresh, fresh_optimizer, 5) == ns["train"](model, optimizer, 5)  # the same run goes on
    assert outputs["dcp-load"].splitlines() == ["epoch: 100", "True", "True"]


def test_dcp_load_needs_tensors_of_the_saved_shapes_on_their_device(tmp_path):
    assert "must be allocated on their destination device" in " ".join(dcp.load.__doc__.split())
    quiet_dcp(dcp.save, {"w": torch.ones(2, 3)}, checkpoint_id=tmp_path)
    with pytest.raises(CheckpointException, match="Size mismatch"):
        quiet_dcp(dcp.load, {"w": torch.zeros(3, 2)}, checkpoint_id=tmp_path)


def test_dcp_writes_metadata_last_a_crashed_save_leaves_no_metadata_and_does_not_load(tmp_path, monkeypatch):
    import torch.distributed.checkpoint.filesystem as filesystem

    source = inspect.getsource(filesystem.FileSystemWriter.finish)
    assert ".tmp" in source and "rename(tmp_path, metadata_path)" in source

    def crash(*args, **kwargs):
        raise SaveInterrupted

    with monkeypatch.context() as patch:
        patch.setattr(filesystem.pickle, "dump", crash)  # dies as .metadata is written
        with pytest.raises(CheckpointException):
            quiet_dcp(dcp.save, {"w": torch.ones(3)}, checkpoint_id=tmp_path / "new")
    names = {path.name for path in (tmp_path / "new").iterdir()}
    assert "__0_0.distcp" in names and ".metadata" not in names
    with pytest.raises(CheckpointException):
        quiet_dcp(dcp.load, {"w": torch.zeros(3)}, checkpoint_id=tmp_path / "new")


def test_a_crashed_save_into_an_old_checkpoints_directory_leaves_the_old_metadata_on_new_data(tmp_path, monkeypatch):
    import torch.distributed.checkpoint.filesystem as filesystem

    quiet_dcp(dcp.save, {"w": torch.zeros(3)}, checkpoint_id=tmp_path)  # the good checkpoint

    def crash(*args, **kwargs):
        raise SaveInterrupted

    with monkeypatch.context() as patch:
        patch.setattr(filesystem.pickle, "dump", crash)
        with pytest.raises(CheckpointException):
            quiet_dcp(dcp.save, {"w": torch.ones(3)}, checkpoint_id=tmp_path)  # over it, and it crashes
    target = {"w": torch.full((3,), 7.0)}
    quiet_dcp(dcp.load, target, checkpoint_id=tmp_path)
    assert not torch.equal(target["w"], torch.zeros(3))  # the good checkpoint is gone


def test_dcp_loading_unpickles_metadata_and_values_so_a_checkpoint_can_run_code(tmp_path, capsys):
    quiet_dcp(dcp.save, {"note": ns["Payload"]()}, checkpoint_id=tmp_path / "values")
    capsys.readouterr()
    quiet_dcp(dcp.load, {"note": None}, checkpoint_id=tmp_path / "values")
    assert "this ran while the file was loading" in capsys.readouterr().out  # torch.load(weights_only=False)
    quiet_dcp(dcp.save, {"w": torch.ones(2)}, checkpoint_id=tmp_path / "metadata")
    with open(tmp_path / "metadata" / ".metadata", "wb") as file:
        pickle.dump(ns["Payload"](), file)
    capsys.readouterr()
    with pytest.raises(CheckpointException):
        quiet_dcp(dcp.load, {"w": torch.zeros(2)}, checkpoint_id=tmp_path / "metadata")
    assert "this ran while the file was loading" in capsys.readouterr().out  # pickle.load of .metadata


def test_dcp_to_torch_save_converts_a_checkpoint_into_one_file(tmp_path):
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    model, optimizer = trained_regressor()
    model_state, optimizer_state = get_state_dict(model, optimizer)
    quiet_dcp(dcp.save, {"model": model_state, "optimizer": optimizer_state}, checkpoint_id=tmp_path / "dcp")
    quiet_dcp(dcp_to_torch_save, tmp_path / "dcp", tmp_path / "one.pt")
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    assert all(torch.equal(one["model"][name], tensor) for name, tensor in model.state_dict().items())
    assert torch.equal(one["optimizer"]["state"]["0.weight"]["exp_avg"], optimizer.state[model[0].weight]["exp_avg"])


def test_dcp_documents_that_each_rank_saves_its_own_shards_and_loading_reshards():
    assert "each rank only save their local shards" in " ".join(dcp.save.__doc__.split())
    assert "each rank only reads data for their local shards" in " ".join(dcp.load.__doc__.split())


# --- exercises -------------------------------------------------------------------------------------------------


def test_state_dict_order_is_own_parameters_then_own_buffers_then_submodules():
    scaler = ns["Scaler"]()
    keys = list(scaler.state_dict())
    assert keys[:2] == ["temperature", "mean"] and keys[2:4] == ["linear.weight", "linear.bias"]
    assert len(keys) == 11 and len(list(scaler.parameters())) == 7 and len(list(scaler.buffers())) == 5
    assert not {"cache", "scale"} & set(keys) and not any(k.startswith("extras") for k in keys)
    assert outputs["exercise-predict-keys"].splitlines()[1] == "11 entries; 7 parameters"


def test_a_prefix_mismatch_with_strict_false_loads_nothing():
    fresh = ns["Classifier"]()
    before = fresh.body[0].weight.clone()
    result = fresh.load_state_dict(ns["saved_body"], strict=False)
    assert len(result.missing_keys) == 6 and len(result.unexpected_keys) == 4
    assert torch.equal(fresh.body[0].weight, before)
    lines = outputs["exercise-partial-loading-prefix"].splitlines()
    assert lines[2] == "False" and lines[3] == "<All keys matched successfully>"
    assert lines[4] == "_IncompatibleKeys(missing_keys=['head.weight', 'head.bias'], unexpected_keys=[])"
    assert torch.equal(ns["classifier"].body[0].weight, ns["body"][0].weight)


def test_tied_lm_saves_its_matrix_once_and_keeps_the_tie():
    lm = ns["lm"]
    assert lm.head.weight is lm.embedding.weight and lm.embedding.weight.nbytes == 256_000
    lines = outputs["exercise-tied-weights"].splitlines()
    assert lines[0] == "['embedding.weight', 'head.weight']"
    assert lines[1] == "torch.save: 257,769 bytes for one 256,000-byte weight"
    assert lines[2:5] == ["True", "<All keys matched successfully> True", "True"]
    assert lines[5:] == ["save_file: RuntimeError", "['embedding.weight']", "(set(), [])", "True"]
    copy_ = ns["safetensors_copy"]
    assert copy_.head.weight is copy_.embedding.weight


def test_the_optimizer_state_of_a_compiled_model_loads_into_the_plain_models_optimizer():
    model = ns["make_regressor"]()
    compiled = torch.compile(model, backend="eager")
    optimizer = torch.optim.Adam(compiled.parameters(), lr=0.01)  # the wrapper's parameters
    model(torch.randn(5, 4)).sum().backward()  # the same parameters, without compiling anything
    optimizer.step()
    state = optimizer.state_dict()
    assert set(state["state"]) == {0, 1, 2, 3}  # numbers, not names
    plain = ns["make_regressor"]()
    plain_optimizer = torch.optim.Adam(plain.parameters(), lr=0.01)
    plain_optimizer.load_state_dict(state)
    assert torch.equal(plain_optimizer.state[plain[0].weight]["exp_avg"], optimizer.state[model[0].weight]["exp_avg"])


def test_optimizer_state_left_on_the_old_device_makes_the_next_step_fail():
    """The page: moving the model keeps the Parameter objects (checked on meta's stand-in, a
    moved state), and state made before the move stays behind: the next step() raises."""
    for foreach in (False, True):
        model = nn.Linear(3, 2)
        optimizer = torch.optim.Adam(model.parameters(), foreach=foreach)
        model(torch.ones(1, 3)).sum().backward()
        optimizer.step()
        for state in optimizer.state.values():  # as a model moved to another device would leave it
            state["exp_avg"], state["exp_avg_sq"] = state["exp_avg"].to("meta"), state["exp_avg_sq"].to("meta")
        with pytest.raises(RuntimeError, match="device"):
            optimizer.step()


def test_exercise_export_branch_the_rewrite_matches_the_if_for_any_rows_and_fill():
    clip, runnable = ns["clip"], ns["clip_runnable"]
    torch.manual_seed(1)
    for rows in (1, 2, 9):
        for scale in (0.01, 1.0, 100.0):
            inputs = torch.randn(rows, 4) * scale
            assert torch.equal(runnable(inputs), clip(inputs))
    assert outputs["exercise-export-branch"].splitlines()[0] == "as written: GuardOnDataDependentSymNode"
    assert [line.split("scaled ")[1].split()[0] for line in outputs["exercise-export-branch"].splitlines()[1:]] == [
        "False", "True", "False", "True"]
