# Chapter 6: Saving and loading / 读写文件.
# Every section below is shown on docs/en/saving-loading.md and docs/zh/saving-loading.md, in this order.

# --8<-- [start:setup]
import contextlib
import copy
import io
import json
import logging
import os
import pickle
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from safetensors import safe_open
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.export import Dim
from torch.nn import functional as F
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)  # the same random numbers on every run
workdir = tempfile.TemporaryDirectory()  # every file of this chapter goes in here
folder = Path(workdir.name)
# --8<-- [end:setup]

# --8<-- [start:save-tensor]
x = torch.arange(4)
torch.save(x, folder / "x-file")
x2 = torch.load(folder / "x-file", weights_only=True)
print(x2)
print(torch.equal(x, x2))
# --8<-- [end:save-tensor]

# --8<-- [start:save-list-and-dict]
y = torch.zeros(4)
torch.save([x, y], folder / "x-files")
x2, y2 = torch.load(folder / "x-files", weights_only=True)
print(x2, y2)

mydict = {"x": x, "y": y}
torch.save(mydict, folder / "mydict")
mydict2 = torch.load(folder / "mydict", weights_only=True)
print(mydict2)
print(all(torch.equal(mydict[key], mydict2[key]) for key in mydict))
# --8<-- [end:save-list-and-dict]

# --8<-- [start:equal-not-double-equals]
print(x == x2)  # elementwise: a tensor of booleans, not one answer
try:
    if x == x2:  # Python needs one True or False here
        pass
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
ones, one = torch.ones(3), torch.ones(1)
print((ones == one).all().item(), torch.equal(ones, one))  # == broadcasts; torch.equal checks shapes
# --8<-- [end:equal-not-double-equals]

# --8<-- [start:save-slice]
big = torch.randn(1000, 256)  # 256,000 floats: 1,024,000 bytes
first_rows = big[:10]  # a view: 10 rows of big's memory, no copy
print(first_rows.untyped_storage().nbytes())  # the memory behind the view: all of big
torch.save(first_rows, folder / "view.pt")
torch.save(first_rows.clone(), folder / "clone.pt")  # a tensor of its own, 10 rows long
for name in ["view.pt", "clone.pt"]:
    print(f"{name:9}{(folder / name).stat().st_size:>9,} bytes")
loaded_view = torch.load(folder / "view.pt", weights_only=True)
print(tuple(loaded_view.shape), loaded_view.untyped_storage().nbytes())  # 10 rows shown, all 1000 in memory
# --8<-- [end:save-slice]

# --8<-- [start:save-parameters]
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.output = nn.Linear(256, 10)

    def forward(self, X):
        return self.output(F.relu(self.hidden(X)))


net = MLP()
X = torch.randn(2, 20)
Y = net(X)
torch.save(net.state_dict(), folder / "mlp.params")
print({name: tuple(tensor.shape) for name, tensor in net.state_dict().items()})
# --8<-- [end:save-parameters]

# --8<-- [start:load-parameters]
clone = MLP()  # a fresh instance: new random parameters
print(torch.equal(clone(X), Y))
print(clone.load_state_dict(torch.load(folder / "mlp.params", weights_only=True)))
Y_clone = clone(X)
print(torch.equal(Y_clone, Y))
# --8<-- [end:load-parameters]

# --8<-- [start:buffers-in-state-dict]
def make_bn_net():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


bn_net = make_bn_net()
print([name for name, _ in bn_net.named_parameters()])
print([name for name, _ in bn_net.named_buffers()])
print(list(bn_net.state_dict()))
# --8<-- [end:buffers-in-state-dict]

# --8<-- [start:buffers-matter]
for _ in range(10):  # forward passes in training mode update the running statistics
    bn_net(torch.randn(16, 4) * 3 + 1)
bn_net.eval()  # evaluation mode normalizes with the running statistics
inputs = torch.randn(5, 4)

params_only = make_bn_net().eval()
with torch.no_grad():
    for target, source in zip(params_only.parameters(), bn_net.parameters()):
        target.copy_(source)
full = make_bn_net().eval()
full.load_state_dict(bn_net.state_dict())
print("parameters only:", torch.equal(params_only(inputs), bn_net(inputs)))
print("state dict:     ", torch.equal(full(inputs), bn_net(inputs)))
# --8<-- [end:buffers-matter]

# --8<-- [start:non-persistent-buffer]
class WithScratch(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(3))  # persistent (the default): saved
        self.register_buffer("scratch", torch.zeros(3), persistent=False)  # moved by .to(), not saved


print([name for name, _ in WithScratch().named_buffers()], list(WithScratch().state_dict()))
# --8<-- [end:non-persistent-buffer]

# --8<-- [start:state-dict-references]
snapshot = net.state_dict()  # shares memory with the parameters, copies nothing
print("same object:  ", snapshot["output.bias"] is net.output.bias)
print("same memory:  ", snapshot["output.bias"].data_ptr() == net.output.bias.data_ptr())
print("requires_grad:", snapshot["output.bias"].requires_grad, net.output.bias.requires_grad)
frozen = copy.deepcopy(net.state_dict())  # a real copy
with torch.no_grad():
    net.output.bias.zero_()
print("state_dict():", snapshot["output.bias"][:3])
print("deepcopy:    ", frozen["output.bias"][:3])
net.load_state_dict(frozen)  # undo the edit
print("restored:    ", torch.equal(net.output.bias, frozen["output.bias"]))
# --8<-- [end:state-dict-references]

# --8<-- [start:checkpoint-save]
features = torch.randn(64, 4)
labels = features @ torch.tensor([2.0, -3.4, 1.0, 0.5]) + 4.2


def make_regressor():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


def train(model, optimizer, epochs):
    for _ in range(epochs):
        loss = F.mse_loss(model(features).squeeze(1), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def save_checkpoint(checkpoint, path):
    partial = path.with_suffix(".partial")
    torch.save(checkpoint, partial)  # a crash while writing leaves the last checkpoint whole
    os.replace(partial, path)  # then the new file takes the old one's name, in one step


model = make_regressor()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
print(f"loss after 50 epochs: {train(model, optimizer, 50):.4f}")
checkpoint = {"epoch": 50, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
save_checkpoint(checkpoint, folder / "checkpoint.pt")
print(list(optimizer.state_dict()["state"][0]))  # what Adam keeps for the first parameter
# --8<-- [end:checkpoint-save]

# --8<-- [start:checkpoint-resume]
print(f"uninterrupted, epoch 100: {train(model, optimizer, 50):.4f}")

checkpoint = torch.load(folder / "checkpoint.pt", weights_only=True)
resumed = make_regressor()
resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
resumed.load_state_dict(checkpoint["model"])
resumed_optimizer.load_state_dict(checkpoint["optimizer"])
print(f"resumed from epoch {checkpoint['epoch']}:  {train(resumed, resumed_optimizer, 50):.4f}")

restarted = make_regressor()
restarted.load_state_dict(checkpoint["model"])
fresh_optimizer = torch.optim.Adam(restarted.parameters(), lr=0.01)  # optimizer state lost
print(f"model only, epoch 100:    {train(restarted, fresh_optimizer, 50):.4f}")

print(all(torch.equal(a, b) for a, b in zip(model.parameters(), resumed.parameters())))
print(all(torch.equal(a, b) for a, b in zip(model.parameters(), restarted.parameters())))

other_lr = torch.optim.Adam(resumed.parameters(), lr=0.5)  # built with another lr
other_lr.load_state_dict(checkpoint["optimizer"])  # the saved hyperparameters come back too
print("lr after loading:", other_lr.param_groups[0]["lr"])
# --8<-- [end:checkpoint-resume]

# --8<-- [start:rng-save]
loader = DataLoader(TensorDataset(features, labels), batch_size=16, shuffle=True)  # a new order every epoch


def make_dropout_regressor():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))


def train_batches(model, optimizer, epochs):
    for _ in range(epochs):
        for batch, targets in loader:  # shuffling and dropout draw random numbers
            loss = F.mse_loss(model(batch).squeeze(1), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return loss.item()


noisy = make_dropout_regressor()
noisy_optimizer = torch.optim.Adam(noisy.parameters(), lr=0.01)
train_batches(noisy, noisy_optimizer, 10)
rng_checkpoint = {
    "epoch": 10,
    "model": noisy.state_dict(),
    "optimizer": noisy_optimizer.state_dict(),
    "rng": torch.get_rng_state(),  # the CPU generator: a uint8 tensor
}
if torch.cuda.is_available():
    rng_checkpoint["cuda_rng"] = torch.cuda.get_rng_state_all()  # one state per GPU
else:
    print("No CUDA here: only the CPU generator's state is saved.")
save_checkpoint(rng_checkpoint, folder / "checkpoint-rng.pt")
print(f"uninterrupted, epoch 20: {train_batches(noisy, noisy_optimizer, 10):.4f}")
# --8<-- [end:rng-save]

# --8<-- [start:rng-resume]
def resume(restore_rng):
    saved = torch.load(folder / "checkpoint-rng.pt", weights_only=True)
    model = make_dropout_regressor()  # its initialization draws random numbers too
    model.load_state_dict(saved["model"])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    optimizer.load_state_dict(saved["optimizer"])
    if restore_rng:  # last, just before training goes on
        torch.set_rng_state(saved["rng"])
        if torch.cuda.is_available() and "cuda_rng" in saved:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
    return model, train_batches(model, optimizer, 10)


with_rng, loss = resume(restore_rng=True)
print(f"resumed with RNG state:  {loss:.4f}")
without_rng, loss = resume(restore_rng=False)
print(f"resumed without it:      {loss:.4f}")
print(all(torch.equal(a, b) for a, b in zip(noisy.parameters(), with_rng.parameters())))
print(all(torch.equal(a, b) for a, b in zip(noisy.parameters(), without_rng.parameters())))
# --8<-- [end:rng-resume]

# --8<-- [start:map-location]
locations = []


def record(storage, location):  # map_location can be a function of each stored location
    locations.append(location)
    return storage  # leave it where it is


torch.load(folder / "checkpoint.pt", map_location=record, weights_only=True)
print(len(locations), set(locations))  # every storage in the file, with the location it was saved from

checkpoint = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
print({tensor.device.type for tensor in checkpoint["model"].values()})
print(checkpoint["optimizer"]["state"][0]["exp_avg"].device)  # optimizer state is mapped too
# --8<-- [end:map-location]

# --8<-- [start:optimizer-device]
device = torch.device("meta")  # stands in for torch.device("cuda"), so it runs without a GPU
on_device = make_regressor()
on_device.load_state_dict(checkpoint["model"])  # copies values; before or after .to() alike
on_device.to(device)  # 1. move the model
device_optimizer = torch.optim.Adam(on_device.parameters(), lr=0.01)  # 2. then build the optimizer
device_optimizer.load_state_dict(checkpoint["optimizer"])  # 3. its state follows the parameters
state = device_optimizer.state[on_device[0].weight]
print(on_device[0].weight.device, {key: value.device.type for key, value in state.items()})
# --8<-- [end:optimizer-device]

# --8<-- [start:assign]
with torch.device("meta"):
    meta_net = MLP()  # shapes and dtypes only: nothing allocated, nothing initialized
weights = torch.load(folder / "mlp.params", weights_only=True)
print(meta_net.load_state_dict(weights, assign=True))  # the loaded tensors become the parameters
print(meta_net.hidden.weight.data_ptr() == weights["hidden.weight"].data_ptr())  # same memory: no copy
print(type(meta_net.hidden.weight).__name__, meta_net.hidden.weight.requires_grad)
print(torch.equal(meta_net(X), Y))
# --8<-- [end:assign]

# --8<-- [start:assign-dtype]
double_net = MLP().to(torch.float64)
double_net.load_state_dict(torch.load(folder / "mlp.params", weights_only=True))  # copies into float64
print(double_net.hidden.weight.dtype)
double_net.load_state_dict(torch.load(folder / "mlp.params", weights_only=True), assign=True)
print(double_net.hidden.weight.dtype)  # the file's float32, as it was saved
# --8<-- [end:assign-dtype]

# --8<-- [start:mmap]
path = folder / "mlp.params"
mapped = torch.load(path, mmap=True, weights_only=True)  # maps the file; reads no tensor data yet
raw = path.read_bytes()  # the same file, read the ordinary way
first = mapped["hidden.weight"]
for name, tensor in mapped.items():
    in_memory = tensor.data_ptr() - first.data_ptr()  # bytes after hidden.weight, in memory
    in_file = raw.find(tensor.numpy().tobytes()) - raw.find(first.numpy().tobytes())  # and in the file
    print(f"{name:14}{in_memory:>8,}{in_file:>8,}")
# --8<-- [end:mmap]

# --8<-- [start:mmap-assign]
with torch.device("meta"):
    mapped_net = MLP()
mapped_net.load_state_dict(mapped, assign=True)
print(mapped_net.hidden.weight.data_ptr() == mapped["hidden.weight"].data_ptr())  # the parameter is the mapped file
print(torch.equal(mapped_net(X), Y))
# --8<-- [end:mmap-assign]

# --8<-- [start:strict-loading]
class NewTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)  # same name and shape as in MLP: reusable
        self.head = nn.Linear(256, 3)  # a new head for a new task

    def forward(self, X):
        return self.head(F.relu(self.hidden(X)))


new_net = NewTask()
pretrained = torch.load(folder / "mlp.params", weights_only=True)
try:
    new_net.load_state_dict(pretrained)
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:strict-loading]

# --8<-- [start:partial-loading]
result = new_net.load_state_dict(pretrained, strict=False)
print("missing:   ", result.missing_keys)
print("unexpected:", result.unexpected_keys)
print(torch.equal(new_net.hidden.weight, net.hidden.weight))
# --8<-- [end:partial-loading]

# --8<-- [start:shape-mismatch]
class NewOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.output = nn.Linear(256, 3)  # same name as in MLP, different shape

    def forward(self, X):
        return self.output(F.relu(self.hidden(X)))


other = NewOutput()
try:
    other.load_state_dict(pretrained, strict=False)
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
hidden_only = {name: tensor for name, tensor in pretrained.items() if name.startswith("hidden.")}
print(other.load_state_dict(hidden_only, strict=False))
# --8<-- [end:shape-mismatch]

# --8<-- [start:compiled-keys]
regressor = make_regressor()
compiled = torch.compile(regressor, backend="eager")  # compiles nothing until its first call
print(type(compiled).__name__, compiled._orig_mod is regressor)
print(list(compiled.state_dict())[:2])
print(list(regressor.state_dict())[:2])
try:
    make_regressor().load_state_dict(compiled.state_dict())
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:compiled-keys]

# --8<-- [start:compiled-fix]
torch.save(regressor.state_dict(), folder / "regressor.pt")  # save the module you compiled: plain names
plain = make_regressor()
print(plain.load_state_dict(torch.load(folder / "regressor.pt", weights_only=True)))

from_wrapper = compiled.state_dict()  # a file someone saved from the compiled model
consume_prefix_in_state_dict_if_present(from_wrapper, "_orig_mod.")  # strips it in place, in _metadata too
print(make_regressor().load_state_dict(from_wrapper))

recompiled = torch.compile(make_regressor(), backend="eager")
print(recompiled._orig_mod.load_state_dict(from_wrapper))  # load into the module inside the wrapper

in_place = MLP()
in_place.compile(backend="eager")  # compiles the module itself: no wrapper, no prefix
print(type(in_place).__name__, list(in_place.state_dict())[:2])
# --8<-- [end:compiled-fix]

# --8<-- [start:whole-model]
seq_net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
torch.save(seq_net, folder / "whole-model.pt")  # pickles the objects; their classes only by name
try:
    torch.load(folder / "whole-model.pt", weights_only=True)
except pickle.UnpicklingError as error:
    message = str(error)
    print(f"{type(error).__name__}: {message.split('.')[0]}")
    print("blocked:", message.split("GLOBAL ")[1].split()[0])
# --8<-- [end:whole-model]

# --8<-- [start:pickle-runs-code]
class Payload:
    def __reduce__(self):  # tells pickle: "to rebuild me, call print(...)"
        return (print, ("this ran while the file was loading",))


torch.save(Payload(), folder / "payload.pt")
try:
    torch.load(folder / "payload.pt", weights_only=True)
except pickle.UnpicklingError as error:
    print(f"{type(error).__name__}: {str(error).split('.')[0]}")
    print("blocked:", str(error).split("GLOBAL ")[1].split()[0])
# --8<-- [end:pickle-runs-code]

# --8<-- [start:safe-globals]
@dataclass
class TrainConfig:  # a training run's settings, in a class of your own
    lr: float = 0.01
    hidden: int = 8
    epochs: int = 50


config = TrainConfig()
torch.save({"epoch": 50, "model": model.state_dict(), "config": config}, folder / "with-config.pt")
try:
    torch.load(folder / "with-config.pt", weights_only=True)
except pickle.UnpicklingError as error:
    message = str(error)
    print(f"{type(error).__name__}: {message.split('.')[0]}")
    print(message.split("WeightsUnpickler error: ")[1].split(" Please")[0])  # the reason, naming the class
with torch.serialization.safe_globals([TrainConfig]):  # allowed inside this block only
    with_config = torch.load(folder / "with-config.pt", weights_only=True)
print(with_config["config"], with_config["config"] == config)
# --8<-- [end:safe-globals]

# --8<-- [start:export]
exported = torch.export.export(net, (X,))  # runs forward on the example input X, recording each operation
print(type(exported).__name__)
print([str(node.target) for node in exported.graph.nodes if node.op == "call_function"])
torch.export.save(exported, folder / "mlp.pt2")
for name in sorted(zipfile.ZipFile(folder / "mlp.pt2").namelist()):
    if "/models/" in name or "/data/" in name:  # the rest is version bookkeeping
        print(name)
# --8<-- [end:export]

# --8<-- [start:export-load]
program = torch.export.load(folder / "mlp.pt2")  # rebuilds the graph from the file, without the class MLP
runnable = program.module()  # an nn.Module that runs the recorded operations
print(type(runnable).__name__, isinstance(runnable, MLP))
print(list(runnable.state_dict()) == list(net.state_dict()))  # the same names as the model's state dict
print(torch.equal(runnable(X), Y))
# --8<-- [end:export-load]

# --8<-- [start:export-mode]
dropper = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))  # in training mode, as built
few = torch.ones(3, 4)
in_training = torch.export.export(dropper, (few,)).module()
print(torch.equal(in_training(few), in_training(few)))  # dropout was recorded in training mode
try:
    in_training.eval()
except NotImplementedError as error:
    print(f"{type(error).__name__}: {error}")
in_eval = torch.export.export(dropper.eval(), (few,)).module()  # export in the mode you will run it in
print(torch.equal(in_eval(few), dropper(few)))
# --8<-- [end:export-mode]

# --8<-- [start:export-data-dependent]
class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        if x.mean() > 0:  # a Python if on a value the tensor holds
            return self.linear(x).relu()
        return -self.linear(x)


gate_input = torch.ones(3, 4)
torch._logging.set_logs(dynamic=logging.ERROR)  # a failed export also logs a warning about u0: off from here on
try:
    with contextlib.redirect_stderr(io.StringIO()):  # export prints the graph it had so far to stderr
        torch.export.export(Gate(), (gate_input,))
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).split(' (')[0]}")
# --8<-- [end:export-data-dependent]

# --8<-- [start:export-cond]
def positive(h):  # the two branches: functions of the same operands
    return h.relu()


def negative(h):
    return -h


class CondGate(Gate):
    def forward(self, x):
        return torch.cond(x.mean() > 0, positive, negative, (self.linear(x),))  # records both branches


gate = CondGate()
gate_program = torch.export.export(gate, (gate_input,))
print([str(node.target) for node in gate_program.graph.nodes if node.op == "call_function"][:4])
print([name for name, _ in gate_program.graph_module.named_children()])  # the two branches, as graphs
gate_runnable = gate_program.module()
for branch_input in (gate_input, -gate_input):  # one input for each branch
    taken = bool(branch_input.mean() > 0)
    as_in_the_model = Gate.forward(gate, branch_input)  # the model's own forward, with its Python if
    print(f"mean > 0: {taken!s:5}", torch.equal(gate_runnable(branch_input), as_in_the_model))
# --8<-- [end:export-cond]

# --8<-- [start:export-dynamic]
try:
    runnable(torch.zeros(5, 20))  # exported with a batch of 2
except AssertionError as error:
    print(f"{type(error).__name__}: {error}")
batch = Dim("batch")
any_batch = torch.export.export(net, (X,), dynamic_shapes={"X": {0: batch}})  # dimension 0 of forward's X
print([str(valid) for valid in any_batch.range_constraints.values()])
any_runnable = any_batch.module()
print([tuple(any_runnable(torch.zeros(rows, 20)).shape) for rows in (5, 1, 0)])
print(torch.equal(any_runnable(X), net(X)))
try:
    any_runnable(torch.zeros(5, 21))
except AssertionError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:export-dynamic]

# --8<-- [start:export-dynamic-one]
try:
    torch.export.export(net, (X[:1],), dynamic_shapes={"X": {0: batch}})  # an example batch of 1
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).splitlines()[1].split('. ')[0].strip(' -')}")
# --8<-- [end:export-dynamic-one]

# --8<-- [start:safetensors]
save_file(net.state_dict(), folder / "mlp.safetensors", metadata={"class": "MLP"})  # metadata: strings only
tensors = load_file(folder / "mlp.safetensors")
from_safetensors = MLP()
print(from_safetensors.load_state_dict(tensors))
print(torch.equal(from_safetensors(X), Y))
# --8<-- [end:safetensors]

# --8<-- [start:safetensors-header]
with open(folder / "mlp.safetensors", "rb") as file:
    header_size = int.from_bytes(file.read(8), "little")  # 8 bytes: the size of a JSON header
    header = json.loads(file.read(header_size))
print(header["__metadata__"])
print(header["hidden.bias"])  # the rest of the file is raw tensor bytes
# --8<-- [end:safetensors-header]

# --8<-- [start:safetensors-shared]
def make_tied_net():
    shared = nn.Linear(8, 8)  # one layer used twice: its weight and bias are tied
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))


tied_net = make_tied_net()
print(list(tied_net.state_dict()))  # the shared layer appears twice, as 2. and 4.
try:
    save_file(tied_net.state_dict(), folder / "tied.safetensors")
except RuntimeError as error:
    print(f"{type(error).__name__}: {str(error).strip().split(':')[0]}")
# --8<-- [end:safetensors-shared]

# --8<-- [start:safetensors-save-model]
save_model(tied_net, folder / "tied.safetensors")  # stores each shared tensor once
print(list(load_file(folder / "tied.safetensors")))
tied_copy = make_tied_net()  # the code builds the tie; the file fills in the values
print(load_model(tied_copy, folder / "tied.safetensors"))  # (missing, unexpected)
print(tied_copy[2].weight is tied_copy[4].weight)
tied_inputs = torch.randn(3, 4)
print(torch.equal(tied_copy(tied_inputs), tied_net(tied_inputs)))
# --8<-- [end:safetensors-save-model]

# --8<-- [start:safe-open]
with safe_open(folder / "mlp.safetensors", framework="pt") as file:  # reads the header only
    print(file.keys(), file.metadata())
    rows = file.get_slice("hidden.weight")  # shape and dtype, from the header
    print(rows.get_shape(), rows.get_dtype())
    print(torch.equal(rows[:2], net.hidden.weight[:2]))  # the first two rows
    bias = file.get_tensor("output.bias")  # one tensor
    weight = file.get_tensor("hidden.weight")
print(torch.equal(bias, net.output.bias))
in_memory = bias.data_ptr() - weight.data_ptr()  # how far apart the two tensors are in memory
in_file = header["output.bias"]["data_offsets"][0] - header["hidden.weight"]["data_offsets"][0]  # and in the file
print(in_memory, in_file)
# --8<-- [end:safe-open]

# --8<-- [start:dcp-save]
model_state, optimizer_state = get_state_dict(model, optimizer)  # the regressor and its Adam, after 100 epochs
print(list(optimizer_state["state"])[:2])  # named by parameter, not numbered
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    dcp.save({"model": model_state, "optimizer": optimizer_state, "epoch": 100}, checkpoint_id=folder / "step-100")
print(caught[0].message)
print(sorted(path.name for path in (folder / "step-100").iterdir()))
# --8<-- [end:dcp-save]

# --8<-- [start:dcp-load]
restored = make_regressor()
restored_optimizer = torch.optim.Adam(restored.parameters(), lr=0.01)
restored_state, restored_optimizer_state = get_state_dict(restored, restored_optimizer)  # the tensors to load into
target = {"model": restored_state, "optimizer": restored_optimizer_state, "epoch": 0}
with warnings.catch_warnings(action="ignore"):  # the same warning, for loading
    dcp.load(target, checkpoint_id=folder / "step-100")  # in place: into the tensors that target holds
set_state_dict(restored, restored_optimizer, model_state_dict=target["model"], optim_state_dict=target["optimizer"])
print("epoch:", target["epoch"])
print(all(torch.equal(a, b) for a, b in zip(model.parameters(), restored.parameters())))
print(all(
    torch.equal(optimizer.state[a][key], restored_optimizer.state[b][key])
    for a, b in zip(model.parameters(), restored.parameters())
    for key in ("step", "exp_avg", "exp_avg_sq")
))
# --8<-- [end:dcp-load]

# --8<-- [start:cleanup]
workdir.cleanup()  # removes the folder and every file in it
print(folder.exists())
# --8<-- [end:cleanup]

# --8<-- [start:exercise-compare-round-trip-task]
def round_trip(tensor):  # save to memory and load back: no file needed
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


a = torch.tensor([1.0, float("nan"), 3.0])
b = round_trip(a)
# --8<-- [end:exercise-compare-round-trip-task]

# --8<-- [start:exercise-compare-round-trip]
print(a == b)
print(torch.equal(a, b))
print(torch.equal(torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 3.0])))
print((torch.zeros(2, 1) == torch.zeros(1, 2)).all().item())
torch.testing.assert_close(b, a, rtol=0, atol=0, equal_nan=True)  # exact, NaN equal to NaN, same dtype
print("assert_close: the round trip is exact")
print("same bits:", torch.equal(b.view(torch.int32), a.view(torch.int32)))  # float32's bits, read as int32

zero, minus_zero = torch.tensor([0.0]), torch.tensor([-0.0])
torch.testing.assert_close(minus_zero, zero, rtol=0, atol=0)  # passes: -0.0 == 0.0 as numbers
print("-0.0 passes assert_close; same bits:", torch.equal(minus_zero.view(torch.int32), zero.view(torch.int32)))
# --8<-- [end:exercise-compare-round-trip]

# --8<-- [start:exercise-slice-fixes]
def saved_size(tensor):
    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    return buffer.getbuffer().nbytes


table = torch.randn(1000, 256)
candidates = {
    "table[:10]": table[:10],
    "table[:10].contiguous()": table[:10].contiguous(),  # already contiguous: returns the view itself
    "table[:10].clone()": table[:10].clone(),
    "table[:, :10].contiguous()": table[:, :10].contiguous(),  # not contiguous: copies 10 columns
    "table[5]": table[5],
}
for name, tensor in candidates.items():
    print(f"{name:27}{saved_size(tensor):>10,} bytes")
# --8<-- [end:exercise-slice-fixes]

# --8<-- [start:exercise-predict-keys-task]
class Scaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.norm = nn.BatchNorm1d(3)
        self.register_buffer("mean", torch.zeros(3))
        self.register_buffer("cache", torch.zeros(3), persistent=False)
        self.scale = torch.ones(3)
        self.extras = [nn.Linear(3, 3)]
        self.heads = nn.ModuleList([nn.Linear(3, 1)])
        self.temperature = nn.Parameter(torch.ones(1))
# --8<-- [end:exercise-predict-keys-task]

# --8<-- [start:exercise-predict-keys]
scaler = Scaler()
print(list(scaler.state_dict()))
print(len(scaler.state_dict()), "entries;", len(list(scaler.parameters())), "parameters")
# --8<-- [end:exercise-predict-keys]

# --8<-- [start:exercise-partial-loading-prefix-task]
body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
saved_body = body.state_dict()  # pretrained on some other task


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, X):
        return self.head(self.body(X))


classifier = Classifier()
body_result = classifier.load_state_dict(saved_body, strict=False)
# --8<-- [end:exercise-partial-loading-prefix-task]

# --8<-- [start:exercise-partial-loading-prefix]
print("missing:   ", body_result.missing_keys)
print("unexpected:", body_result.unexpected_keys)
print(torch.equal(classifier.body[0].weight, body[0].weight))

print(classifier.body.load_state_dict(saved_body))  # the submodule has the saved names
with_prefix = {f"body.{name}": tensor for name, tensor in saved_body.items()}
print(Classifier().load_state_dict(with_prefix, strict=False))  # or give the names the prefix
print(torch.equal(classifier.body[0].weight, body[0].weight))
# --8<-- [end:exercise-partial-loading-prefix]

# --8<-- [start:exercise-tied-weights-task]
class TiedLM(nn.Module):
    def __init__(self, vocab=1000, dim=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embedding.weight  # one (1000, 64) tensor, used twice

    def forward(self, tokens):
        return self.head(self.embedding(tokens))


lm = TiedLM()
tokens = torch.tensor([1, 2, 3])
# --8<-- [end:exercise-tied-weights-task]

# --8<-- [start:exercise-tied-weights]
print(list(lm.state_dict()))
buffer = io.BytesIO()
torch.save(lm.state_dict(), buffer)
print(f"torch.save: {buffer.getbuffer().nbytes:,} bytes for one 256,000-byte weight")
buffer.seek(0)
loaded_lm = torch.load(buffer, weights_only=True)
print(loaded_lm["embedding.weight"].data_ptr() == loaded_lm["head.weight"].data_ptr())  # still one shared storage

lm_copy = TiedLM()
print(lm_copy.load_state_dict(loaded_lm), lm_copy.head.weight is lm_copy.embedding.weight)
print(torch.equal(lm_copy(tokens), lm(tokens)))

with tempfile.TemporaryDirectory() as tmp:
    try:
        save_file(lm.state_dict(), Path(tmp) / "lm.safetensors")
    except RuntimeError as error:
        print(f"save_file: {type(error).__name__}")
    save_model(lm, Path(tmp) / "lm.safetensors")
    print(list(load_file(Path(tmp) / "lm.safetensors")))
    safetensors_copy = TiedLM()
    print(load_model(safetensors_copy, Path(tmp) / "lm.safetensors"))
print(torch.equal(safetensors_copy(tokens), lm(tokens)))
# --8<-- [end:exercise-tied-weights]

# --8<-- [start:exercise-export-branch-task]
class ClipNorm(nn.Module):
    def __init__(self, max_norm=3.0):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.max_norm = max_norm

    def forward(self, x):
        h = self.linear(x)
        norm = h.norm()
        if norm > self.max_norm:  # scale the whole batch down to max_norm
            h = h * (self.max_norm / norm)
        return h


clip = ClipNorm()
# --8<-- [end:exercise-export-branch-task]

# --8<-- [start:exercise-export-branch]
try:  # its warning about u0 stays off: set_logs in the section on data-dependent branches
    with contextlib.redirect_stderr(io.StringIO()):  # export prints the graph it had so far to stderr
        torch.export.export(clip, (torch.zeros(3, 4),))
except RuntimeError as error:
    print(f"as written: {type(error).__name__}")


class ClipNormBranchless(ClipNorm):
    def forward(self, x):
        h = self.linear(x)
        return h * torch.clamp(self.max_norm / h.norm(), max=1.0)  # a factor of 1.0 when the norm is small enough


branchless = ClipNormBranchless()
branchless.load_state_dict(clip.state_dict())
clip_program = torch.export.export(branchless, (torch.zeros(3, 4),), dynamic_shapes={"x": {0: Dim("rows")}})
clip_runnable = clip_program.module()
for rows in (3, 7):
    for fill in (0.0, 10.0):  # a small batch and a large one
        batch_input = torch.full((rows, 4), fill)
        scaled = bool(clip.linear(batch_input).norm() > clip.max_norm)
        same = torch.equal(clip_runnable(batch_input), clip(batch_input))
        print(f"{rows} rows of {fill:4}: scaled {scaled!s:5} same as the model: {same}")
# --8<-- [end:exercise-export-branch]
