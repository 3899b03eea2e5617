"""The facts docs/*/devices.md claims, checked on the installed torch.

CPU facts always run. GPU facts need a CUDA device and are skipped, with the reason, elsewhere.
"""

import copy
import gc
import threading
import warnings

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
