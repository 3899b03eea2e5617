# Chapter 6: Saving and loading / 读写文件.
# Every section below is shown on docs/en/saving-loading.md and docs/zh/saving-loading.md, in this order.

# --8<-- [start:setup]
import argparse
import copy
import json
import pickle
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, load_model, save_file, save_model
from torch import nn
from torch.nn import functional as F

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


model = make_regressor()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
print(f"loss after 50 epochs: {train(model, optimizer, 50):.4f}")
checkpoint = {"epoch": 50, "model": model.state_dict(), "optimizer": optimizer.state_dict()}
torch.save(checkpoint, folder / "checkpoint.pt")
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
# --8<-- [end:checkpoint-resume]

# --8<-- [start:map-location]
locations = []


def record(storage, location):  # map_location can be a function of each stored location
    locations.append(location)
    return storage  # leave it where it is


torch.load(folder / "checkpoint.pt", map_location=record, weights_only=True)
print(len(locations), set(locations))  # every stored tensor, with the device it was saved from

checkpoint = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
print({tensor.device.type for tensor in checkpoint["model"].values()})
print(checkpoint["optimizer"]["state"][0]["exp_avg"].device)  # optimizer state is mapped too
# --8<-- [end:map-location]

# --8<-- [start:optimizer-device]
device = torch.device("meta")  # stands in for torch.device("cuda"): this machine has no GPU
on_device = make_regressor()
on_device.load_state_dict(checkpoint["model"])  # copies values; before or after .to() alike
on_device.to(device)  # 1. move the model
device_optimizer = torch.optim.Adam(on_device.parameters(), lr=0.01)  # 2. then build the optimizer
device_optimizer.load_state_dict(checkpoint["optimizer"])  # 3. its state follows the parameters
state = device_optimizer.state[on_device[0].weight]
print(on_device[0].weight.device, {key: value.device.type for key, value in state.items()})
# --8<-- [end:optimizer-device]

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

# --8<-- [start:whole-model]
seq_net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
torch.save(seq_net, folder / "whole-model.pt")  # pickles the objects, classes and all
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
run_args = argparse.Namespace(lr=0.01, hidden=8, epochs=50)  # a training script's options
torch.save({"epoch": 50, "model": model.state_dict(), "args": run_args}, folder / "with-args.pt")
try:
    torch.load(folder / "with-args.pt", weights_only=True)
except pickle.UnpicklingError as error:
    print(f"{type(error).__name__}: {str(error).split('.')[0]}")
    print("blocked:", str(error).split("GLOBAL ")[1].split()[0])
with torch.serialization.safe_globals([argparse.Namespace]):  # allowed inside this block only
    with_args = torch.load(folder / "with-args.pt", weights_only=True)
print(with_args["args"])
# --8<-- [end:safe-globals]

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

# --8<-- [start:cleanup]
workdir.cleanup()  # removes the folder and every file in it
print(folder.exists())
# --8<-- [end:cleanup]
