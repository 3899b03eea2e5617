"""Record a run of every snippet on this machine's device, and write stored outputs from it.

`python -m tools.results record [DIR] [--outputs DIR2]` runs every snippet file and writes
`DIR/<device>.json` (cpu, cuda or mps; DIR defaults to build/results/), in the format of
results/README.md, and with --outputs the outputs as `outputs` below writes them. Each
section is `pass` when it printed the output the site shows for this device (by the outputs
rule of tools/compare.py: numbers within one unit in their last digit), `differs` when it
printed something else, `fail` when it raised, `not run` after a failure.
The build records the CPU run that the site's test report and run lines show.

`python -m tools.results outputs [PAGE ...] [--to DIR]` is the one writer of stored outputs:
it runs the snippets and writes what they printed to `outputs/<device>/<page>.txt` (or under
DIR). On a GPU machine, only the files whose outputs differ from the CPU's are written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

from tools.compare import compare
from tools.project import RECORDS, ROOT
from tools.snippets import (
    PRINTED_BY,
    SnippetError,
    current_device,
    expected_output_file,
    format_outputs,
    output_file,
    parse_sections,
    printed_by,
    read_outputs,
    snippet_files,
    timed_run,
)

FORMAT = 3
STATUSES = ("pass", "differs", "fail", "not run")


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


def machine(device: str) -> dict:
    """What printed a run: the device's name, the architecture, the vector code torch chose on
    a CPU (ATen's CPU capability) and torch's thread count."""
    import torch

    return {"name": device_name(device), "arch": platform.machine(),
            "capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()}


def describe(run: dict) -> str:
    """One line for a run's machine and software:
    'AMD EPYC (x86_64, AVX512, 2 threads), torch 2.13.0+cpu, Python 3.11.7'."""
    m = run["machine"]
    threads = f"{m['threads']} thread{'s' if m['threads'] != 1 else ''}"
    return f"{m['name']} ({m['arch']}, {m['capability']}, {threads}), torch {run['torch']}, Python {run['python']}"


def stored_python(root: Path = ROOT) -> set[str]:
    """The Python releases (3.11) that printed the stored CPU outputs (their first lines name them)."""
    found = (re.search(r"Python (\d+\.\d+)", printed_by(output_file(s)) or "") for s in snippet_files(root))
    return {match[1] for match in found if match}


def this_python() -> str:
    return ".".join(platform.python_version_tuple()[:2])


def commit(root: Path) -> str | None:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha.stdout.strip() + ("-dirty" if dirty.strip() else "")


def record(root: Path = ROOT, snippets: list[Path] | None = None) -> dict:
    """Run the snippets (all by default); return the record of the run."""
    import torch

    device = current_device()
    rows, stored_by = [], {}
    for snippet in snippets or snippet_files(root):
        sections, printed, seconds, failed, error = [None], {}, {}, None, None
        try:
            sections = [section.name for section in parse_sections(snippet)]
            printed, _, seconds = timed_run(snippet)
        except SnippetError as failure:  # in a section, or (section None) the file itself
            failed, error = failure.section, str(failure)
        try:
            shown = read_outputs(expected_output_file(snippet, device))
        except SnippetError as broken:
            shown, error = {}, error or str(broken)
        for section in sections:
            within_rule = 0
            if section in printed:
                comparison = compare(shown.get(section, ""), printed[section])
                status, within_rule = ("pass" if comparison.same else "differs"), len(comparison.moved)
            else:
                status = "fail" if section == failed else "not run"
            rows.append({
                "snippet": f"snippets/{snippet.name}", "section": section, "status": status,
                "seconds": round(seconds.get(section, 0.0), 4), "output": printed.get(section, ""),
                "within_rule": within_rule, "error": error if status == "fail" else None,
            })
        stored_by[f"snippets/{snippet.name}"] = printed_by(expected_output_file(snippet, device))
    return {
        "format": FORMAT,
        "device": device,
        "device_name": device_name(device),
        "machine": machine(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "commit": commit(root),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "snippets": rows,
        "outputs_printed_by": stored_by,
    }


def write(run: dict, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{run['device']}.json"
    target.write_text(json.dumps(run, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target


def write_outputs(run: dict, outputs_dir: Path, root: Path = ROOT) -> list[Path]:
    """Store what each snippet printed in the run, as `<outputs_dir>/<device>/<page>.txt`.
    Off the CPU, a file is written only where the outputs differ from the CPU's."""
    by_file: dict[str, dict[str, str]] = {}
    # the section that failed, with its error (the sections around it are only "not run")
    for row in sorted(run["snippets"], key=lambda row: row["status"] != "fail"):
        if row["status"] in ("fail", "not run"):
            raise SnippetError(row["error"] or f"{row['snippet']}: section '{row['section']}' did not run")
    for row in run["snippets"]:
        by_file.setdefault(row["snippet"], {})[row["section"]] = row["output"]
    written = []
    for name, printed in by_file.items():
        snippet = root / name
        target = outputs_dir / run["device"] / output_file(snippet).name
        cpu = read_outputs(output_file(snippet, "cpu"))
        if run["device"] != "cpu" and all(compare(cpu.get(s, ""), text).same for s, text in printed.items()):
            target.unlink(missing_ok=True)  # the CPU's file stands for it (expected_output_file)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"{PRINTED_BY}{describe(run)}\n\n{format_outputs(printed)}", encoding="utf-8")
        written.append(target)
    return written


def load(path: Path) -> dict | None:
    """A results file, or None where no run was recorded."""
    if not path.exists():
        return None
    run = json.loads(path.read_text(encoding="utf-8"))
    if run.get("format") != FORMAT:
        raise ValueError(f"{path}: results format {run.get('format')!r}, expected {FORMAT}")
    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.results", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record", help="record a run in DIR/<device>.json")
    recording.add_argument("dir", nargs="?", type=Path, default=RECORDS)
    recording.add_argument("--outputs", type=Path, help="also write the run's outputs under this folder")
    recording.add_argument("--device", help="fail unless the run is on this device (make gpu: cuda)")
    outputs = commands.add_parser("outputs", help="write outputs/<device>/<page>.txt from a run")
    outputs.add_argument("pages", nargs="*", help="page names (default: every page with a snippet file)")
    outputs.add_argument("--to", type=Path, default=ROOT / "outputs", help="instead of outputs/")
    commands.add_parser("python", help="fail unless this Python is the one that printed the stored outputs")
    arguments = parser.parse_args(argv)
    if arguments.command == "python":
        stored = stored_python()
        if stored and this_python() not in stored:
            print(f"make test needs Python {' or '.join(sorted(stored))}, which printed the stored outputs "
                  f"(outputs/cpu/); this is Python {platform.python_version()}. Run:\n"
                  f"    rm -rf .venv && make test PYTHON=python{min(stored)}\n"
                  "(make serve builds and serves on any Python that torch supports.)", file=sys.stderr)
            return 1
        return 0
    try:
        if arguments.command == "record":
            if arguments.device and current_device() != arguments.device:
                import torch

                print(f"this run needs a {arguments.device} device, and torch {torch.__version__} finds none: "
                      "nothing recorded (a CPU build of torch?)", file=sys.stderr)
                return 1
            run = record()
            written = [write(run, arguments.dir)] + (write_outputs(run, arguments.outputs) if arguments.outputs else [])
            for path in written:
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        else:
            snippets = [ROOT / "snippets" / f"{page}.py" for page in arguments.pages] or None
            for snippet in snippets or []:
                if not snippet.exists():
                    raise SnippetError(f"there is no snippets/{snippet.name}: {snippet.stem} is not a page with code")
            for path in write_outputs(record(ROOT, snippets), arguments.to):
                print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    except SnippetError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
