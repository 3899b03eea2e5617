"""Find the printed numbers that move with float rounding, before another machine does.

`python -m tools.rounding [PAGE ...]` (`make rounding`) runs every snippet again with its
arithmetic perturbed as another CPU or a GPU would perturb it: each inexact float result of an
op whose rounding differs from machine to machine (INEXACT) moves by one unit in its last place,
up, down or not at all. Whole numbers stay exact, as they do on every machine. The runs print
EXTRA more digits than the page, so that a move shows before it reaches the page's last digit;
every printed number that moves by more than LIMIT of a unit in its last page digit, or whose
text changes, is listed with the file, the section and the line. Such an output is a bug of its
snippet (tools/compare.py allows one unit): print fewer digits, average over more, compute in
float64, or print a stable quantity.

Each snippet runs under SEEDS different perturbations: a number that is fragile but moved
little in one run moves in another.
"""

from __future__ import annotations

import ast
import contextlib
import re
import sys
from decimal import Decimal
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map_only

from tools.compare import NUMBER, numbers
from tools.project import ROOT
from tools.snippets import SnippetError, _rel, _run, output_file, snippet_files, stored_sections, timed_run

SEEDS = (1, 2)
EXTRA = 3  # digits printed beyond the page's, to see how far a number moves
LIMIT = Decimal("0.05")  # of a unit in the last printed digit: a real machine moves it further (below)
SPEC = re.compile(r"(0?)(\d*)([,_]?)\.(\d+)([eEfFgG%])$")  # [0][width][grouping].precision type
# Results that differ from machine to machine, by op name (in-place forms too: `tanh_`): sums in
# another order (reductions, matrix products, normalizations, losses, their backward passes,
# the optimizers' fused updates) and functions that each CPU's vector code approximates its own
# way. (+, -, *, / and sqrt are rounded correctly by IEEE 754: the same bits everywhere.)
INEXACT = set("""
    exp exp2 expm1 log log1p log2 log10 tanh sigmoid sin cos tan atan sinh cosh erf erfc erfinv pow rsqrt
    gelu silu softplus elu mish logit tanh_backward sigmoid_backward gelu_backward silu_backward
    mm addmm bmm baddbmm mv addmv dot linear sum mean var std var_mean std_mean norm linalg_vector_norm
    _foreach_norm _softmax _log_softmax logsumexp _softmax_backward_data _log_softmax_backward_data
    convolution convolution_backward cumsum prod native_layer_norm native_layer_norm_backward
    native_batch_norm native_batch_norm_backward _native_batch_norm_legit _native_batch_norm_legit_no_training
    _weight_norm_interface mse_loss mse_loss_backward nll_loss_forward nll_loss2d_forward binary_cross_entropy
    addcmul addcdiv lerp _foreach_addcmul _foreach_addcdiv _foreach_lerp _foreach_sqrt
    _linalg_svd linalg_qr geqrf linalg_householder_product linalg_matrix_exp
""".split())


BITS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}
# Dynamo refuses to trace under a dispatch mode of ours: such sections run as they are.
COMPILES = re.compile(r"\b(compile|export)\(")


class Perturbed(TorchDispatchMode):
    """One unit in the last place, up, down or not at all, on every inexact float result of an
    arithmetic op. Which one is a hash of the result's bits and the seed: like a real machine,
    the same computation done twice gives the same bits (a snippet's torch.equal stays true)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__.rstrip("_") in INEXACT:  # tanh_ as tanh
            tree_map_only(torch.Tensor, self._nudge, out)
        return out

    def _nudge(self, tensor: torch.Tensor) -> None:
        if (type(tensor) not in (torch.Tensor, torch.nn.Parameter) or tensor.device.type != "cpu"
                or tensor.dtype not in BITS or tensor.numel() == 0):
            return  # meta and fake tensors have no values; other devices are not this machine's
        with torch.no_grad():
            bits = tensor.detach().contiguous().view(BITS[tensor.dtype]).to(torch.int64)
            step = (((bits * 2654435761 + self.seed * 40503) >> 16) % 3 - 1).to(tensor.dtype)
            step[(tensor == tensor.trunc()) | ~tensor.isfinite()] = 0  # exact everywhere
            tensor.copy_(torch.where(step == 0, tensor, torch.nextafter(tensor, step * torch.inf)))


class MoreDigits(ast.NodeTransformer):
    """f"{x:.3g}" becomes f"{x:.6g}": the same output with EXTRA more digits in each float that
    an f-string formats, so that a move of a fraction of a unit of the page's last digit shows."""

    def visit_FormattedValue(self, node):
        self.generic_visit(node)
        for part in node.format_spec.values if node.format_spec else []:
            if isinstance(part, ast.Constant):
                part.value = SPEC.sub(lambda m: f"{m[1]}{int(m[2]) + EXTRA + 1 if m[2] else ''}{m[3]}"
                                      f".{int(m[4]) + EXTRA}{m[5]}", part.value)  # as wide as it needs
        return node

    def visit_Call(self, node):  # round(x, 3) becomes round(x, 6)
        self.generic_visit(node)
        if (isinstance(node.func, ast.Name) and node.func.id == "round" and len(node.args) == 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, int)):
            node.args[1] = ast.Constant(node.args[1].value + EXTRA)
        return node


def fragile(snippet: Path, seeds=SEEDS) -> list[str]:
    """Each printed number of a snippet that perturbed runs move by more than LIMIT of a unit in
    its last printed digit, or whose text they change, as 'outputs/cpu/x.txt:LINE [section]: ...'."""
    text, stored_path = snippet.read_text(encoding="utf-8"), output_file(snippet)
    shown = timed_run(snippet)[0]  # with the page's digits
    starts = {name: start for name, (start, _) in stored_sections(stored_path).items()}

    def precise(seed: int | None) -> dict[str, str]:
        with torch._tensor_str.printoptions(precision=torch._tensor_str.PRINT_OPTS.precision + EXTRA):
            return _run(snippet, text, transform=MoreDigits(), around=lambda section: (
                contextlib.nullcontext() if seed is None or COMPILES.search(section.code) else Perturbed(seed)))[0]

    found: dict[tuple[str, int], str] = {}
    exact = precise(None)
    for seed in seeds:
        for section, output in precise(seed).items():
            def where(line: int, section=section) -> str:
                return f"{_rel(stored_path)}:{starts.get(section, 0) + line} [{section}]"
            before, after, page = numbers(exact[section]), numbers(output), numbers(shown[section])
            texts = [re.sub(r"[ \t]+", " ", NUMBER.sub("#", t)) for t in (exact[section], output)]
            if texts[0] != texts[1] or not len(before) == len(after) == len(page):
                line = next((i for i, (a, b) in enumerate(zip(*(t.splitlines() for t in texts)), 1) if a != b), 1)
                found.setdefault((section, line), f"{where(line)}: the text changes in perturbed run {seed}: "
                                 f"{exact[section].splitlines()[line - 1].strip()!r} -> "
                                 f"{output.splitlines()[line - 1].strip()!r}")
                continue
            for (_, value, finer), (_, moved, _), (line, digit, unit) in zip(before, after, page):
                if (section, line) in found:
                    continue
                unit = unit or (Decimal(1) if finer else None)  # `.0%` or `.0f`: a float shown whole
                if unit is None and moved != value or unit and abs(moved - value) > LIMIT * unit:
                    found[section, line] = (f"{where(line)}: {digit} moves by {abs(moved - value) / (unit or 1):.2f} "
                                            f"of a unit in its last digit (perturbed run {seed}: {value} -> {moved})")
    return list(found.values())


def main(pages: list[str]) -> int:
    snippets = [ROOT / "snippets" / f"{page}.py" for page in pages] or snippet_files()
    torch.set_num_threads(1)
    problems = []
    for snippet in snippets:
        try:
            problems += fragile(snippet)
        except SnippetError as error:
            problems.append(f"{error}\n(in a perturbed run)")
    for problem in problems:
        print(problem)
    print(f"{len(problems)} printed numbers move with float rounding" if problems
          else f"no printed number of {len(snippets)} pages moves with float rounding")
    return 1 if problems else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
