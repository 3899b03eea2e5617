# Chapter 3: Initialization / 参数初始化.
# Every section below is shown on docs/en/initialization.md and docs/zh/initialization.md, in this order.

# --8<-- [start:setup]
import contextlib
import inspect
import math
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

torch.manual_seed(0)  # the same random numbers on every run
X_toy = torch.randn(64, 4)
y_toy = X_toy[:, :1] * X_toy[:, 1:2]  # a target that needs hidden units of different kinds
# --8<-- [end:setup]

# --8<-- [start:symmetry]
def train(net, steps=200):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(steps):
        loss = F.mse_loss(net(X_toy), y_toy)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return F.mse_loss(net(X_toy), y_toy).item()


def all_zero(module):
    if isinstance(module, nn.Linear):
        nn.init.zeros_(module.weight)
        nn.init.zeros_(module.bias)


def all_equal(module):
    if isinstance(module, nn.Linear):
        nn.init.constant_(module.weight, 0.5)
        nn.init.zeros_(module.bias)


def random_zero_bias(module):
    if isinstance(module, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)


symmetry = {}
print("init               distinct hidden units  loss before  loss after")
for name, init in [("all zero", all_zero), ("all 0.5", all_equal), ("random, zero bias", random_zero_bias)]:
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    net.apply(init)
    before = F.mse_loss(net(X_toy), y_toy).item()
    after = train(net)
    distinct = torch.unique(net[0].weight.detach(), dim=0).shape[0]  # distinct rows = distinct units
    symmetry[name] = (distinct, before, after)
    print(f"{name:18} {distinct:22d} {before:12.4f} {after:11.4f}")
# --8<-- [end:symmetry]

# --8<-- [start:default-init]
for fan_in, fan_out in [(64, 10), (64, 1000), (1024, 10)]:
    layer = nn.Linear(fan_in, fan_out)
    bound = 1 / math.sqrt(fan_in)  # weights and biases are drawn from U(-bound, bound)
    weight_max, bias_max = layer.weight.abs().max().item(), layer.bias.abs().max().item()
    print(f"Linear({fan_in}, {fan_out}): bound {bound:.4f}, max |w| {weight_max:.4f}, max |b| {bias_max:.4f}, "
          f"std {layer.weight.std().item():.4f} (theory {bound / math.sqrt(3):.4f})")
# --8<-- [end:default-init]

# --8<-- [start:apply-normal]
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
X = torch.rand(2, 4)


def init_normal(module):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0, std=0.01)  # the third argument is a standard deviation
        nn.init.zeros_(module.bias)


net.apply(init_normal)  # calls init_normal on every submodule, then on net itself
print(net[0].weight[0].detach(), net[0].bias[0].item())
# --8<-- [end:apply-normal]

# --8<-- [start:apply-constant]
def init_constant(module):
    if isinstance(module, nn.Linear):
        nn.init.constant_(module.weight, 1)
        nn.init.zeros_(module.bias)


net.apply(init_constant)
print(net[0].weight[0].detach(), net[0].bias[0].item())
# --8<-- [end:apply-constant]

# --8<-- [start:apply-per-layer]
def init_xavier(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)


def init_42(module):
    if isinstance(module, nn.Linear):
        nn.init.constant_(module.weight, 42)


net[0].apply(init_xavier)  # only the first layer
net[2].apply(init_42)      # only the output layer
print(net[0].weight[0].detach())
print(net[2].weight.detach())
# --8<-- [end:apply-per-layer]

# --8<-- [start:isinstance-not-type]
class ScaledLinear(nn.Linear):  # a subclass: still a Linear layer with a weight and a bias
    def forward(self, X):
        return 0.5 * super().forward(X)


mixed = nn.ModuleDict({
    "mlp": nn.Sequential(nn.Linear(4, 8), nn.ReLU(), ScaledLinear(8, 4)),
    "attention": nn.MultiheadAttention(4, num_heads=2),  # its out_proj subclasses nn.Linear
})
print("exact type:", [name for name, m in mixed.named_modules() if type(m) is nn.Linear])
print("isinstance:", [name for name, m in mixed.named_modules() if isinstance(m, nn.Linear)])
print(type(mixed["attention"].out_proj).__name__)
# --8<-- [end:isinstance-not-type]

# --8<-- [start:fans]
def fans(weight):
    receptive_field = weight[0][0].numel()  # 1 for Linear, kernel height * width for Conv2d
    return weight.shape[1] * receptive_field, weight.shape[0] * receptive_field  # (fan_in, fan_out)


linear = nn.Linear(256, 10)
conv = nn.Conv2d(3, 16, kernel_size=5)
for name, layer in [("Linear(256, 10)", linear), ("Conv2d(3, 16, 5)", conv)]:
    fan_in, fan_out = fans(layer.weight)
    print(f"{name}: weight {tuple(layer.weight.shape)}, fan_in {fan_in}, fan_out {fan_out}, "
          f"max |w| {layer.weight.abs().max().item():.4f} <= 1/sqrt(fan_in) = {1 / math.sqrt(fan_in):.4f}")
# --8<-- [end:fans]

# --8<-- [start:gains]
for nonlinearity in ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
    print(f"{nonlinearity:10} gain {nn.init.calculate_gain(nonlinearity):.4f}")
print(f"5/3 = {5 / 3:.4f}, sqrt(2) = {math.sqrt(2):.4f}")
# --8<-- [end:gains]

# --8<-- [start:check-schemes]
fan_in, fan_out = 500, 1000  # a weight of shape (fan_out, fan_in), as in nn.Linear(500, 1000)
xavier_std = math.sqrt(2 / (fan_in + fan_out))
kaiming_std = math.sqrt(2 / fan_in)  # gain sqrt(2) for ReLU: the std is sqrt(2 / fan_in)
schemes = {  # name: (a function that draws the weight, the theoretical standard deviation)
    "default (Linear)": (lambda: nn.Linear(fan_in, fan_out).weight.detach(), 1 / math.sqrt(3 * fan_in)),
    "uniform(-0.1, 0.1)": (lambda: nn.init.uniform_(torch.empty(fan_out, fan_in), -0.1, 0.1), 0.2 / math.sqrt(12)),
    "normal(0, 0.01)": (lambda: nn.init.normal_(torch.empty(fan_out, fan_in), 0, 0.01), 0.01),
    "xavier_uniform": (lambda: nn.init.xavier_uniform_(torch.empty(fan_out, fan_in)), xavier_std),
    "xavier_normal": (lambda: nn.init.xavier_normal_(torch.empty(fan_out, fan_in)), xavier_std),
    "kaiming_uniform": (lambda: nn.init.kaiming_uniform_(torch.empty(fan_out, fan_in), nonlinearity="relu"),
                        kaiming_std),
    "kaiming_normal": (lambda: nn.init.kaiming_normal_(torch.empty(fan_out, fan_in), nonlinearity="relu"),
                       kaiming_std),
}
samples = {}
print("scheme                 mean   std: theory  measured   variance: theory  measured")
for name, (draw, std) in schemes.items():
    weight = samples[name] = draw()
    print(f"{name:18} {weight.mean().item():+9.4f} {std:12.4f} {weight.std().item():9.4f} "
          f"{std ** 2:17.3e} {weight.var().item():9.3e}")
# --8<-- [end:check-schemes]

# --8<-- [start:depth]
DEPTH, WIDTH = 20, 256
X_deep = torch.randn(500, WIDTH)  # mean 0, standard deviation 1, so mean square 1


def mean_square(h):
    return h.double().pow(2).mean().item()  # in float64: the square of 1e21 does not fit in a float32


def deep_forward(init, activation, depth=DEPTH):
    """Push X_deep through fresh layers; return the mean square after each layer and the last output."""
    layer, h = nn.Linear(WIDTH, WIDTH), X_deep.double()
    mean_squares = [mean_square(h)]  # layer 0: the input
    with torch.no_grad():
        for _ in range(depth):
            init(layer.weight)  # new weights for every layer
            nn.init.zeros_(layer.bias)
            # In float64: twenty float32 layers amplify rounding until the last digits depend on the CPU
            h = activation(F.linear(h, layer.weight.double(), layer.bias.double()))
            mean_squares.append(mean_square(h))
    return mean_squares, h


deep_inits = {
    "zero": nn.init.zeros_,
    "N(0, 0.01²)": lambda w: nn.init.normal_(w, std=0.01),  # N(mean, variance): the std is 0.01
    "N(0, 1)": lambda w: nn.init.normal_(w, std=1.0),
    "Xavier": nn.init.xavier_normal_,
    "Xavier, gain 5/3": lambda w: nn.init.xavier_normal_(w, gain=nn.init.calculate_gain("tanh")),
    "Kaiming (ReLU)": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
depth_mean_squares, saturated = {}, {}
shown_layers = [0, 1, 5, 10, 20]
print("mean square of the activations")
print(f"{'activation':11} {'init':17}" + "".join(f"{f'layer {i}':>11}" for i in shown_layers))
for activation in (torch.tanh, torch.relu):
    for name, init in deep_inits.items():
        mean_squares, last = deep_forward(init, activation)
        depth_mean_squares[activation.__name__, name] = mean_squares
        saturated[activation.__name__, name] = (last.abs() > 0.99).float().mean().item()
        print(f"{activation.__name__:11} {name:17}" + "".join(f"{mean_squares[i]:>11.3g}" for i in shown_layers))
print(f"tanh units near +-1 at layer {DEPTH}: N(0, 1) {saturated['tanh', 'N(0, 1)']:.0%}, "
      f"Xavier, gain 5/3 {saturated['tanh', 'Xavier, gain 5/3']:.0%}")
# --8<-- [end:depth]

# --8<-- [start:mean-square-not-std]
_, after_relu = deep_forward(deep_inits["Kaiming (ReLU)"], torch.relu, depth=1)  # one Kaiming layer and its ReLU
print(f"mean square {mean_square(after_relu):.3f} (theory 1)")
print(f"mean        {after_relu.mean().item():.3f} (theory 1/sqrt(pi) = {1 / math.sqrt(math.pi):.3f})")
print(f"std         {after_relu.std().item():.3f} (theory sqrt(1 - 1/pi) = {math.sqrt(1 - 1 / math.pi):.3f})")
# --8<-- [end:mean-square-not-std]

# --8<-- [start:std-not-variance]
right_std = math.sqrt(2 / WIDTH)   # Kaiming normal for ReLU: this is the standard deviation
misread_std = math.sqrt(right_std)  # what you get if you take sqrt(2 / fan_in) for the variance
weight = nn.init.kaiming_normal_(torch.empty(WIDTH, WIDTH), nonlinearity="relu")
print(f"kaiming_normal_: measured std {weight.std().item():.4f}, sqrt(2/fan_in) = {right_std:.4f}, "
      f"misread std {misread_std:.4f}")
misread_mean_squares = {}
for name, std in [("right", right_std), ("misread", misread_std)]:
    mean_squares, _ = deep_forward(partial(nn.init.normal_, std=std), torch.relu)
    misread_mean_squares[name] = mean_squares
    print(f"{name:8} mean square after layer {DEPTH}: {mean_squares[-1]:.3g}")
# --8<-- [end:std-not-variance]

# --8<-- [start:other-defaults]
embedding = nn.Embedding(1000, 64)
print(f"Embedding(1000, 64): mean {embedding.weight.mean().item():+.4f}, std {embedding.weight.std().item():.4f}")
padded = nn.Embedding(10, 4, padding_idx=0)
print("Embedding(10, 4, padding_idx=0), row 0:", padded.weight[0].detach())
nn.init.ones_(padded.weight)  # any initializer of the whole weight writes row 0 too
print("after nn.init.ones_, row 0:", padded.weight[0].detach())
with torch.no_grad():
    padded.weight[padded.padding_idx].zero_()  # zero the padding row again after a custom init
print("zeroed again, row 0:", padded.weight[0].detach())
conv1d = nn.Conv1d(8, 16, kernel_size=5)
fan_in = conv1d.in_channels * conv1d.kernel_size[0]  # 8 channels * 5 positions feed each output value
print(f"Conv1d(8, 16, 5): fan_in {fan_in}, max |w| {conv1d.weight.abs().max().item():.4f} "
      f"<= 1/sqrt(fan_in) = {1 / math.sqrt(fan_in):.4f}")
rnn = nn.RNN(input_size=10, hidden_size=64)
print("RNN(10, 64), max |p|:", {name: round(p.abs().max().item(), 4) for name, p in rnn.named_parameters()})
for norm in (nn.LayerNorm(8), nn.BatchNorm1d(8)):
    print(f"{type(norm).__name__}: weight all 1: {bool((norm.weight == 1).all())}, "
          f"bias all 0: {bool((norm.bias == 0).all())}")
# --8<-- [end:other-defaults]

# --8<-- [start:trunc-normal]
sigma = 0.02
as_written = nn.init.trunc_normal_(torch.empty(1000, 1000), std=sigma)  # a=-2, b=2: here, 100 sigma
cut_at_2_sigma = nn.init.trunc_normal_(torch.empty(1000, 1000), std=sigma, a=-2 * sigma, b=2 * sigma)
print("bounds               max |w|            beyond 2 sigma     std")
for name, values in [("a=-2, b=2", as_written), ("a=-2*sigma, b=2*sigma", cut_at_2_sigma)]:
    largest, beyond = values.abs().max().item(), (values.abs() > 2 * sigma).float().mean().item()
    print(f"{name:21} {largest:.4f} ({largest / sigma:.1f} sigma) {beyond:14.2%} {values.std().item():11.4f}")
density = math.exp(-2) / math.sqrt(2 * math.pi)  # of N(0, 1) at 2
mass = math.erf(2 / math.sqrt(2))  # the probability that N(0, 1) lies within +-2
print(f"theory, N(0, sigma^2) cut at +-2 sigma: std {sigma * math.sqrt(1 - 4 * density / mass):.4f}")
# --8<-- [end:trunc-normal]

# --8<-- [start:orthogonal]
W_default = rnn.weight_hh_l0.detach().clone()  # the default: U(-1/8, 1/8)
nn.init.orthogonal_(rnn.weight_hh_l0)
W_orthogonal = rnn.weight_hh_l0.detach()
W_gain = nn.init.orthogonal_(torch.empty(64, 64), gain=1.1)
print("W W^T = I:", torch.allclose(W_orthogonal @ W_orthogonal.T, torch.eye(64), atol=1e-5))
print("gain 1.1, W W^T = 1.21 I:", torch.allclose(W_gain @ W_gain.T, 1.21 * torch.eye(64), atol=1e-5))
h_start = torch.randn(64)
print("weight_hh             singular values  largest |eigenvalue|  |h| after 50 steps / |h| at start")
for name, W_hh in [("default", W_default), ("orthogonal", W_orthogonal), ("orthogonal, gain 1.1", W_gain)]:
    singular_values, eigenvalues = torch.linalg.svdvals(W_hh), torch.linalg.eigvals(W_hh)
    h = h_start
    for _ in range(50):
        h = W_hh @ h  # one step of the recurrence, without the input and the tanh
    print(f"{name:20} {singular_values.min().item():6.3f} to {singular_values.max().item():.3f} "
          f"{eigenvalues.abs().max().item():17.3f} {(h.norm() / h_start.norm()).item():22.3g}")
# --8<-- [end:orthogonal]

# --8<-- [start:orthogonal-lstm]
lstm = nn.LSTM(input_size=10, hidden_size=64)
print(tuple(lstm.weight_hh_l0.shape))  # the four gates' (64, 64) matrices, stacked
nn.init.orthogonal_(lstm.weight_hh_l0)  # orthogonal as a whole ...
print("whole:   ", [f"{s.min().item():.3f} to {s.max().item():.3f}"
                    for s in map(torch.linalg.svdvals, lstm.weight_hh_l0.detach().chunk(4))])
for gate in lstm.weight_hh_l0.chunk(4):  # ... or gate by gate
    nn.init.orthogonal_(gate)
print("per gate:", [f"{s.min().item():.3f} to {s.max().item():.3f}"
                    for s in map(torch.linalg.svdvals, lstm.weight_hh_l0.detach().chunk(4))])
# --8<-- [end:orthogonal-lstm]

# --8<-- [start:custom-init]
def my_init(module):
    if isinstance(module, nn.Linear):
        nn.init.uniform_(module.weight, -10, 10)
        with torch.no_grad():
            module.weight.masked_fill_(module.weight.abs() < 5, 0)  # keep only |w| >= 5


net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
net.apply(my_init)
print(net[0].weight[:2].detach())
# --8<-- [end:custom-init]

# --8<-- [start:custom-init-check]
big = nn.Linear(1000, 1000)
my_init(big)
w = big.weight.detach()
proportions = {
    "U(5, 10)": ((w >= 5) & (w <= 10)).float().mean().item(),
    "0": (w == 0).float().mean().item(),
    "U(-10, -5)": ((w >= -10) & (w <= -5)).float().mean().item(),
}
print({name: round(p, 4) for name, p in proportions.items()}, "expected 0.25, 0.5, 0.25")
# --8<-- [end:custom-init-check]

# --8<-- [start:set-directly]
with torch.no_grad():  # a change of value, not a step of the computation to differentiate
    net[0].weight += 1
    net[0].weight[0, 0] = 42
    net[2].weight.copy_(torch.arange(8.0).reshape(1, 8))  # load values you already have
print(net[0].weight[0].detach())
print(net[2].weight.detach())
try:
    net[0].weight[0, 0] = 0  # the same write, outside torch.no_grad()
except RuntimeError as error:
    print(f"{type(error).__name__}: {error}")
# --8<-- [end:set-directly]

# --8<-- [start:generator]
accepts_generator = [name for name in dir(nn.init) if name.endswith("_") and not name.startswith("_")
                     and "generator" in inspect.signature(getattr(nn.init, name)).parameters]
print(accepts_generator)
twins = [nn.Linear(256, 256) for _ in range(2)]
global_state = torch.get_rng_state()
for layer in twins:
    generator = torch.Generator().manual_seed(2024)  # a stream of random numbers of its own
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
print("same weights:", torch.equal(twins[0].weight, twins[1].weight))
print("global stream untouched:", torch.equal(torch.get_rng_state(), global_state))
# --8<-- [end:generator]

# --8<-- [start:manual-seed-in-init]
def init_with_manual_seed(layer):
    torch.manual_seed(2024)  # resets the global stream, which dropout and shuffling also draw from
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")


after_init = []
for run_seed in (1, 2):  # two runs that should differ
    torch.manual_seed(run_seed)
    init_with_manual_seed(nn.Linear(256, 256))
    after_init.append(torch.rand(3))  # say, the first random numbers of training
print("seeds 1 and 2, the same numbers after init:", torch.equal(*after_init))

global_state = torch.get_rng_state()
with torch.random.fork_rng():  # saves the global state, restores it on exit
    torch.manual_seed(2024)
    seeded = nn.Linear(256, 256)  # the layer's own default init, which takes no generator
print("global stream untouched:", torch.equal(torch.get_rng_state(), global_state))
# --8<-- [end:manual-seed-in-init]

# --8<-- [start:residual-depth]
@contextlib.contextmanager
def fixed_seed(seed):
    """The same random numbers on every run, whatever ran before; the global stream is left as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


RES_WIDTH = 64


def residual_forward(last_gain, norm=None, blocks=DEPTH, seed=1):
    """h = h + branch(h) for `blocks` blocks, the branch Linear -> ReLU -> Linear with new weights in every
    block; return the mean square of h after each block (block 0: the input)."""
    w1, w2 = torch.empty(RES_WIDTH, RES_WIDTH), torch.empty(RES_WIDTH, RES_WIDTH)
    with fixed_seed(seed):
        h = torch.randn(256, RES_WIDTH).double()  # in float64, as in deep_forward
        mean_squares = [mean_square(h)]
        for _ in range(blocks):
            nn.init.kaiming_normal_(w1, nonlinearity="relu")  # a ReLU follows the first layer
            nn.init.kaiming_normal_(w2, nonlinearity="linear")  # nothing follows the last one ...
            w2 *= last_gain  # ... whose weights are scaled by last_gain
            x = F.layer_norm(h, (RES_WIDTH,)) if norm == "pre" else h  # pre-norm: the branch sees h normalized
            h = h + F.linear(torch.relu(F.linear(x, w1.double())), w2.double())  # the residual connection
            if norm == "post":
                h = F.layer_norm(h, (RES_WIDTH,))  # post-norm: normalize after the addition
            mean_squares.append(mean_square(h))
    return mean_squares


residual_variants = {  # name: (last_gain, norm)
    "residual": (1.0, None),
    "last layer / sqrt(20)": (1 / math.sqrt(DEPTH), None),
    "last layer zero": (0.0, None),
    "pre-norm": (1.0, "pre"),
    "pre-norm, / sqrt(20)": (1 / math.sqrt(DEPTH), "pre"),
    "post-norm": (1.0, "post"),
}
residual_mean_squares = {}
print("mean square of the residual stream")
print(f"{'':22}" + "".join(f"{f'block {i}':>10}" for i in shown_layers))
for name, (last_gain, norm) in residual_variants.items():
    mean_squares = residual_mean_squares[name] = residual_forward(last_gain, norm)
    print(f"{name:22}" + "".join(f"{mean_squares[i]:>10.3g}" for i in shown_layers))
# --8<-- [end:residual-depth]

# --8<-- [start:batchnorm-scale]
with fixed_seed(2):
    linear_bn = nn.Sequential(nn.Linear(32, 32, bias=False), nn.BatchNorm1d(32))  # in training mode
    x_bn = torch.randn(64, 32)


def output_and_weight_grad(scale):
    """Scale the weights of the Linear layer, run one batch and a backward pass, restore the weights."""
    weight = linear_bn[0].weight
    with torch.no_grad():
        weight *= scale
    output = linear_bn(x_bn)
    weight.grad = None
    output.pow(3).mean().backward()  # any loss
    with torch.no_grad():
        weight /= scale
    return output.detach(), weight.grad.norm().item()


reference, reference_grad = output_and_weight_grad(1.0)
for scale in (0.5, 10.0):
    output, grad_norm = output_and_weight_grad(scale)
    print(f"weights x {scale:4}: same output {torch.allclose(output, reference, atol=1e-3)}, "
          f"weight gradient x {grad_norm / reference_grad:.2f}")
# --8<-- [end:batchnorm-scale]

# --8<-- [start:zero-init-residual]
class BasicBlock(nn.Module):  # the block of torchvision's ResNet-18, without downsampling
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def branch(self, X):
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))

    def forward(self, X):
        return F.relu(X + self.branch(X))


def zero_init_residual(model):  # what torchvision's ResNet does with zero_init_residual=True
    for module in model.modules():
        if isinstance(module, BasicBlock):
            nn.init.zeros_(module.bn2.weight)  # the branch's last BatchNorm: its output starts at 0


with fixed_seed(3):
    resnet_default = nn.Sequential(*(BasicBlock(8) for _ in range(DEPTH)))
    resnet_zero = nn.Sequential(*(BasicBlock(8) for _ in range(DEPTH)))
    x_image = torch.relu(torch.randn(4, 8, 8, 8))  # non-negative, like the output of a ReLU
zero_init_residual(resnet_zero)
out_default, out_zero = resnet_default(x_image), resnet_zero(x_image)
print(f"mean square: input {mean_square(x_image):.3g}, after {DEPTH} blocks {mean_square(out_default):.3g}, "
      f"with zero_init_residual {mean_square(out_zero):.3g}")
print("zero_init_residual: the blocks are the identity:", torch.equal(out_zero, x_image))
out_zero.pow(2).mean().backward()  # any loss
print("first step, gradient:", {name: bool(p.grad.any()) for name, p in resnet_zero[0].named_parameters()})


def branch_after_one_step(zeroed):
    """Zero one parameter of a new block, take one SGD step; return the mean square of the branch."""
    with fixed_seed(6):
        block = BasicBlock(8)
    nn.init.zeros_(block.get_parameter(zeroed))
    optimizer = torch.optim.SGD(block.parameters(), lr=0.01)
    block(x_image).pow(2).mean().backward()
    optimizer.step()
    with torch.no_grad():
        return mean_square(block.branch(x_image))


print(f"mean square of the branch after one step: zero bn2.weight {branch_after_one_step('bn2.weight'):.1g}, "
      f"zero conv2.weight {branch_after_one_step('conv2.weight'):.2f}")
# --8<-- [end:zero-init-residual]

# --8<-- [start:blanket-init]
class Block(nn.Module):  # a pre-norm transformer block, as in GPT-2
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, X):
        h = self.ln_1(X)
        X = X + self.attn(h, h, h, need_weights=False)[0]  # attn.out_proj writes into the residual stream
        return X + self.mlp(self.ln_2(X))  # and so does mlp[2]


class TinyGPT(nn.Module):
    def __init__(self, vocab_size=100, d_model=64, n_heads=4, n_layers=12, pad_id=0):
        super().__init__()
        self.n_layers = n_layers
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.blocks = nn.Sequential(*(Block(d_model, n_heads) for _ in range(n_layers)))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, tokens):
        return self.head(self.ln_f(self.blocks(self.embed(tokens))))


def special_cases(model):
    """Do the values that PyTorch's layers chose on purpose survive?"""
    attentions = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    return {
        "padding row 0": not model.embed.weight[model.embed.padding_idx].any().item(),
        "attention biases 0": not any(a.in_proj_bias.any() or a.out_proj.bias.any() for a in attentions),
        "LayerNorm weights 1": all(bool((n.weight == 1).all()) for n in norms),
    }


def normal_everything(model):
    for param in model.parameters():  # every parameter, whatever it is for
        nn.init.normal_(param, std=0.02)


def xavier_matrices(model):  # the loop of nn.Transformer._reset_parameters
    for param in model.parameters():
        if param.dim() > 1:  # skips biases and LayerNorm, not the embedding
            nn.init.xavier_uniform_(param)


print(f"{'init':18} special cases kept")
for name, init in [("defaults", None), ("normal_everything", normal_everything), ("xavier_matrices", xavier_matrices)]:
    with fixed_seed(4):
        model = TinyGPT()
        if init is not None:
            init(model)
    print(f"{name:18} {special_cases(model)}")
# --8<-- [end:blanket-init]

# --8<-- [start:gpt2-init]
def init_gpt2_style(module, std=0.02):
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=std)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()  # the padding row back to 0
    elif isinstance(module, nn.MultiheadAttention):
        nn.init.normal_(module.in_proj_weight, std=std)  # a parameter of the attention itself, not an nn.Linear
    # LayerNorm's weight 1 and bias 0 and the attention's zero in_proj_bias: left as they are


def is_residual_projection(name):  # the layers whose output is added to the residual stream
    return name.endswith(("attn.out_proj.weight", "mlp.2.weight"))


with fixed_seed(4):
    gpt = TinyGPT()
    gpt.apply(init_gpt2_style)
    residual_std = 0.02 / math.sqrt(2 * gpt.n_layers)  # two additions per block: attention and MLP
    for name, param in gpt.named_parameters():  # after apply, which would overwrite it
        if is_residual_projection(name):
            nn.init.normal_(param, std=residual_std)
print(special_cases(gpt))
weight_groups = {
    "residual projections": is_residual_projection,
    "in_proj_weight": lambda name: name.endswith("in_proj_weight"),
    "other Linear weights": lambda name: name.endswith(("mlp.0.weight", "head.weight")),
}
for group, member in weight_groups.items():
    values = torch.cat([p.detach().flatten() for name, p in gpt.named_parameters() if member(name)])
    print(f"{group:21} std {values.std().item():.4f}")
print(f"0.02 / sqrt(2 * {gpt.n_layers}) = {residual_std:.4f}")
# --8<-- [end:gpt2-init]

# --8<-- [start:output-layer-gain]
hidden = torch.relu(torch.randn(10_000, 256) * math.sqrt(2))  # like activations after a Kaiming layer and its ReLU
print(f"mean square of the hidden activations: {mean_square(hidden):.4f}")
output_inits = {  # for nn.Linear(256, 1000): fan_in 256, fan_out 1000 (say, 1000 classes)
    # name: (initializer of the weight, its variance); inputs of mean square 1: output std = sqrt(256 * variance)
    "default": (lambda w: None, 1 / (3 * 256)),
    "xavier_normal_": (nn.init.xavier_normal_, 2 / (256 + 1000)),
    "kaiming, linear": (partial(nn.init.kaiming_normal_, nonlinearity="linear"), 1 / 256),
    "kaiming, relu": (partial(nn.init.kaiming_normal_, nonlinearity="relu"), 2 / 256),
}
output_stds = {}
print("output layer      output std  theory")
for name, (init, variance) in output_inits.items():
    output = nn.Linear(256, 1000)
    init(output.weight)
    nn.init.zeros_(output.bias)  # compare the weights alone
    with torch.no_grad():
        output_stds[name] = output(hidden).std().item()
    print(f"{name:17} {output_stds[name]:10.4f} {math.sqrt(256 * variance):7.4f}")
# --8<-- [end:output-layer-gain]

# --8<-- [start:my-mlp]
class MyMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden1 = nn.Linear(4, 5)
        self.hidden2 = nn.Linear(5, 3)
        self.output = nn.Linear(3, 2)
        self.reset_parameters()

    def reset_parameters(self):
        for layer in (self.hidden1, self.hidden2):  # each is followed by a ReLU
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
        self.output.reset_parameters()  # no ReLU after it: PyTorch's default, no ReLU gain

    def forward(self, X):
        return self.output(F.relu(self.hidden2(F.relu(self.hidden1(X)))))


model = MyMLP()
print(model(X).shape)
print({name: tuple(tensor.shape) for name, tensor in model.state_dict().items()})
for name, param in model.named_parameters():
    print(f"{name:14} {tuple(param.shape)!s:7} {'zeros' if torch.all(param == 0) else 'random'}")
print(sum(param.numel() for param in model.parameters()))
# --8<-- [end:my-mlp]

# --8<-- [start:meta-init]
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


global_state = torch.get_rng_state()
with torch.device("meta"):
    meta_model = MyMLP()  # its reset_parameters runs too, on tensors that have no data
print(meta_model.hidden1.bias)
print("random numbers drawn:", not torch.equal(torch.get_rng_state(), global_state))
with nan_for_uninitialized_memory():
    meta_model.to_empty(device="cpu")  # real memory, but nothing written into it
after_to_empty = {name: "NaN" if param.isnan().all() else "values" for name, param in meta_model.named_parameters()}
meta_model.reset_parameters()  # the one initialization that counts
print("parameter      after to_empty  after reset_parameters")
for name, param in meta_model.named_parameters():
    state = "NaN" if param.isnan().any() else "zeros" if torch.all(param == 0) else "random"
    print(f"{name:14} {after_to_empty[name]:15} {state}")
# --8<-- [end:meta-init]

# --8<-- [start:exercise-equal-first-layer]
half_equal = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))  # the output layer keeps its random default
nn.init.constant_(half_equal[0].weight, 0.5)
nn.init.zeros_(half_equal[0].bias)
equal_first_layer_loss = train(half_equal)
equal_first_layer_distinct = torch.unique(half_equal[0].weight.detach(), dim=0).shape[0]
print(f"distinct hidden units {equal_first_layer_distinct}, loss after {equal_first_layer_loss:.4f}")
# --8<-- [end:exercise-equal-first-layer]

# --8<-- [start:exercise-variance-notation]
paper_layer = nn.Linear(512, 256)
wrong = nn.init.normal_(torch.empty(256, 512), mean=0, std=2 / 512)  # the variance passed as std
nn.init.normal_(paper_layer.weight, mean=0, std=math.sqrt(2 / 512))  # std = sqrt(variance)
kaiming = nn.init.kaiming_normal_(torch.empty(256, 512), nonlinearity="relu")
right = paper_layer.weight.detach()
for name, values in [("std=2/512", wrong), ("std=sqrt(2/512)", right), ("kaiming_normal_", kaiming)]:
    print(f"{name:16} std {values.std().item():.4f}, variance {values.var().item():.6f}")
print(f"2/512 = {2 / 512:.6f}")
# --8<-- [end:exercise-variance-notation]

# --8<-- [start:exercise-default-bounds]
default_layers = {
    "Linear(300, 10)": nn.Linear(300, 10),
    "Conv2d(16, 32, 3)": nn.Conv2d(16, 32, kernel_size=3),
    "Conv2d(32, 32, 3, groups=32)": nn.Conv2d(32, 32, kernel_size=3, groups=32),
}
for name, layer in default_layers.items():
    fan_in = layer.weight[0].numel()  # everything one output unit sees
    print(f"{name:29} weight {tuple(layer.weight.shape)!s:15} fan_in {fan_in:3}  "
          f"bound {1 / math.sqrt(fan_in):.4f}  max |w| {layer.weight.abs().max().item():.4f}")
print(f"Embedding(1000, 300): std {nn.Embedding(1000, 300).weight.std().item():.4f}")
# --8<-- [end:exercise-default-bounds]

# --8<-- [start:exercise-fix-init-task]
features = nn.Sequential(  # the conv and the linear layer each feed a ReLU (the conv through a BatchNorm)
    nn.Conv2d(3, 8, kernel_size=3, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
    nn.Flatten(), ScaledLinear(8 * 6 * 6, 32), nn.ReLU(),
)


def init_relu_layers(module):
    if type(module) in (nn.Conv2d, nn.Linear):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(module.bias)
# --8<-- [end:exercise-fix-init-task]

# --8<-- [start:exercise-fix-init-function]
try:
    features.apply(init_relu_layers)
except AttributeError as error:
    print(f"AttributeError: {error}")


def init_relu_layers_fixed(module):
    if isinstance(module, (nn.Conv2d, nn.Linear)):  # subclasses too
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:  # bias=False leaves None
            nn.init.zeros_(module.bias)


features.apply(init_relu_layers_fixed)
for name, module in features.named_modules():
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        fan_in = module.weight[0].numel()
        print(f"{name} {type(module).__name__:12} std {module.weight.std().item():.4f}, "
              f"Kaiming sqrt(2/{fan_in}) = {math.sqrt(2 / fan_in):.4f}, bias {module.bias is not None}")
# --8<-- [end:exercise-fix-init-function]

# --8<-- [start:exercise-meta-generator]
def init_like_a_transformer(model, seed, std=0.02):
    device = next(model.parameters()).device  # a generator fills tensors on its own device only
    generator = torch.Generator(device=device).manual_seed(seed)
    for module in model.modules():  # always in the same order
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build(seed):
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(64, 256), nn.GELU(), nn.Linear(256, 64))
    model.to_empty(device="cpu")
    init_like_a_transformer(model, seed)
    return model


global_state = torch.get_rng_state()
first, second, other = build(seed=0), build(seed=0), build(seed=1)
print("same seed, same model:", all(torch.equal(p, q) for p, q in zip(first.parameters(), second.parameters())))
print("the two layers draw different numbers:", not torch.equal(first[0].weight.flatten(), first[2].weight.flatten()))
print("other seed, other model:", not torch.equal(first[0].weight, other[0].weight))
print("global stream untouched:", torch.equal(torch.get_rng_state(), global_state))
print(f"max |w| {max(m.weight.abs().max().item() for m in first if isinstance(m, nn.Linear)):.4f} <= 0.04")
# --8<-- [end:exercise-meta-generator]

# --8<-- [start:exercise-audit-init-task]
def init_linear_and_embedding(module):  # the init function of many GPT-style models
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
# --8<-- [end:exercise-audit-init-task]

# --8<-- [start:exercise-audit-init]
with fixed_seed(5):
    audited = TinyGPT()
    before = {name: param.detach().clone() for name, param in audited.named_parameters()}
    audited.apply(init_linear_and_embedding)
unchanged = [name for name, param in audited.named_parameters() if torch.equal(param, before[name])]
print("unchanged in block 0:", [name for name in unchanged if name.startswith("blocks.0.")])
print("unchanged elsewhere:", [name for name in unchanged if not name.startswith("blocks.")])
in_proj = audited.blocks[0].attn.in_proj_weight
print(f"in_proj_weight {tuple(in_proj.shape)}: std {in_proj.std().item():.4f}, "
      f"Xavier's sqrt(2 / (64 + 192)) = {math.sqrt(2 / (64 + 192)):.4f}")
print(special_cases(audited))
# --8<-- [end:exercise-audit-init]
