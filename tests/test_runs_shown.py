"""What the pages say about runs: with a GPU record (made here, since this machine has none),
the CUDA tabs, the line under each chapter's title and the test report show it; without one,
nothing on any page claims a GPU run."""

import json
import shutil

import pytest

from tools.build import build
from tools.pages import chapters, snippet_for
from tools.project import COMMITTED_RECORDS, RECORDS, ROOT, SOURCE, pinned_torch, under
from tools.report import TEXT, device_tabs, records, report_tables, run_line
from tools.results import describe
from tools.snippets import format_outputs, read_outputs

pytestmark = pytest.mark.scratch
CHAPTERS = chapters(SOURCE)


@pytest.fixture
def gpu_recorded(project_copy, site):
    """A project copy with a GPU run recorded: the devices chapter prints other outputs there,
    and one section of the layers chapter failed."""
    cpu_run = json.loads((RECORDS / "cpu.json").read_text(encoding="utf-8"))
    run = {**cpu_run, "device": "cuda", "device_name": "Test GPU made by the tests", "torch": "2.11.0+cu130",
           "cuda": "13.0", "date": "2026-12-01T10:00:00+00:00", "snippets": [dict(r) for r in cpu_run["snippets"]]}
    cuda_outputs = project_copy / "outputs" / "cuda" / "devices.txt"
    cuda_outputs.parent.mkdir()
    printed = read_outputs(project_copy / "outputs" / "cpu" / "devices.txt")
    shown = {name: text.replace("cpu", "cuda:0") for name, text in printed.items()}
    cuda_outputs.write_text(format_outputs(shown), encoding="utf-8")
    for row in run["snippets"]:
        if row["snippet"] == "snippets/devices.py":
            row["output"] = shown.get(row["section"], "")
    next(row for row in run["snippets"] if row["snippet"] == "snippets/layers.py")["status"] = "fail"
    (under(project_copy, COMMITTED_RECORDS) / "cuda.json").write_text(json.dumps(run), encoding="utf-8")
    return project_copy


def test_a_recorded_gpu_run_shows_in_tabs_run_lines_and_the_report(gpu_recorded):
    site = build(gpu_recorded / "site", gpu_recorded, check_outputs=False, say=lambda *_: None, languages=("en",),
                 plugins=[])  # the pages as Markdown makes them: search, notebooks and print edition are not looked at
    devices = (site / "devices" / "index.html").read_text(encoding="utf-8")
    assert devices.count(">CPU</label>") == devices.count(">CUDA</label>") > 0
    assert "cuda:0" in devices and "No GPU run is recorded for this example yet" not in devices
    cpu = records(gpu_recorded)["cpu"]
    assert f"Outputs: CPU · {cpu['device_name']} · torch {cpu['torch']} · " in devices
    assert (f"CUDA · Test GPU made by the tests · torch 2.11.0+cu130 (not the pinned {pinned_torch()}) · 2026-12-01"
            in devices)
    layers = (site / "layers" / "index.html").read_text(encoding="utf-8")
    total = len([r for r in records(gpu_recorded)["cuda"]["snippets"] if r["snippet"] == "snippets/layers.py"])
    assert f"CUDA: 1 of {total} sections did not print what this page shows" in layers
    report = (site / "test-report" / "index.html").read_text(encoding="utf-8")
    assert "Test GPU made by the tests" in report and "13.0" in report and report.count("> failed") == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_without_a_gpu_record_no_page_claims_a_gpu_run(project_copy, site, lang):
    (under(project_copy, COMMITTED_RECORDS) / "cuda.json").unlink(missing_ok=True)
    under(project_copy, RECORDS).mkdir(parents=True, exist_ok=True)
    shutil.copy(RECORDS / "cpu.json", under(project_copy, RECORDS))  # the CPU run of this build
    assert records(project_copy)["cuda"] is None
    not_recorded = {"en": "CUDA: not recorded yet", "zh": "CUDA: 尚无记录"}[lang]
    for chapter in CHAPTERS:
        line = run_line(snippet_for(chapter), project_copy, lang)
        assert not_recorded in line and "CUDA ·" not in line, line
        assert f"CPU · {records(project_copy)['cpu']['device_name']} · torch" in line  # names the CPU
        page = project_copy / "docs" / lang / chapter.name
        tabs = device_tabs(page.read_text(encoding="utf-8"), project_copy, lang)
        assert "outputs/cuda/" not in tabs
    report, t = report_tables(project_copy, lang), TEXT[lang]
    assert report.count(t["not_recorded"]) == 8  # each field of the CUDA column
    run = records(project_copy)["cpu"]
    assert f"| {t['machine']} | {describe(run)} |" in report  # which CPU verified the outputs in this build
    printers = sorted(set(run["outputs_printed_by"].values()))
    assert all(printers) and f"| {t['stored_by']} | {'<br>'.join(printers)} |" in report  # which printed them
    assert f"| {t['within_rule']} | {sum(row['within_rule'] for row in run['snippets'])} |" in report
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in report.splitlines()
            if line.startswith("| `")]
    assert len(rows) == len(records(project_copy)["cpu"]["snippets"])
    assert all(row[2] == t["pass"] and row[4] == t["missing"] for row in rows)  # CPU | time | CUDA | time


def test_the_committed_gpu_outputs_come_with_a_gpu_record():
    """outputs/cuda/ alone would make tabs claim a GPU output that no record stands behind."""
    assert not (ROOT / "outputs" / "cuda").exists() or (COMMITTED_RECORDS / "cuda.json").exists()


def test_a_gpu_run_that_printed_what_the_cpu_did_shows_the_cpus_outputs_in_its_tabs(gpu_recorded):
    """Its outputs are stored only where they differ from the CPU's (tools/results.write_outputs)."""
    (gpu_recorded / "outputs" / "cuda" / "devices.txt").unlink()
    page = (gpu_recorded / "docs" / "en" / "devices.md").read_text(encoding="utf-8")
    tabs = device_tabs(page, gpu_recorded, "en")
    assert tabs.count('=== "CUDA"') == page.count(".by-device") > 0
    include = '--8<-- "outputs/cpu/devices.txt:'
    assert tabs.count(include) == page.count(include) + page.count(".by-device")  # in both tabs
    assert TEXT["en"]["no_gpu_output"] not in tabs
