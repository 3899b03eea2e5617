"""Records of runs: the build records this run; the one writer of outputs; a committed GPU
record agrees with the outputs it is shown with."""

from pathlib import Path

import pytest

from tools.compare import compare
from tools.project import COMMITTED_RECORDS, RECORDS, ROOT
from tools.results import FORMAT, STATUSES, describe, load, record, write_outputs
from tools.snippets import (
    PRINTED_BY,
    SnippetError,
    expected_output_file,
    format_outputs,
    output_file,
    parse_sections,
    read_outputs,
    snippet_files,
)


def rows_by_file(run):
    rows = {}
    for row in run["snippets"]:
        rows.setdefault(row["snippet"], []).append(row)
    return rows


def test_the_build_records_this_run_in_the_documented_format(site):
    run = load(RECORDS / "cpu.json")  # the site fixture's build made it; CI keeps it as an artifact
    assert run["format"] == FORMAT and run["device"] == "cpu" and run["commit"]
    assert {"device_name", "torch", "cuda", "python", "date"} <= set(run)
    rows = rows_by_file(run)
    for snippet in snippet_files():
        recorded = [(row["section"], row["status"] in STATUSES) for row in rows[f"snippets/{snippet.name}"]]
        assert recorded == [(section.name, True) for section in parse_sections(snippet)]


@pytest.mark.scratch
def test_a_section_whose_stored_output_differs_is_recorded_as_differs_and_only_it(project_copy):
    snippet = project_copy / "snippets" / "layers.py"
    stored = read_outputs(output_file(snippet))
    section = list(stored)[1]
    output_file(snippet).write_text(format_outputs({**stored, section: "not what it prints\n"}), encoding="utf-8")
    statuses = {row["section"]: row["status"] for row in record(project_copy, [snippet])["snippets"]}
    assert statuses == {s.name: "differs" if s.name == section else "pass" for s in parse_sections(snippet)}


def test_outputs_are_written_by_one_writer_and_off_the_cpu_only_where_they_differ(site, tmp_path):
    run = load(RECORDS / "cpu.json")
    assert [p.relative_to(tmp_path).as_posix() for p in write_outputs(run, tmp_path)] == [
        f"cpu/{s.stem}.txt" for s in sorted(snippet_files(), key=lambda s: s.name)]
    for snippet in snippet_files():
        assert (tmp_path / "cpu" / f"{snippet.stem}.txt").read_text(encoding="utf-8") == (
            f"{PRINTED_BY}{describe(run)}\n\n"  # the machine that printed them, then the outputs
            + format_outputs({row["section"]: row["output"] for row in rows_by_file(run)[f"snippets/{snippet.name}"]}))
    gpu = {**run, "device": "cuda", "snippets": [dict(row) for row in run["snippets"]]}
    changed = next(row for row in gpu["snippets"] if row["output"])
    changed["output"] = "printed on a GPU\n"
    written = write_outputs(gpu, tmp_path / "gpu")
    assert [p.relative_to(tmp_path / "gpu").as_posix() for p in written] == [
        f"cuda/{Path(changed['snippet']).stem}.txt"]
    changed["output"] = next(row for row in run["snippets"] if row["output"])["output"]
    assert write_outputs(gpu, tmp_path / "gpu") == [] and not written[0].exists()  # as the CPU's again: no file left
    gpu["snippets"][0]["status"] = "fail"
    with pytest.raises(SnippetError, match="did not run"):  # a failed run never becomes stored outputs
        write_outputs(gpu, tmp_path / "gpu")


def test_a_committed_gpu_record_matches_the_outputs_shown_with_it():
    run = load(COMMITTED_RECORDS / "cuda.json")
    if run is None:
        pytest.skip("no GPU run is recorded (results/cuda.json): the pages say so")
    assert run["device"] == "cuda" and run["commit"] and run["device_name"]
    for name, rows in rows_by_file(run).items():
        shown = read_outputs(expected_output_file(ROOT / name, "cuda"))
        for row in rows:
            if row["status"] == "pass":
                assert compare(shown.get(row["section"], ""), row["output"]).same, f"{name}:{row['section']}"
