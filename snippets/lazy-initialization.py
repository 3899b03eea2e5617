# Chapter 4: Lazy initialization / 延后初始化.
# Every section below is shown on docs/en/lazy-initialization.md and docs/zh/lazy-initialization.md, in this order.

# --8<-- [start:setup]
import contextlib
import copy
import pickle
import re
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin

torch.manual_seed(0)  # the same random numbers on every run
X = torch.rand(2, 20)  # a batch of 2 examples with 20 features each


def show_error(error):
    """Print `Type: message`, without the memory addresses some messages contain."""
    print(f"{type(error).__name__}: {re.sub(r' at 0x[0-9a-f]+', '', str(error))}")
# --8<-- [end:setup]

# --8<-- [start:lazy-net]
def lazy_mlp():
    # Only the output sizes are given: 256 hidden units, 10 outputs
    return nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))


net = lazy_mlp()
print(net)
print(type(net[0]).__name__, type(net[0].weight).__name__, net[0].has_uninitialized_params())
print({name: type(value).__name__ for name, value in net.state_dict().items()})
# --8<-- [end:lazy-net]

# --8<-- [start:no-shape-yet]
try:
    print(net[0].weight.shape)
except RuntimeError as error:
    show_error(error)
# --8<-- [end:no-shape-yet]

# --8<-- [start:dry-run]
first = net[0]
print(net(X).shape)  # the first call is the dry run
print(net)
print(type(net[0]).__name__, type(net[0].weight).__name__, tuple(net[0].weight.shape))
print(tuple(net[2].weight.shape), sum(p.numel() for p in net.parameters()))
print(net[0] is first, nn.LazyLinear.cls_to_become.__name__)  # the same object, with a new class
# --8<-- [end:dry-run]

# --8<-- [start:default-init]
weight = net[0].weight.detach()
bound = 1 / 20**0.5  # the default U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with fan_in = 20
print(bool(weight.abs().max() <= bound))
print(f"std {weight.std().item():.4f}, theory {bound / 3**0.5:.4f}")  # U(-b, b) has std b/sqrt(3)
# --8<-- [end:default-init]

# --8<-- [start:seed-order]
def same_parameters(a, b):
    return [torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())]


with torch.random.fork_rng():  # the seeds set in here stay in here: the global stream is restored on exit
    torch.manual_seed(0)
    sized_net = nn.Sequential(nn.Linear(20, 4), nn.ReLU(), nn.Linear(4, 2))
    torch.manual_seed(0)
    lazy_net = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.Linear(4, 2))  # only the sized layer draws here
    lazy_net(X)  # the lazy layer draws at the dry run, after it
print("same seed:               ", same_parameters(sized_net, lazy_net))


def init_from_seed(model, seed):
    generator = torch.Generator().manual_seed(seed)  # a stream of its own, drawn from in the order of modules()
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0, std=0.01, generator=generator)
            nn.init.zeros_(module.bias)


for model in (sized_net, lazy_net):
    init_from_seed(model, seed=0)  # for the lazy network: after its dry run
print("same seeded initializer: ", same_parameters(sized_net, lazy_net))
# --8<-- [end:seed-order]

# --8<-- [start:fully-sized]
eager = nn.Linear(20, 256)  # input size given: allocated and initialized right here
print(type(eager.weight).__name__, tuple(eager.weight.shape), isinstance(eager, LazyModuleMixin))
print([name for name in dir(nn) if name.startswith("Lazy")])
# --8<-- [end:fully-sized]

# --8<-- [start:lazy-cnn]
cnn = nn.Sequential(
    nn.LazyConv2d(6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.LazyLinear(10),
)
print(cnn(torch.rand(1, 1, 28, 28)).shape)  # 1 channel, 28x28 image
print(cnn[0])
print(cnn[4])  # 6 channels * 12 * 12 = 864 inputs, computed for us
# --8<-- [end:lazy-cnn]

# --8<-- [start:which-dimension]
images = torch.rand(2, 3, 8, 8)  # (batch, channels, height, width)
for layer in (nn.LazyLinear(4), nn.LazyConv2d(4, kernel_size=3), nn.LazyBatchNorm2d()):
    layer(images)
    print(layer)
# --8<-- [end:which-dimension]

# --8<-- [start:type-checks]
layer = nn.LazyLinear(4)
print("before the dry run:", type(layer) == nn.Linear, isinstance(layer, nn.Linear))
layer(torch.rand(1, 3))
print("after the dry run: ", type(layer) == nn.Linear, isinstance(layer, nn.Linear))

attention = nn.MultiheadAttention(embed_dim=8, num_heads=2)
print(type(attention.out_proj).__name__)  # a subclass of nn.Linear
print([name for name, m in attention.named_modules() if type(m) == nn.Linear])
print([name for name, m in attention.named_modules() if isinstance(m, nn.Linear)])
# --8<-- [end:type-checks]

# --8<-- [start:init-before-dry-run]
def init_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)


too_early = lazy_mlp()
try:
    too_early.apply(init_normal)
except ValueError as error:
    show_error(error)
# --8<-- [end:init-before-dry-run]

# --8<-- [start:type-check-skips-lazy]
def init_normal_by_type(module):
    if type(module) == nn.Linear:  # a LazyLinear is not exactly nn.Linear: skipped
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)


skipped = lazy_mlp()
skipped.apply(init_normal_by_type)  # no error, and nothing initialized
skipped(X)
print(f"{skipped[0].weight.std().item():.4f}")  # the default init, not 0.01
# --8<-- [end:type-check-skips-lazy]

# --8<-- [start:init-after-dry-run]
initialized = lazy_mlp()
initialized(X)  # dry run first: now the parameters exist
initialized.apply(init_normal)
print(f"{initialized[0].weight.std().item():.4f}", bool((initialized[0].bias == 0).all()))
print(f"{initialized[2].weight.std().item():.4f}", bool((initialized[2].bias == 0).all()))
# --8<-- [end:init-after-dry-run]

# --8<-- [start:load-into-lazy]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "mlp.pt"
    torch.save(initialized.state_dict(), path)  # saved after the dry run
    restored = lazy_mlp()  # a fresh lazy net: no dry run
    print(restored.load_state_dict(torch.load(path, weights_only=True)))
print(type(restored[0]).__name__, restored[0].in_features, tuple(restored[0].weight.shape))
print(restored[0].has_uninitialized_params(), restored[2].has_uninitialized_params())
print(torch.equal(restored(X), initialized(X)))  # the first call keeps the loaded values
print(type(restored[0]).__name__, restored[0].in_features)
# --8<-- [end:load-into-lazy]

# --8<-- [start:save-before-dry-run]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "empty.pt"
    torch.save(lazy_mlp().state_dict(), path)  # nothing but placeholders
    try:
        torch.load(path, weights_only=True)
    except pickle.UnpicklingError as error:
        lines = str(error).splitlines()
        print("UnpicklingError:", next(line.strip() for line in lines if "Unsupported global" in line))

sized = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
try:
    sized.load_state_dict(lazy_mlp().state_dict())
except RuntimeError as error:
    show_error(error)
# --8<-- [end:save-before-dry-run]

# --8<-- [start:right-order]
model = lazy_mlp()
model = model.to(torch.float64)  # 1. dtype and device, while the net is still lazy
model(X.to(torch.float64))  # 2. dry run with an input of the right shape, dtype and device
model.apply(init_normal)  # 3. custom initialization
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # 4. optimizer, then training
print(model[0].weight.dtype, tuple(model[0].weight.shape), f"{model[0].weight.std().item():.4f}")
# --8<-- [end:right-order]

# --8<-- [start:dry-run-statistics]
def lazy_bn_net():
    return nn.Sequential(nn.LazyLinear(4), nn.LazyBatchNorm1d())


def running_stats(batch_norm):
    return batch_norm.num_batches_tracked.item(), [round(v, 3) for v in batch_norm.running_mean.tolist()]


in_training = lazy_bn_net()
in_training(X)  # training mode, the default: the batch updates the running statistics
print("training mode:", running_stats(in_training[1]))

in_eval = lazy_bn_net().eval()
with torch.no_grad():  # the output is thrown away: no graph needed
    in_eval(X)  # evaluation mode: the running statistics are only read
in_eval.train()  # back to training mode before training
print("eval mode:    ", running_stats(in_eval[1]))
# --8<-- [end:dry-run-statistics]

# --8<-- [start:lazy-layer-norm]
class LazyLayerNorm(LazyModuleMixin, nn.LayerNorm):
    """nn.LayerNorm over the last dimension, whose size is read from the first input."""

    cls_to_become = nn.LayerNorm  # the class the layer takes after its dry run

    def __init__(self, eps=1e-5, bias=True):
        super().__init__(0, eps=eps, bias=bias)  # nn.LayerNorm with size 0, then the mixin's hooks
        self.weight = nn.UninitializedParameter()  # placeholders: no shape, no values
        if bias:
            self.bias = nn.UninitializedParameter()

    def reset_parameters(self):
        if not self.has_uninitialized_params():  # a placeholder has nothing to reset
            super().reset_parameters()

    def initialize_parameters(self, input):  # the dry run calls it with the arguments of forward
        if self.has_uninitialized_params():
            size = input.shape[-1]
            self.weight.materialize((size,))  # a Parameter of that shape now, its memory not yet written
            if self.bias is not None:
                self.bias.materialize((size,))
            self.reset_parameters()  # weight 1, bias 0, as nn.LayerNorm does
        self.normalized_shape = tuple(self.weight.shape)  # also after load_state_dict gave the shape


norm = LazyLayerNorm()
placeholder = norm.weight
print(norm)
print(type(norm.weight).__name__, norm.has_uninitialized_params())
normalized = norm(X)  # the dry run
print(norm)
print(type(norm).__name__, type(norm.weight).__name__, norm.weight is placeholder)
print(torch.equal(normalized, nn.LayerNorm(20)(X)))  # what a sized nn.LayerNorm(20) computes
# --8<-- [end:lazy-layer-norm]

# --8<-- [start:lazy-layer-norm-load]
class ForgetsLoadedSize(LazyLayerNorm):
    """A first attempt: it sets its size only when the dry run creates the parameters."""

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.normalized_shape = (input.shape[-1],)
            self.weight.materialize(self.normalized_shape)
            self.bias.materialize(self.normalized_shape)
            self.reset_parameters()


with torch.no_grad():
    norm.weight.fill_(2.0)  # stands in for training: not the initial values
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "norm.pt"
    torch.save(norm.state_dict(), path)
    norm_state = torch.load(path, weights_only=True)

for cls in (LazyLayerNorm, ForgetsLoadedSize):
    loaded_norm = cls()
    print(cls.__name__, loaded_norm.load_state_dict(norm_state))  # the load hook gives the parameters their shape
    try:
        print(torch.equal(loaded_norm(X), norm(X)))  # the first call: no initialization, the loaded values kept
    except RuntimeError as error:
        show_error(error)
    print(loaded_norm)
# --8<-- [end:lazy-layer-norm-load]

# --8<-- [start:meta-build]
def sized_mlp():
    return nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))


with torch.device("meta"):  # tensors created in here get a shape and a dtype, but no data
    meta_net = sized_mlp()
print(meta_net[0].weight.device, meta_net[0].weight.is_meta, tuple(meta_net[0].weight.shape))
print(type(meta_net[0].weight).__name__, meta_net(X.to("meta")).shape)  # shapes flow, nothing is computed
try:
    meta_net[0].weight[0, 0].item()
except RuntimeError as error:
    show_error(error)

with torch.device("meta"):
    huge = nn.Linear(1_000_000, 1_000_000)
print(f"{huge.weight.numel():,} weights, {huge.weight.numel() * huge.weight.element_size() / 1e12:.0f} TB as float32")
# --8<-- [end:meta-build]

# --8<-- [start:meta-shape-inference]
def conv_features():
    return nn.Sequential(nn.Conv2d(1, 6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())


with torch.random.fork_rng():  # the seeds set in here stay in here: the global stream is restored on exit
    torch.manual_seed(0)
    with torch.device("meta"):  # a throwaway copy: no memory, no arithmetic, no random numbers
        n_features = conv_features()(torch.empty(1, 1, 28, 28)).shape[-1]
    probed = nn.Sequential(conv_features(), nn.Linear(n_features, 10))  # sized layers only
    torch.manual_seed(0)
    by_hand = nn.Sequential(conv_features(), nn.Linear(6 * 12 * 12, 10))  # the size worked out by hand
print(n_features, probed[1])
print("same seed:", same_parameters(probed, by_hand))
# --8<-- [end:meta-shape-inference]

# --8<-- [start:to-empty]
@contextlib.contextmanager
def nan_for_uninitialized_memory():
    """Make uninitialized memory visible: in deterministic mode PyTorch fills it with NaN."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)  # restore the caller's setting


with nan_for_uninitialized_memory():
    meta_net.to_empty(device="cpu")  # real memory, but nothing written into it
meta_weight = meta_net[0].weight
print(meta_weight.device, meta_weight.is_meta, bool(meta_weight.isnan().all()))


def reset_all(model):
    def reset(module):
        if hasattr(module, "reset_parameters"):  # nn.Linear has one; nn.ReLU, with nothing to reset, does not
            module.reset_parameters()

    model.apply(reset)  # children first, their parent after them


reset_all(meta_net)
print(bool(meta_weight.abs().max() <= bound), f"std {meta_weight.std().item():.4f}")
print([name for name, p in meta_net.named_parameters() if p.isnan().any()])
# --8<-- [end:to-empty]

# --8<-- [start:reset-misses-attention]
with torch.device("meta"):
    meta_attention = nn.MultiheadAttention(embed_dim=8, num_heads=2)
with nan_for_uninitialized_memory():
    meta_attention.to_empty(device="cpu")
reset_all(meta_attention)
print(hasattr(meta_attention, "reset_parameters"), hasattr(meta_attention, "_reset_parameters"))
print([name for name, p in meta_attention.named_parameters() if p.isnan().any()])
# --8<-- [end:reset-misses-attention]

# --8<-- [start:reset-order]
class TwoLayers(nn.Module):
    """A module with an initialization of its own: Kaiming for the hidden layer, zero biases."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 8)
        self.output = nn.Linear(8, 2)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_normal_(self.hidden.weight, nonlinearity="relu")
        nn.init.zeros_(self.hidden.bias)
        nn.init.zeros_(self.output.bias)

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


def reset_parents_first(model):
    for module in model.modules():  # a parent comes before its children
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()


two_layers = TwoLayers()
print("modules():", [type(m).__name__ for m in two_layers.modules()])
visited = []
two_layers.apply(lambda module: visited.append(type(module).__name__))
print("apply():  ", visited)
for reset in (reset_parents_first, reset_all):
    with torch.device("meta"):
        rebuilt = TwoLayers()
    rebuilt.to_empty(device="cpu")
    reset(rebuilt)
    zero_biases = all(bool((layer.bias == 0).all()) for layer in (rebuilt.hidden, rebuilt.output))
    print(f"{reset.__name__:19} zero biases kept: {zero_biases}")
# --8<-- [end:reset-order]

# --8<-- [start:meta-load]
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "mlp.pt"
    torch.save(initialized.state_dict(), path)
    state = torch.load(path, weights_only=True)

with torch.device("meta"):
    copied = sized_mlp()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    copied.load_state_dict(state)  # copies each value into a tensor with no data: nothing happens
print(copied[0].weight.is_meta, len(caught))
print(caught[0].message)

with torch.device("meta"):
    assigned = sized_mlp()
print(assigned.load_state_dict(state, assign=True))  # the loaded tensors become the parameters
weight = assigned[0].weight
print(weight.is_meta, type(weight).__name__, weight.requires_grad, weight.data_ptr() == state["0.weight"].data_ptr())
print(torch.equal(assigned(X), initialized(X)))
# --8<-- [end:meta-load]

# --8<-- [start:meta-load-leftovers]
class MaskedLinear(nn.Module):
    """A linear layer whose weight is masked to its lower triangle."""

    def __init__(self, size=4):
        super().__init__()
        self.linear = nn.Linear(size, size)
        self.register_buffer("mask", torch.ones(size, size).tril(), persistent=False)

    def forward(self, x):
        return nn.functional.linear(x, self.linear.weight * self.mask, self.linear.bias)


saved = MaskedLinear()
print(list(saved.state_dict()))  # no "mask": a non-persistent buffer is not saved
with torch.device("meta"):
    masked = MaskedLinear()
print(masked.load_state_dict(saved.state_dict(), assign=True))
print([name for name, t in [*masked.named_parameters(), *masked.named_buffers()] if t.is_meta])
x = torch.rand(2, 4)
try:
    masked(x)
except RuntimeError as error:
    show_error(error)
masked.mask = torch.ones(4, 4).tril()  # rebuild it as the constructor does
print(torch.equal(masked(x), saved(x)))

with torch.device("meta"):
    emptied = MaskedLinear()
with nan_for_uninitialized_memory():
    emptied.to_empty(device="cpu")  # the mask gets memory too, with nothing written into it
print(emptied.load_state_dict(saved.state_dict()))
print(bool(emptied.mask.isnan().all()), bool(emptied(x).isnan().all()))  # no error: the mask is what to_empty left
# --8<-- [end:meta-load-leftovers]

# --8<-- [start:tied-weights]
class TiedLM(nn.Module):
    """An embedding and an output layer that share one weight, as many language models do."""

    def __init__(self, vocab=10, dim=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.tie_weights()

    def tie_weights(self):
        self.out.weight = self.embed.weight  # one Parameter, held by two modules

    def forward(self, tokens):
        return self.out(self.embed(tokens))


def tie_report(model):  # parameters() lists a shared Parameter once
    return model.out.weight is model.embed.weight, sum(p.numel() for p in model.parameters())


with torch.device("meta"):
    lm = TiedLM()
print("on meta:          ", tie_report(lm))
lm.to_empty(device="cpu")
print("after to_empty:   ", tie_report(lm))
reset_all(lm)
lm.tie_weights()  # tie again after materializing, before building the optimizer
print("tied again:       ", tie_report(lm))

with torch.device("meta"):
    lm = TiedLM()
lm.load_state_dict(TiedLM().state_dict(), assign=True)
print("after assign=True:", tie_report(lm))
# --8<-- [end:tied-weights]

# --8<-- [start:exercise-init-before-dry-run-task]
def init_kaiming(module):
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


def lazy_cnn():
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.LazyLinear(10),
    )
# --8<-- [end:exercise-init-before-dry-run-task]

# --8<-- [start:exercise-init-before-dry-run]
try:
    lazy_cnn().apply(init_kaiming)
except (ValueError, RuntimeError) as error:
    show_error(error)

kaiming_cnn = lazy_cnn()
kaiming_cnn(torch.rand(1, 1, 28, 28))  # dry run first
kaiming_cnn.apply(init_kaiming)
for layer in (kaiming_cnn[0], kaiming_cnn[4]):
    fan_in = layer.weight[0].numel()  # inputs per output: channels * 5 * 5, or features
    print(f"{type(layer).__name__}: fan_in {fan_in}, std {layer.weight.std().item():.3f}, "
          f"sqrt(2/fan_in) {(2 / fan_in) ** 0.5:.3f}")
# --8<-- [end:exercise-init-before-dry-run]

# --8<-- [start:exercise-channels-last]
photos = torch.rand(8, 28, 28, 3)  # (batch, height, width, channels)
wrong = nn.LazyConv2d(6, kernel_size=3)
print(wrong(photos).shape)  # no error, and no warning
print(wrong)
try:
    wrong(photos.permute(0, 3, 1, 2))  # the same photos, channels first
except RuntimeError as error:
    show_error(error)

right = nn.LazyConv2d(6, kernel_size=3)
print(right(photos.permute(0, 3, 1, 2)).shape)  # permuted to (batch, channels, height, width)
print(right)
# --8<-- [end:exercise-channels-last]

# --8<-- [start:exercise-snapshot-before-dry-run-task]
start = lazy_mlp()
snapshot = copy.deepcopy(start.state_dict())  # the starting weights, kept to start again later
start(X)
again = lazy_mlp()
report = again.load_state_dict(snapshot)
# --8<-- [end:exercise-snapshot-before-dry-run-task]

# --8<-- [start:exercise-snapshot-before-dry-run]
print(report)
print({name: type(value).__name__ for name, value in snapshot.items()})
print(again[0].has_uninitialized_params(), torch.equal(again(X), start(X)))

start = lazy_mlp()
start(X)  # dry run first: now there are weights to keep
snapshot = copy.deepcopy(start.state_dict())
again = lazy_mlp()
print(again.load_state_dict(snapshot), torch.equal(again(X), start(X)))
# --8<-- [end:exercise-snapshot-before-dry-run]

# --8<-- [start:exercise-lazy-prelu]
class LazyPReLU(LazyModuleMixin, nn.PReLU):
    """nn.PReLU with one slope per channel, the number of channels read from the first input."""

    cls_to_become = nn.PReLU

    def __init__(self, init=0.25):
        super().__init__(0, init=init)  # nn.PReLU with 0 slopes, then the mixin's hooks
        self.weight = nn.UninitializedParameter()

    def reset_parameters(self):
        if not self.has_uninitialized_params():
            super().reset_parameters()

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.weight.materialize((input.shape[1],))  # channels: dimension 1, as for the lazy convolutions
            self.reset_parameters()  # every slope 0.25
        self.num_parameters = self.weight.shape[0]  # also after load_state_dict


prelu = LazyPReLU()
activated = prelu(images)  # the dry run, on the (2, 3, 8, 8) images: 3 channels
print(prelu, torch.equal(activated, nn.PReLU(3)(images)))

with torch.no_grad():
    prelu.weight.copy_(torch.tensor([0.1, 0.2, 0.3]))  # stands in for training: not the initial values
restored_prelu = LazyPReLU()
print(restored_prelu.load_state_dict(prelu.state_dict()))
print(torch.equal(restored_prelu(images), prelu(images)), restored_prelu)
# --8<-- [end:exercise-lazy-prelu]

# --8<-- [start:exercise-forget-reset-parameters-task]
with torch.device("meta"):
    forgotten = nn.Sequential(nn.Linear(20, 4), nn.BatchNorm1d(4))
with nan_for_uninitialized_memory():
    forgotten.to_empty(device="cpu")
# --8<-- [end:exercise-forget-reset-parameters-task]

# --8<-- [start:exercise-forget-reset-parameters]
for name, tensor in forgotten.state_dict().items():
    print(f"{name:22} {str(tensor.dtype):14} {tensor.flatten()[0].item()}")
print(forgotten(X))

reset_all(forgotten)
print(forgotten[1].num_batches_tracked.item(), bool(forgotten(X).isfinite().all()))
# --8<-- [end:exercise-forget-reset-parameters]

# --8<-- [start:exercise-meta-load-without-assign-task]
def load_checkpoint(path):
    with torch.device("meta"):
        model = sized_mlp()
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.to("cpu")
# --8<-- [end:exercise-meta-load-without-assign-task]

# --8<-- [start:exercise-meta-load-without-assign]
def load_checkpoint_fixed(path):
    with torch.device("meta"):
        model = sized_mlp()
    model.load_state_dict(torch.load(path, weights_only=True), assign=True)
    return model  # already where torch.load put the tensors: no .to() needed


with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "mlp.pt"
    torch.save(initialized.state_dict(), path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load_checkpoint(path)
        except NotImplementedError as error:
            show_error(error)
    loaded_mlp = load_checkpoint_fixed(path)
print(len(caught), "warnings")
print([name for name, p in loaded_mlp.named_parameters() if p.is_meta], torch.equal(loaded_mlp(X), initialized(X)))
# --8<-- [end:exercise-meta-load-without-assign]
