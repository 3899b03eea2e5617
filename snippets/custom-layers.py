# Chapter 5: Custom layers / 自定义层.
# Every section below is shown on docs/en/custom-layers.md and docs/zh/custom-layers.md, in this order.

# --8<-- [start:setup]
import math
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)  # the same random numbers on every run
# --8<-- [end:setup]

# --8<-- [start:centered-layer]
class CenteredLayer(nn.Module):  # nothing to register, so no __init__ of its own
    def forward(self, X):
        return X - X.mean()


layer = CenteredLayer()
print(layer(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])))
print(len(list(layer.parameters())))  # nothing to train
# --8<-- [end:centered-layer]

# --8<-- [start:centered-in-a-network]
net = nn.Sequential(nn.Linear(8, 128), CenteredLayer())
X = torch.rand(4, 8)
print(f"{net[0](X).mean().item():.4f}")  # the linear layer's output: not centered
Y = net(X)
print(Y.shape, abs(Y.mean().item()) < 1e-6)  # zero up to float rounding
# --8<-- [end:centered-in-a-network]

# --8<-- [start:my-linear]
class MyLinear(nn.Module):
    def __init__(self, in_units, out_units):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_units, in_units))  # (out, in), as in nn.Linear
        self.bias = nn.Parameter(torch.empty(out_units))
        self.reset_parameters()

    def reset_parameters(self):  # the same initialization as nn.Linear
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # U(-1/sqrt(in_units), 1/sqrt(in_units))
        bound = 1 / math.sqrt(self.weight.shape[1])  # weight.shape[1] is in_units, the fan-in
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, X):
        linear = X @ self.weight.T + self.bias  # the parameters themselves: autograd tracks them
        return F.relu(linear)


linear = MyLinear(5, 3)
print([(name, tuple(param.shape)) for name, param in linear.named_parameters()])
X = torch.randn(2, 5)
print(linear(X))
# --8<-- [end:my-linear]

# --8<-- [start:my-linear-init]
mine, builtin = MyLinear(256, 64), nn.Linear(256, 64)
print(f"std of the weight: MyLinear {mine.weight.std().item():.4f}, nn.Linear {builtin.weight.std().item():.4f}")
print(f"1/sqrt(3 * 256) = {1 / math.sqrt(3 * 256):.4f}, torch.randn(64, 256): {torch.randn(64, 256).std().item():.4f}")
# --8<-- [end:my-linear-init]

# --8<-- [start:my-linear-in-a-network]
net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
print(net(torch.rand(2, 64)).shape)
print(sum(param.numel() for param in net.parameters()))  # (64*8 + 8) + (8*1 + 1)
# --8<-- [end:my-linear-in-a-network]

# --8<-- [start:gradient-reaches-the-weight]
print(linear.weight.grad is None)  # no backward yet
linear(X).sum().backward()
print(linear.weight.grad is None)
print(linear.weight.grad)
# --8<-- [end:gradient-reaches-the-weight]

# --8<-- [start:data-in-forward]
class DataLinear(MyLinear):
    def forward(self, X):  # the WRONG way: .data is cut off from autograd
        return F.relu(X @ self.weight.data.T + self.bias.data)


broken = DataLinear(5, 3)
Y = broken(X)
print(Y.grad_fn, Y.requires_grad)
try:
    Y.sum().backward()
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:data-in-forward]

# --8<-- [start:data-in-a-network]
net = nn.Sequential(DataLinear(5, 8), nn.Linear(8, 1))
net(X).sum().backward()  # no error: the graph still reaches the last layer
print("DataLinear gets a gradient:", net[0].weight.grad is not None)
print("nn.Linear gets a gradient: ", net[1].weight.grad is not None)
# --8<-- [end:data-in-a-network]

# --8<-- [start:training]
X_train = torch.randn(64, 5)
y_train = X_train @ torch.tensor([[1.0], [-2.0], [3.0], [0.5], [-1.0]]) + 2.0  # a target to learn


def train(net, steps=200):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(net(X_train), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


good = nn.Sequential(MyLinear(5, 8), nn.Linear(8, 1))
bad = nn.Sequential(DataLinear(5, 8), nn.Linear(8, 1))
bad.load_state_dict(good.state_dict())  # both start from the same values
for net in (good, bad):
    weight_before = net[0].weight.detach().clone()
    losses = train(net)
    changed = not torch.equal(weight_before, net[0].weight)
    print(f"{type(net[0]).__name__}: loss {losses[0]:.4f} -> {losses[-1]:.4f}, weight changed: {changed}")
# --8<-- [end:training]

# --8<-- [start:buffers]
class Standardize(nn.Module):
    """Subtract a mean and divide by a standard deviation measured once, on training data."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)  # persistent (the default): saved in the state dict
        self.register_buffer("std", std)
        self.register_buffer("eps", torch.tensor(1e-5), persistent=False)  # rebuilt by __init__, not saved

    def forward(self, X):
        return (X - self.mean) / (self.std + self.eps)


features = 5 + 2 * torch.randn(1000, 3)  # training data: mean about 5, std about 2
standardize = Standardize(features.mean(dim=0), features.std(dim=0))
print([name for name, _ in standardize.named_parameters()])
print([name for name, _ in standardize.named_buffers()])
print(list(standardize.state_dict()))
Z = standardize(features)
print(Z.mean(dim=0).abs().max().item() < 1e-4, [round(s, 4) for s in Z.std(dim=0).tolist()])
# --8<-- [end:buffers]

# --8<-- [start:state-dict-holds-buffers]
batch_norm = nn.BatchNorm1d(3)
print([name for name, _ in batch_norm.named_parameters()])
print(list(batch_norm.state_dict()))
batch_norm(features)  # in training mode, forward updates the running statistics
print(batch_norm.num_batches_tracked.item(), [round(m, 4) for m in batch_norm.running_mean.tolist()])
# --8<-- [end:state-dict-holds-buffers]

# --8<-- [start:buffers-are-saved]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "standardize.pt"
    torch.save(standardize.state_dict(), path)
    fresh = Standardize(torch.zeros(3), torch.ones(3))  # placeholder statistics
    fresh.load_state_dict(torch.load(path, weights_only=True))
print(torch.equal(fresh.mean, standardize.mean), torch.equal(fresh.std, standardize.std))
print(torch.equal(fresh(features), standardize(features)))
# --8<-- [end:buffers-are-saved]

# --8<-- [start:buffers-are-moved]
model = nn.Sequential(Standardize(features.mean(dim=0), features.std(dim=0)), nn.Linear(3, 1))
model.to(torch.float64)  # converts floating-point parameters and buffers, persistent or not
print(model[0].mean.dtype, model[0].eps.dtype, model[1].weight.dtype)
model.to("meta")  # a device with no data, on every machine; "cuda" works the same way
print(model[0].mean.device, model[0].eps.device, model[1].weight.device)
batch_norm.to(torch.float64)  # converts floating-point tensors only
print(batch_norm.running_mean.dtype, batch_norm.num_batches_tracked.dtype)
# --8<-- [end:buffers-are-moved]

# --8<-- [start:buffers-are-not-trained]
model = nn.Sequential(Standardize(features.mean(dim=0), features.std(dim=0)), nn.Linear(3, 1))
mean_before = model[0].mean.clone()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # gets only the linear layer's parameters
loss = model(features).pow(2).mean()
optimizer.zero_grad()
loss.backward()
optimizer.step()
print(model[0].mean.requires_grad, model[0].mean.grad is None)
print(torch.equal(model[0].mean, mean_before))
print(sum(param.numel() for param in model.parameters()))  # 3 weights + 1 bias; the buffers are not counted
# --8<-- [end:buffers-are-not-trained]

# --8<-- [start:constant-as-plain-tensor]
class PlainStandardize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = mean, std  # plain tensors: the WRONG way

    def forward(self, X):
        return (X - self.mean) / (self.std + 1e-5)


plain = PlainStandardize(features.mean(dim=0), features.std(dim=0))
print(list(plain.state_dict()))  # nothing to save
fresh = PlainStandardize(torch.zeros(3), torch.ones(3))
fresh.load_state_dict(plain.state_dict())  # "loads" without a complaint...
print(torch.equal(fresh(features), plain(features)))  # ...but computes something else
plain.to(torch.float64)
plain.to("meta")
print(plain.mean.dtype, plain.mean.device)  # neither converted nor moved
try:
    plain(features.to("meta"))  # input on the new device, mean left behind
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:constant-as-plain-tensor]
