"""Each chapter's notebook runs once for all languages, and again whenever what its outputs depend
on changes: its code (not its comments), the torch release, the device, the pinned packages,
Python's release, and the way a run is stored."""

import platform
import shutil

import nbformat
import pytest
import torch

import tools.notebooks
import tools.snippets
from tools.notebooks import NotebookError, code_key, execute, page_to_notebook, run_ahead, wait_ahead
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


@pytest.mark.kernel
def test_a_run_started_ahead_is_not_run_again_and_a_failure_names_its_page(tmp_path):
    """The build starts the notebooks' runs before it runs the snippets; the hooks' execute() then
    waits for them, and a notebook that failed stops the build naming its page."""
    printing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('ran ahead')")])
    failing = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    assert run_ahead({"docs/en/printing.md": printing}, tmp_path) == ["docs/en/printing.md"]
    assert run_ahead({"docs/en/failing.md": failing}, tmp_path) == ["docs/en/failing.md"]
    with pytest.raises(NotebookError, match=r"^docs/en/failing\.md: its notebook failed in the kernel:"):
        wait_ahead()
    assert execute({"docs/en/printing.md (downloads)": printing}, tmp_path) == []  # its run was kept
    assert printing.cells[0].outputs[0]["text"] == "ran ahead\n"
    assert run_ahead({"docs/en/failing.md": failing}, tmp_path) == ["docs/en/failing.md"]  # a failure is not
    with pytest.raises(NotebookError):
        wait_ahead()
