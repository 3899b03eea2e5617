"""The facts that docs/*/saving-loading.md states, checked on the running torch."""

import argparse
import collections
import copy
import dataclasses
import inspect
import io
import json
import pickle
import struct
import sys

import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load, load_file, load_model, save_file, save_model
from torch import nn

from tools.snippets import ROOT, run

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


def test_a_capturable_optimizer_moves_the_step_too():
    saved = copy.deepcopy(trained_adam(nn.Sequential(nn.Linear(3, 1))).state_dict())
    saved["param_groups"][0]["capturable"] = True
    model = nn.Sequential(nn.Linear(3, 1)).to("meta")
    optimizer = torch.optim.Adam(model.parameters(), capturable=True)
    optimizer.load_state_dict(saved)
    assert optimizer.state[model[0].weight]["step"].device.type == "meta"


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


def test_snippet_checkpoint_with_args_is_refused_then_loads_inside_safe_globals():
    lines = outputs["safe-globals"].splitlines()
    assert lines[:2] == ["UnpicklingError: Weights only load failed", "blocked: argparse.Namespace"]
    assert ns["with_args"]["args"] == ns["run_args"] and ns["with_args"]["epoch"] == 50
    assert argparse.Namespace not in torch.serialization.get_safe_globals()  # only in the block


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
