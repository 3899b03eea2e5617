"""A scratch copy of the project: for the tests that break it on purpose, and `make bench`'s live
preview, which edits a page of it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.notebooks import executed_dir
from tools.project import INPUTS, RENDERS, ROOT, under

PROJECT_PARTS = [*INPUTS, "tests", "pytest.ini", "ruff.toml"]  # what a build reads, and the tests


def copy_project(copy: Path) -> Path:
    """Copy the project to `copy`, with the notebooks' outputs and renders, so that building the
    copy runs and renders no notebook whose code did not change."""
    copy.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / part)
    for cache in (executed_dir(), RENDERS):  # notebooks run and rendered already
        if cache.exists():
            shutil.copytree(cache, under(copy, cache))
    return copy
