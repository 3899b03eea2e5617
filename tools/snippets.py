"""Read snippet files, run them section by section, and keep their printed outputs.

A snippet file (`snippets/<page>.py`) is a complete program cut into named sections
with pymdownx.snippets markers (`# --8<-- [start:name]` ... `# --8<-- [end:name]`).
Pages include the sections; this module runs them in order in one namespace, as a
reader running the page top to bottom would, and records what each section prints
in `outputs/<device>/<page>.txt`, in sections of the same names.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import functools
import io
import logging
import re
import sys
import threading
import time
import traceback
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from tools.project import ROOT, SNIPPET_RUNS, under

MARKER = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s+\[\s*(start|end)\s*:\s*([a-z][-_0-9a-z]*)\s*\]\s*$")


class SnippetError(Exception):
    """A snippet file that is malformed, does not compile, or raises (in `section`, if known)."""

    def __init__(self, message: str, section: str | None = None):
        super().__init__(message)
        self.section = section


SHOWS_WARNINGS = "-warns"  # a section named so shows what it writes to stderr (a warning) as output


@dataclass
class Section:
    name: str
    first_line: int  # 1-based line number of the first code line
    code: str


def parse_sections(path: Path) -> list[Section]:
    """Split a snippet file into its sections; code outside a section is an error."""
    return list(_parse_sections(path, path.read_text(encoding="utf-8")))


@functools.cache
def _parse_sections(path: Path, text: str) -> tuple[Section, ...]:
    sections = []
    for name, first_line, lines in _split(text, _rel(path), _comment_or_blank, "code"):
        sections.append(Section(name, first_line, "\n".join(lines) + "\n"))
    if not sections:
        raise SnippetError(f"{_rel(path)}: no sections")
    return tuple(sections)


def _comment_or_blank(line: str) -> bool:
    # Code outside every section would run in tests but never be shown to a reader.
    return not line.strip() or line.lstrip().startswith("#")


def _split(text: str, name: str, outside, what: str) -> list[tuple[str, int, list[str]]]:
    """The named sections of a text cut by markers: (name, first line, lines). A line outside
    every section must satisfy `outside`; every other mistake is an error naming file and line."""
    found: list[tuple[str, int, list[str]]] = []
    current: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{name}:{number}"
        match = MARKER.match(line)
        if match and match[1] == "start":
            if current:
                raise SnippetError(f"{where}: section '{match[2]}' starts inside '{current[0]}'")
            if any(section[0] == match[2] for section in found):
                raise SnippetError(f"{where}: section '{match[2]}' is defined twice")
            current = (match[2], number + 1, [])
        elif match:
            if not current or current[0] != match[2]:
                raise SnippetError(f"{where}: end of section '{match[2]}', which is not open")
            found.append(current)
            current = None
        elif current:
            current[2].append(line)
        elif not outside(line):
            raise SnippetError(f"{where}: {what} outside any section: {line.strip()!r}")
    if current:
        raise SnippetError(f"{name}:{current[1] - 1}: section '{current[0]}' is never ended")
    return found


def run_file(path: Path) -> dict[str, str]:
    """Run every section of a snippet file in order; return what each one printed."""
    return run(path)[0]


def run(path: Path) -> tuple[dict[str, str], dict]:
    """Run a snippet file; return what each section printed and the namespace it left.

    Tests of the facts a page claims read the namespace: `run(SNIPPET)[1]["net"]`. A file is
    run once per process for the same name and content: a scratch copy of the project does not
    run an unchanged snippet again.
    """
    outputs, namespace, _ = timed_run(path)
    return outputs, namespace


def timed_run(path: Path) -> tuple[dict[str, str], dict, dict[str, float]]:
    """`run`, plus the wall time of each section in seconds."""
    text = path.read_text(encoding="utf-8")
    if (path.name, text) not in _RUNS:  # a failure raises, and is not kept
        _RUNS[path.name, text] = _run(path, text)
    return _RUNS[path.name, text]


_RUNS: dict[tuple[str, str], tuple[dict[str, str], dict, dict[str, float]]] = {}


def cpu_seconds(path: Path) -> dict[str, float]:
    """The CPU seconds (time.process_time: every thread of this process) each section of a snippet
    file takes, run in order as `run` runs it. `make bench` runs each file in a fresh process, so
    a one-time cost (the first torch.compile's warm-up) counts in the page that pays it."""
    seconds = {}

    @contextlib.contextmanager
    def clock(section: Section):
        start = time.process_time()
        try:
            yield
        finally:
            seconds[section.name] = time.process_time() - start

    _run(path, path.read_text(encoding="utf-8"), around=clock)
    return seconds


def _run(path: Path, text: str, around=lambda section: contextlib.nullcontext(), transform=None
         ) -> tuple[dict[str, str], dict, dict[str, float]]:
    """`around(section)`: the context a section runs in; `transform`: an ast.NodeTransformer for
    its code (tools/rounding.py perturbs the arithmetic, and prints more digits)."""
    sections = parse_sections(path)
    compiled = []
    for section in sections:  # compile everything first: a syntax error stops before any run
        padded = "\n" * (section.first_line - 1) + section.code  # keep the file's line numbers
        try:
            compiled.append(_compile(padded, str(path), transform))
        except SyntaxError as error:
            raise SnippetError(
                f"{_rel(path)}:{error.lineno}: syntax error in section '{section.name}': {error.msg}\n"
                f"    {(error.text or '').strip()}",
                section.name,
            ) from None
    module = types.ModuleType("__main__")
    module.__file__ = str(path)
    namespace = module.__dict__
    outputs, seconds = {}, {}
    with _fresh_figures(), _SectionStderr.installed() as stderr:
        for section, code in zip(sections, compiled):
            buffer, errors = io.StringIO(), io.StringIO()
            start = time.perf_counter()
            body, last, line = code
            try:
                with (contextlib.redirect_stdout(buffer), stderr.into(errors),
                      warnings.catch_warnings(record=True) as warned, running_as_main(module), around(section)):
                    warnings.simplefilter("always")
                    exec(body, namespace)
                    value = eval(last, namespace) if last else None
            except Exception as error:
                message = _describe_failure(path, section, error, buffer.getvalue())
                raise SnippetError(message, section.name) from None
            said = [(w.lineno if w.filename == str(path) else section.first_line,
                     f"{w.category.__name__}: {w.message}") for w in warned]
            said += [(section.first_line, text) for text in errors.getvalue().splitlines() if text.strip()]
            if said and not section.name.endswith(SHOWS_WARNINGS):
                where, text = said[0]
                raise SnippetError(
                    f"{_rel(path)}:{where}: section '{section.name}' wrote to stderr: {text}\n"
                    f"A reader would see it under the code, and the page does not show it: remove its cause, or, "
                    f"if the section shows it on purpose, end the section's name with '{SHOWS_WARNINGS}' "
                    "(its output then shows the warning)", section.name)
            buffer.write("".join(f"{text}\n" for _, text in said))
            if value is not None:  # a notebook would display it under the cell; the page shows no such output
                raise SnippetError(
                    f"{_rel(path)}:{line}: section '{section.name}' ends with an expression whose value "
                    f"({type(value).__name__}) its notebook would display, which the page does not show: "
                    "assign it, or print what matters", section.name)
            seconds[section.name] = time.perf_counter() - start
            outputs[section.name] = buffer.getvalue()
    return outputs, namespace, seconds


def _compile(code: str, filename: str, transform=None) -> tuple[types.CodeType, types.CodeType | None, int | None]:
    """The code, and apart from it its last statement (with its line) when that is an expression:
    as in Jupyter, whose value is what a notebook displays under the cell."""
    tree = ast.parse(code, filename)
    if transform:
        tree = ast.fix_missing_locations(transform.visit(tree))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = compile(tree, filename, "exec", dont_inherit=True)
    if last is None:
        return body, None, None
    return body, compile(ast.Expression(last.value), filename, "eval", dont_inherit=True), last.lineno


def _describe_failure(path: Path, section: Section, error: Exception, printed: str) -> str:
    # The snippet's own lines that led there, not the library's: what a contributor can change.
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
    line = frames[-1].lineno if frames else section.first_line
    trace = "\n".join(f"    {_rel(path)}:{f.lineno}: {(f.line or '').strip()}" for f in frames)
    tail = f"\nIt printed before failing:\n{printed.rstrip()}" if printed.strip() else ""
    return f"{_rel(path)}:{line}: section '{section.name}' raised {type(error).__name__}: {error}\n{trace}{tail}"


@contextlib.contextmanager
def running_as_main(module: types.ModuleType):
    """Run code as the program `__main__`, as `python file.py` and Jupyter do, so that classes it
    defines can be pickled (torch.save) and found again when loaded."""
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


class _SectionStderr(io.TextIOBase):
    """sys.stderr while a snippet file runs. What the running thread writes goes to the running
    section's buffer; another thread's writes (make serve's server), and any after the run, to the
    stderr there was. A logging handler keeps the stream it was made with: torch makes its own
    when a section first imports it, and so keeps this one, and the handlers made before the run
    are pointed at it while the run lasts. So a warning that torch logs, which a reader sees under
    the code, is caught as a print to stderr is."""

    def __init__(self, outside):
        super().__init__()
        self.outside, self.section, self.thread = outside, None, threading.get_ident()

    def write(self, text: str) -> int:
        if self.section is not None and threading.get_ident() == self.thread:
            return self.section.write(text)
        return self.outside.write(text)

    def flush(self) -> None:
        self.outside.flush()

    @contextlib.contextmanager
    def into(self, buffer: io.StringIO):
        self.section = buffer
        try:
            yield
        finally:
            self.section = None

    @classmethod
    @contextlib.contextmanager
    def installed(cls):
        stand_in = cls(sys.stderr)
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        handlers = {handler for logger in loggers for handler in getattr(logger, "handlers", ())
                    if type(handler) is logging.StreamHandler and handler.stream in (sys.stderr, sys.__stderr__)}
        streams = {handler: handler.setStream(stand_in) for handler in handlers}
        try:
            with contextlib.redirect_stderr(stand_in):
                yield stand_in
        finally:
            for handler, stream in streams.items():
                handler.setStream(stream)


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
        if text.strip():  # without trailing spaces, which a page does not show
            body = "\n".join(line.rstrip() for line in text.rstrip().splitlines())
            parts.append(f"# --8<-- [start:{name}]\n{body}\n# --8<-- [end:{name}]\n")
    return "\n".join(parts)


def read_outputs(path: Path) -> dict[str, str]:
    """The outputs stored in a file (none if it does not exist): the inverse of format_outputs.
    A broken marker is an error naming the file and line."""
    return {name: text for name, (_, text) in stored_sections(path).items()}


def stored_sections(path: Path) -> dict[str, tuple[int, str]]:
    """Each section of a stored outputs file: (the line of its start marker, its text)."""
    if not path.exists():
        return {}
    sections = _split(path.read_text(encoding="utf-8"), _rel(path),
                      lambda line: not line.strip() or line.startswith(PRINTED_BY), "text")
    return {name: (first - 1, "\n".join(lines) + "\n") for name, first, lines in sections}


PRINTED_BY = "# printed by: "  # the first line of a stored outputs file: the machine that printed it


def printed_by(path: Path) -> str | None:
    """The machine, torch and Python that printed a stored outputs file (tools/results.py)."""
    first = path.read_text(encoding="utf-8").partition("\n")[0] if path.exists() else ""
    return first.removeprefix(PRINTED_BY) if first.startswith(PRINTED_BY) else None


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


@functools.cache
def _rel(path: Path) -> str:
    """`snippets/x.py`: the name a contributor knows, wherever the project is checked out."""
    for parent in path.parents:
        if (parent / "snippets").is_dir():
            return str(path.relative_to(parent))
    return str(path)


def printed(snippet: Path, reuse: bool = False) -> dict[str, str]:
    """What each section of a snippet file prints. With `reuse` (make check, a writer's loop in
    which most pages have not changed), a run that an earlier process made of the same code, with
    the same tools, torch, Python, device and CPU, is read back from .cache/snippet-runs/
    instead of made again; `make test` always runs every snippet."""
    if not reuse:
        return run_file(snippet)
    import json

    cached = under(snippet.parent.parent, SNIPPET_RUNS) / f"{_run_key(snippet)}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    outputs = run_file(snippet)  # a failure raises, and is not kept
    cached.parent.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_suffix(".tmp")
    temporary.write_text(json.dumps(outputs, ensure_ascii=False), encoding="utf-8")
    temporary.replace(cached)
    return outputs


def _run_key(snippet: Path) -> str:
    """Everything what a snippet prints depends on: its code, how it is run, and the machine."""
    import hashlib
    import platform

    import torch

    machine = (torch.__version__, platform.python_version(), current_device(), torch.get_num_threads(),
               torch.backends.cpu.get_cpu_capability())
    pins = snippet.parent.parent / "requirements.txt"  # numpy, safetensors, torchinfo... print too
    digest = hashlib.sha256(snippet.read_bytes() + Path(__file__).read_bytes() + repr(machine).encode()
                            + (pins.read_bytes() if pins.exists() else b""))
    return digest.hexdigest()[:32]


def output_differences(snippet: Path, device: str | None = None, reuse: bool = False) -> list[str]:
    """Run a snippet file (or, with `reuse`, read back its last run: see printed()) and compare
    what it printed with the outputs stored for this device, by the outputs rule
    (tools/compare.py): for each section beyond the rule, the lines that break it
    (file:line [section]: why) and the diff of the stored and the printed text."""
    from tools.compare import compare

    new = {name: text for name, text in printed(snippet, reuse).items() if text.strip()}
    stored_path = expected_output_file(snippet, device or current_device())
    old = stored_sections(stored_path)
    problems = []
    for name in sorted(set(new) | set(old), key=lambda n: (n not in new, n)):
        start, stored = old.get(name, (0, ""))
        result = compare(stored, new.get(name, ""))
        if result.same:
            continue
        reasons = [f"{_rel(stored_path)}:{start + line} [{name}]: {why}" for line, why in result.problems]
        diff = difflib.unified_diff(
            stored.splitlines(), (new.get(name) or "").splitlines(),
            f"stored: {_rel(stored_path)} [{name}]", f"printed now: {_rel(snippet)} [{name}]", lineterm="",
        )
        problems.append("\n".join([*reasons, *diff]))
    return problems
