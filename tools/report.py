"""Recorded runs shown on the site: CPU/CUDA output tabs, and the test report page.

CUDA outputs come only from a recorded GPU run (`outputs/cuda/`, `results/cuda.json`);
where there is none yet, the page says so in words.
"""

from __future__ import annotations

from pathlib import Path

from tools.pages import fences
from tools.results import load
from tools.snippets import parse_outputs

DEVICES = {"cpu": "CPU", "cuda": "CUDA"}
TEXT = {
    "en": {
        "no_gpu_output": "No GPU run has been recorded for this example yet; its CUDA output will appear "
        "here after the GPU workflow has run it.",
        "no_run": "not recorded yet",
        "runs": "Recorded runs", "snippets": "Snippets",
        "device": "Device", "torch": "PyTorch", "cuda": "CUDA", "commit": "Commit", "date": "Date",
        "snippet": "Snippet", "page": "Page", "time": "time",
        "pass": "✅ pass", "fail": "❌ fail", "not run": "⏸ not run", "missing": "— not recorded",
    },
    "zh": {
        "no_gpu_output": "尚未记录这个示例在 GPU 上的运行结果；GPU 工作流运行过它之后，CUDA 输出会显示在这里。",
        "no_run": "尚无记录",
        "runs": "运行记录", "snippets": "代码片段",
        "device": "设备", "torch": "PyTorch", "cuda": "CUDA", "commit": "提交", "date": "日期",
        "snippet": "代码片段", "page": "页面", "time": "耗时",
        "pass": "✅ 通过", "fail": "❌ 失败", "not run": "⏸ 未运行", "missing": "— 无记录",
    },
}


def device_tabs(markdown: str, root: Path, lang: str) -> str:
    """Show each output block marked `.by-device` as tabs: CPU, and CUDA where recorded."""
    lines = markdown.splitlines()
    for fence in reversed([f for f in fences(markdown) if ".by-device" in f.info.split() and f.includes]):
        path, _, section = fence.includes[0].partition(":")
        stem = Path(path).stem
        tabs = []
        for device, label in DEVICES.items():
            recorded = root / "outputs" / device / f"{stem}.txt"
            has_it = recorded.exists() and section in parse_outputs(recorded.read_text(encoding="utf-8"))
            body = (
                ["```{ .text .output .no-copy }", f'--8<-- "outputs/{device}/{stem}.txt:{section}"', "```"]
                if has_it else [TEXT[lang]["no_gpu_output"]]
            )
            tabs += [f'=== "{label}"', ""] + [f"    {line}" for line in body] + [""]
        lines[fence.line - 1 : fence.end_line] = [fence.indent + line if line else line for line in tabs]
    return "\n".join(lines) + "\n"


def test_report(root: Path, lang: str) -> str:
    """The tables of the test report page, from results/cpu.json and results/cuda.json."""
    t = TEXT[lang]
    runs = {device: load(root / "results" / f"{device}.json") for device in DEVICES}
    out = [f"## {t['runs']} {{ #recorded-runs }}", "", "| | " + " | ".join(DEVICES.values()) + " |", "|---|---|---|"]
    fields = [("device", lambda r: r["device_name"]), ("torch", lambda r: r["torch"]),
              ("cuda", lambda r: r["cuda"] or "—"), ("commit", lambda r: f"`{(r['commit'] or '?')[:12]}`"),
              ("date", lambda r: r["date"][:10])]
    for key, value in fields:
        out.append(f"| {t[key]} | " + " | ".join(value(r) if r else t["no_run"] for r in runs.values()) + " |")
    out += ["", f"## {t['snippets']} {{ #snippets }}", ""]
    out.append(f"| {t['snippet']} | {t['page']} | " + " | ".join(f"{d} | {t['time']}" for d in DEVICES.values()) + " |")
    out.append("|---|---|" + "---|---|" * len(DEVICES))
    rows = {
        device: {(r["snippet"], r["section"]): r for r in run["snippets"]} if run else {}
        for device, run in runs.items()
    }
    keys = list(dict.fromkeys(key for device_rows in rows.values() for key in device_rows))
    for snippet, section in keys:
        page = Path(snippet).stem + ".md"
        cells = []
        for device in DEVICES:
            row = rows[device].get((snippet, section))
            cells += [t[row["status"]], f"{row['seconds']:.3f} s"] if row else [t["missing"], ""]
        out.append(f"| `{Path(snippet).name}:{section}` | [{Path(page).stem}]({page}) | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
