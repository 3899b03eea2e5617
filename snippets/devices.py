# Chapter 7: GPUs and devices / GPU 与设备.
# Every section below is shown on docs/en/devices.md and docs/zh/devices.md, in this order.
# Sections whose output depends on the machine (CPU, one GPU, several GPUs):
# what-is-here, choose-device, current-device, try-gpu, split-batch, tensors-on-devices,
# mixed-devices, multi-gpu, visible-devices, net-to-device, model-data-mismatch, cuda-method,
# timing, pinned-memory, memory-stats, autocast-cuda, event-timing, side-stream, tf32-digits,
# fork-cuda-worker, oom-snapshot, expandable-segments, exercise-compare-devices.
# On a GPU every one of them prints what a run there prints every time: no timings, no addresses.

# --8<-- [start:setup]
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.data import DataLoader, Dataset, TensorDataset

torch.manual_seed(0)  # the same random numbers on every run
MiB = 2**20  # bytes in a mebibyte, for the memory figures
# --8<-- [end:setup]

# --8<-- [start:device-objects]
cpu, cuda, cuda0 = torch.device("cpu"), torch.device("cuda"), torch.device("cuda:0")
print(cpu, cuda, cuda0, torch.device("cuda", 1))  # naming a device needs no GPU
print("type:", cuda.type, cuda0.type, "| index:", cuda.index, cuda0.index)
print("cuda == cuda:0:", cuda == cuda0)
print("cuda:0 == ('cuda', 0):", cuda0 == torch.device("cuda", 0))
# --8<-- [end:device-objects]

# --8<-- [start:no-gpu-device]
try:
    torch.device("gpu")
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:no-gpu-device]

# --8<-- [start:what-is-here]
print("CUDA:", torch.cuda.is_available(), "| CUDA devices:", torch.cuda.device_count())
print("MPS (Apple):", torch.backends.mps.is_available())
print("accelerator:", torch.accelerator.is_available(), "| devices:", torch.accelerator.device_count())
# --8<-- [end:what-is-here]

# --8<-- [start:choose-device]
# One device for the whole page: the accelerator (CUDA, MPS, ...) if there is one, else the CPU
device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
print(device)
# --8<-- [end:choose-device]

# --8<-- [start:current-device]
if device.type != "cpu":
    print("current device index:", torch.accelerator.current_device_index())
    print("made on", device, "->", torch.ones(1, device=device).device)  # resolved to the current one
    if torch.accelerator.device_count() > 1:
        with torch.accelerator.device_index(1):  # make device 1 the current one, for this block only
            print("made on", device, "->", torch.ones(1, device=device).device)
    else:
        print("Only one GPU here: switching to GPU 1 needs two, so it was not run.")
else:
    print("No accelerator (GPU) here: this example was not run.")
# --8<-- [end:current-device]

# --8<-- [start:try-gpu]
def try_gpu(i=0):
    """Accelerator device i if it exists, else the CPU."""
    if i < torch.accelerator.device_count():
        return torch.device(torch.accelerator.current_accelerator().type, i)
    return torch.device("cpu")


def try_all_gpus():
    """Every accelerator device, or [cpu] if there is none: never an empty list."""
    devices = [try_gpu(i) for i in range(torch.accelerator.device_count())]
    return devices or [torch.device("cpu")]


print(try_gpu(), try_gpu(10), try_all_gpus())
# --8<-- [end:try-gpu]

# --8<-- [start:empty-device-list]
def split_batch(X, devices):
    """Cut a batch into one part per device and copy each part to its device."""
    parts = X.tensor_split(len(devices))  # exactly one part per device; chunk() may make fewer
    return [part.to(d) for part, d in zip(parts, devices)]


batch = torch.arange(12.0).reshape(4, 3)
try:
    split_batch(batch, [])  # what a try_all_gpus() returning [] leads to
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:empty-device-list]

# --8<-- [start:split-batch]
parts = split_batch(batch, try_all_gpus())
print([(tuple(part.shape), str(part.device)) for part in parts])
# --8<-- [end:split-batch]

# --8<-- [start:tensors-on-devices]
X = torch.ones(2, 3, device=try_gpu())          # created directly on the device
Y = torch.full((2, 3), 2.0, device=try_gpu(1))  # the second GPU, or the CPU
print("X:", X.device, "| Y:", Y.device)
Z = X.to(Y.device)  # a copy on Y's device; X stays where it is
print("Z:", Z.device, "| X:", X.device)
print(Y + Z)
print(Z.to(Y.device) is Z)  # already there: no copy, the same tensor comes back
# --8<-- [end:tensors-on-devices]

# --8<-- [start:mixed-devices]
if device.type != "cpu":
    A = torch.ones(3, device=device)
    try:
        print(A + torch.ones(3))  # a vector left on the CPU
    except RuntimeError as error:
        print(f"{type(error).__name__}: {error}")
    print(A + torch.ones(3).to(device))  # the fix: copy it over first
    print(A + torch.tensor(2.0))  # a 0-dim CPU tensor is the exception
    try:
        print(torch.ones(3) + torch.tensor(2.0, device=device))  # not the other way round
    except RuntimeError as error:
        print(f"{type(error).__name__}: {error}")
else:
    print("No accelerator (GPU) here: this example was not run.")
# --8<-- [end:mixed-devices]

# --8<-- [start:multi-gpu]
if torch.accelerator.device_count() >= 2:
    X0 = torch.ones(2, 3, device=try_gpu(0))
    X1 = torch.ones(2, 3, device=try_gpu(1))
    try:
        print(X0 + X1)
    except RuntimeError as error:
        print(f"{type(error).__name__}: {error}")
    print(X0.to(X1.device) + X1)  # copy first, then compute where X1 lives
else:
    print("Fewer than two GPUs here: this example needs two, so it was not run.")
# --8<-- [end:multi-gpu]

# --8<-- [start:visible-devices]
hidden = dict(os.environ, CUDA_VISIBLE_DEVICES="")  # the environment of a child process that sees no GPU
child = subprocess.run(
    [sys.executable, "-c", "import torch; print(torch.cuda.device_count())"],
    env=hidden, capture_output=True, text=True, check=True,
)
print("CUDA devices in this process:", torch.cuda.device_count())
print("CUDA devices in a child with CUDA_VISIBLE_DEVICES='':", child.stdout.strip())
# --8<-- [end:visible-devices]

# --8<-- [start:net-with-buffers]
net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
print("parameters:", [name for name, _ in net.named_parameters()])
print("buffers:", [name for name, _ in net.named_buffers()])
# --8<-- [end:net-with-buffers]

# --8<-- [start:net-to-device]
print(net.to(device) is net)  # a module moves in place and returns itself
print("parameters on", {str(p.device) for p in net.parameters()})
print("buffers on", {str(b.device) for b in net.buffers()})
X = torch.rand(2, 3, device=device)  # the data goes to the same device
output = net(X)
print(output.shape, output.device)
# --8<-- [end:net-to-device]

# --8<-- [start:model-data-mismatch]
if device.type != "cpu":
    try:
        print(net(torch.rand(2, 3)))  # the data was left on the CPU
    except RuntimeError as error:
        print(f"{type(error).__name__}: {error}")
else:
    print("No accelerator (GPU) here: this example was not run.")
# --8<-- [end:model-data-mismatch]

# --8<-- [start:default-device]
print("default device:", torch.get_default_device())
with torch.device("meta"):  # in this block, factory functions create tensors on meta
    zeros = torch.zeros(10_000, 10_000)  # 400 MB of float32 on the CPU, nothing on meta
    layer = nn.Linear(10_000, 10_000)  # a module creates its parameters with factory functions too
    listed = torch.tensor([1.0, 2.0])
    explicit = torch.zeros(2, device="cpu")  # an explicit device= wins
    shared = torch.from_numpy(np.zeros(2))  # shares the NumPy array's memory, so stays on the CPU
    converted = torch.as_tensor(batch)  # a factory function too: copies the CPU tensor to meta
made = {"torch.zeros": zeros, "Linear weight": layer.weight, "torch.tensor": listed,
        "device='cpu'": explicit, "torch.from_numpy": shared, "batch (made before)": batch,
        "torch.as_tensor(batch)": converted}
for name, tensor in made.items():
    print(f"{name:>22}: {tensor.device}")
print("default device after the block:", torch.get_default_device())
# --8<-- [end:default-device]

# --8<-- [start:set-default-device]
torch.set_default_device("meta")  # from here on, in this thread, until changed again
print(torch.zeros(2).device, nn.Linear(2, 2).weight.device, torch.get_default_device())
torch.set_default_device(None)  # back to no default device: the CPU, as at the start
print(torch.zeros(2).device, nn.Linear(2, 2).weight.device, torch.get_default_device())

loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4, shuffle=True)
torch.set_default_device("meta")
try:
    next(iter(loader))  # the loader's own random draws now make meta tensors
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
finally:
    torch.set_default_device(None)
print("without a default device:", [tuple(rows.shape) for (rows,) in loader])
# --8<-- [end:set-default-device]

# --8<-- [start:cuda-method]
try:
    print(torch.ones(2).cuda().device)  # hard-codes CUDA
except (AssertionError, RuntimeError) as error:
    print(f"{type(error).__name__}: {error}")
print(torch.ones(2).to(device).device)  # works on every machine
# --8<-- [end:cuda-method]

# --8<-- [start:timing-helpers]
def synchronize(device):
    """Wait until the device has finished all the work queued on it."""
    if device.type != "cpu":
        torch.accelerator.synchronize(device)  # torch.cuda.synchronize() for CUDA


def seconds_per_product(A, repeats):
    A @ A  # warm-up: the first call pays one-off costs (loading kernels, allocating memory)
    synchronize(A.device)
    start = time.perf_counter()
    for _ in range(repeats):
        A @ A
    synchronize(A.device)  # stop the clock when the work is done, not when it was queued
    return (time.perf_counter() - start) / repeats
# --8<-- [end:timing-helpers]

# --8<-- [start:timing]
if torch.cuda.is_available():
    A = torch.rand(2048, 2048)
    A_gpu = A.to(device)
    cpu_seconds = seconds_per_product(A, repeats=3)  # not printed: times change with every run
    gpu_seconds = seconds_per_product(A_gpu, repeats=10)
    print("same product:", torch.allclose(A @ A, (A_gpu @ A_gpu).cpu(), rtol=1e-3))
    for _ in range(100):
        A_gpu @ A_gpu  # no synchronize: this loop only queues the work
    print("queued work finished when the loop returned:", torch.cuda.current_stream().query())
    synchronize(device)
    print("queued work finished after synchronize:", torch.cuda.current_stream().query())
else:
    print("No CUDA device here: the CPU/GPU comparison was not run.")
# --8<-- [end:timing]

# --8<-- [start:benchmark-timer]
M = torch.rand(256, 256, device=device)
timer = benchmark.Timer(stmt="M @ M", globals={"M": M}, label="matrix product")
measurement = timer.timeit(100)  # a warm-up first, then 100 runs, with the device synchronized
print(measurement.task_spec.stmt, "| runs:", measurement.number_per_run,
      "| threads:", measurement.task_spec.num_threads)
# --8<-- [end:benchmark-timer]

# --8<-- [start:pinned-memory]
host = torch.rand(256, 1024)
print("ordinary memory is pinned:", host.is_pinned())
if torch.cuda.is_available():
    staging = torch.empty(host.shape, dtype=host.dtype, pin_memory=True)  # page-locked, made once, reused
    copied = torch.cuda.Event()  # marks the point where the GPU has read staging
    results = []
    for step in range(3):
        next_batch = host + step  # the next batch, in ordinary memory
        copied.synchronize()  # do not overwrite staging while the last copy may still read it
        staging.copy_(next_batch)
        on_gpu = staging.to(device, non_blocking=True)  # may return before the copy is done
        copied.record()
        results.append((on_gpu * 2).to("cpu", non_blocking=True))  # the copy back is asynchronous too
    synchronize(device)  # wait for the copies before the CPU reads the results
    print("staging pinned:", staging.is_pinned(), "| results land in pinned memory:",
          all(result.is_pinned() for result in results))
    print("results correct after synchronize:",
          all(torch.equal(result, (host + step) * 2) for step, result in enumerate(results)))
else:
    print("No CUDA device here: pinning and asynchronous copies were not run.")
# --8<-- [end:pinned-memory]

# --8<-- [start:memory-stats]
if torch.cuda.is_available():
    x = torch.ones(1024, 1024, device=device)  # 4 MiB of float32
    torch.cuda.reset_peak_memory_stats()  # the peak starts again from what is allocated now
    base = torch.cuda.memory_allocated()
    y = x * 2 + 1  # x * 2 is a temporary, freed once + 1 is done
    print("x:", x.nbytes / MiB, "MiB")
    print("allocated since the reset:", (torch.cuda.memory_allocated() - base) / MiB, "MiB")
    print("peak since the reset:", (torch.cuda.max_memory_allocated() - base) / MiB, "MiB")
    reserved = torch.cuda.memory_reserved()
    del y
    print("allocated after del y:", (torch.cuda.memory_allocated() - base) / MiB, "MiB")
    print("reserved unchanged by del:", torch.cuda.memory_reserved() == reserved)  # kept in the cache
    print("torch.accelerator agrees:", torch.accelerator.memory_allocated() == torch.cuda.memory_allocated())
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:memory-stats]

# --8<-- [start:autocast-cpu]
def autocast_dtypes(device_type):
    """Run a small classifier under bfloat16 autocast; return the dtype of each result."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device_type)
    X, y = torch.rand(2, 4, device=device_type), torch.tensor([0, 2], device=device_type)
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
        logits = model(X)
        probabilities = logits.softmax(dim=1)
        total = logits.sum()
        loss = nn.functional.cross_entropy(logits, y)
    loss.backward()  # outside the autocast block
    return {"input": X.dtype, "linear output": logits.dtype, "softmax": probabilities.dtype,
            "sum": total.dtype, "cross_entropy": loss.dtype, "weight": model[0].weight.dtype,
            "weight.grad": model[0].weight.grad.dtype}


for name, dtype in autocast_dtypes("cpu").items():
    print(f"{name:>13}: {dtype}")
# --8<-- [end:autocast-cpu]

# --8<-- [start:autocast-cuda]
if torch.cuda.is_available():
    for name, dtype in autocast_dtypes("cuda").items():
        print(f"{name:>13}: {dtype}")
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:autocast-cuda]

# --8<-- [start:event-timing]
if torch.cuda.is_available():
    A = torch.rand(2048, 2048, device=device)
    A @ A  # warm-up
    start = torch.Event(enable_timing=True)  # torch.cuda.Event(enable_timing=True) does the same on CUDA
    end = torch.Event(enable_timing=True)
    start.record()  # a mark in the queue of the current stream
    for _ in range(100):
        A @ A
    end.record()
    print("end reached when the loop returned:", end.query())  # the products are only queued
    end.synchronize()  # the CPU waits for this mark only, not for the whole device
    milliseconds = start.elapsed_time(end) / 100  # GPU time between the two marks; not printed, it changes
    print("end reached after end.synchronize():", end.query(), "| event on", end.device)
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:event-timing]

# --8<-- [start:side-stream]
if torch.cuda.is_available():
    weights = torch.rand(2048, 2048, device=device)
    batches = [torch.rand(512, 2048).pin_memory() for _ in range(4)]  # pinned, so a copy can run asynchronously
    compute = torch.cuda.current_stream()
    copies = torch.cuda.Stream()  # a second queue on the same GPU, for the copies
    with torch.cuda.stream(copies):
        next_batch = batches[0].to(device, non_blocking=True)
    results = []
    for step in range(len(batches)):
        compute.wait_stream(copies)  # work queued on compute from now on waits for the copies queued so far
        batch = next_batch
        batch.record_stream(compute)  # made on copies, used on compute: not to be reused before compute is done
        if step + 1 < len(batches):
            with torch.cuda.stream(copies):  # the next copy runs while the product below runs
                next_batch = batches[step + 1].to(device, non_blocking=True)
        results.append(batch @ weights)
    torch.cuda.synchronize()
    print("two streams:", copies != compute, "| compute is the default stream:", compute == torch.cuda.default_stream())
    print("every product as without streams:",
          all(torch.allclose(result, b.to(device) @ weights) for result, b in zip(results, batches)))
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:side-stream]

# --8<-- [start:precision-settings]
backends = torch.backends


def fp32_settings():
    """The fp32_precision settings that matter for CUDA (torch 2.9 and later)."""
    return {"cuda.matmul": backends.cuda.matmul.fp32_precision, "cudnn.conv": backends.cudnn.conv.fp32_precision,
            "cudnn.rnn": backends.cudnn.rnn.fp32_precision}


print("matmul precision:", torch.get_float32_matmul_precision(), "| fp32_precision:", fp32_settings())
torch.set_float32_matmul_precision("high")  # the older switch sets the new setting too
print("after 'high':", fp32_settings()["cuda.matmul"], "| after 'highest':", end=" ")
torch.set_float32_matmul_precision("highest")
print(fp32_settings()["cuda.matmul"])
backends.cuda.matmul.fp32_precision = "none"  # "none": take the value of the level above
backends.cudnn.fp32_precision = "ieee"  # the level above: all of CUDA, matrix products included
print("cudnn.fp32_precision = 'ieee':", fp32_settings())
backends.cudnn.fp32_precision = "none"
backends.cuda.matmul.fp32_precision = "tf32"  # only the new setting
try:
    torch.get_float32_matmul_precision()  # an old getter, as libraries call it
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).split(' We suggest')[0]}")
finally:
    backends.cuda.matmul.fp32_precision = "none"  # the defaults again
    backends.mkldnn.matmul.fp32_precision = "none"
print("restored:", torch.get_float32_matmul_precision(), fp32_settings())
# --8<-- [end:precision-settings]

# --8<-- [start:tf32-digits]
if torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 0):
    A64 = torch.rand(1024, 1024, dtype=torch.float64, device=device)
    exact = A64 @ A64  # float64: the reference
    A32 = A64.float()
    errors = {}
    for precision in ("ieee", "tf32"):
        torch.backends.cuda.matmul.fp32_precision = precision
        errors[precision] = ((A32 @ A32).double() - exact).abs().max().item()
    torch.backends.cuda.matmul.fp32_precision = "none"  # the default again
    print("the product is still", (A32 @ A32).dtype)
    print("TF32 error more than 10 times the IEEE error:", errors["tf32"] > 10 * errors["ieee"])
elif torch.cuda.is_available():
    print("This GPU has no TF32 (it is older than Ampere): this example was not run.")
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:tf32-digits]

# --8<-- [start:deterministic]
print("cudnn.benchmark:", torch.backends.cudnn.benchmark, "| cudnn.deterministic:", torch.backends.cudnn.deterministic)
torch.set_deterministic_debug_mode("error")  # the switch of torch.use_deterministic_algorithms(True)
try:
    print("deterministic algorithms:", torch.are_deterministic_algorithms_enabled())
    print("torch.empty now fills its memory:", torch.empty(3))
    slots = torch.zeros(4)
    try:
        slots.put_(torch.tensor([1, 1]), torch.tensor([5.0, 7.0]))  # two writes to one place: which one wins?
    except RuntimeError as error:
        print(f"{type(error).__name__}: {str(error).split('. ')[0]}")
finally:
    torch.set_deterministic_debug_mode("default")  # off again
# --8<-- [end:deterministic]

# --8<-- [start:loader-context]
rows = TensorDataset(torch.arange(8.0))
spawning = DataLoader(rows, batch_size=4, num_workers=2, multiprocessing_context="spawn")
print("workers start with:", spawning.multiprocessing_context.get_start_method())  # no worker started yet
try:
    DataLoader(rows, batch_size=4, multiprocessing_context="spawn")  # no workers, nothing to start
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:loader-context]

# --8<-- [start:fork-cuda-worker]
class OnTheGPU(Dataset):
    """A dataset whose items are made on the GPU: in a worker process, that starts CUDA there."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return torch.full((2,), float(index), device="cuda")


if torch.cuda.is_available():
    forked = DataLoader(OnTheGPU(), batch_size=2, num_workers=1, multiprocessing_context="fork")
    try:
        next(iter(forked))  # CUDA started in this process long ago
    except RuntimeError as error:
        print("fork, CUDA in the worker:", type(error).__name__,
              "| 'Cannot re-initialize CUDA in forked subprocess':",
              "Cannot re-initialize CUDA in forked subprocess" in str(error))
    on_cpu = DataLoader(rows, batch_size=4, num_workers=1, multiprocessing_context="fork", pin_memory=True)
    moved = [batch.to(device, non_blocking=True) for (batch,) in on_cpu]  # to the GPU in this process
    print("fork, CPU in the worker:", [str(batch.device) for batch in moved])
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:fork-cuda-worker]

# --8<-- [start:oom-snapshot]
if torch.cuda.is_available():
    # from now on, keep every allocation and free, with the Python stack that asked for it
    torch.cuda.memory._record_memory_history(max_entries=100_000, stacks="python")
    kept = [torch.empty(256, 1024, 1024, device=device) for _ in range(2)]  # 2 x 1 GiB of float32
    try:
        torch.empty(2 * torch.cuda.get_device_properties(device).total_memory, dtype=torch.uint8, device=device)
    except torch.OutOfMemoryError as error:
        message = str(error)
        print(type(error).__name__, "| a RuntimeError too:", isinstance(error, RuntimeError),
              "| names the request:", "Tried to allocate" in message)
    snapshot = torch.cuda.memory._snapshot()  # what the allocator holds now, and its history
    torch.cuda.memory._record_memory_history(enabled=None)  # stop recording
    live = [block for segment in snapshot["segments"] for block in segment["blocks"]
            if block["state"] == "active_allocated" and block["size"] == 2**30]
    print("live 1 GiB blocks:", len(live), "| each with its stack:", all(block["frames"] for block in live))
    print("the failed request is in the history:",
          any(entry["action"] == "oom" for trace in snapshot["device_traces"] for entry in trace))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "snapshot.pickle")
        torch.cuda.memory._dump_snapshot(path)  # the file to drop on https://pytorch.org/memory_viz
        print("snapshot file written:", os.path.getsize(path) > 0)
    del kept
    torch.cuda.empty_cache()  # give the 2 GiB back to the driver
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:oom-snapshot]

# --8<-- [start:expandable-segments]
if torch.cuda.is_available():
    report = ("import torch; torch.ones(1, device='cuda'); "
              "print(torch.cuda.memory._snapshot()['allocator_settings']['expandable_segments'])")
    plain = {name: value for name, value in os.environ.items() if not name.endswith("ALLOC_CONF")}
    for settings in ({}, {"PYTORCH_ALLOC_CONF": "expandable_segments:True"}):  # read when CUDA starts
        child = subprocess.run([sys.executable, "-c", report], env={**plain, **settings},
                               capture_output=True, text=True, check=True)
        print(settings or "no allocator settings", "-> expandable segments:", child.stdout.strip())
else:
    print("No CUDA device here: this example was not run.")
# --8<-- [end:expandable-segments]

# --8<-- [start:exercise-compare-devices]
print("(a)", torch.device("cuda") == torch.device("cuda:0"))
print("(b)", torch.ones(1, device="cpu:0").device == torch.device("cpu:0"))
print("(c)", torch.ones(1).device == "cpu")
print("(d)", torch.ones(1).device.type == "cpu")
print("cpu:0 tensor reports:", torch.ones(1, device="cpu:0").device)
if torch.cuda.is_available():
    on_gpu = torch.ones(1, device="cuda")
    print("cuda tensor reports:", on_gpu.device, "| == cuda:", on_gpu.device == torch.device("cuda"),
          "| .type == 'cuda':", on_gpu.device.type == "cuda")
else:
    print("No CUDA device here: the CUDA comparison was not run.")
# --8<-- [end:exercise-compare-devices]

# --8<-- [start:exercise-what-moves-task]
class Scaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.register_buffer("mean", torch.zeros(3))
        self.scale = torch.ones(3)

    def forward(self, x):
        return self.linear((x - self.mean) * self.scale)
# --8<-- [end:exercise-what-moves-task]

# --8<-- [start:exercise-what-moves]
scaler = Scaler().to("meta")  # meta: a second device on every machine
print("weight:", scaler.linear.weight.device, "| mean:", scaler.mean.device, "| scale:", scaler.scale.device)
try:
    scaler(torch.ones(2, 3, device="meta"))
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")


class FixedScaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.register_buffer("mean", torch.zeros(3))
        self.register_buffer("scale", torch.ones(3))  # registered, so .to() moves it

    def forward(self, x):
        return self.linear((x - self.mean) * self.scale)


fixed = FixedScaler().to("meta")
print("scale:", fixed.scale.device, "| output:", fixed(torch.ones(2, 3, device="meta")).device)
# --8<-- [end:exercise-what-moves]

# --8<-- [start:exercise-device-mismatch-task]
class AddPosition(nn.Module):
    """Add each step's relative position, 0 to (steps - 1) / steps, to every feature."""

    def forward(self, x):  # x: (batch, steps, features)
        positions = torch.arange(x.shape[1]).unsqueeze(1) / x.shape[1]
        return x + positions


print(AddPosition()(torch.zeros(1, 4, 2)))  # on the CPU it works
# --8<-- [end:exercise-device-mismatch-task]

# --8<-- [start:exercise-device-mismatch]
try:
    AddPosition()(torch.zeros(1, 4, 2, device="meta"))  # the bug shows on any second device
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")


class FixedAddPosition(nn.Module):
    def forward(self, x):
        positions = torch.arange(x.shape[1], device=x.device).unsqueeze(1) / x.shape[1]  # where x is
        return x + positions


print(FixedAddPosition()(torch.zeros(1, 4, 2, device="meta")).device)
print(torch.equal(FixedAddPosition()(torch.zeros(1, 4, 2)), AddPosition()(torch.zeros(1, 4, 2))))
# --8<-- [end:exercise-device-mismatch]

# --8<-- [start:exercise-timer-runs]
threads_seen = []


def f():
    threads_seen.append(torch.get_num_threads())  # one entry per call


benchmark.Timer(stmt="f()", globals={"f": f}).timeit(10)
print("calls:", len(threads_seen), "| threads inside:", set(threads_seen))
threads_seen.clear()
benchmark.Timer(stmt="f()", globals={"f": f}, num_threads=2).timeit(10)
print("calls:", len(threads_seen), "| threads inside with num_threads=2:", set(threads_seen))
# --8<-- [end:exercise-timer-runs]

# --8<-- [start:exercise-default-device]
x = torch.ones(2)  # made before the block, on the CPU
with torch.device("meta"):
    results = {"torch.arange(3)": torch.arange(3), "torch.randn(2)": torch.randn(2), "x + 1": x + 1,
            "x.new_zeros(2)": x.new_zeros(2), "torch.ones_like(x)": torch.ones_like(x),
            "torch.stack([x, x])": torch.stack([x, x])}
for name, tensor in results.items():
    print(f"{name:>19}: {tensor.device}")
# --8<-- [end:exercise-default-device]

# --8<-- [start:exercise-precision-tree]
def precision_tree():
    return {"cuda.matmul": backends.cuda.matmul.fp32_precision, "cudnn.conv": backends.cudnn.conv.fp32_precision,
            "mkldnn.matmul": backends.mkldnn.matmul.fp32_precision}


backends.fp32_precision = "ieee"  # the top of the tree: plain float32 everywhere
print("top 'ieee':        ", precision_tree())
backends.cuda.matmul.fp32_precision = "tf32"  # one leaf, for one test
print("cuda.matmul 'tf32':", precision_tree())
backends.cuda.matmul.fp32_precision = "none"  # the defaults again
backends.fp32_precision = "none"
print("defaults:          ", precision_tree())
# --8<-- [end:exercise-precision-tree]
