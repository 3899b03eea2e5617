# Chapter 2: Parameter management / 参数管理.
# Every section below is shown on docs/en/parameters.md and docs/zh/parameters.md, in this order.

# --8<-- [start:setup]
import copy
import warnings

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import orthogonal, weight_norm
from torchinfo import summary

torch.manual_seed(0)  # the same random numbers on every run
X = torch.rand(2, 4)  # a batch of 2 examples with 4 features each
net = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2))
print(net(X).shape)
# --8<-- [end:setup]

# --8<-- [start:layer-state-dict]
print(dict(net[4].state_dict()))  # the last layer: Linear(3, 2)
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

# --8<-- [start:frozen-in-the-optimizer]
def step_after_freezing(set_to_none):
    model = copy.deepcopy(net)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # all parameters, frozen or not
    model(X).sum().backward()
    optimizer.step()  # a first step fills the momentum buffers
    model[0].requires_grad_(False)  # then the first layer is frozen
    frozen = model[0].weight.detach().clone()
    optimizer.zero_grad(set_to_none=set_to_none)
    model(X).sum().backward()
    optimizer.step()
    return model[0].weight.grad, torch.equal(model[0].weight, frozen)


for set_to_none in (True, False):
    grad, unchanged = step_after_freezing(set_to_none)
    print(f"set_to_none={set_to_none}: grad is None: {grad is None}, frozen weight unchanged: {unchanged}")
# --8<-- [end:frozen-in-the-optimizer]

# --8<-- [start:filter-frozen]
model = copy.deepcopy(net)
model[0].requires_grad_(False)
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
print(sum(p.numel() for group in optimizer.param_groups for p in group["params"]))  # the 26 trainable ones
model[0].requires_grad_(True)  # unfrozen later: the optimizer does not know these parameters yet
optimizer.add_param_group({"params": list(model[0].parameters()), "lr": 0.01})
print([(group["lr"], len(group["params"])) for group in optimizer.param_groups])
# --8<-- [end:filter-frozen]

# --8<-- [start:frozen-batchnorm]
class FineTuner(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU())  # pretrained, say
        self.head = nn.Linear(5, 2)
        self.body.requires_grad_(False)  # frozen

    def forward(self, X):
        return self.head(self.body(X))


class FrozenBodyFineTuner(FineTuner):
    def train(self, mode=True):  # model.train() and model.eval() both call it
        super().train(mode)  # sets the mode of every submodule...
        self.body.eval()  # ...then puts the frozen body back in evaluation mode
        return self


for model in (FineTuner(), FrozenBodyFineTuner()):
    running_mean = model.body[1].running_mean.clone()
    model.train()  # as a training loop does at the start of every epoch
    model(X)
    moved = not torch.equal(model.body[1].running_mean, running_mean)
    print(f"{type(model).__name__:19} body in training mode: {model.body.training}, statistics moved: {moved}")
# --8<-- [end:frozen-batchnorm]

# --8<-- [start:param-groups]
class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU())  # pretrained, say
        self.head = nn.Linear(8, 2)  # new: it gets a larger learning rate

    def forward(self, X):
        return self.head(self.body(X))


def param_groups(model, lr, head_lr, weight_decay):
    groups = {}  # (learning rate, weight decay) -> [(name, parameter), ...]
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue  # frozen parameters stay out of the optimizer
        group_lr = head_lr if name.startswith("head.") else lr
        decay = weight_decay if p.ndim > 1 else 0.0  # biases and norm weights are 1-D: no decay
        groups.setdefault((group_lr, decay), []).append((name, p))
    return [{"params": named, "lr": group_lr, "weight_decay": decay} for (group_lr, decay), named in groups.items()]


classifier = Classifier()
optimizer = torch.optim.AdamW(param_groups(classifier, lr=1e-4, head_lr=1e-3, weight_decay=0.05))
for group in optimizer.param_groups:
    print(group["lr"], group["weight_decay"], sum(p.numel() for p in group["params"]), group["param_names"])
# --8<-- [end:param-groups]

# --8<-- [start:param-groups-step]
grouped = sum(len(group["params"]) for group in optimizer.param_groups)
print(grouped, len(list(classifier.parameters())))  # every parameter is in a group
before = copy.deepcopy(classifier.state_dict())
classifier(X).sum().backward()
optimizer.step()
for name, p in classifier.named_parameters():
    print(f"{name:13} moved by at most {(p.detach() - before[name]).abs().max().item():.1e}")
# --8<-- [end:param-groups-step]

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
print(f"{norm.item():.1f}")  # the total norm before clipping
print(f"{nn.utils.get_total_norm([p.grad for p in net.parameters()]).item():.4f}")  # after
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

# --8<-- [start:tied-after-to-empty]
class TiedPair(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(4, 4), nn.Linear(4, 4)
        self.tie_weights()

    def tie_weights(self):  # call it again after anything that makes new parameter objects
        self.second.weight = self.first.weight

    def forward(self, X):
        return self.second(torch.relu(self.first(X)))


def report(when, model):
    tied = model.second.weight is model.first.weight
    print(f"{when:20} tied: {tied}, parameters: {sum(p.numel() for p in model.parameters())}")


with torch.device("meta"):
    model = TiedPair()  # shapes only, no memory: how a large model is built
report("on the meta device", model)
model = model.to_empty(device="cpu")  # memory for each module's parameters: new Parameter objects
report("after to_empty", model)
model.tie_weights()  # tie again, then initialize or load, then build the optimizer
report("after tie_weights()", model)
with torch.device("meta"):
    model = TiedPair()
model.load_state_dict(TiedPair().state_dict(), assign=True)  # the state dict's tensors become the parameters
report("after assign=True", model)
# --8<-- [end:tied-after-to-empty]

# --8<-- [start:parameter-identity]
def keeps_objects(change, model):  # does change(model) keep the model's Parameter objects?
    objects = list(model.parameters())  # held, so that no new object can get the id() of a freed one
    change(model)
    return [id(p) for p in model.parameters()] == [id(p) for p in objects]


def on_cpu():
    return nn.Linear(4, 2)


def on_meta():
    with torch.device("meta"):
        return nn.Linear(4, 2)


changes = [  # what is done, how, and to a model built by which function
    (".to(torch.float64)", lambda m: m.to(torch.float64), on_cpu),
    (".half()", lambda m: m.half(), on_cpu),
    ("load_state_dict(state)", lambda m: m.load_state_dict(on_cpu().state_dict()), on_cpu),
    ('.to("meta")', lambda m: m.to("meta"), on_cpu),
    ('to_empty(device="cpu") of a meta model', lambda m: m.to_empty(device="cpu"), on_meta),
    ("load_state_dict(state, assign=True)", lambda m: m.load_state_dict(on_cpu().state_dict(), assign=True), on_cpu),
]
for what, change, build in changes:
    print(f"{what:39} keeps the Parameter objects: {keeps_objects(change, build())}")
batch_norm = nn.BatchNorm1d(3)
running_mean = batch_norm.running_mean
batch_norm.to(torch.float64)
print(f"{'.to(torch.float64), a buffer':39} keeps the buffer object:     {batch_norm.running_mean is running_mean}")
# --8<-- [end:parameter-identity]

# --8<-- [start:optimizer-built-before]
def holds(optimizer, model):  # does the optimizer hold exactly the model's parameters?
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    return held == {id(p) for p in model.parameters()}


def step_moves(optimizer, model):  # does one training step change the model's parameters?
    before = [p.detach().clone() for p in model.parameters()]
    optimizer.zero_grad()
    model(X.to(before[0].dtype)).sum().backward()
    optimizer.step()
    return any(not torch.equal(p, old) for p, old in zip(model.parameters(), before))


for what, change, build in (changes[0], changes[-1]):  # .to(torch.float64) and assign=True
    model = build()
    early = torch.optim.SGD(model.parameters(), lr=0.1)  # built before the change
    change(model)
    print(f"{what:36} holds the parameters: {holds(early, model)}, a step moves them: {step_moves(early, model)}")
# --8<-- [end:optimizer-built-before]

# --8<-- [start:swap-tensors]
swapped = nn.Linear(4, 2)
sgd = torch.optim.SGD(swapped.parameters(), lr=0.1)
old_weight = swapped.weight.detach().clone()
loaded = nn.Parameter(torch.ones(2, 4))  # new values for the weight, say from a file
torch.utils.swap_tensors(swapped.weight, loaded)  # the two objects exchange their contents
print(torch.equal(swapped.weight, torch.ones(2, 4)), torch.equal(loaded, old_weight))
print(holds(sgd, swapped), step_moves(sgd, swapped))  # the optimizer still trains the weight
torch.utils.swap_tensors(swapped.bias, torch.zeros(2))  # the mistake: a plain tensor
print(type(swapped.bias).__name__, swapped.bias.requires_grad)  # the class changed places too
# --8<-- [end:swap-tensors]

# --8<-- [start:swap-on-conversion]
previous = torch.__future__.get_swap_module_params_on_conversion()
torch.__future__.set_swap_module_params_on_conversion(True)  # a global setting: restore it below
try:
    for what, change, build in changes:
        print(f"{what:39} keeps the Parameter objects: {keeps_objects(change, build())}")
    with torch.device("meta"):
        model = TiedPair()
    model.to_empty(device="cpu")
    print("still tied after to_empty:", model.second.weight is model.first.weight)
    model = nn.Linear(4, 2)
    loss = model(X).sum()
    model.to(torch.float64)  # between a forward pass and its backward
    try:
        loss.backward()
    except RuntimeError as error:
        print(f"{type(error).__name__}: {str(error).split(' this can')[0]}")
finally:
    torch.__future__.set_swap_module_params_on_conversion(previous)
print(torch.__future__.get_swap_module_params_on_conversion())  # back to the default
# --8<-- [end:swap-on-conversion]

# --8<-- [start:build-materialize-tie-optimizer]
with torch.device("meta"):
    model = TiedPair()  # 1. build: shapes, no memory
model.to_empty(device="cpu")  # 2. materialize: memory...
for layer in (model.first, model.second):
    layer.reset_parameters()  # ...and values (or load_state_dict(state, assign=True) instead of both)
model.tie_weights()  # 3. tie
optimizer_last = torch.optim.SGD(model.parameters(), lr=0.1)  # 4. the optimizer, last
print(holds(optimizer_last, model), sum(p.numel() for p in model.parameters()), step_moves(optimizer_last, model))
# --8<-- [end:build-materialize-tie-optimizer]

# --8<-- [start:functional-call]
def unchanged(module, before):  # compares the whole state dict: parameters and buffers
    return all(torch.equal(before[name], t) for name, t in module.state_dict().items())


torch.manual_seed(1)
noisy = {name: p.detach() + 0.01 * torch.randn_like(p) for name, p in net.named_parameters()}  # perturbed copy
before = copy.deepcopy(net.state_dict())
out = functional_call(net, noisy, (X,))  # net's forward, with noisy's tensors as its parameters
print(round((out - net(X)).abs().max().item(), 4))
print(unchanged(net, before))
# --8<-- [end:functional-call]

# --8<-- [start:functional-call-gradients]
trial = {name: p.detach().clone().requires_grad_() for name, p in net.named_parameters()}
functional_call(net, trial, (X,)).sum().backward()
print(trial["0.weight"].grad is None, net[0].weight.grad is None)  # the gradients go to trial's tensors
# --8<-- [end:functional-call-gradients]

# --8<-- [start:functional-call-buffers]
weights = {name: p.detach().clone() for name, p in normed.named_parameters()}
before = copy.deepcopy(normed.state_dict())
functional_call(normed, weights, (X,))  # normed is in training mode, as every new module is
print("parameters only:   ", unchanged(normed, before), normed[1].num_batches_tracked.item())
normed.load_state_dict(before)  # put the real statistics back
buffers = {name: b.clone() for name, b in normed.named_buffers()}
functional_call(normed, {**weights, **buffers}, (X,))  # the updates go to the dict's copies
print("buffers passed too:", unchanged(normed, before), buffers["1.num_batches_tracked"].item())
normed.eval()
functional_call(normed, weights, (X,))  # evaluation mode: BatchNorm only reads its statistics
print("in eval():         ", unchanged(normed, before))
# --8<-- [end:functional-call-buffers]

# --8<-- [start:functional-call-strict]
typo = dict(noisy)
typo["0.weights"] = typo.pop("0.weight")  # a wrong name: the module has 0.weight
print(torch.equal(functional_call(net, typo, (X,)), out))  # silently computed with net's own 0.weight
try:
    functional_call(net, typo, (X,), strict=True)
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:functional-call-strict]

# --8<-- [start:per-sample-gradients]
torch.manual_seed(0)
clf = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
clf(torch.randn(16, 4))  # a call in training mode: running statistics that are not the initial ones
clf.eval()  # so that the loss of each example does not depend on the others in its batch
inputs, labels = torch.rand(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
params = {name: p.detach() for name, p in clf.named_parameters()}
buffers = {name: b.detach() for name, b in clf.named_buffers()}


def example_loss(params, buffers, x, label):  # the loss of one example, as a function of the parameters
    out = functional_call(clf, (params, buffers), (x.unsqueeze(0),))  # a batch of one
    return nn.functional.cross_entropy(out, label.unsqueeze(0))


example_grads = torch.func.grad(example_loss)  # the gradient with respect to the first argument, params
per_example = vmap(example_grads, in_dims=(None, None, 0, 0))(params, buffers, inputs, labels)  # for each example
print({name: tuple(g.shape) for name, g in per_example.items()})
# --8<-- [end:per-sample-gradients]

# --8<-- [start:per-sample-gradients-loop]
looped = {name: [] for name in params}
for x, label in zip(inputs, labels):  # the slow way: one backward pass per example
    clf.zero_grad()
    nn.functional.cross_entropy(clf(x.unsqueeze(0)), label.unsqueeze(0)).backward()
    for name, p in clf.named_parameters():
        looped[name].append(p.grad.clone())
print(all(torch.allclose(per_example[name], torch.stack(grads), atol=1e-6) for name, grads in looped.items()))
clf.zero_grad()
nn.functional.cross_entropy(clf(inputs), labels).backward()  # the mean loss of the batch
print(all(torch.allclose(per_example[name].mean(0), p.grad, atol=1e-6) for name, p in clf.named_parameters()))
norms = torch.cat([g.flatten(1) for g in per_example.values()], dim=1).norm(dim=1)
print(" ".join(f"{n:.2f}" for n in norms))  # what the mean gradient of the batch hides
clf.zero_grad()
# --8<-- [end:per-sample-gradients-loop]

# --8<-- [start:per-sample-gradients-training-mode]
clf.train()
try:
    vmap(example_grads, in_dims=(None, None, 0, 0))(params, buffers, inputs, labels)
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
finally:
    clf.eval()
# --8<-- [end:per-sample-gradients-training-mode]

# --8<-- [start:ensemble]
torch.manual_seed(0)
members = [nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)) for _ in range(5)]
for member in members:
    member(torch.randn(16, 4))  # running statistics of its own
    member.eval()
stacked_params, stacked_buffers = stack_module_state(members)  # one tensor per name, first dimension 5
print(tuple(stacked_params["0.weight"].shape), tuple(stacked_buffers["1.running_mean"].shape))
skeleton = copy.deepcopy(members[0]).to("meta")  # the structure only: every tensor must come from the dicts


def run_member(params, buffers, x):
    return functional_call(skeleton, (params, buffers), (x,))


together = vmap(run_member, in_dims=(0, 0, None))(stacked_params, stacked_buffers, inputs)  # one batch for all
looped_outputs = torch.stack([member(inputs) for member in members])
print(tuple(together.shape), torch.allclose(together, looped_outputs, atol=1e-6))
# --8<-- [end:ensemble]

# --8<-- [start:ensemble-buffers]
def run_without_buffers(module):
    return vmap(lambda params, x: functional_call(module, params, (x,)), in_dims=(0, None))


try:
    run_without_buffers(skeleton)(stacked_params, inputs)
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
silent = run_without_buffers(members[0])(stacked_params, inputs)  # members[0]'s statistics, for all five
print(torch.allclose(silent, looped_outputs, atol=1e-6))
first = stacked_params["0.weight"]
print(first.is_leaf, first.requires_grad, first[0].data_ptr() == members[0][0].weight.data_ptr())  # copies
# --8<-- [end:ensemble-buffers]

# --8<-- [start:parametrize-symmetric]
class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).T  # the upper triangle, mirrored below the diagonal


torch.manual_seed(0)
sym = nn.Linear(4, 4)
parametrize.register_parametrization(sym, "weight", Symmetric())
print(sym)
print(torch.equal(sym.weight, sym.weight.T), type(sym.weight).__name__, sym.weight.grad_fn is not None)
print([name for name, _ in sym.named_parameters()])
# --8<-- [end:parametrize-symmetric]

# --8<-- [start:parametrize-step]
original = sym.parametrizations.weight.original  # the parameter the optimizer trains
sgd = torch.optim.SGD(sym.parameters(), lr=0.1)
sym(X).pow(2).sum().backward()
print(original.grad.round(decimals=4))  # below the diagonal: unused, so zero
sgd.step()
print(torch.equal(sym.weight, sym.weight.T))  # still symmetric after the step
# --8<-- [end:parametrize-step]

# --8<-- [start:parametrize-write]
saved = original.detach().clone()
nn.init.eye_(sym.weight)  # writes into a tensor computed for this access, then thrown away
print(torch.equal(original, saved), torch.equal(sym.weight, torch.eye(4)))
with torch.no_grad():
    original.copy_(torch.eye(4))  # write the original instead
print(torch.equal(sym.weight, torch.eye(4)))
# --8<-- [end:parametrize-write]

# --8<-- [start:parametrize-state-dict]
print(list(sym.state_dict()))
try:
    sym.load_state_dict(nn.Linear(4, 4).state_dict())  # a plain layer's state dict
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:parametrize-state-dict]

# --8<-- [start:parametrize-remove]
values = sym.weight.detach().clone()
parametrize.remove_parametrizations(sym, "weight", leave_parametrized=True)  # keep the current values
print(sym)
print(list(sym.state_dict()), type(sym.weight).__name__, torch.equal(sym.weight, values))
print(sym.weight is original)  # the same Parameter object: an existing optimizer still updates it
# --8<-- [end:parametrize-remove]

# --8<-- [start:parametrize-orthogonal]
rotation = orthogonal(nn.Linear(4, 4))
start = rotation.weight.detach().clone()
sgd = torch.optim.SGD(rotation.parameters(), lr=0.1)
for _ in range(3):
    sgd.zero_grad()
    rotation(X).pow(2).sum().backward()
    sgd.step()
Q = rotation.weight
print(torch.equal(Q, start), torch.allclose(Q @ Q.T, torch.eye(4), atol=1e-5))  # changed, still orthogonal
print(list(rotation.state_dict()))
# --8<-- [end:parametrize-orthogonal]

# --8<-- [start:weight-norm]
scaled_rows = weight_norm(nn.Linear(4, 3))
print([(name, tuple(p.shape)) for name, p in scaled_rows.named_parameters()])
g = scaled_rows.parametrizations.weight.original0  # the norm of each row of the weight
v = scaled_rows.parametrizations.weight.original1  # its direction
print(torch.allclose(scaled_rows.weight, g * v / v.norm(dim=1, keepdim=True)))
# --8<-- [end:weight-norm]

# --8<-- [start:weight-norm-deprecated]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    old_style = nn.utils.weight_norm(nn.Linear(4, 3))  # the old function
print(caught[0].category.__name__, caught[0].message)
print([name for name, _ in old_style.named_parameters()])
print(weight_norm(nn.Linear(4, 3)).load_state_dict(old_style.state_dict()))  # the new one loads the old keys
# --8<-- [end:weight-norm-deprecated]

# --8<-- [start:exercise-count-parameters]
counted = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4, bias=False))
print([(name, p.numel()) for name, p in counted.named_parameters()])
print(sum(p.numel() for p in counted.parameters()))
print([(name, t.numel()) for name, t in counted.named_buffers()])
print(sum(t.numel() for t in counted.state_dict().values()))  # parameters and buffers
# --8<-- [end:exercise-count-parameters]

# --8<-- [start:exercise-which-gradients]
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 3)
        self.head_a = nn.Linear(3, 1)
        self.head_b = nn.Linear(3, 1)
        self.scale = nn.Parameter(torch.tensor([2.0]))

    def forward(self, X):
        return self.head_a(self.body(X)) * self.scale


two_heads = TwoHeads()
two_heads.body.requires_grad_(False)
two_heads(X).sum().backward()
# --8<-- [end:exercise-which-gradients]

# --8<-- [start:exercise-which-gradients-solution]
for name, p in two_heads.named_parameters():
    print(f"{name:14} grad is None: {p.grad is None}")
print(two_heads.scale.grad, bool(two_heads.scale.grad == True))
# --8<-- [end:exercise-which-gradients-solution]

# --8<-- [start:exercise-data-edit]
w = nn.Parameter(torch.tensor(2.0))
cube = w**3
w.data.add_(1.0)  # w is 3 now
cube.backward()
# --8<-- [end:exercise-data-edit]

# --8<-- [start:exercise-data-edit-solution]
print(cube.item(), w.grad.item())
w = nn.Parameter(torch.tensor(2.0))
cube = w**3
with torch.no_grad():
    w.add_(1.0)  # the same edit, seen by autograd
try:
    cube.backward()
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:exercise-data-edit-solution]

# --8<-- [start:exercise-tied-counting]
class TinyLM(nn.Module):
    def __init__(self, vocab=10, dim=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.hidden = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.tie_weights()

    def tie_weights(self):
        self.out.weight = self.embed.weight  # tie the output layer to the embedding

    def forward(self, tokens):
        return self.out(torch.relu(self.hidden(self.embed(tokens))))


lm = TinyLM()
# --8<-- [end:exercise-tied-counting]

# --8<-- [start:exercise-tied-counting-solution]
print(len(list(lm.parameters())), sum(p.numel() for p in lm.parameters()))
print(len(lm.state_dict()), sum(t.numel() for t in lm.state_dict().values()))
print([name for name, _ in lm.named_parameters()])
# --8<-- [end:exercise-tied-counting-solution]

# --8<-- [start:exercise-param-groups]
def buggy_groups(model):
    decay = [p for name, p in model.named_parameters() if name.endswith("weight")]
    no_decay = [p for name, p in model.named_parameters() if name.endswith("bias")]
    head = list(model.head.parameters())
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}, {"params": head, "lr": 1e-3}]
# --8<-- [end:exercise-param-groups]

# --8<-- [start:exercise-param-groups-solution]
try:
    torch.optim.AdamW(buggy_groups(Classifier()), lr=1e-4, weight_decay=0.05)
except ValueError as error:
    print(f"{type(error).__name__}: {error}")
print([name for name, _ in Classifier().named_parameters() if name.endswith("weight")])
fixed = torch.optim.AdamW(param_groups(Classifier(), lr=1e-4, head_lr=1e-3, weight_decay=0.05))
for group in fixed.param_groups:
    print(group["lr"], group["weight_decay"], group["param_names"])
# --8<-- [end:exercise-param-groups-solution]

# --8<-- [start:exercise-train-an-ensemble]
torch.manual_seed(0)
team = [nn.Linear(4, 1) for _ in range(3)]
team_params, team_buffers = stack_module_state(team)
team_skeleton = copy.deepcopy(team[0]).to("meta")
team_optimizer = torch.optim.SGD([p for member in team for p in member.parameters()], lr=0.1)


def team_loss():  # every member's mean squared error on X, for a target of 1
    def run(params, buffers, x):
        return functional_call(team_skeleton, (params, buffers), (x,))

    predictions = vmap(run, in_dims=(0, 0, None))(team_params, team_buffers, X)
    return (predictions - 1).pow(2).mean()


for _ in range(5):
    team_optimizer.zero_grad()
    team_loss().backward()
    team_optimizer.step()
# --8<-- [end:exercise-train-an-ensemble]

# --8<-- [start:exercise-train-an-ensemble-solution]
def members_loss():  # the same loss, computed by the members themselves
    return torch.stack([member(X) for member in team]).sub(1).pow(2).mean()


held = team_optimizer.param_groups[0]["params"]
print(f"{team_loss().item():.4f} {members_loss().item():.4f}", all(p.grad is None for p in held))
team_optimizer = torch.optim.SGD(team_params.values(), lr=0.1)  # the tensors the loss is computed from
for _ in range(5):
    team_optimizer.zero_grad()
    team_loss().backward()
    team_optimizer.step()
print(f"{team_loss().item():.4f} {members_loss().item():.4f}")
for i, member in enumerate(team):
    member.load_state_dict({name: t[i] for name, t in team_params.items()})  # copy the trained values back
print(f"{members_loss().item():.4f}")
# --8<-- [end:exercise-train-an-ensemble-solution]
