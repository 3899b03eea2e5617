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
visited = []
net.apply(lambda module: visited.append(type(module).__name__))  # every submodule, then net itself
print(visited)
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

# --8<-- [start:print-module]
print(chimera)
# --8<-- [end:print-module]

# --8<-- [start:extra-repr]
class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, X):
        return X * self.factor


class ReadableScale(Scale):
    def extra_repr(self):  # the text print() shows between the parentheses
        return f"factor={self.factor}"


print(nn.Sequential(nn.Linear(20, 10), Scale(0.5), ReadableScale(0.5)))
# --8<-- [end:extra-repr]

# --8<-- [start:find-submodules]
model = nn.Sequential(NestMLP(), nn.Linear(16, 20), FixedHiddenMLP())
print([name for name, _ in model.named_modules()])
print(model.get_submodule("0.net.2"))  # the same as model[0].net[2]
# --8<-- [end:find-submodules]

# --8<-- [start:swap-submodules]
relu = nn.ReLU()  # one ReLU object in two places
model = nn.Sequential(nn.Linear(20, 20), relu, nn.Linear(20, 20), relu, nn.Linear(20, 10))
print("named_modules():", [name for name, m in model.named_modules() if isinstance(m, nn.ReLU)])
every_place = list(model.named_modules(remove_duplicate=False))  # a list: the loop changes the tree
print("remove_duplicate=False:", [name for name, m in every_place if isinstance(m, nn.ReLU)])
for name, module in every_place:
    if isinstance(module, nn.ReLU):
        model.set_submodule(name, nn.GELU(), strict=True)
print(model)
# --8<-- [end:swap-submodules]

# --8<-- [start:set-submodule-strict]
model = nn.Sequential(NestMLP(), nn.Linear(16, 20))
try:
    model.set_submodule("0.output", nn.Linear(32, 16), strict=True)  # NestMLP calls it "linear"
except AttributeError as error:
    print("AttributeError:", error)
model.set_submodule("0.output", nn.Linear(32, 16))  # strict=False, the default: adds a layer
print([name for name, _ in model[0].named_children()])
# --8<-- [end:set-submodule-strict]

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

# --8<-- [start:forward-hooks]
net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))  # as in torchvision's ResNets
activations = {}


def keep_output(name):
    def hook(module, args, output):  # runs after the module's forward
        activations[name] = output.detach().clone()  # a copy of the values, without the autograd graph
    return hook


handles = [layer.register_forward_hook(keep_output(name)) for name, layer in net.named_children()]
net(X)
print({name: tuple(output.shape) for name, output in activations.items()})
for handle in handles:
    handle.remove()
activations.clear()
net(X)
print(activations)  # empty: the hooks are gone
# --8<-- [end:forward-hooks]

# --8<-- [start:forward-hooks-in-place]
kept = {}


def keep_both(module, args, output):
    kept["detach()"] = output.detach()  # shares memory with the output
    kept["detach().clone()"] = output.detach().clone()  # a copy


with net[0].register_forward_hook(keep_both):
    net(X)  # net[1], the in-place ReLU, then overwrites the output of net[0]
linear_output = net[0](X)  # what net[0] computes
for how, tensor in kept.items():
    print(f"{how:17} equals the output of net[0]: {torch.equal(tensor, linear_output)}, "
          f"has negatives: {bool((tensor < 0).any())}")
# --8<-- [end:forward-hooks-in-place]

# --8<-- [start:forward-pre-hook]
def double_input(module, args):  # runs before forward; what it returns replaces the inputs
    return (2 * args[0],)


expected = net(2 * X)
with net.register_forward_pre_hook(double_input):  # the handle removes the hook at the end
    print("inside with: ", torch.equal(net(X), expected))
print("after with:  ", torch.equal(net(X), expected))
# --8<-- [end:forward-pre-hook]

# --8<-- [start:hooks-with-kwargs]
class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 1)

    def forward(self, X, scale=1.0):
        return self.linear(X) * scale


def plain_hook(module, args):
    print("  hook(module, args):        ", len(args), "positional")


def kwargs_hook(module, args, kwargs):
    print("  hook(module, args, kwargs):", len(args), "positional,", kwargs)


model = Scaled()
with model.register_forward_pre_hook(plain_hook), model.register_forward_pre_hook(kwargs_hook, with_kwargs=True):
    print("model(X, 3.0):")
    model(X, 3.0)
    print("model(X, scale=3.0):")
    model(X, scale=3.0)
# --8<-- [end:hooks-with-kwargs]

# --8<-- [start:pre-hook-changes-kwargs]
def no_scaling(module, args, kwargs):
    return args, {**kwargs, "scale": 1.0}  # new (args, kwargs) for forward


with model.register_forward_pre_hook(no_scaling, with_kwargs=True):
    print(torch.equal(model(X, scale=3.0), model.linear(X)))
# --8<-- [end:pre-hook-changes-kwargs]

# --8<-- [start:backward-hooks]
def shapes(grads):
    return [None if grad is None else tuple(grad.shape) for grad in grads]


def pre_hook(name):
    def hook(module, grad_output):  # before the module's backward
        print(f"  pre-hook on {name}: grad_output {shapes(grad_output)}")
    return hook


def backward_hook(name):
    def hook(module, grad_input, grad_output):  # after it: the gradients for the module's inputs
        print(f"  hook on {name}:     grad_input {shapes(grad_input)}, grad_output {shapes(grad_output)}")
    return hook


net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 1))
module_handles = []
for index in (1, 2):  # not net[0]: its input X needs no gradient (see below)
    module_handles.append(net[index].register_full_backward_pre_hook(pre_hook(f"net[{index}]")))
    module_handles.append(net[index].register_full_backward_hook(backward_hook(f"net[{index}]")))
loss = net(X).sum()
print("forward done, no hook ran; backward:")
loss.backward()
for handle in module_handles:
    handle.remove()
# --8<-- [end:backward-hooks]

# --8<-- [start:backward-hook-return]
def double_grad_output(module, grad_output):  # a backward pre-hook
    return tuple(2 * grad for grad in grad_output)


def double_grad_input(module, grad_input, grad_output):  # a backward hook
    return tuple(2 * grad for grad in grad_input)


def doubled_gradients():
    net.zero_grad()
    net(X).sum().backward()
    return [name for name, p in net.named_parameters() if torch.allclose(p.grad, 2 * reference[name])]


net.zero_grad()
net(X).sum().backward()
reference = {name: p.grad.clone() for name, p in net.named_parameters()}  # no hook
with net[2].register_full_backward_pre_hook(double_grad_output):
    print("pre-hook on net[2], 2 * grad_output:", doubled_gradients())
with net[2].register_full_backward_hook(double_grad_input):
    print("hook on net[2], 2 * grad_input:     ", doubled_gradients())
# --8<-- [end:backward-hook-return]

# --8<-- [start:tensor-hooks]
net = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 1))
weight = net[0].weight


def before(grad):  # runs before grad is added to weight.grad
    print(f"  register_hook:             grad norm {grad.norm():.3f}, weight.grad is None: {weight.grad is None}")


def after(param):  # runs once param.grad holds the sum
    print(f"  post_accumulate_grad_hook: weight.grad norm {param.grad.norm():.3f}")


with weight.register_hook(before), weight.register_post_accumulate_grad_hook(after):
    for step in (1, 2):  # two backward passes, no zero_grad() between them
        print(f"backward {step}:")
        net(X).sum().backward()
# --8<-- [end:tensor-hooks]

# --8<-- [start:gradient-norms]
grad_norms = {}


def log_norm(name):
    def hook(param):
        grad_norms[name] = round(param.grad.norm().item(), 3)
    return hook


net.zero_grad()
norm_handles = [p.register_post_accumulate_grad_hook(log_norm(name)) for name, p in net.named_parameters()]
net(X).sum().backward()
print(grad_norms)  # in the order backward completed them: the last layer first
for handle in norm_handles:
    handle.remove()
# --8<-- [end:gradient-norms]

# --8<-- [start:clip-one-layer]
def clip_norm(max_norm):
    def hook(grad):  # what it returns replaces the gradient
        return grad * (max_norm / (grad.norm() + 1e-6)).clamp(max=1.0)  # the scaling of clip_grad_norm_
    return hook


net.zero_grad()
with net[0].weight.register_hook(clip_norm(0.1)):
    net(X).sum().backward()
print({name: round(p.grad.norm().item(), 3) for name, p in net.named_parameters()})
# --8<-- [end:clip-one-layer]

# --8<-- [start:backward-hooks-in-place]
net = nn.Sequential(nn.Linear(20, 16), nn.ReLU(inplace=True), nn.Linear(16, 8), nn.ReLU(inplace=True), nn.Linear(8, 1))
with net[2].register_full_backward_hook(backward_hook("net[2]")):
    try:
        net(X)  # net[3] writes into the output of net[2]: the forward fails
    except RuntimeError as error:
        print("RuntimeError:", str(error).split(". ")[0])
    with torch.no_grad():
        print("under no_grad:", net(X).shape)  # nothing recorded, nothing wrapped
with net[2].weight.register_hook(lambda grad: None):  # a tensor hook wraps nothing
    net(X).sum().backward()
    print("a hook on net[2].weight:", net[2].weight.grad.shape)
for module in net.modules():
    if isinstance(module, nn.ReLU):
        module.inplace = False  # the fix for a module hook: each ReLU writes a new tensor
with net[2].register_full_backward_hook(backward_hook("net[2]")):
    print("inplace=False:")
    net(X).sum().backward()
# --8<-- [end:backward-hooks-in-place]

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

# --8<-- [start:compile-graph-breaks]
net = FixedHiddenMLP()
explanation = torch._dynamo.explain(net)(X)  # runs net once under Dynamo and counts the graphs
print("graphs:", explanation.graph_count, "| graph breaks:", explanation.graph_break_count)
try:
    torch.compile(net, backend="eager", fullgraph=True)(X)  # fullgraph=True: a graph break is an error
except torch._dynamo.exc.Unsupported as error:
    print("Unsupported:", str(error).splitlines()[0])
# --8<-- [end:compile-graph-breaks]

# --8<-- [start:compile-same-result]
compiled = torch.compile(net, backend="eager")  # eager: Dynamo traces, no code generation
print(type(compiled).__name__, compiled._orig_mod is net)
print(all(torch.equal(compiled(s * X), net(s * X)) for s in (0.01, 1.0, 100.0)))
# --8<-- [end:compile-same-result]

# --8<-- [start:compile-state-dict]
print(list(compiled.state_dict()))
plain = FixedHiddenMLP()
try:
    plain.load_state_dict(compiled.state_dict())
except RuntimeError as error:
    print("RuntimeError:", error)
print(plain.load_state_dict(compiled._orig_mod.state_dict()))  # the original module's keys
# --8<-- [end:compile-state-dict]

# --8<-- [start:compile-in-place]
graphs = []


def keep_graphs(gm, example_inputs):  # a backend: Dynamo hands it each traced graph
    graphs.append(gm)
    return gm.forward  # run the graph as it is, as backend="eager" does


net.compile(backend=keep_graphs)  # compiles net's __call__ in place
print(type(net).__name__, list(net.state_dict()))
print(torch.equal(net(X), plain(X)), "|", len(graphs), "graphs traced")
# --8<-- [end:compile-in-place]

# --8<-- [start:compile-in-place-builtin]
graphs.clear()
seq = nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 1))
seq.compile(backend=keep_graphs)
print("seq.compile():     ", seq(X).shape, "|", len(graphs), "graphs traced")
graphs.clear()
seq = nn.Sequential(nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 1))
compiled_seq = torch.compile(seq, backend=keep_graphs)
print("torch.compile(seq):", compiled_seq(X).shape, "|", len(graphs), "graph traced")
# --8<-- [end:compile-in-place-builtin]

# --8<-- [start:exercise-predict-reused-relu]
relu = nn.ReLU()
layers = (nn.Linear(20, 20), relu, nn.Linear(20, 20), relu)


def describe(net):
    calls = []
    with relu.register_forward_hook(lambda module, args, output: calls.append(module)):
        net(X)
    print(f"{type(net).__name__}: {len(net._modules)} entries, {len(list(net.children()))} children, "
          f"{len(list(net.modules()))} modules, ReLU calls: {len(calls)}")
# --8<-- [end:exercise-predict-reused-relu]

# --8<-- [start:exercise-predict-reused-relu-solution]
describe(ChildrenSequential(*layers))
describe(nn.Sequential(*layers))
# --8<-- [end:exercise-predict-reused-relu-solution]

# --8<-- [start:exercise-count-chimera-parameters]
for name, child in chimera.named_children():
    print(name, type(child).__name__, sum(p.numel() for p in child.parameters()))
print("total:", sum(p.numel() for p in chimera.parameters()))
# --8<-- [end:exercise-count-chimera-parameters]

# --8<-- [start:exercise-layers-in-a-list]
class Tower(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.layers = [nn.Linear(20, 20) for _ in range(depth)]
        self.head = nn.Linear(20, 1)

    def forward(self, X):
        for layer in self.layers:
            X = F.relu(layer(X))
        return self.head(X)


tower = Tower(3)
print(tower(X).shape, sum(p.numel() for p in tower.parameters()))
# --8<-- [end:exercise-layers-in-a-list]

# --8<-- [start:exercise-layers-in-a-list-solution]
class ModuleListTower(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(20, 20) for _ in range(depth))  # the fix
        self.head = nn.Linear(20, 1)

    def forward(self, X):
        for layer in self.layers:
            X = F.relu(layer(X))
        return self.head(X)


for tower in (Tower(3), ModuleListTower(3)):
    optimizer = torch.optim.SGD(tower.parameters(), lr=0.1)
    print(f"{type(tower).__name__}: {sum(p.numel() for p in tower.parameters())} parameters, "
          f"{len(optimizer.param_groups[0]['params'])} tensors in the optimizer, "
          f"{len(tower.state_dict())} in the state dict")
# --8<-- [end:exercise-layers-in-a-list-solution]

# --8<-- [start:exercise-constant-after-to]
class Standardize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean = mean
        self.std = std

    def forward(self, X):
        return (X - self.mean) / self.std


model = nn.Sequential(Standardize(torch.full((20,), 0.5), torch.full((20,), 0.29)), nn.Linear(20, 1))
print(list(model.state_dict()))
for dtype in (torch.float64, torch.bfloat16):
    try:
        print(dtype, "->", model.to(dtype)(X.to(dtype)).dtype)
    except RuntimeError as error:
        print(dtype, "-> RuntimeError:", error)
# --8<-- [end:exercise-constant-after-to]

# --8<-- [start:exercise-constant-after-to-solution]
class BufferStandardize(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)  # saved, and converted by .to()
        self.register_buffer("std", std)

    def forward(self, X):
        return (X - self.mean) / self.std


model = nn.Sequential(BufferStandardize(torch.full((20,), 0.5), torch.full((20,), 0.29)), nn.Linear(20, 1))
print(list(model.state_dict()))
for dtype in (torch.float64, torch.bfloat16):
    print(dtype, "->", model.to(dtype)(X.to(dtype)).dtype, "| mean:", model[0].mean.dtype)
# --8<-- [end:exercise-constant-after-to-solution]

# --8<-- [start:exercise-residual-stack]
class ResidualStack(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, X):
        for layer in self.layers:
            X = X + F.relu(layer(X))  # the skip connection: add the input back
        return X


stack = ResidualStack(20, 3)
chain = nn.Sequential(*[m for layer in stack.layers for m in (layer, nn.ReLU())])  # same layers, no skips
print(stack(X).shape, sum(p.numel() for p in stack.parameters()))
print(torch.allclose(stack(X), chain(X)))


class Residual(nn.Module):  # X + fn(X), for any module fn
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, X):
        return X + self.fn(X)


wrapped = nn.Sequential(*[Residual(nn.Sequential(layer, nn.ReLU())) for layer in stack.layers])  # same layers
print(torch.equal(wrapped(X), stack(X)))
# --8<-- [end:exercise-residual-stack]

# --8<-- [start:exercise-weight-gradient-norms]
class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)

    def forward(self, X):
        out = self.linear(X)
        out += X  # the skip connection, added in place as in torchvision's BasicBlock
        return F.relu(out)


model = nn.Sequential(Block(20), Block(20), nn.Linear(20, 1))
weight_grad_norms = {}


def log_weight_grad_norm(name):
    def hook(module, grad_input, grad_output):
        weight_grad_norms[name] = round(grad_input[0].norm().item(), 3)
    return hook


for name, module in model.named_modules():
    if isinstance(module, nn.Linear):
        module.register_full_backward_hook(log_weight_grad_norm(name))
try:
    model(X).sum().backward()
except RuntimeError as error:
    print("RuntimeError:", str(error).split(". ")[0])
# --8<-- [end:exercise-weight-gradient-norms]

# --8<-- [start:exercise-weight-gradient-norms-solution]
model = nn.Sequential(Block(20), Block(20), nn.Linear(20, 1))  # a new model: no module hooks
linears = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)}
weight_grad_norms = {}


def log_norm_of(name):
    def hook(weight):  # runs once weight.grad is complete
        weight_grad_norms[name] = round(weight.grad.norm().item(), 3)
    return hook


weight_handles = [linear.weight.register_post_accumulate_grad_hook(log_norm_of(name))
                  for name, linear in linears.items()]
model(X).sum().backward()
print(weight_grad_norms)
print(weight_grad_norms == {name: round(linear.weight.grad.norm().item(), 3) for name, linear in linears.items()})
for handle in weight_handles:
    handle.remove()
# --8<-- [end:exercise-weight-gradient-norms-solution]

# --8<-- [start:exercise-compiled-checkpoint]
trained = FixedHiddenMLP()
checkpoint = {"model": torch.compile(trained, backend="eager").state_dict()}  # then torch.save(checkpoint, path)
# --8<-- [end:exercise-compiled-checkpoint]

# --8<-- [start:exercise-compiled-checkpoint-solution]
state = checkpoint["model"]
torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(state, "_orig_mod.")  # in place, metadata too
restored = FixedHiddenMLP()
print(restored.load_state_dict(state))
print(torch.equal(restored(X), trained(X)))
# --8<-- [end:exercise-compiled-checkpoint-solution]
