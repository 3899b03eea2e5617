"""Read snippet files, run them section by section, and keep their printed outputs.

A snippet file (`snippets/<page>.py`) is a complete program cut into named sections
with pymdownx.snippets markers (`# --8<-- [start:name]` ... `# --8<-- [end:name]`).
Pages include the sections; this module runs them in order in one namespace, as a
reader running the page top to bottom would, and records what each section prints
in `outputs/<device>/<page>.txt`, in sections of the same names.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s+\[\s*(start|end)\s*:\s*([a-z][-_0-9a-z]*)\s*\]\s*$")


class SnippetError(Exception):
    """A snippet file that is malformed, does not compile, or raises (in `section`, if known)."""

    def __init__(self, message: str, section: str | None = None):
        super().__init__(message)
        self.section = section


@dataclass
class Section:
    name: str
    first_line: int  # 1-based line number of the first code line
    code: str


def parse_sections(path: Path) -> list[Section]:
    """Split a snippet file into its sections; code outside a section is an error."""
    sections: list[Section] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{_rel(path)}:{number}"
        match = MARKER.match(line)
        if match and match[1] == "start":
            if current:
                raise SnippetError(f"{where}: section '{match[2]}' starts inside '{current[0]}'")
            if any(s.name == match[2] for s in sections):
                raise SnippetError(f"{where}: section '{match[2]}' is defined twice")
            current = (match[2], number + 1, [])
        elif match:
            if not current or current[0] != match[2]:
                raise SnippetError(f"{where}: end of section '{match[2]}', which is not open")
            sections.append(Section(current[0], current[1], "\n".join(current[2]) + "\n"))
            current = None
        elif current:
            current[2].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            # Code outside every section would run in tests but never be shown to a reader.
            raise SnippetError(f"{where}: code outside any section: {line.strip()!r}")
    if current:
        raise SnippetError(f"{_rel(path)}: section '{current[0]}' is never ended")
    if not sections:
        raise SnippetError(f"{_rel(path)}: no sections")
    return sections


def run_file(path: Path) -> dict[str, str]:
    """Run every section of a snippet file in order; return what each one printed."""
    return run(path)[0]


def run(path: Path) -> tuple[dict[str, str], dict]:
    """Run a snippet file; return what each section printed and the namespace it left.

    Tests of the facts a page claims read the namespace: `run(SNIPPET)[1]["net"]`. A file is
    run once per test session for the same content (the cache key includes the text).
    """
    outputs, namespace, _ = timed_run(path)
    return outputs, namespace


def timed_run(path: Path) -> tuple[dict[str, str], dict, dict[str, float]]:
    """`run`, plus the wall time of each section in seconds."""
    return _run_cached(path, path.read_text(encoding="utf-8"))


@functools.cache
def _run_cached(path: Path, text: str) -> tuple[dict[str, str], dict, dict[str, float]]:
    sections = parse_sections(path)
    compiled = []
    for section in sections:  # compile everything first: a syntax error stops before any run
        padded = "\n" * (section.first_line - 1) + section.code  # keep the file's line numbers
        try:
            compiled.append(compile(padded, str(path), "exec", dont_inherit=True))
        except SyntaxError as error:
            raise SnippetError(
                f"{_rel(path)}:{error.lineno}: syntax error in section '{section.name}': {error.msg}\n"
                f"    {(error.text or '').strip()}",
                section.name,
            ) from None
    namespace = {"__name__": "__main__", "__file__": str(path)}
    outputs, seconds = {}, {}
    with _fresh_figures():
        for section, code in zip(sections, compiled):
            buffer = io.StringIO()
            start = time.perf_counter()
            try:
                with contextlib.redirect_stdout(buffer):
                    exec(code, namespace)
            except Exception as error:
                message = _describe_failure(path, section, error, buffer.getvalue())
                raise SnippetError(message, section.name) from None
            seconds[section.name] = time.perf_counter() - start
            outputs[section.name] = buffer.getvalue()
    return outputs, namespace, seconds


def _describe_failure(path: Path, section: Section, error: Exception, printed: str) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
    line = frames[-1].lineno if frames else section.first_line
    trace = "".join(traceback.format_exception(error)).rstrip()
    tail = f"\nIt printed before failing:\n{printed.rstrip()}" if printed.strip() else ""
    return (
        f"{_rel(path)}:{line}: section '{section.name}' raised "
        f"{type(error).__name__}: {error}\n{trace}{tail}"
    )


@contextlib.contextmanager
def _fresh_figures():
    """Close figures a snippet left open, so one file's plots never leak into the next."""
    try:
        yield
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")


def format_outputs(outputs: dict[str, str]) -> str:
    """The stored form: each non-empty output in a section that pages can include."""
    parts = []
    for name, text in outputs.items():
        if text.strip():
            parts.append(f"# --8<-- [start:{name}]\n{text.rstrip()}\n# --8<-- [end:{name}]\n")
    return "\n".join(parts)


def parse_outputs(text: str) -> dict[str, str]:
    """Inverse of format_outputs."""
    outputs, name, lines = {}, None, []
    for line in text.splitlines():
        match = MARKER.match(line)
        if match and match[1] == "start":
            name, lines = match[2], []
        elif match:
            outputs[name] = "\n".join(lines) + "\n"
            name = None
        elif name is not None:
            lines.append(line)
    return outputs


def snippet_files(root: Path = ROOT) -> list[Path]:
    return sorted((root / "snippets").glob("*.py"))


def output_file(snippet: Path, device: str = "cpu") -> Path:
    return snippet.parent.parent / "outputs" / device / f"{snippet.stem}.txt"


def expected_output_file(snippet: Path, device: str) -> Path:
    """What a run on `device` must print: its own recorded outputs, else the CPU's (most
    chapters print the same everywhere; the device chapter has outputs per device)."""
    own = output_file(snippet, device)
    return own if own.exists() else output_file(snippet, "cpu")


def current_device() -> str:
    """The kind of device this machine would run the device chapter on."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _rel(path: Path) -> str:
    """`snippets/x.py`: the name a contributor knows, wherever the project is checked out."""
    for parent in path.parents:
        if (parent / "snippets").is_dir():
            return str(path.relative_to(parent))
    return str(path)


def output_differences(snippet: Path, device: str | None = None) -> list[str]:
    """Run a snippet file and compare what it printed with the outputs stored for this device."""
    fresh = format_outputs(run_file(snippet))
    stored_path = expected_output_file(snippet, device or current_device())
    stored = stored_path.read_text(encoding="utf-8") if stored_path.exists() else ""
    if fresh == stored:
        return []
    new, old = parse_outputs(fresh), parse_outputs(stored)
    problems = []
    for name in sorted(set(new) | set(old), key=lambda n: (n not in new, n)):
        if new.get(name) != old.get(name):
            diff = difflib.unified_diff(
                (old.get(name) or "").splitlines(), (new.get(name) or "").splitlines(),
                f"stored: {_rel(stored_path)} [{name}]", f"printed now: {_rel(snippet)} [{name}]",
                lineterm="",
            )
            problems.append("\n".join(diff))
    return problems or [f"{_rel(stored_path)} is not in its stored form; regenerate it"]


def main(argv: list[str]) -> int:
    """`python -m tools.snippets check|update [snippets/x.py ...]`"""
    if not argv or argv[0] not in ("check", "update"):
        print(main.__doc__, file=sys.stderr)
        return 2
    paths = [Path(p).resolve() for p in argv[1:]] or snippet_files()
    failed = False
    for snippet in paths:
        try:
            if argv[0] == "update":
                target = output_file(snippet, current_device())
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(format_outputs(run_file(snippet)), encoding="utf-8")
                print(f"wrote {_rel(target)}")
            else:
                for problem in output_differences(snippet):
                    failed = True
                    print(problem)
        except SnippetError as error:
            failed = True
            print(error, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
