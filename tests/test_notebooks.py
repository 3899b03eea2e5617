"""Each chapter's notebook runs once for all languages, and again whenever what its outputs depend
on changes: its code (not its comments), the torch release, the device, the pinned packages,
Python's release, and the way a run is stored."""

import platform
import shutil

import nbformat
import torch

import tools.notebooks
import tools.snippets
from tools.notebooks import code_key, page_to_notebook
from tools.pages import expand
from tools.project import ROOT


def notebook(lang, page="layers.md"):
    path = ROOT / "docs" / lang / page
    return page_to_notebook(expand(path.read_text(encoding="utf-8"), ROOT, lang), lang, path, "../")


def test_the_languages_notebooks_share_one_run():
    english, chinese = notebook("en"), notebook("zh")
    assert [c.source for c in english.cells if c.cell_type == "code"] != \
        [c.source for c in chinese.cells if c.cell_type == "code"]  # their comments differ
    assert code_key(english) == code_key(chinese)


def test_a_change_of_code_of_torch_or_of_device_runs_it_again(monkeypatch):
    english = notebook("en")
    key = code_key(english)
    changed = nbformat.from_dict(english)
    changed.cells[[c.cell_type for c in changed.cells].index("code")].source += "\nprint(1)"
    assert code_key(changed) != key
    monkeypatch.setattr(torch, "__version__", "2.99.0")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(tools.snippets, "current_device", lambda: "cuda")
    assert code_key(english) != key


def test_a_change_of_packages_of_python_or_of_storage_runs_it_again(monkeypatch, tmp_path):
    english = notebook("en")
    key = code_key(english)
    shutil.copy(ROOT / "requirements.txt", tmp_path)
    monkeypatch.setattr(tools.notebooks, "ROOT", tmp_path)
    assert code_key(english) == key
    with (tmp_path / "requirements.txt").open("a", encoding="utf-8") as requirements:
        requirements.write("torchinfo==9.9.9\n")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(platform, "python_version", lambda: "3.99.0")
    assert code_key(english) != key
    monkeypatch.undo()
    monkeypatch.setattr(tools.notebooks, "RUN_FORMAT", tools.notebooks.RUN_FORMAT + 1)
    assert code_key(english) != key
