# Chapter 2: Parameter management / 参数管理.
# Every section below is shown on docs/en/parameters.md and docs/zh/parameters.md, in this order.

# --8<-- [start:setup]
import copy

import torch
from torch import nn
from torchinfo import summary

torch.manual_seed(0)  # the same random numbers on every run
X = torch.rand(2, 4)  # a batch of 2 examples with 4 features each
net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
print(net(X).shape)
# --8<-- [end:setup]

# --8<-- [start:layer-state-dict]
print(net[4].state_dict())  # the last layer: Linear(3, 2)
# --8<-- [end:layer-state-dict]

# --8<-- [start:parameter-object]
bias = net[4].bias
print(type(bias).__name__, isinstance(bias, torch.Tensor))
print(bias)  # the value, marked as a parameter that requires a gradient
print(bias.grad is None)  # no backward pass has run yet
# --8<-- [end:parameter-object]

# --8<-- [start:grad-is-none]
weight = net[4].weight
print("before backward:", weight.grad is None, weight.grad == True)  # the wrong test, shown on purpose
net(X).sum().backward()
print("after backward: ", weight.grad is None)
try:
    if weight.grad == True:  # compares every element with 1.0
        print("has a gradient")
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
net.zero_grad()  # back to no gradient at all
print("after zero_grad:", weight.grad is None)
# --8<-- [end:grad-is-none]

# --8<-- [start:named-parameters]
print([(name, tuple(p.shape)) for name, p in net[0].named_parameters()])
print([(name, tuple(p.shape)) for name, p in net.named_parameters()])
# --8<-- [end:named-parameters]

# --8<-- [start:state-dict-by-name]
state = net.state_dict()
print(list(state))
print(state["2.bias"])
print(torch.equal(state["2.bias"], net[2].bias), state["2.bias"].requires_grad)
# --8<-- [end:state-dict-by-name]

# --8<-- [start:state-dict-shares-storage]
kept = copy.deepcopy(state)  # an independent copy of every entry
with torch.no_grad():
    net[2].bias.zero_()  # change a parameter after the state dict was taken
print(state["2.bias"])  # the state dict sees the change: it shares the parameter's storage
print(kept["2.bias"])  # the copy kept the old values
net.load_state_dict(kept)  # copy them back into the parameters
print(torch.equal(net[2].bias, kept["2.bias"]))
# --8<-- [end:state-dict-shares-storage]

# --8<-- [start:state-dict-buffers]
normed = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5))
print([name for name, _ in normed.named_parameters()])
print([name for name, _ in normed.named_buffers()])
print(list(normed.state_dict()))
# --8<-- [end:state-dict-buffers]

# --8<-- [start:nested-blocks]
def block1():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())


def block2():
    net = nn.Sequential()
    for i in range(4):
        net.add_module(f"block{i}", block1())  # four copies of block1, named block0 ... block3
    return net


rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
print(rgnet(X).shape)
print(rgnet)
# --8<-- [end:nested-blocks]

# --8<-- [start:nested-access]
print(rgnet[0][1][0].bias)  # block2 -> its second block1 -> that block's first layer
layer = rgnet.get_submodule("0.block1.0")  # the same layer, by its dotted name
print(layer is rgnet[0][1][0])
print([name for name, _ in rgnet.named_parameters()][:4])
# --8<-- [end:nested-access]

# --8<-- [start:count-by-hand]
# each Linear(n_in, n_out) has n_in * n_out weights and n_out biases
print(4 * 5 + 5, 5 * 3 + 3, 3 * 2 + 2)
print(4 * 5 + 5 + 5 * 3 + 3 + 3 * 2 + 2)
# --8<-- [end:count-by-hand]

# --8<-- [start:count-in-code]
print([p.numel() for p in net.parameters()])
print(sum(p.numel() for p in net.parameters()))
# --8<-- [end:count-in-code]

# --8<-- [start:count-trainable]
net[0].requires_grad_(False)  # freeze the first layer
print(sum(p.numel() for p in net.parameters() if p.requires_grad))
net(X).sum().backward()
print(net[0].weight.grad is None, net[2].weight.grad is None)  # a frozen layer gets no gradient
net[0].requires_grad_(True)  # unfreeze it again
net.zero_grad()
# --8<-- [end:count-trainable]

# --8<-- [start:torchinfo-summary]
# with input_data, torchinfo runs one forward pass on X and moves neither X nor the model
print(summary(net, input_data=X, verbose=0))
# --8<-- [end:torchinfo-summary]

# --8<-- [start:torchinfo-own-parameter]
class ScaledLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)
        self.scale = nn.Parameter(torch.ones(3))  # a parameter of the module itself, not of a layer

    def forward(self, X):
        return self.linear(X) * self.scale


scaled = ScaledLinear()
print(summary(scaled, input_data=X, verbose=0).total_params, sum(p.numel() for p in scaled.parameters()))
# --8<-- [end:torchinfo-own-parameter]

# --8<-- [start:read-with-detach]
weight = net[0].weight
try:
    weight.numpy()
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
view = weight.detach()  # the same numbers, outside autograd
snapshot = weight.detach().clone()  # an independent copy
print(view.requires_grad, (weight * 2).grad_fn is not None, (view * 2).grad_fn is None)
print(view.numpy().shape)
# --8<-- [end:read-with-detach]

# --8<-- [start:write-under-no-grad]
try:
    weight[0, 0] = 42.0
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
with torch.no_grad():
    weight[0, 0] = 42.0
print(weight[0, 0].item(), view[0, 0].item(), round(snapshot[0, 0].item(), 4))  # the view shares storage
with torch.no_grad():
    weight.copy_(snapshot)  # restore the old values
print(torch.equal(weight, snapshot), weight.requires_grad)
# --8<-- [end:write-under-no-grad]

# --8<-- [start:data-trap]
edited, reference = copy.deepcopy(net), copy.deepcopy(net)  # two identical copies
loss = edited(X).sum()  # forward pass with the current weights
edited[2].weight.data.mul_(10)  # the trap (never do this): an edit that autograd does not see
loss.backward()  # no error, no warning
reference(X).sum().backward()  # the true gradient of the loss computed above
print(torch.allclose(edited[0].weight.grad, reference[0].weight.grad))
print(torch.allclose(edited[0].weight.grad, 10 * reference[0].weight.grad))
# --8<-- [end:data-trap]

# --8<-- [start:edit-under-no-grad-is-caught]
edited = copy.deepcopy(net)
loss = edited(X).sum()
with torch.no_grad():
    edited[2].weight.mul_(10)  # the same edit, done the supported way
try:
    loss.backward()
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:edit-under-no-grad-is-caught]

# --8<-- [start:clip-gradients]
(100 * net(X)).sum().backward()  # a large loss gives large gradients
before = [p.detach().clone() for p in net.parameters()]
norm = nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)  # rescales every p.grad in place
print(round(norm.item(), 4))  # the total norm before clipping
print(round(nn.utils.get_total_norm([p.grad for p in net.parameters()]).item(), 4))  # after
print(all(torch.equal(old, p) for old, p in zip(before, net.parameters())))  # weights untouched
net.zero_grad()
# --8<-- [end:clip-gradients]

# --8<-- [start:tied-layers]
shared = nn.Linear(8, 8)
tied = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))
print(tied(X).shape)
print(tied[2] is tied[4], tied[2].weight is tied[4].weight)
with torch.no_grad():
    tied[2].weight[0, 0] = 100.0
print(tied[4].weight[0, 0].item())  # changing one position changes the other
# --8<-- [end:tied-layers]

# --8<-- [start:tied-gradients]
untied = nn.Sequential(
    nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1)
)
untied.load_state_dict(tied.state_dict())  # same values, but two separate middle layers
print(torch.equal(tied(X), untied(X)))
tied(X).sum().backward()
untied(X).sum().backward()
print(torch.allclose(tied[2].weight.grad, untied[2].weight.grad + untied[4].weight.grad))
print(torch.allclose(tied[2].weight.grad, untied[4].weight.grad))
# --8<-- [end:tied-gradients]

# --8<-- [start:tied-counting]
print(sum(p.numel() for p in tied.parameters()), sum(p.numel() for p in untied.parameters()))
print(summary(tied, input_data=X, verbose=0).total_params)
print([name for name, _ in tied.named_parameters()])
print(list(tied.state_dict()))
# --8<-- [end:tied-counting]

# --8<-- [start:tied-weight-two-layers]
first, second = nn.Linear(4, 4), nn.Linear(4, 4)
second.weight = first.weight  # two different layers, one weight (the biases stay separate)
pair = nn.Sequential(first, nn.ReLU(), second)
print([name for name, _ in pair.named_parameters()], list(pair.state_dict()))
print(sum(p.numel() for p in pair.parameters()), summary(pair, input_data=X, verbose=0).total_params)
# --8<-- [end:tied-weight-two-layers]
