"""No printed number moves with float rounding (tools/rounding.py), and the check finds one that
does: a statistic of a deep float32 network, which another CPU prints with another last digit."""

import pytest

from tools.results import record, write_outputs
from tools.rounding import fragile
from tools.snippets import snippet_files

CHAOS = '''\
# --8<-- [start:deep]
import torch
from torch import nn

torch.manual_seed(0)
h, layer = torch.randn(200, 128), nn.Linear(128, 128)
with torch.no_grad():
    for _ in range(20):  # weights N(0, 1): each layer amplifies rounding
        nn.init.normal_(layer.weight)
        h = torch.tanh(layer(h))
print(f"{h.pow(2).mean().item():.3f}")
# --8<-- [end:deep]

# --8<-- [start:shallow]
torch.manual_seed(1)
x = torch.randn(200, 8)
print(f"{nn.Linear(8, 4)(x).std().item():.3f} over {x.shape[0]} rows")  # one layer: nothing amplifies
# --8<-- [end:shallow]
'''


@pytest.mark.rounding
@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda path: path.name)
def test_no_printed_number_moves_with_float_rounding(snippet):
    moving = fragile(snippet)
    assert not moving, "\n".join([*moving, "Print fewer digits, average over more, or print a stable quantity."])


@pytest.mark.rounding
def test_the_check_finds_a_deep_float32_statistic_and_nothing_else(tmp_path):
    snippet = tmp_path / "snippets" / "chaos.py"
    snippet.parent.mkdir()
    snippet.write_text(CHAOS, encoding="utf-8")
    write_outputs(record(tmp_path, [snippet]), tmp_path / "outputs", tmp_path)
    found = fragile(snippet)
    assert len(found) == 1 and found[0].startswith("outputs/cpu/chaos.txt:4 [deep]: "), found
    assert "of a unit in its last digit" in found[0]
