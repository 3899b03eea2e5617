# Chapter 4: Lazy initialization / 延后初始化.
# Every section below is shown on docs/en/lazy-initialization.md and docs/zh/lazy-initialization.md, in this order.

# --8<-- [start:setup]
import contextlib
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

# --8<-- [start:to-empty]
@contextlib.contextmanager
def nan_for_uninitialized_memory():
    """Make uninitialized memory visible: in deterministic mode PyTorch fills it with NaN."""
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


with nan_for_uninitialized_memory():
    meta_net.to_empty(device="cpu")  # real memory, but nothing written into it
meta_weight = meta_net[0].weight
print(meta_weight.device, meta_weight.is_meta, bool(meta_weight.isnan().all()))


def reset_all(model):
    for module in model.modules():
        if hasattr(module, "reset_parameters"):  # nn.Linear has one; nn.ReLU, with nothing to reset, does not
            module.reset_parameters()


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
