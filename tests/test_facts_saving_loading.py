"""The facts that docs/*/saving-loading.md states, checked on the running torch."""

import copy
import io
import pickle

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "saving-loading.py")


def saved_and_loaded(obj, **load_args):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True, **load_args)


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


def test_mlp_state_dict_has_weights_and_biases_of_both_layers():
    shapes = {name: tuple(t.shape) for name, t in ns["net"].state_dict().items()}
    assert shapes == {"hidden.weight": (256, 20), "hidden.bias": (256,),
                      "output.weight": (10, 256), "output.bias": (10,)}


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


def test_state_dict_tensors_are_the_models_tensors_and_deepcopy_is_a_snapshot():
    net = ns["MLP"]()
    snapshot, frozen = net.state_dict(), copy.deepcopy(net.state_dict())
    assert snapshot["output.bias"].data_ptr() == net.output.bias.data_ptr()
    with torch.no_grad():
        net.output.bias.add_(1)
    assert torch.equal(snapshot["output.bias"], net.output.bias)
    assert not torch.equal(frozen["output.bias"], net.output.bias)


def test_snippet_restored_the_edited_bias():
    net = ns["net"]
    assert not torch.equal(net.output.bias, torch.zeros(10))
    assert torch.equal(net(ns["X"]), ns["Y"])


def test_adam_state_has_step_and_two_running_averages_per_parameter():
    state = ns["optimizer"].state_dict()["state"]
    assert len(state) == len(list(ns["model"].parameters()))
    assert all(set(entry) == {"step", "exp_avg", "exp_avg_sq"} for entry in state.values())


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


def test_cuda_file_needs_map_location_on_a_cpu_machine(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("the error only happens without CUDA")
    buffer = io.BytesIO()
    with monkeypatch.context() as patch:  # record the tensors as if they lived on a GPU
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"w": torch.ones(2)}, buffer)
    buffer.seek(0)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(buffer, weights_only=True)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True, map_location="cpu")
    assert loaded["w"].device.type == "cpu" and torch.equal(loaded["w"], torch.ones(2))


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
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer)


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


def test_cleanup_removes_the_temporary_directory():
    assert not ns["folder"].exists()
