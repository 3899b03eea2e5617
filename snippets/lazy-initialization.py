# Chapter 4: Lazy initialization / 延后初始化.
# Every section below is shown on docs/en/lazy-initialization.md and docs/zh/lazy-initialization.md, in this order.

# --8<-- [start:setup]
import pickle
import re
import tempfile
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
print(net(X).shape)  # the first call is the dry run
print(net)
print(type(net[0]).__name__, type(net[0].weight).__name__, tuple(net[0].weight.shape))
print(tuple(net[2].weight.shape), sum(p.numel() for p in net.parameters()))
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
