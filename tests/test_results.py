"""Recording runs: this run is recorded, and the committed CPU record matches the site."""

import itertools
import json

from conftest import ROOT

from tools.results import FORMAT, load, write
from tools.snippets import current_device, format_outputs, output_file, parse_sections, snippet_files


def _by_file(run):
    return {name: list(rows) for name, rows in itertools.groupby(run["snippets"], key=lambda row: row["snippet"])}


def test_this_run_is_recorded_in_the_documented_format():
    path = write(ROOT / "build" / "results")  # CI keeps build/results as an artifact
    run = json.loads(path.read_text(encoding="utf-8"))
    assert run["format"] == FORMAT and run["device"] == current_device() == path.stem
    assert {"device_name", "torch", "cuda", "python", "commit", "date"} <= set(run)
    rows = _by_file(run)
    for snippet in snippet_files():
        sections = [(row["section"], row["status"]) for row in rows[f"snippets/{snippet.name}"]]
        assert sections == [(section.name, "pass") for section in parse_sections(snippet)]


def test_committed_cpu_record_matches_the_outputs_on_the_site():
    run = load(ROOT / "results" / "cpu.json")
    assert run is not None, "results/cpu.json is missing: run `make outputs`"
    rows = _by_file(run)
    for snippet in snippet_files():
        recorded = rows.get(f"snippets/{snippet.name}", [])
        assert [row["section"] for row in recorded] == [s.name for s in parse_sections(snippet)], (
            f"results/cpu.json does not list the sections of {snippet.name}: run `make outputs`")
        printed = format_outputs({row["section"]: row["output"] for row in recorded})
        assert printed == output_file(snippet).read_text(encoding="utf-8"), (
            f"results/cpu.json and outputs/cpu/{snippet.stem}.txt differ: run `make outputs`")
