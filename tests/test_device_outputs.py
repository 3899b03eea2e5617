"""The CUDA side of the site, tested without a GPU: a GPU record made here is rendered as
CPU/CUDA tabs and in the test report; where no GPU run exists, the page says so in words."""

import json
import shutil

import pytest
from conftest import ROOT, mkdocs_build

from tools.report import device_tabs

PAGE = """# Demo

```{ .text .output .no-copy .by-device }
--8<-- "outputs/cpu/demo.txt:where"
```

```{ .text .output .no-copy .by-device }
--8<-- "outputs/cpu/demo.txt:speed"
```
"""


@pytest.fixture
def gpu_recorded(project_copy, site):
    """A project copy with a demo page and a GPU run recorded for one of its two outputs."""
    for device, where in (("cpu", "cpu"), ("cuda", "cuda:0")):
        (project_copy / "outputs" / device).mkdir(exist_ok=True)
        sections = f"# --8<-- [start:where]\ntensor on {where}\n# --8<-- [end:where]\n"
        if device == "cpu":
            sections += "\n# --8<-- [start:speed]\nNo CUDA device here: not run.\n# --8<-- [end:speed]\n"
        (project_copy / "outputs" / device / "demo.txt").write_text(sections, encoding="utf-8")
    cpu_run = json.loads((ROOT / "results" / "cpu.json").read_text(encoding="utf-8"))
    gpu_run = {**cpu_run, "device": "cuda", "device_name": "Test GPU made by the tests", "cuda": "12.8"}
    gpu_run["snippets"] = [{**row, "seconds": 0.5} for row in cpu_run["snippets"]]
    gpu_run["snippets"][0]["status"] = "fail"
    (project_copy / "results" / "cuda.json").write_text(json.dumps(gpu_run), encoding="utf-8")
    for lang in ("en", "zh"):
        (project_copy / "docs" / lang / "demo.md").write_text(PAGE, encoding="utf-8")
    shutil.copytree(ROOT / ".cache" / "mkdocs-jupyter", project_copy / ".cache" / "mkdocs-jupyter")  # no re-execution
    return project_copy


def test_tabs_show_the_recorded_cuda_output_and_say_where_there_is_none(gpu_recorded):
    markdown = device_tabs(PAGE, gpu_recorded, "zh")
    assert markdown.count('=== "CPU"') == 2 and markdown.count('=== "CUDA"') == 2
    assert '    --8<-- "outputs/cuda/demo.txt:where"' in markdown
    assert "outputs/cuda/demo.txt:speed" not in markdown
    assert "尚未记录这个示例在 GPU 上的运行结果" in markdown

    site = gpu_recorded / "site"
    result = mkdocs_build(gpu_recorded, "mkdocs.yml", site)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (site / "demo" / "index.html").read_text(encoding="utf-8")
    assert page.count(">CPU</label>") == 2 and page.count(">CUDA</label>") == 2
    assert "tensor on cuda:0" in page and "tensor on cpu" in page
    assert "No GPU run has been recorded for this example yet" in page

    report = (site / "test-report" / "index.html").read_text(encoding="utf-8")
    assert "Test GPU made by the tests" in report and "12.8" in report
    assert report.count("❌ fail") == 1 and "0.500 s" in report


def test_report_says_when_no_gpu_run_is_recorded(site):
    if (ROOT / "results" / "cuda.json").exists():
        pytest.skip("a GPU run is recorded in results/cuda.json")
    report = (site / "zh" / "test-report" / "index.html").read_text(encoding="utf-8")
    assert "尚无记录" in report and "— 无记录" in report
