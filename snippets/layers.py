# Chapter 1: Layers and modules / 层和块.
# Every section below is shown on docs/en/layers.md and docs/zh/layers.md, in this order.

# --8<-- [start:setup]
import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)  # the same random numbers on every run
X = torch.rand(2, 20)  # a batch of 2 examples with 20 features each
# --8<-- [end:setup]

# --8<-- [start:sequential]
net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
print(net(X).shape)
# --8<-- [end:sequential]

# --8<-- [start:relu-without-parentheses]
try:
    nn.Sequential(nn.Linear(20, 256), nn.ReLU, nn.Linear(256, 10))
except TypeError as error:
    print("TypeError:", error)
# --8<-- [end:relu-without-parentheses]

# --8<-- [start:everything-is-a-module]
print(isinstance(net[0], nn.Module), isinstance(net[1], nn.Module), isinstance(net, nn.Module))
net.apply(lambda module: print(type(module).__name__))  # apply visits every submodule, then net
# --8<-- [end:everything-is-a-module]

# --8<-- [start:call-not-forward]
def report(name):
    return lambda module, inputs, output: print(f"  hook on {name} saw", tuple(output.shape))


on_net = net.register_forward_hook(report("net"))
on_first = net[0].register_forward_hook(report("net[0]"))
print("net(X):")
net(X)          # forward calls net[0], which runs its hook; then net's own hook runs
print("net.forward(X):")
net.forward(X)  # skips net's own hook; net[0] is still called, so its hook still runs
on_net.remove()
on_first.remove()
# --8<-- [end:call-not-forward]

# --8<-- [start:mlp]
class MLP(nn.Module):
    def __init__(self):
        super().__init__()  # first: sets up the registries the layers below go into
        self.hidden = nn.Linear(20, 256)
        self.output = nn.Linear(256, 10)

    def forward(self, X):
        return self.output(F.relu(self.hidden(X)))


net = MLP()
print(net(X).shape)
print(sum(p.numel() for p in net.parameters()))
# --8<-- [end:mlp]

# --8<-- [start:mlp-count]
# 20*256 weights + 256 biases, then 256*10 weights + 10 biases
print(20 * 256 + 256 + 256 * 10 + 10)
# --8<-- [end:mlp-count]

# --8<-- [start:registration]
class WhatIsRegistered(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 2)                    # submodule: registered
        self.scale = nn.Parameter(torch.ones(2))        # parameter: registered
        self.register_buffer("offset", torch.zeros(2))  # buffer: registered
        self.plain = torch.zeros(2)                     # plain tensor: invisible
        self.in_a_list = [nn.Linear(2, 2)]              # Python list: invisible

    def forward(self, X):
        return self.layer(X) * self.scale + self.offset


module = WhatIsRegistered()
print([name for name, _ in module.named_parameters()])
print(list(module.state_dict()))
module = module.to(torch.float64)
print("layer:", module.layer.weight.dtype, "| buffer:", module.offset.dtype)
print("plain:", module.plain.dtype, "| in_a_list:", module.in_a_list[0].weight.dtype)
# --8<-- [end:registration]

# --8<-- [start:my-sequential]
class MySequential(nn.Module):
    def __init__(self, *modules):
        super().__init__()
        for index, module in enumerate(modules):
            self.add_module(str(index), module)  # registers it, in order, under the name "0", "1", ...

    def forward(self, X):
        for module in self._modules.values():  # every entry in order, repeats included, as nn.Sequential does
            X = module(X)
        return X


net = MySequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
print(net(X).shape)
print([name for name, _ in net.named_parameters()])
# --8<-- [end:my-sequential]

# --8<-- [start:my-sequential-repeats]
class ChildrenSequential(MySequential):
    def forward(self, X):
        for module in self.children():  # the common version: each module object only once
            X = module(X)
        return X


relu = nn.ReLU()              # one ReLU object, used twice
tied = nn.Linear(20, 20)      # one Linear object, used twice: its weights are tied
cases = {
    "reused ReLU": (nn.Linear(20, 20), relu, nn.Linear(20, 20), relu, nn.Linear(20, 10)),
    "tied layer": (tied, relu, tied, nn.Linear(20, 10)),
}
for case, modules in cases.items():
    expected = nn.Sequential(*modules)(X)
    mine, children_loop = MySequential(*modules), ChildrenSequential(*modules)
    print(f"{case}: {len(mine._modules)} entries, children() yields {len(list(mine.children()))}")
    print("  MySequential equals nn.Sequential:     ", torch.equal(mine(X), expected))
    print("  children() version equals nn.Sequential:", torch.equal(children_loop(X), expected))
# --8<-- [end:my-sequential-repeats]

# --8<-- [start:fixed-hidden-mlp]
class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        # A constant that is not trained: a buffer, so that it is saved and follows .to()
        self.register_buffer("rand_weight", torch.rand(20, 20))
        self.linear = nn.Linear(20, 20)

    def forward(self, X):
        X = self.linear(X)
        X = F.relu(X @ self.rand_weight + 1)
        X = self.linear(X)  # the same layer again: its parameters are shared
        while X.abs().sum() > 1:  # ordinary Python control flow
            X = X / 2
        return X.sum()


net = FixedHiddenMLP()
print(net(X))
print(net.to(torch.float64)(X.double()))
# --8<-- [end:fixed-hidden-mlp]

# --8<-- [start:constant-as-plain-tensor]
class PlainConstantMLP(FixedHiddenMLP):
    def __init__(self):
        super().__init__()
        del self.rand_weight  # remove the buffer...
        self.rand_weight = torch.rand(20, 20)  # ...and keep the constant as a plain tensor


net = PlainConstantMLP().to(torch.float64)
print("rand_weight" in net.state_dict(), net.rand_weight.dtype)
try:
    net(X.double())
except RuntimeError as error:
    print("RuntimeError:", error)
# --8<-- [end:constant-as-plain-tensor]

# --8<-- [start:nesting]
class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
        self.linear = nn.Linear(32, 16)

    def forward(self, X):
        return self.linear(self.net(X))


chimera = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())
print(chimera(X))
# --8<-- [end:nesting]

# --8<-- [start:nesting-wrong-size]
wrong = nn.Sequential(NestMLP(), nn.Linear(30, 20), FixedHiddenMLP())
try:
    wrong(X)
except RuntimeError as error:
    print("RuntimeError:", error)
# --8<-- [end:nesting-wrong-size]

# --8<-- [start:containers]
blocks = nn.ModuleList([nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 10)])
print(len(blocks), [type(block).__name__ for block in blocks])  # ordered and indexable
Y = X
for block in blocks:  # ModuleList has no forward: you write the loop
    Y = block(Y)
print(Y.shape)
try:
    blocks(X)
except NotImplementedError as error:
    print("NotImplementedError:", error)

heads = nn.ModuleDict({"classify": nn.Linear(20, 3), "regress": nn.Linear(20, 1)})
print({name: tuple(head(X).shape) for name, head in heads.items()})
print(sum(p.numel() for p in blocks.parameters()), sum(p.numel() for p in heads.parameters()))
# --8<-- [end:containers]

# --8<-- [start:dropout-modes]
dropout = nn.Dropout(p=0.5)
ones = torch.ones(8)
dropout.train()
print("train:", dropout(ones))  # about half zeroed, the rest scaled by 1 / (1 - p) = 2
dropout.eval()
print("eval: ", dropout(ones))  # the identity
# --8<-- [end:dropout-modes]

# --8<-- [start:eval-keeps-autograd]
net = MLP()
net.eval()
print(net.training, net.hidden.training)  # eval() reaches every submodule
print(net(X).requires_grad)  # eval mode still records the graph
with torch.inference_mode():
    print(net(X).requires_grad)  # inference_mode (or no_grad) turns recording off
# --8<-- [end:eval-keeps-autograd]
