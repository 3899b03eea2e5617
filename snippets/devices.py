# Chapter 7: GPUs and devices / GPU.
# Every section below is shown on docs/en/devices.md and docs/zh/devices.md, in this order.
# Sections whose output depends on the machine (CPU, one GPU, several GPUs):
# what-is-here, choose-device, current-device, try-gpu, split-batch, tensors-on-devices,
# mixed-devices, multi-gpu, net-to-device, model-data-mismatch, cuda-method, timing.

# --8<-- [start:setup]
import time

import torch
from torch import nn

torch.manual_seed(0)  # the same random numbers on every run
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
        print("Only one GPU here: switching the current device was not run.")
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
    return [part.to(d) for part, d in zip(X.chunk(len(devices)), devices)]


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
    print("Fewer than two GPUs here: this example was not run.")
# --8<-- [end:multi-gpu]

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
print(net(X).shape, net(X).device)
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

# --8<-- [start:cuda-method]
if torch.cuda.is_available():
    print("CUDA is available, so .cuda() worked here; on a machine without CUDA it fails.")
else:
    try:
        torch.ones(2).cuda()  # hard-codes CUDA
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
if device.type != "cpu":
    A = torch.rand(2048, 2048)
    A_gpu = A.to(device)
    cpu_seconds = seconds_per_product(A, repeats=3)
    gpu_seconds = seconds_per_product(A_gpu, repeats=10)
    start = time.perf_counter()
    for _ in range(10):
        A_gpu @ A_gpu  # no synchronize: this loop only queues the work
    queued_seconds = (time.perf_counter() - start) / 10
    synchronize(device)
    print("same product:", torch.allclose(A @ A, (A_gpu @ A_gpu).cpu(), rtol=1e-3))
    print("GPU faster than CPU:", gpu_seconds < cpu_seconds)
    print("unsynchronized clock reads less than the real time:", queued_seconds < gpu_seconds)
else:
    print("No accelerator (GPU) here: the CPU/GPU comparison was not run.")
# --8<-- [end:timing]
