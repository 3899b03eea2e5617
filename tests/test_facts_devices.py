"""The facts docs/*/devices.md claims, checked on the installed torch.

CPU facts always run. GPU facts need a CUDA device and are skipped, with the reason, elsewhere.
"""

import copy
import gc
import inspect
import multiprocessing
import os
import pickle
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils import benchmark
from torch.utils.data import DataLoader, TensorDataset

from tools.snippets import ROOT, run

outputs, ns = run(ROOT / "snippets" / "devices.py")
MiB = 2**20

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device; not run on this machine")
needs_two_gpus = pytest.mark.skipif(
    torch.cuda.device_count() < 2, reason="needs two CUDA devices; not run on this machine"
)
needs_tf32 = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.get_device_capability() < (8, 0),
    reason="needs a CUDA device with TF32 (Ampere or later); not run on this machine",
)


def test_cuda_is_not_equal_to_cuda0():
    assert ns["cuda"] != ns["cuda0"]
    assert ns["cuda"].type == ns["cuda0"].type == "cuda"


def test_cuda_has_no_index_and_cuda0_has_index_0():
    assert ns["cuda"].index is None
    assert ns["cuda0"].index == 0


def test_cuda0_equals_cuda_with_index_0():
    assert ns["cuda0"] == torch.device("cuda", 0)


def test_there_is_no_gpu_device():
    with pytest.raises(RuntimeError):
        torch.device("gpu")


def test_device_is_the_accelerator_if_available_else_cpu():
    if torch.accelerator.is_available():
        assert ns["device"].type == torch.accelerator.current_accelerator().type
        assert ns["device"].index is None
    else:
        assert ns["device"] == torch.device("cpu")


def test_try_all_gpus_is_never_empty():
    devices = ns["try_all_gpus"]()
    assert len(devices) >= 1
    assert all(isinstance(d, torch.device) for d in devices)


def test_try_all_gpus_is_the_cpu_alone_without_accelerator():
    if torch.accelerator.is_available():
        assert len(ns["try_all_gpus"]()) == torch.accelerator.device_count()
    else:
        assert ns["try_all_gpus"]() == [torch.device("cpu")]


def test_try_gpu_falls_back_to_cpu_for_a_missing_gpu():
    assert ns["try_gpu"](torch.accelerator.device_count()) == torch.device("cpu")


def test_an_empty_device_list_breaks_batch_splitting():
    with pytest.raises(RuntimeError):
        ns["split_batch"](ns["batch"], [])


def test_split_batch_makes_one_part_per_device_where_chunk_makes_fewer():
    devices = [torch.device("cpu")] * 3
    parts = ns["split_batch"](ns["batch"], devices)
    assert ns["batch"].shape[0] == 4
    assert [part.shape[0] for part in parts] == [2, 1, 1]
    assert [part.shape[0] for part in ns["batch"].chunk(3)] == [2, 2]  # the third device would get nothing


def test_split_batch_keeps_every_row():
    parts = ns["parts"]
    assert len(parts) == len(ns["try_all_gpus"]())
    assert sum(part.shape[0] for part in parts) == ns["batch"].shape[0]
    assert torch.equal(torch.cat([part.cpu() for part in parts]), ns["batch"])


def test_copy_to_the_other_operands_device_then_add():
    assert ns["Z"].device == ns["Y"].device
    assert torch.equal((ns["Y"] + ns["Z"]).cpu(), torch.full((2, 3), 3.0))


def test_to_the_same_device_returns_the_same_tensor():
    tensor = torch.ones(2)
    assert tensor.to("cpu") is tensor
    assert ns["Z"].to(ns["Y"].device) is ns["Z"]


def test_to_another_device_copies_and_leaves_the_original():
    tensor = torch.ones(2)
    moved = tensor.to("meta")  # the meta device exists on every machine
    assert moved is not tensor
    assert moved.device.type == "meta"
    assert tensor.device == torch.device("cpu")


def test_net_has_parameters_and_buffers():
    net = ns["net"]
    assert len(list(net.parameters())) == 6
    assert isinstance(net[1], torch.nn.BatchNorm1d)
    assert len(list(net.buffers())) == len(list(net[1].buffers())) == 3


def test_net_to_moves_parameters_and_buffers():
    net = copy.deepcopy(ns["net"]).to("cpu")
    net.to("meta")  # a real move, possible without a GPU
    assert all(p.device.type == "meta" for p in net.parameters())
    assert all(b.device.type == "meta" for b in net.buffers())


def test_module_to_returns_the_same_module():
    net = copy.deepcopy(ns["net"])
    assert net.to("meta") is net


def test_net_is_on_the_chosen_device_and_computes_there():
    net, device = ns["net"], ns["device"]
    assert all(p.device.type == device.type for p in net.parameters())
    assert all(b.device.type == device.type for b in net.buffers())
    assert net(ns["X"]).device.type == device.type


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available: .cuda() works on this machine")
def test_cuda_method_fails_without_cuda():
    with pytest.raises((AssertionError, RuntimeError)):
        torch.ones(2).cuda()
    with pytest.raises((TypeError, RuntimeError)):
        torch.cuda.FloatTensor([1.0, 2.0])


def test_the_legacy_float_tensor_constructor_is_tied_to_the_cpu_and_float32():
    with torch.device("meta"):
        legacy = torch.FloatTensor(2, 3)  # not even the default device moves it
    assert legacy.device.type == "cpu" and legacy.dtype == torch.float32 and legacy.shape == (2, 3)
    with pytest.raises(RuntimeError):
        torch.FloatTensor(2, 3, device="meta")


@needs_cuda
def test_cuda_tensor_lands_on_the_current_device():
    assert torch.ones(1, device="cuda").device == torch.device("cuda", torch.cuda.current_device())


@needs_cuda
def test_tensor_device_never_equals_cuda_without_index():
    assert torch.ones(1, device="cuda").device != torch.device("cuda")


@needs_two_gpus
def test_cuda_follows_the_current_device():
    with torch.accelerator.device_index(1):
        assert torch.ones(1, device="cuda").device == torch.device("cuda:1")
    assert torch.ones(1, device="cuda").device == torch.device("cuda:0")


@needs_cuda
def test_mixing_cuda_and_cpu_vectors_raises():
    with pytest.raises(RuntimeError):
        torch.ones(3, device="cuda") + torch.ones(3)


@needs_cuda
def test_a_0_dim_cpu_tensor_mixes_with_a_cuda_tensor():
    result = torch.ones(3, device="cuda") + torch.tensor(2.0)
    assert result.device.type == "cuda"
    assert torch.equal(result.cpu(), torch.full((3,), 3.0))


@needs_cuda
def test_a_0_dim_cuda_tensor_does_not_mix_with_a_cpu_vector():
    with pytest.raises(RuntimeError):
        torch.ones(3) + torch.tensor(2.0, device="cuda")


@needs_cuda
def test_a_cuda_tensor_accepts_cpu_indices():
    picked = torch.arange(5.0, device="cuda")[torch.tensor([0, 2])]
    assert picked.device.type == "cuda" and picked.tolist() == [0.0, 2.0]


def test_numpy_refuses_a_tensor_off_the_cpu():
    with pytest.raises(TypeError):
        torch.ones(2, device="meta").numpy()  # the same check as for a GPU tensor


@needs_cuda
def test_numpy_refuses_a_cuda_tensor_until_cpu():
    with pytest.raises(TypeError):
        torch.ones(2, device="cuda").numpy()
    assert torch.ones(2, device="cuda").cpu().numpy().tolist() == [1.0, 1.0]


@needs_two_gpus
def test_tensors_on_two_gpus_do_not_mix():
    with pytest.raises(RuntimeError):
        torch.ones(3, device="cuda:0") + torch.ones(3, device="cuda:1")


@needs_cuda
def test_model_on_cuda_rejects_cpu_data():
    net = copy.deepcopy(ns["net"]).to("cuda")
    with pytest.raises(RuntimeError):
        net(torch.rand(2, 3))


@needs_cuda
def test_cuda_matrix_product_matches_the_cpu():
    A = torch.rand(512, 512)
    assert torch.allclose(A @ A, (A.to("cuda") @ A.to("cuda")).cpu(), rtol=1e-3)


# Which GPUs a process sees


def test_a_child_with_an_empty_cuda_visible_devices_sees_no_gpu():
    assert ns["child"].returncode == 0
    assert ns["child"].stdout.strip() == "0"
    assert ns["hidden"]["CUDA_VISIBLE_DEVICES"] == ""


@needs_cuda
def test_this_process_sees_its_gpus_while_the_child_sees_none():
    assert torch.cuda.device_count() >= 1
    assert "CUDA devices in this process: 0" not in outputs["visible-devices"]


# The default device


def test_a_device_block_sends_factory_functions_and_new_modules_there():
    assert ns["zeros"].device.type == "meta"
    assert ns["layer"].weight.device.type == "meta" and ns["layer"].bias.device.type == "meta"
    assert ns["listed"].device.type == "meta"


def test_the_default_device_does_not_apply_to_explicit_devices_numpy_or_existing_tensors():
    assert ns["explicit"].device.type == "cpu"
    assert ns["shared"].device.type == "cpu"
    assert ns["batch"].device.type == "cpu"
    array = np.zeros(3)
    with torch.device("meta"):
        shared = torch.from_numpy(array)
        wrapped = torch.frombuffer(bytearray(8), dtype=torch.float32)
    assert shared.device.type == "cpu" and wrapped.device.type == "cpu"
    shared[0] = 1.0
    assert array[0] == 1.0  # it wraps the array's own memory


def test_tensor_as_tensor_and_asarray_of_an_existing_tensor_go_to_the_default_device():
    assert ns["converted"].device.type == "meta" and ns["batch"].device.type == "cpu"
    assert "torch.as_tensor(batch): meta" in outputs["default-device"]
    x = torch.ones(2)
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch.tensor(tensor) suggests clone().detach()
        made = [torch.tensor(x), torch.as_tensor(x), torch.asarray(x)]
        followers = [torch.zeros_like(x), torch.full_like(x, 1.0), x.new_ones(2)]
    assert all(t.device.type == "meta" for t in made)
    assert all(t.device.type == "cpu" for t in followers)


def test_the_default_device_is_the_cpu_again_after_the_block():
    assert torch.get_default_device() == torch.device("cpu")
    assert "default device after the block: cpu" in outputs["default-device"]


def test_set_default_device_then_none_restores_the_cpu_and_removes_the_mode():
    from torch.overrides import _get_current_function_mode_stack
    from torch.utils._device import DeviceContext

    def device_modes():
        return [mode for mode in _get_current_function_mode_stack() if isinstance(mode, DeviceContext)]

    try:
        torch.set_default_device("meta")
        assert torch.zeros(1).device.type == "meta"
        assert torch.nn.Linear(2, 2).weight.device.type == "meta"
        assert device_modes()
    finally:
        torch.set_default_device(None)
    assert torch.zeros(1).device.type == "cpu"
    assert torch.get_default_device() == torch.device("cpu")
    assert not device_modes()


def test_a_default_device_reaches_the_data_loaders_random_draws():
    lines = outputs["set-default-device"].splitlines()
    assert lines[2] == "RuntimeError: Tensor.item() cannot be called on meta tensors"
    assert lines[3] == "without a default device: [(4,), (4,)]"
    loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, shuffle=True)
    try:
        torch.set_default_device("meta")
        with pytest.raises(RuntimeError, match="meta"):
            next(iter(loader))
        assert torch.randperm(4).device.type == "meta"  # the order is made on the default device ...
        assert torch.Generator().device.type == "cpu"  # ... with a generator that stays on the CPU
    finally:
        torch.set_default_device(None)
    with torch.device("meta"):  # a block around the model only ...
        model = torch.nn.Linear(2, 2)
    assert model.weight.is_meta
    assert sorted(torch.cat([rows for (rows,) in loader]).tolist()) == list(range(8))  # ... leaves the loader alone


@needs_cuda
def test_a_cuda_default_device_breaks_a_shuffling_data_loader():
    loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, shuffle=True)
    try:
        torch.set_default_device("cuda")
        with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
            next(iter(loader))
    finally:
        torch.set_default_device(None)
    assert len(list(loader)) == 2


@needs_cuda
def test_a_model_built_on_the_gpu_draws_other_initial_weights_from_the_same_seed():
    torch.manual_seed(0)
    on_cpu = torch.nn.Linear(64, 64)
    torch.manual_seed(0)
    with torch.device("cuda"):
        on_gpu = torch.nn.Linear(64, 64)
    assert not torch.equal(on_cpu.weight, on_gpu.weight.cpu())
    torch.manual_seed(0)
    assert torch.equal(torch.nn.Linear(64, 64).to("cuda").weight, on_cpu.weight.cuda())  # built on the CPU, moved


def test_the_default_device_belongs_to_the_thread_that_set_it():
    made = []
    try:
        torch.set_default_device("meta")
        thread = threading.Thread(target=lambda: made.append(torch.zeros(1).device))
        thread.start()
        thread.join()
        assert torch.zeros(1).device.type == "meta"
    finally:
        torch.set_default_device(None)
    assert made == [torch.device("cpu")]


def test_operations_on_existing_tensors_follow_their_inputs_not_the_default():
    devices = {name: tensor.device.type for name, tensor in ns["results"].items()}
    assert devices == {
        "torch.arange(3)": "meta", "torch.randn(2)": "meta", "x + 1": "cpu",
        "x.new_zeros(2)": "cpu", "torch.ones_like(x)": "cpu", "torch.stack([x, x])": "cpu",
    }
    x = torch.ones(2, dtype=torch.float64)
    with torch.device("meta"):
        assert x.new_zeros(2).dtype == torch.ones_like(x).dtype == torch.float64


# Timing


@needs_cuda
def test_the_timing_example_shows_queued_work_unfinished_until_synchronize():
    lines = outputs["timing"].splitlines()
    assert "same product: True" in lines
    assert "queued work finished when the loop returned: False" in lines
    assert "queued work finished after synchronize: True" in lines


@needs_cuda
def test_after_synchronize_the_current_stream_has_no_work_left():
    A = torch.rand(1024, 1024, device="cuda")
    for _ in range(10):
        A @ A
    torch.cuda.synchronize()
    assert torch.cuda.current_stream().query()


def test_timer_warms_up_then_runs_the_statement_number_times():
    calls = []
    measurement = benchmark.Timer(stmt="f()", globals={"f": lambda: calls.append(1)}).timeit(10)
    assert len(calls) == 2 + 10 and measurement.number_per_run == 10
    calls.clear()
    benchmark.Timer(stmt="f()", globals={"f": lambda: calls.append(1)}).timeit(1000)
    assert len(calls) == 1000 // 100 + 1000
    assert len(ns["threads_seen"]) == 12


def test_timer_runs_on_one_thread_unless_told_otherwise():
    assert ns["measurement"].task_spec.num_threads == 1
    assert ns["measurement"].number_per_run == 100
    seen = []
    benchmark.Timer(stmt="f()", globals={"f": lambda: seen.append(torch.get_num_threads())}).timeit(3)
    assert set(seen) == {1}
    seen.clear()
    benchmark.Timer(stmt="f()", globals={"f": lambda: seen.append(torch.get_num_threads())}, num_threads=2).timeit(3)
    assert set(seen) == {2}
    assert set(ns["threads_seen"]) == {2}


def test_timer_synchronizes_the_accelerator_when_there_is_one(monkeypatch):
    synchronized = []
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda *args: synchronized.append(args))
    benchmark.utils.timer.timer()
    assert len(synchronized) == 1


def test_measurement_median_and_mean_are_seconds_per_run():
    measurement = ns["measurement"]
    assert measurement.median == pytest.approx(measurement.raw_times[0] / measurement.number_per_run)
    assert measurement.mean == pytest.approx(measurement.median)  # one measurement of 100 runs


# Pinned memory and asynchronous copies


def test_ordinary_tensors_are_not_pinned():
    assert not torch.ones(2).is_pinned()
    assert not ns["host"].is_pinned()


@pytest.mark.skipif(torch.accelerator.is_available(), reason="an accelerator is available: pinning works here")
def test_pinning_needs_an_accelerator():
    with pytest.raises(RuntimeError):
        torch.ones(2).pin_memory()


@needs_cuda
def test_pin_memory_returns_a_pinned_copy():
    host = torch.ones(2)
    pinned = host.pin_memory()
    assert pinned.is_pinned() and not host.is_pinned()
    assert pinned.data_ptr() != host.data_ptr() and torch.equal(pinned, host)  # a copy, made before it returns


@needs_cuda
def test_the_pinned_staging_buffer_is_reused_and_every_copy_is_right():
    lines = outputs["pinned-memory"].splitlines()
    assert lines[1] == "staging pinned: True | results land in pinned memory: True"
    assert lines[2] == "results correct after synchronize: True"
    staging = torch.empty(4, pin_memory=True)
    address = staging.data_ptr()
    staging.copy_(torch.arange(4.0))  # refilling writes into the same pinned memory
    assert staging.data_ptr() == address and staging.is_pinned()
    assert torch.cuda.Event().query()  # an event never recorded counts as done: the first wait returns at once


def pinning_threads(monkeypatch, num_workers):
    """The threads in which a DataLoader with pin_memory=True pins its batches (an accelerator is faked)."""
    pinned_in = []

    def record(data, device=None):
        pinned_in.append(threading.current_thread() is threading.main_thread())
        return data

    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda *args, **kwargs: torch.device("cuda"))
    monkeypatch.setattr(torch.accelerator, "current_device_index", lambda: 0)
    monkeypatch.setattr(torch.accelerator, "set_device_index", lambda index: None)
    monkeypatch.setattr(torch.utils.data._utils.pin_memory, "pin_memory", record)
    loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=2, pin_memory=True, num_workers=num_workers)
    assert len(list(loader)) == 4
    return pinned_in


def test_a_data_loader_pins_in_the_main_thread_without_workers(monkeypatch):
    assert pinning_threads(monkeypatch, num_workers=0) == [True] * 4


def test_a_data_loader_with_workers_pins_in_a_background_thread(monkeypatch):
    assert pinning_threads(monkeypatch, num_workers=1) == [False] * 4


@needs_cuda
def test_a_non_blocking_copy_to_the_cpu_lands_in_pinned_memory():
    back = torch.ones(1000, device="cuda").to("cpu", non_blocking=True)
    torch.cuda.synchronize()
    assert back.is_pinned()
    assert not torch.ones(1000, device="cuda").to("cpu").is_pinned()


@needs_cuda
def test_a_data_loader_with_pin_memory_returns_pinned_batches():
    dataset = torch.utils.data.TensorDataset(torch.ones(4, 2))
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, pin_memory=True)
    assert all(batch.is_pinned() for (batch,) in loader)
    assert not any(batch.is_pinned() for (batch,) in torch.utils.data.DataLoader(dataset, batch_size=2))


# GPU memory statistics


def test_torch_accelerator_has_the_memory_functions_of_torch_cuda():
    for name in ("memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
                 "reset_peak_memory_stats", "memory_stats", "empty_cache"):
        assert callable(getattr(torch.accelerator, name)), name
        assert callable(getattr(torch.cuda, name)), name


@needs_cuda
def test_memory_allocated_counts_tensors_and_the_peak_counts_temporaries():
    gc.collect()  # nothing left over from other tests may be freed while this one measures
    x = torch.ones(1024, 1024, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    y = x * 2 + 1
    assert torch.cuda.memory_allocated() - base == 4 * MiB
    assert torch.cuda.max_memory_allocated() - base == 8 * MiB
    reserved = torch.cuda.memory_reserved()
    assert reserved >= torch.cuda.memory_allocated()
    del y
    assert torch.cuda.memory_allocated() == base
    assert torch.cuda.memory_reserved() == reserved


# Autocast


def test_cpu_autocast_lists_linear_low_precision_losses_float32_and_softmax_sum_neither():
    dtypes = ns["autocast_dtypes"]("cpu")
    assert dtypes["input"] == torch.float32
    assert dtypes["linear output"] == torch.bfloat16
    assert dtypes["softmax"] == dtypes["sum"] == torch.bfloat16  # follow their bfloat16 input
    assert dtypes["cross_entropy"] == torch.float32
    assert dtypes["weight"] == dtypes["weight.grad"] == torch.float32
    X = torch.rand(2, 3)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        assert (X @ X.T).dtype == torch.bfloat16
        assert X.softmax(dim=1).dtype == X.sum().dtype == torch.float32  # float32 input: left alone


def test_autocast_default_types_are_bfloat16_on_cpu_and_float16_on_cuda():
    assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert torch.get_autocast_dtype("cuda") == torch.float16


@needs_cuda
def test_cuda_autocast_leaves_cpu_operations_alone():
    X = torch.rand(2, 3)
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        assert (X.cuda() @ X.cuda().T).dtype == torch.bfloat16  # it is active on CUDA
        assert (X @ X.T).dtype == torch.float32  # and leaves the CPU alone


def test_bfloat16_has_the_range_of_float32_and_float16_does_not():
    assert torch.finfo(torch.bfloat16).max > 1e38 and torch.finfo(torch.float32).max > 1e38
    assert torch.finfo(torch.float16).max < 7e4
    assert torch.tensor(1e-8, dtype=torch.float16).item() == 0.0  # a small gradient underflows
    assert torch.tensor(1e-8, dtype=torch.bfloat16).item() != 0.0


F = torch.nn.functional
AUTOCAST_OPS = {
    "softmax": lambda x: x.softmax(1),
    "log_softmax": lambda x: x.log_softmax(1),
    "sum": lambda x: x.sum(),
    "cumsum": lambda x: x.cumsum(0),
    "exp": torch.exp,
    "log": torch.log,
    "pow": lambda x: x.pow(2),
    "layer_norm": lambda x: F.layer_norm(x, (4,)),
    "group_norm": lambda x: F.group_norm(x.view(1, 4, 4), 2),
    "mse_loss": lambda x: F.mse_loss(x, x),
    "inverse": lambda x: torch.inverse(x + 4 * torch.eye(4, device=x.device, dtype=x.dtype)),
    "fft": lambda x: torch.fft.fft(x).real,
    "max_pool3d": lambda x: F.max_pool3d(x.view(1, 1, 1, 4, 4), (1, 2, 2)),
}
ON_CUDAS_FLOAT32_LIST_ONLY = [
    "softmax", "log_softmax", "sum", "cumsum", "exp", "log", "pow", "layer_norm", "group_norm",
]


def autocast_result_dtypes(device_type):
    x = torch.rand(4, 4, device=device_type).to(torch.bfloat16) + 0.5
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
        return {name: op(x).dtype for name, op in AUTOCAST_OPS.items()}


def test_the_cpu_float32_list_holds_losses_linear_algebra_and_ffts_not_softmax_or_exp():
    dtypes = autocast_result_dtypes("cpu")
    assert {name: dtypes[name] for name in ON_CUDAS_FLOAT32_LIST_ONLY} == dict.fromkeys(
        ON_CUDAS_FLOAT32_LIST_ONLY, torch.bfloat16
    )
    assert dtypes["mse_loss"] == dtypes["inverse"] == dtypes["fft"] == dtypes["max_pool3d"] == torch.float32


@needs_cuda
def test_the_cuda_float32_list_holds_softmax_sum_exp_and_the_norms():
    dtypes = autocast_result_dtypes("cuda")
    assert {name: dtypes[name] for name in ON_CUDAS_FLOAT32_LIST_ONLY} == dict.fromkeys(
        ON_CUDAS_FLOAT32_LIST_ONLY, torch.float32
    )


@needs_cuda
def test_cuda_autocast_runs_softmax_and_sum_in_float32():
    dtypes = ns["autocast_dtypes"]("cuda")
    assert dtypes["linear output"] == torch.bfloat16
    assert dtypes["softmax"] == dtypes["sum"] == dtypes["cross_entropy"] == torch.float32
    assert dtypes["weight"] == dtypes["weight.grad"] == torch.float32


# Streams and events


def test_the_stream_and_event_classes_and_methods_exist():
    for cls in (torch.Event, torch.cuda.Event):
        for method in ("record", "query", "synchronize", "elapsed_time", "wait"):
            assert callable(getattr(cls, method)), (cls, method)
    for cls in (torch.Stream, torch.cuda.Stream):
        for method in ("wait_stream", "wait_event", "record_event", "query", "synchronize"):
            assert callable(getattr(cls, method)), (cls, method)
    assert callable(torch.Tensor.record_stream) and callable(torch.cuda.stream)
    assert "enable_timing" in torch.Event.__doc__.splitlines()[1]  # Event(device=None, *, enable_timing=False, ...)
    assert "enable_timing" in inspect.signature(torch.cuda.Event.__new__).parameters


def test_an_event_that_was_never_recorded_counts_as_reached():
    assert torch.Event(device="cpu").query()
    assert "Always returns ``True`` if the Event was not recorded" in torch.Event.query.__doc__


def test_wait_stream_makes_later_work_wait_for_work_queued_so_far():
    source = inspect.getsource(torch.cuda.Stream.wait_stream)
    assert "self.wait_event(stream.record_event())" in source  # a mark now on the other stream, waited for
    assert "only future operations are affected" in torch.cuda.Stream.wait_stream.__doc__


def test_record_stream_is_for_the_allocator_that_knows_only_the_allocating_stream():
    doc = " ".join(torch.Tensor.record_stream.__doc__.split())
    assert "aware of only the stream where a tensor was allocated" in doc
    assert "not reused for another tensor until all work queued on" in doc
    assert "s0.wait_stream(s1)" in doc  # the alternative: make the creating stream wait before freeing


@needs_cuda
def test_the_end_event_is_reached_only_after_synchronize():
    lines = outputs["event-timing"].splitlines()
    assert lines[0] == "end reached when the loop returned: False"
    assert lines[1].startswith("end reached after end.synchronize(): True | event on cuda")
    assert isinstance(ns["milliseconds"], float) and ns["milliseconds"] > 0


@needs_cuda
def test_the_side_stream_gives_the_same_products():
    assert outputs["side-stream"].splitlines() == [
        "two streams: True | compute is the default stream: True",
        "every product as without streams: True",
    ]


@needs_cuda
def test_a_copy_on_a_side_stream_overlaps_compute():
    host = torch.rand(64, 1024, 1024).pin_memory()  # 256 MiB
    A = torch.rand(4096, 4096, device="cuda")
    copies = torch.cuda.Stream()

    def seconds(copy, compute):
        torch.cuda.synchronize()
        start = time.perf_counter()
        if copy:
            with torch.cuda.stream(copies):
                host.to("cuda", non_blocking=True)
        if compute:
            for _ in range(8):
                A @ A
        torch.cuda.synchronize()
        return time.perf_counter() - start

    seconds(True, True)  # warm-up
    apart = seconds(True, False) + seconds(False, True)
    assert seconds(True, True) < 0.9 * apart


# TF32 and float32 precision


def precision_state():
    b = torch.backends
    return {
        "generic": b.fp32_precision, "cudnn": b.cudnn.fp32_precision, "mkldnn": b.mkldnn.fp32_precision,
        "cuda.matmul": b.cuda.matmul.fp32_precision, "cudnn.conv": b.cudnn.conv.fp32_precision,
        "cudnn.rnn": b.cudnn.rnn.fp32_precision, "mkldnn.matmul": b.mkldnn.matmul.fp32_precision,
        "mkldnn.conv": b.mkldnn.conv.fp32_precision, "mkldnn.rnn": b.mkldnn.rnn.fp32_precision,
        "matmul precision": torch.get_float32_matmul_precision(), "allow_tf32": b.cuda.matmul.allow_tf32,
        "cudnn.allow_tf32": b.cudnn.allow_tf32,
    }


DEFAULT_PRECISION = {
    "generic": "none", "cudnn": "none", "mkldnn": "none", "cuda.matmul": "none", "cudnn.conv": "tf32",
    "cudnn.rnn": "tf32", "mkldnn.matmul": "none", "mkldnn.conv": "none", "mkldnn.rnn": "none",
    "matmul precision": "highest", "allow_tf32": False, "cudnn.allow_tf32": True,
}


@pytest.fixture
def default_precision():
    """Start from the default settings and restore them afterwards. No test sets cuDNN's conv or rnn
    itself: their "tf32" default gives way to a level above, a value set on them does not."""
    assert precision_state() == DEFAULT_PRECISION
    yield torch.backends
    b = torch.backends
    torch.set_float32_matmul_precision("highest")
    b.fp32_precision = b.cudnn.fp32_precision = b.mkldnn.fp32_precision = "none"
    b.cuda.matmul.fp32_precision = b.mkldnn.matmul.fp32_precision = "none"
    b.mkldnn.conv.fp32_precision = b.mkldnn.rnn.fp32_precision = "none"
    assert precision_state() == DEFAULT_PRECISION


def test_the_defaults_no_tf32_for_cuda_matmul_tf32_for_cudnn(default_precision):
    assert precision_state() == DEFAULT_PRECISION  # also after the snippet's examples: they restored it
    assert '"highest" (default)' in torch.set_float32_matmul_precision.__doc__


def test_set_float32_matmul_precision_sets_the_new_settings_too(default_precision):
    b = default_precision
    expected = {"high": ("tf32", "tf32"), "medium": ("tf32", "bf16"), "highest": ("ieee", "ieee")}
    for precision, (cuda, mkldnn) in expected.items():
        torch.set_float32_matmul_precision(precision)
        assert (b.cuda.matmul.fp32_precision, b.mkldnn.matmul.fp32_precision) == (cuda, mkldnn)
        assert torch.get_float32_matmul_precision() == precision  # the old getter agrees
        assert b.cuda.matmul.allow_tf32 == (precision != "highest")
        assert b.cudnn.conv.fp32_precision == "tf32"  # convolutions are not its business
    lines = outputs["precision-settings"].splitlines()
    assert lines[1] == "after 'high': tf32 | after 'highest': ieee"


def in_a_new_python(code: str) -> None:
    """Run assertions on the precision settings in a Python of their own: whether a setting has a
    value of its own is state of the process, which another test (any set_float32_matmul_precision)
    may have changed and no test can reset."""
    child = subprocess.run([sys.executable, "-c", "import torch\nb = torch.backends\n" + textwrap.dedent(code)],
                           capture_output=True, text=True)
    assert child.returncode == 0, child.stderr


def test_none_takes_the_level_above_and_cudnn_fp32_precision_is_all_of_cuda():
    in_a_new_python("""
        b.cudnn.fp32_precision = "ieee"
        assert b.cuda.matmul.fp32_precision == b.cudnn.conv.fp32_precision == b.cudnn.rnn.fp32_precision == "ieee"
        assert b.mkldnn.matmul.fp32_precision == "none"  # the CPU's branch is not below it
        b.cudnn.fp32_precision = "none"
        b.fp32_precision = "tf32"  # the top: the CPU's oneDNN too
        assert b.cuda.matmul.fp32_precision == b.mkldnn.matmul.fp32_precision == "tf32"
    """)


def test_a_setting_with_a_value_of_its_own_keeps_it_and_cudnns_default_gives_way():
    in_a_new_python("""
        b.fp32_precision = "ieee"
        assert b.cudnn.conv.fp32_precision == b.cudnn.rnn.fp32_precision == "ieee"  # the "tf32" default gave way
        b.cuda.matmul.fp32_precision = "tf32"
        b.mkldnn.conv.fp32_precision = "bf16"
        b.fp32_precision = "none"
        b.cudnn.fp32_precision = "ieee"
        assert b.cuda.matmul.fp32_precision == "tf32" and b.mkldnn.conv.fp32_precision == "bf16"  # set: kept
        assert b.cudnn.conv.fp32_precision == "ieee"
        b.cudnn.fp32_precision = "none"
        assert b.cudnn.conv.fp32_precision == "tf32"  # the default again
    """)
    assert outputs["exercise-precision-tree"].splitlines() == [
        "top 'ieee':         {'cuda.matmul': 'ieee', 'cudnn.conv': 'ieee', 'mkldnn.matmul': 'ieee'}",
        "cuda.matmul 'tf32': {'cuda.matmul': 'tf32', 'cudnn.conv': 'ieee', 'mkldnn.matmul': 'ieee'}",
        "defaults:           {'cuda.matmul': 'none', 'cudnn.conv': 'tf32', 'mkldnn.matmul': 'none'}",
    ]


def test_setting_cudnn_conv_to_its_default_value_makes_it_stop_following_the_top():
    code = ("import torch; b = torch.backends; b.cudnn.conv.fp32_precision = 'tf32'; "
            "b.fp32_precision = 'ieee'; print(b.cudnn.conv.fp32_precision, b.cudnn.rnn.fp32_precision)")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.split() == ["tf32", "ieee"]  # conv was given a value; rnn kept its default


def test_the_precision_values_cuda_refuses_bf16(default_precision):
    b = default_precision
    for value in ("ieee", "tf32", "none"):
        b.cuda.matmul.fp32_precision = value
        assert b.cuda.matmul.fp32_precision == value
    with pytest.raises(RuntimeError, match="backend 'cuda' does not support precision 'bf16'"):
        b.cuda.matmul.fp32_precision = "bf16"
    b.mkldnn.matmul.fp32_precision = "bf16"
    assert b.mkldnn.matmul.fp32_precision == "bf16"
    with pytest.raises(RuntimeError, match="Unknown precision"):
        b.cuda.matmul.fp32_precision = "high"


def test_the_old_getters_raise_after_only_the_new_setting_says_tf32(default_precision):
    b = default_precision
    b.cuda.matmul.fp32_precision = "ieee"  # agrees with the old "highest": no error
    assert torch.get_float32_matmul_precision() == "highest"
    b.cuda.matmul.fp32_precision = "tf32"
    with pytest.raises(RuntimeError, match="mix of the legacy and new APIs"):
        torch.get_float32_matmul_precision()
    with pytest.raises(RuntimeError, match="mix of the legacy and new APIs"):
        assert b.cuda.matmul.allow_tf32  # the old getter of the same setting
    assert b.cuda.matmul.fp32_precision == "tf32"  # the new getter, which the matrix products read, works
    torch.set_float32_matmul_precision("high")  # the fix: one call that sets both
    assert torch.get_float32_matmul_precision() == "high" and b.cuda.matmul.allow_tf32
    assert "mix of the legacy and new APIs" in outputs["precision-settings"]


@needs_tf32
def test_tf32_changes_the_digits_of_a_float32_product_but_not_its_dtype():
    assert outputs["tf32-digits"].splitlines() == [
        "the product is still torch.float32",
        "TF32 error more than 10 times the IEEE error: True",
    ]
    assert torch.backends.cuda.matmul.fp32_precision == "none"


@needs_cuda
def test_cudnn_convolutions_use_tf32_by_default_and_matmuls_do_not():
    if torch.cuda.get_device_capability() < (8, 0):
        pytest.skip("needs a CUDA device with TF32 (Ampere or later)")
    x = torch.rand(1, 64, 64, 64, device="cuda", dtype=torch.float64)
    conv = torch.nn.Conv2d(64, 64, 3).to("cuda", torch.float64)
    exact = conv(x)
    conv32 = conv.float()
    default_error = (conv32(x.float()).double() - exact).abs().max().item()
    torch.backends.cudnn.fp32_precision = "ieee"  # the level above: conv's default gives way
    try:
        ieee_error = (conv32(x.float()).double() - exact).abs().max().item()
    finally:
        torch.backends.cudnn.fp32_precision = "none"
    assert default_error > 10 * ieee_error


# Deterministic algorithms


def test_cudnn_benchmark_and_deterministic_are_off_by_default():
    assert torch.backends.cudnn.benchmark is False and torch.backends.cudnn.deterministic is False
    assert outputs["deterministic"].splitlines()[0] == "cudnn.benchmark: False | cudnn.deterministic: False"


def test_the_debug_mode_error_is_the_switch_of_use_deterministic_algorithms():
    assert not torch.are_deterministic_algorithms_enabled()
    try:
        torch.set_deterministic_debug_mode("error")
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.get_deterministic_debug_mode() == 2
    finally:
        torch.set_deterministic_debug_mode("default")
    assert not torch.are_deterministic_algorithms_enabled()


def test_use_deterministic_algorithms_also_sets_the_compilers_deterministic_mode():
    source = inspect.getsource(torch.use_deterministic_algorithms)
    assert "import torch._inductor.config" in source
    try:
        torch.use_deterministic_algorithms(True)
        import torch._inductor.config as inductor_config

        assert inductor_config.deterministic is True
    finally:
        torch.use_deterministic_algorithms(False)
    assert inductor_config.deterministic is False


def test_deterministic_mode_raises_for_put_and_fills_empty_with_nan():
    try:
        torch.set_deterministic_debug_mode("error")
        assert torch.empty(4).isnan().all()
        with pytest.raises(RuntimeError, match="put_ does not have a deterministic implementation"):
            torch.zeros(4).put_(torch.tensor([1, 1]), torch.tensor([5.0, 7.0]))
        torch.set_deterministic_debug_mode("warn")  # warn_only=True
        with pytest.warns(UserWarning, match="put_ does not have a deterministic implementation"):
            torch.zeros(4).put_(torch.tensor([1, 1]), torch.tensor([5.0, 7.0]))
        torch.utils.deterministic.fill_uninitialized_memory = False
        torch.empty(4)  # no longer filled (its values are whatever the memory held)
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = True
        torch.set_deterministic_debug_mode("default")
    assert "torch.empty now fills its memory: tensor([nan, nan, nan])" in outputs["deterministic"]


def test_the_pinned_torch_no_longer_asks_for_cublas_workspace_config():
    assert "CUBLAS_WORKSPACE_CONFIG" not in torch.use_deterministic_algorithms.__doc__
    assert "torch.histc` when called on a CUDA tensor" in torch.use_deterministic_algorithms.__doc__
    assert "torch.nn.Conv2d` when called on CUDA tensor" in torch.use_deterministic_algorithms.__doc__


@needs_cuda
def test_a_cuda_matrix_product_in_deterministic_mode_needs_no_cublas_workspace_config():
    env = {name: value for name, value in os.environ.items() if name != "CUBLAS_WORKSPACE_CONFIG"}
    code = ("import torch; torch.use_deterministic_algorithms(True); "
            "x = torch.rand(64, 64, device='cuda'); print(torch.equal(x @ x, x @ x))")
    child = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "True"


@needs_cuda
def test_histc_on_cuda_raises_in_deterministic_mode():
    try:
        torch.set_deterministic_debug_mode("error")
        with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
            torch.histc(torch.rand(100, device="cuda"))
    finally:
        torch.set_deterministic_debug_mode("default")


# CUDA in DataLoader workers


def test_multiprocessing_context_chooses_the_start_method_and_needs_workers():
    assert ns["spawning"].multiprocessing_context.get_start_method() == "spawn"
    assert DataLoader(ns["rows"], num_workers=2).multiprocessing_context is None  # the system's default
    with pytest.raises(ValueError, match="num_workers > 0"):
        DataLoader(ns["rows"], multiprocessing_context="fork")
    if sys.platform == "linux" and sys.version_info < (3, 14):
        assert multiprocessing.get_context().get_start_method() == "fork"


def test_a_forked_child_refuses_to_start_cuda_again():
    source = inspect.getsource(torch.cuda._lazy_init)
    assert "Cannot re-initialize CUDA in forked subprocess" in source
    assert "you must use the 'spawn' start method" in source


@needs_cuda
def test_cuda_in_a_forked_worker_fails_and_cpu_workers_work():
    assert outputs["fork-cuda-worker"].splitlines() == [
        "fork, CUDA in the worker: RuntimeError | 'Cannot re-initialize CUDA in forked subprocess': True",
        "fork, CPU in the worker: ['cuda:0', 'cuda:0']",
    ]


# Reading an out-of-memory error


def test_the_out_of_memory_error_is_one_class_and_a_runtime_error():
    assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
    assert issubclass(torch.OutOfMemoryError, RuntimeError)


def test_the_memory_snapshot_functions_and_their_options():
    parameters = inspect.signature(torch.cuda.memory._record_memory_history).parameters
    assert {"enabled", "context", "stacks", "max_entries"} <= set(parameters)
    assert parameters["enabled"].default == "all"
    doc = torch.cuda.memory._record_memory_history.__doc__
    assert "2us per trace" in doc and "several KB" in doc
    assert "pytorch.org/memory_viz" in torch.cuda.memory._dump_snapshot.__doc__
    assert '"oom"' in torch.cuda.memory._snapshot.__doc__


@needs_cuda
def test_the_snapshot_holds_the_live_blocks_with_stacks_and_the_failed_request():
    assert outputs["oom-snapshot"].splitlines() == [
        "OutOfMemoryError | a RuntimeError too: True | names the request: True",
        "live 1 GiB blocks: 2 | each with its stack: True",
        "the failed request is in the history: True",
        "snapshot file written: True",
    ]


@needs_cuda
def test_the_out_of_memory_message_names_the_figures():
    with pytest.raises(torch.OutOfMemoryError) as caught:
        torch.empty(2 * torch.cuda.get_device_properties(0).total_memory, dtype=torch.uint8, device="cuda")
    message = str(caught.value)
    for part in ("Tried to allocate", "total capacity", "allocated by PyTorch", "reserved by PyTorch but unallocated",
                 "expandable_segments:True"):
        assert part in message, part


@needs_cuda
def test_a_dumped_snapshot_is_a_pickle_of_the_snapshot_dictionary():
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "snapshot.pickle")
        torch.cuda.memory._dump_snapshot(path)
        with open(path, "rb") as file:
            snapshot = pickle.load(file)  # our own file, written just now
    assert {"segments", "device_traces", "allocator_settings"} <= set(snapshot)


@needs_cuda
def test_expandable_segments_are_off_by_default_and_set_by_pytorch_alloc_conf():
    assert outputs["expandable-segments"].splitlines() == [
        "no allocator settings -> expandable segments: False",
        "{'PYTORCH_ALLOC_CONF': 'expandable_segments:True'} -> expandable segments: True",
    ]


# Exercises


def test_device_comparisons_of_the_exercise():
    assert torch.device("cuda") != torch.device("cuda:0")
    assert torch.ones(1, device="cpu:0").device == torch.device("cpu")
    assert torch.ones(1, device="cpu:0").device != torch.device("cpu:0")
    assert not (torch.ones(1).device == "cpu")
    assert torch.ones(1).device.type == "cpu"
    assert outputs["exercise-compare-devices"].splitlines()[:4] == ["(a) False", "(b) False", "(c) False", "(d) True"]


def test_a_plain_tensor_attribute_stays_behind_and_breaks_the_forward():
    scaler = ns["scaler"]
    assert scaler.linear.weight.device.type == scaler.mean.device.type == "meta"
    assert scaler.scale.device.type == "cpu"
    with pytest.raises(RuntimeError):
        scaler(torch.ones(2, 3, device="meta"))


def test_the_registered_scale_moves_and_is_saved_unless_not_persistent():
    fixed = ns["fixed"]
    assert fixed.scale.device.type == "meta"
    assert "scale" in dict(fixed.named_buffers()) and "scale" in ns["FixedScaler"]().state_dict()
    module = torch.nn.Module()
    module.register_buffer("scale", torch.ones(3), persistent=False)
    assert "scale" not in module.state_dict()
    assert module.to("meta").scale.device.type == "meta"


def test_a_tensor_made_in_forward_without_device_breaks_off_the_cpu():
    with pytest.raises(RuntimeError):
        ns["AddPosition"]()(torch.zeros(1, 4, 2, device="meta"))
    x = torch.rand(3, 4, 2)
    assert torch.equal(ns["FixedAddPosition"]()(x), ns["AddPosition"]()(x))
    assert ns["FixedAddPosition"]()(x.to("meta")).device.type == "meta"


def test_a_meta_tensor_mixes_with_a_0_dim_cpu_tensor_but_not_with_a_cpu_vector():
    assert (torch.ones(3, device="meta") + torch.tensor(2.0)).device.type == "meta"
    with pytest.raises(RuntimeError):
        torch.ones(3, device="meta") + torch.ones(3)


def test_only_use_deterministic_algorithms_also_sets_the_compilers_deterministic_mode():
    assert "inductor" in inspect.getsource(torch.use_deterministic_algorithms)
    assert "inductor" not in inspect.getsource(torch.set_deterministic_debug_mode)  # the eager switch only


def test_put_without_accumulate_is_refused_in_deterministic_mode_even_without_repeated_indices():
    target, index = torch.zeros(4), torch.tensor([0, 1])  # no index repeats
    torch.set_deterministic_debug_mode("error")
    try:
        with pytest.raises(RuntimeError, match="put_"):
            target.put_(index, torch.ones(2))
        target.put_(index, torch.ones(2), accumulate=True)  # allowed
    finally:
        torch.set_deterministic_debug_mode("default")


def test_the_old_allocator_variable_is_read_first_and_without_a_deprecation_warning():
    root = Path(torch.__file__).parent
    header = (root / "include" / "c10" / "cuda" / "CUDAAllocatorConfig.h").read_text(encoding="utf-8")
    reading = header[header.index("static CUDAAllocatorConfig& instance()"):]
    assert reading.index('get_env("PYTORCH_CUDA_ALLOC_CONF")') < reading.index('get_env("PYTORCH_ALLOC_CONF")')
    assert 'if (!env.has_value()) {\n        env = c10::utils::get_env("PYTORCH_ALLOC_CONF")' in reading  # a fallback
    library = next((root / "lib").glob("libc10.so*")).read_bytes()
    assert b"PYTORCH_CUDA_ALLOC_CONF" in library and not re.search(rb"ALLOC_CONF[^\0]{0,100}deprecated", library)
