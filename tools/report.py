"""What the site says about recorded runs: CPU/CUDA output tabs, the line under each chapter's
title naming the runs that printed its outputs, and the test report page.

Two records, in the format of results/README.md: the CPU run that this build made
(build/results/cpu.json), and the reviewed GPU run committed as results/cuda.json with its
outputs in outputs/cuda/. Where a record is missing or a run did not print what a page shows,
the page says so in words; nothing here claims a run that is not recorded.
"""

from __future__ import annotations

from pathlib import Path

from tools.pages import fences
from tools.project import COMMITTED_RECORDS, RECORDS, pinned_torch, under
from tools.results import describe, load
from tools.snippets import expected_output_file, read_outputs

DEVICES = {"cpu": "CPU", "cuda": "CUDA"}
TEXT = {
    "en": {
        "no_gpu_output": "No GPU run is recorded for this example yet: its CUDA output appears here once a "
        "GPU run has been recorded and reviewed.",
        "outputs": "Outputs", "report": "test report", "not_recorded": "not recorded yet",
        "not_built": "not recorded by this build",
        "other": "{bad} of {total} sections did not print what this page shows",
        "not_pinned": "not the pinned {pinned}",
        "runs": "Recorded runs", "snippets": "Snippets",
        "device": "Device", "machine": "Machine", "torch": "PyTorch",
        "stored_by": "Stored outputs printed by",
        "within_rule": "Numbers one unit off in their last digit", "cuda": "CUDA", "commit": "Commit", "date": "Date",
        "snippet": "Snippet", "page": "Page", "time": "time",
        "pass": ":material-check-circle:{ .status-pass } pass",
        "differs": ":material-alert-circle:{ .status-differs } other output",
        "fail": ":material-close-circle:{ .status-fail } failed",
        "not run": ":material-pause-circle:{ .status-not-run } not run",
        "missing": ":material-minus-circle-outline: not recorded",
    },
    "zh": {
        "no_gpu_output": "尚未记录这个示例在 GPU 上的运行：GPU 运行经记录和审阅之后，CUDA 输出会显示在这里。",
        "outputs": "输出来自", "report": "测试报告", "not_recorded": "尚无记录",
        "not_built": "本次构建未记录",
        "other": "{total} 段代码中有 {bad} 段的输出与本页不符",
        "not_pinned": "并非固定版本 {pinned}",
        "runs": "运行记录", "snippets": "代码片段",
        "device": "设备", "machine": "机器", "torch": "PyTorch",
        "stored_by": "已存输出的打印环境",
        "within_rule": "末位相差 1 的数", "cuda": "CUDA", "commit": "提交", "date": "日期",
        "snippet": "代码片段", "page": "页面", "time": "耗时",
        "pass": ":material-check-circle:{ .status-pass } 通过",
        "differs": ":material-alert-circle:{ .status-differs } 输出不同",
        "fail": ":material-close-circle:{ .status-fail } 失败",
        "not run": ":material-pause-circle:{ .status-not-run } 未运行",
        "missing": ":material-minus-circle-outline: 无记录",
    },
}


def records(root: Path) -> dict[str, dict | None]:
    """The CPU run of this build, and the committed GPU run (None where there is none)."""
    return {"cpu": load(under(root, RECORDS) / "cpu.json"), "cuda": load(under(root, COMMITTED_RECORDS) / "cuda.json")}


def device_tabs(markdown: str, root: Path, lang: str) -> str:
    """Show each output block marked `.by-device` as tabs: CPU, and CUDA where recorded."""
    lines, recorded = markdown.splitlines(), {device: run is not None for device, run in records(root).items()}
    for fence in reversed([f for f in fences(markdown) if ".by-device" in f.info.split() and f.includes]):
        path, _, section = fence.includes[0].partition(":")
        snippet = root / "snippets" / f"{Path(path).stem}.py"
        tabs = []
        for device, label in DEVICES.items():
            # a run off the CPU that printed what the CPU did has no file of its own: the CPU's stands for it
            shown = expected_output_file(snippet, device)
            has_it = (device == "cpu" or recorded[device]) and section in read_outputs(shown)
            body = (
                ["```{ .text .output .no-copy }", f'--8<-- "{shown.relative_to(root).as_posix()}:{section}"', "```"]
                if has_it else [TEXT[lang]["no_gpu_output"]]
            )
            tabs += [f'=== "{label}"', ""] + [f"    {line}" for line in body] + [""]
        lines[fence.line - 1 : fence.end_line] = [fence.indent + line if line else line for line in tabs]
    return "\n".join(lines) + "\n"


def run_line(snippet: Path, root: Path, lang: str) -> str:
    """Under a chapter's title: each recorded run that printed the chapter's outputs, e.g.
    "Outputs: CPU · torch 2.13.0+cpu · 2026-11-30 | CUDA: not recorded yet · test report"."""
    t, parts = TEXT[lang], []
    for device, run in records(root).items():
        label = DEVICES[device]
        if run is None:
            parts.append(f"{label}: {t['not_built'] if device == 'cpu' else t['not_recorded']}")
            continue
        rows = [row for row in run["snippets"] if row["snippet"] == f"snippets/{snippet.name}"]
        bad = sum(row["status"] != "pass" for row in rows)
        if not rows or bad:
            parts.append(f"{label}: {t['other'].format(bad=bad, total=len(rows))}")
            continue
        release = run["torch"]
        if release.split("+")[0] != pinned_torch(root):
            release += f" ({t['not_pinned'].format(pinned=pinned_torch(root))})"
        parts.append(f"{label} · {run['device_name']} · torch {release} · {run['date'][:10]}")
    return f"{t['outputs']}: " + " | ".join(parts) + f" · [{t['report']}](test-report.md)"


def report_tables(root: Path, lang: str) -> str:
    """The tables of the test report page, from the CPU run of this build and the GPU record."""
    t = TEXT[lang]
    runs = records(root)
    out = [f"## {t['runs']} {{ #recorded-runs }}", "", "| | " + " | ".join(DEVICES.values()) + " |", "|---|---|---|"]
    missing = {"cpu": t["not_built"], "cuda": t["not_recorded"]}
    fields = [("device", lambda r: r["device_name"]), ("machine", describe), ("torch", lambda r: r["torch"]),
              ("cuda", lambda r: r["cuda"] or "—"), ("commit", lambda r: f"`{(r['commit'] or '?')[:12]}`"),
              ("date", lambda r: r["date"][:10]),
              ("stored_by", lambda r: "<br>".join(sorted({v or "—" for v in r["outputs_printed_by"].values()}))),
              ("within_rule", lambda r: str(sum(row["within_rule"] for row in r["snippets"])))]
    for key, value in fields:
        out.append(f"| {t[key]} | " + " | ".join(value(r) if r else missing[d] for d, r in runs.items()) + " |")
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
