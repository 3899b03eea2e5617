"""Figures drawn by the snippets, once per language, and a stamp that says they are current.

`snippets/figures/<page>.py` defines `draw(lang, out_dir)`, which draws the page's figures
with labels in `lang` (usually from the namespace of `snippets/<page>.py`, via runpy) and
saves them in `out_dir` (`docs/<lang>/figures/`), returning the paths. `make outputs` runs
it for each language and writes `outputs/figures/<page>.sha256`, a hash of the two source
files; the tests fail when either changed after the figures were last drawn. (Pixels are
not compared: they depend on the fonts of the machine.)
"""

from __future__ import annotations

import hashlib
import runpy
import sys
from pathlib import Path

from tools.project import LANGUAGES, ROOT, docs_dir


def figure_scripts(root: Path = ROOT) -> list[Path]:
    return sorted((root / "snippets" / "figures").glob("*.py"))


def stamp_of(script: Path) -> str:
    chapter = script.parent.parent / script.name
    digest = hashlib.sha256(script.read_bytes() + b"\0" + chapter.read_bytes())
    return digest.hexdigest() + "\n"


def stamp_file(script: Path) -> Path:
    return script.parents[2] / "outputs" / "figures" / f"{script.stem}.sha256"


def draw(script: Path) -> list[Path]:
    import matplotlib
    from matplotlib import font_manager

    matplotlib.use("Agg")
    if not any("CJK" in font.name for font in font_manager.fontManager.ttflist):
        raise SystemExit("The Chinese figures need a CJK font, and matplotlib finds none. On Debian or Ubuntu: "
                         "sudo apt-get install fonts-noto-cjk, then rm -rf ~/.cache/matplotlib and run again.")
    draw_function = runpy.run_path(str(script))["draw"]
    drawn = []
    for lang in LANGUAGES:
        out_dir = docs_dir(lang, script.parents[2]) / "figures"
        out_dir.mkdir(parents=True, exist_ok=True)
        drawn += draw_function(lang, out_dir)
    stamp_file(script).parent.mkdir(parents=True, exist_ok=True)
    stamp_file(script).write_text(stamp_of(script), encoding="utf-8")
    return drawn


def stale(root: Path = ROOT) -> list[str]:
    """Figure scripts whose figures were drawn from other sources than the current ones."""
    return [
        f"{script.relative_to(root)}: figures are older than the code that draws them; run `make outputs`"
        for script in figure_scripts(root)
        if not stamp_file(script).exists() or stamp_file(script).read_text(encoding="utf-8") != stamp_of(script)
    ]


if __name__ == "__main__":
    pages = sys.argv[1:]  # `make outputs PAGE=x`: only that page's figures
    for script in [s for s in figure_scripts() if not pages or s.stem in pages]:
        for path in draw(script):
            print(f"drew {path.relative_to(ROOT)}")
    sys.exit(0)
