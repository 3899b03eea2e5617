"""Where things are: the one definition of the project's languages, folders and build paths.

Every other module, the tests and the benchmark import these names instead of spelling the
paths out again.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SOURCE = "en"  # pages are written in English first; the other languages translate them
LANGUAGES = ("en", "zh")
TRANSLATIONS = tuple(lang for lang in LANGUAGES if lang != SOURCE)
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}

SITE = ROOT / "site"  # `make build`: the source language at the root, the others in site/<lang>/
CACHE = ROOT / ".cache"  # notebooks' runs and renders, translated snippets: made again when missing
RENDERS = CACHE / "mkdocs-jupyter"  # mkdocs-jupyter's pages rendered from notebooks, per language
SNIPPET_RUNS = CACHE / "snippet-runs"  # what unchanged snippets printed, read back by `make check`
BUILD = ROOT / "build"  # this run's records (build/results/) and screenshots: not committed
RECORDS = BUILD / "results"  # the record of the snippets' run made by this build, per device
PREVIEW = BUILD / "preview"  # `make serve`: the site it serves (site/), and its next build while one runs
SEARCH_INDEX = "search/search_index.json"  # in each language's folder of a site, where Material's search writes it
COMMITTED_RECORDS = ROOT / "results"  # reviewed records of GPU runs (results/cuda.json)
# What the site is built from: every file below these is an input of a build (tools/build.py)
INPUTS = ("docs", "snippets", "outputs", "results", "overrides", "tools", "mkdocs.yml", "mkdocs.zh.yml",
          "requirements.txt")


def under(root: Path, path: Path) -> Path:
    """`path` (one of the paths above) in the project at `root`, a scratch copy say."""
    return root / path.relative_to(ROOT)


def config_file(lang: str, root: Path = ROOT) -> Path:
    """The MkDocs configuration of a language: mkdocs.yml, and mkdocs.<lang>.yml for the others."""
    return root / ("mkdocs.yml" if lang == SOURCE else f"mkdocs.{lang}.yml")


def site_dir(lang: str, site: Path = SITE) -> Path:
    """Where a language's pages are built inside a site."""
    return site if lang == SOURCE else site / lang


def docs_dir(lang: str, root: Path = ROOT) -> Path:
    """A language's pages: docs/<lang>/."""
    return root / "docs" / lang


def pins(root: Path = ROOT) -> dict[str, str]:
    """The packages requirements.txt pins, with their releases: {"torch": "2.13.0", ...}."""
    text = (root / "requirements.txt").read_text(encoding="utf-8")
    return {name.lower(): release for name, release in re.findall(r"(?m)^([\w.-]+)==(\S+)", text)}


# torch's CPU build for Linux (PyPI's Linux wheel is the CUDA build): the Makefile's default
# TORCH_INDEX, and where a notebook without a GPU gets torch (tools/notebook_setup.py)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pinned_torch(root: Path = ROOT) -> str:
    """The torch release requirements.txt pins (the one the CPU outputs are printed by)."""
    pinned = pins(root)
    if "torch" not in pinned:
        raise ValueError("requirements.txt pins no torch release (torch==X.Y.Z)")
    return pinned["torch"]


# Where `make serve` and the browser tests serve the site: under a path, as GitHub Pages serves a
# repository's site (https://OWNER.github.io/REPOSITORY/), so that every local build is tested
# under a subpath like the published one.
LOCAL_URL = "http://127.0.0.1:8000/pytorch-models/"


def site_url(lang: str) -> str:
    """The address of a language's pages: $SITE_URL (CI's deploy gives it the GitHub Pages
    address), else the local preview's. The other languages are below it, in <lang>/."""
    base = os.environ.get("SITE_URL") or LOCAL_URL
    base += "" if base.endswith("/") else "/"
    return base if lang == SOURCE else f"{base}{lang}/"


def repo_url() -> str | None:
    """The repository that built the site ($REPO_URL, which CI sets); none for a local build."""
    return os.environ.get("REPO_URL") or None


# Colab opens notebooks from a GitHub repository: the deploy on main publishes each language's
# executed notebooks (site/.../downloads/) to this branch of the repository that built the site.
NOTEBOOKS_BRANCH = "notebooks"
BRANCH_FILES = BUILD / "notebooks-branch"  # what tools/publish_notebooks.py lays out for that branch


def published_notebook(lang: str, name: str) -> str:
    """Where a chapter's notebook in a language lies on NOTEBOOKS_BRANCH: <lang>/<name>.ipynb."""
    return f"{lang}/{name}.ipynb"


def colab_url(lang: str, name: str) -> str | None:
    """The address that opens a chapter's published notebook in Colab; none without a
    repository on github.com (a local build, a GitHub Enterprise server), which Colab cannot open."""
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?/?", repo_url() or "")
    if not match:
        return None
    return (f"https://colab.research.google.com/github/{match[1]}/blob/{NOTEBOOKS_BRANCH}/"
            f"{published_notebook(lang, name)}")
