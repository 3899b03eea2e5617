"""Record a run of every snippet on this machine's device, in the documented results format.

`python -m tools.results DIR [--outputs]` runs every snippet file and writes `DIR/<device>.json`
(cpu, cuda or mps), and with --outputs also `DIR/outputs/<device>/<page>.txt`. `make test` records into build/
(CI keeps it as an artifact); `make outputs` records into results/, which the site's test
report is built from. The GPU workflow's artifact holds `cuda.json` and `outputs/cuda/`,
ready to be committed as `results/cuda.json` and `outputs/cuda/`. The format is described
in results/README.md.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

from tools.snippets import ROOT, SnippetError, current_device, format_outputs, parse_sections, snippet_files, timed_run

FORMAT = 1


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    if device == "mps":
        return f"Apple MPS ({platform.machine()})"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def commit(root: Path) -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha.stdout.strip() + ("-dirty" if dirty.strip() else "")


def record(root: Path = ROOT) -> tuple[dict, dict[str, str]]:
    """Run every snippet; return the results record and each file's formatted outputs."""
    import torch

    device = current_device()
    rows, outputs = [], {}
    for snippet in snippet_files(root):
        sections, printed, seconds, failed, error = [None], {}, {}, None, None
        try:
            sections = [section.name for section in parse_sections(snippet)]
            printed, _, seconds = timed_run(snippet)
        except SnippetError as failure:  # in a section, or (section None) the file itself
            failed, error = failure.section, str(failure)
        outputs[snippet.stem] = format_outputs(printed)
        for section in sections:
            status = "pass" if section in printed else "fail" if section == failed else "not run"
            rows.append({
                "snippet": f"snippets/{snippet.name}", "section": section, "status": status,
                "seconds": round(seconds.get(section, 0.0), 4), "output": printed.get(section, ""),
                "error": error if status == "fail" else None,
            })
    run = {
        "format": FORMAT,
        "device": device,
        "device_name": device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "commit": commit(root),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "snippets": rows,
    }
    return run, outputs


def write(directory: Path, root: Path = ROOT, with_outputs: bool = False) -> Path:
    run, outputs = record(root)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{run['device']}.json"
    target.write_text(json.dumps(run, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for stem, text in outputs.items() if with_outputs else ():
        path = directory / "outputs" / run["device"] / f"{stem}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def load(path: Path) -> dict | None:
    """A results file, or None where no run was recorded."""
    if not path.exists():
        return None
    run = json.loads(path.read_text(encoding="utf-8"))
    if run.get("format") != FORMAT:
        raise ValueError(f"{path}: results format {run.get('format')!r}, expected {FORMAT}")
    return run


if __name__ == "__main__":
    arguments = [a for a in sys.argv[1:] if a != "--outputs"]
    directory = Path(arguments[0]) if arguments else ROOT / "build" / "results"
    written = write(directory, with_outputs="--outputs" in sys.argv)
    print(f"recorded {written.relative_to(ROOT) if written.is_relative_to(ROOT) else written}")
