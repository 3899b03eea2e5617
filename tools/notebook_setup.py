"""The cells that open a chapter's code in its notebook, for a reader who runs it elsewhere
(Colab, say, which has its own torch and lacks some of our packages): a note on which torch
printed the notebook's outputs, and a cell that installs the packages the chapter's code imports
that the reader's Python lacks or has in an older release, at the releases requirements.txt pins
(an older torch lacks calls the chapters make).
"""

from __future__ import annotations

import ast
import json
import sys

ABOUT_ID, INSTALL_ID = "about-the-outputs", "install-packages"  # the two cells' ids in every notebook
DEVICES = {
    "en": {"cpu": "a CPU", "cuda": "a CUDA GPU", "mps": "an Apple GPU (MPS)"},
    "zh": {"cpu": "CPU", "cuda": "CUDA GPU", "mps": "使用 MPS 的 Apple GPU"},
}
ABOUT = {
    "en": "**Before you run it.** The outputs saved in this notebook were printed by torch {torch} on "
    "{device}, with Python {python}. Your runtime's torch may be another release, and print slightly "
    "different numbers. On a GPU runtime (in Colab: *Runtime → Change runtime type*), the examples that "
    "use a GPU when there is one run on it. The next cell installs what this chapter imports and your "
    "Python lacks, or has in an older release, at the releases this site uses: {requirements}.",
    "zh": "**运行之前**：本 Notebook 中保存的输出由 torch {torch} 在 {device} 上打印，Python 版本为 {python}。"
    "你的运行环境里的 torch 可能是别的版本，打印出的数字也可能略有不同。"
    "如果用的是 GPU 运行时（在 Colab 中：*代码执行程序 → 更改运行时类型*），"
    "那些有 GPU 就使用 GPU 的示例会在 GPU 上运行。"
    "下一个单元格会把本章导入、而你的 Python 环境中没有或版本比本站旧的包，"
    "安装成本站所用的版本：{requirements}。",
}
# The install cell's two comments, and how the note lists the packages
INSTALL_COMMENTS = {
    "en": ("# Install the packages this chapter imports that this Python lacks, or has in an older release than",
           "# this site's: older releases lack calls the chapter makes (Colab has no torchinfo, say).",
           "# so that the cells below find what was just installed"),
    "zh": ("# 安装本章导入、而当前 Python 环境中没有（例如 Colab 没有 torchinfo）或版本比本站旧的包：",
           "# 旧版本缺少本章用到的一些调用。",
           "# 让下面的单元格找得到刚刚安装的包"),
}
LIST_SEPARATOR = {"en": ", ", "zh": "、"}
# The same code in every language (the comment aside), so that the languages' notebooks share one run
INSTALL = """{comments[0]}
{comments[1]}
import importlib
import importlib.metadata
import re
import subprocess
import sys


def release(version):  # "2.13.0+cu126" -> (2, 13, 0)
    return tuple(int(part) for part in re.findall(r"\\d+", version.split("+")[0])[:3])


for package, requirement in {requirements}.items():
    try:
        installed = release(importlib.metadata.version(package))
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed is None or installed < release(requirement.split("==")[1]):
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, requirement], check=True)
importlib.invalidate_caches()  {comments[2]}"""


def imported_packages(code: list[str]) -> list[str]:
    """The packages (top-level modules outside Python's standard library) that the code imports."""
    found = set()
    for source in code:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return sorted(found - set(sys.stdlib_module_names) - {"__future__"})


def setup_sources(code: list[str], lang: str, pinned: dict[str, str], run: dict[str, str]) -> tuple[str, str]:
    """The note (Markdown) and the install cell (code) for a notebook whose code cells are `code`.
    `pinned`: requirements.txt's pins; `run`: the torch, device and Python that print its outputs.
    A package that requirements.txt does not pin is a ValueError naming it."""
    packages = imported_packages(code)
    unpinned = [name for name in packages if name.lower() not in pinned]
    if unpinned:
        raise ValueError(f"its code imports {', '.join(unpinned)}, which requirements.txt does not pin "
                         "(add name==release there: the notebook installs it for readers who lack it)")
    requirements = {name: f"{name}=={pinned[name.lower()]}" for name in packages}
    about = ABOUT[lang].format(torch=run["torch"], device=DEVICES[lang][run["device"]], python=run["python"],
                               requirements=LIST_SEPARATOR[lang].join(f"`{r}`" for r in requirements.values()))
    return about, INSTALL.format(comments=INSTALL_COMMENTS[lang], requirements=json.dumps(requirements))
