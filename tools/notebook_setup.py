"""The cells that open a chapter's code in its notebook, for a reader who runs it elsewhere
(Colab, say, which has its own torch and lacks some of our packages): a note on which torch
printed the notebook's outputs, and a cell that installs the packages the chapter's code imports
that the reader's Python lacks, at the releases requirements.txt pins, and torch where it is older
than the pinned release (older releases lack calls the chapters make): on a machine without a GPU
from torch's CPU index, and followed by a restart of the session where the old torch was loaded.
"""

from __future__ import annotations

import ast
import json
import sys

from tools.project import TORCH_CPU_INDEX

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
    "Python lacks, at the releases this site uses ({requirements}), and replaces a torch older than "
    "{pinned_torch}, whose calls the chapters use (without a GPU, by torch's CPU build): that takes a few "
    "minutes.",
    "zh": "**运行之前**：本 Notebook 中保存的输出由 torch {torch} 在 {device} 上打印，Python 版本为 {python}。"
    "你的运行环境里的 torch 可能是别的版本，打印出的数字也可能略有不同。"
    "如果用的是 GPU 运行时（在 Colab 中：*代码执行程序 → 更改运行时类型*），"
    "那些有 GPU 就使用 GPU 的示例会在 GPU 上运行。"
    "下一个单元格会把本章导入、而你的 Python 环境中没有的包安装成本站所用的版本（{requirements}）；"
    "如果 torch 比 {pinned_torch} 旧，它也会换成这个版本，因为各章用到了新版本才有的调用"
    "（没有 GPU 时换成 torch 的 CPU 版）：这需要几分钟。",
}
# The install cell's comments
INSTALL_COMMENTS = {
    "en": {"intro": "# Install what this chapter imports and this Python lacks (Colab has no torchinfo, say),\n"
                    "# and torch itself where it is older than this site's: older releases lack calls it makes.",
           "cpu": "# no GPU: torch's CPU build (PyPI's Linux wheel is the CUDA build, gigabytes)",
           "caches": "# so that the cells below find what was just installed",
           "restart": "# the old release is loaded, and stays loaded: only a new session loads the new one",
           "kill": "# Colab (and Jupyter) start a new session when the old one stops"},
    "zh": {"intro": "# 安装本章导入、而当前 Python 环境中没有的包（例如 Colab 没有 torchinfo）；\n"
                    "# torch 比本站的旧时也换成本站的版本：旧版本缺少本章用到的一些调用。",
           "cpu": "# 没有 GPU：装 torch 的 CPU 版（PyPI 上的 Linux 版是 CUDA 版，有好几 GB）",
           "caches": "# 让下面的单元格找得到刚刚安装的包",
           "restart": "# 旧版本已经加载，而且会一直留在内存里：只有新的会话才会加载新版本",
           "kill": "# 会话停止后，Colab（以及 Jupyter）会启动一个新的会话"},
}
LIST_SEPARATOR = {"en": ", ", "zh": "、"}
# What the install cell prints before it restarts the session: in both languages, since the cell's
# code (its comments aside) is the same in every language's notebook, which share one run
RESTART = ("The session restarts, to load what was just installed: run the notebook again from the top. "
           "会话将重新启动，以加载刚刚安装的版本：请从头再运行一遍本 Notebook。")
# The same code in every language (the comments aside), so that the languages' notebooks share one run
INSTALL = r"""{comments[intro]}
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys


def release(version):  # "2.13.0+cu126" -> (2, 13, 0)
    numbers = [int(number) for number in re.match(r"\d+(?:\.\d+)*", version)[0].split(".")]
    return tuple(numbers + [0, 0])[:3]


def installed(package):
    try:
        return release(importlib.metadata.version(package))
    except importlib.metadata.PackageNotFoundError:
        return None


pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
changed = []
for package, requirement in {requirements}.items():
    found = installed(package)
    if found is None or (package == "torch" and found < release(requirement.split("==")[1])):
        {comments[cpu]}
        cpu_only = package == "torch" and shutil.which("nvidia-smi") is None
        subprocess.run([*pip, requirement, *(["--index-url", "{cpu_index}"] if cpu_only else [])], check=True)
        changed.append(package)
importlib.invalidate_caches()  {comments[caches]}
{comments[restart]}
if any(package in sys.modules for package in changed):
    print({message})
    os.kill(os.getpid(), 9)  {comments[kill]}"""


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
                               requirements=LIST_SEPARATOR[lang].join(f"`{r}`" for r in requirements.values()),
                               pinned_torch=pinned["torch"])
    comments = INSTALL_COMMENTS[lang]
    return about, INSTALL.format(comments=comments, requirements=json.dumps(requirements), cpu_index=TORCH_CPU_INDEX,
                                 message=json.dumps(RESTART, ensure_ascii=False))
