"""Every snippet runs, and prints the outputs stored in outputs/cpu/ and shown on the site (by the
outputs rule, tools/compare.py). `make check` reads back a run of unchanged code (REUSE_SNIPPET_RUNS)."""

import logging
import os
import sys

import pytest

from tools.snippets import SnippetError, cpu_seconds, output_differences, run, snippet_files


@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda path: path.name)
def test_snippet_prints_its_stored_outputs(snippet):
    try:
        problems = output_differences(snippet, reuse=os.environ.get("REUSE_SNIPPET_RUNS") == "1")  # make check
    except SnippetError as error:
        pytest.fail(str(error), pytrace=False)
    if problems:
        pytest.fail(
            "\n\n".join(problems) + "\n\nIf the new output is right, regenerate the outputs with `make outputs`.",
            pytrace=False,
        )


def test_cpu_seconds_times_each_section_in_order(tmp_path):
    """What `make bench` prints per section (tools/bench.py)."""
    snippet = tmp_path / "snippets" / "busy.py"
    snippet.parent.mkdir()
    snippet.write_text("# --8<-- [start:idle]\nx = 1\n# --8<-- [end:idle]\n\n"
                       "# --8<-- [start:busy]\ny = sum(range(3_000_000))\n# --8<-- [end:busy]\n", encoding="utf-8")
    seconds = cpu_seconds(snippet)
    assert list(seconds) == ["idle", "busy"]
    assert 0 <= seconds["idle"] < seconds["busy"]


def snippet_of(tmp_path, sections: dict[str, str]):
    snippet = tmp_path / "snippets" / "logs.py"
    snippet.parent.mkdir(exist_ok=True)
    snippet.write_text("".join(f"# --8<-- [start:{name}]\n{code}\n# --8<-- [end:{name}]\n\n"
                               for name, code in sections.items()), encoding="utf-8")
    return snippet


def test_a_warning_logged_by_a_handler_made_in_an_earlier_section_is_caught(tmp_path):
    # as torch does: its logging handlers are made when a section first imports it
    snippet = snippet_of(tmp_path, {
        "setup": "import logging\nlog = logging.getLogger('made-in-setup')\nlog.propagate = False\n"
                 "log.addHandler(logging.StreamHandler())",
        "quiet": "x = 1",
        "logs": "log.warning('Unable to find user code')"})
    with pytest.raises(SnippetError, match=r"snippets/logs\.py:\d+: section 'logs' wrote to stderr: "
                                           r"Unable to find user code\n"):
        run(snippet)


def test_a_warning_logged_by_a_handler_made_before_the_run_is_caught_and_the_handler_kept(tmp_path):
    handler = logging.StreamHandler(sys.stderr)
    log = logging.getLogger("made-before")
    log.propagate = False
    log.addHandler(handler)
    try:
        snippet = snippet_of(tmp_path, {"logs": "import logging\nlogging.getLogger('made-before').warning('logged')"})
        with pytest.raises(SnippetError, match="section 'logs' wrote to stderr: logged"):
            run(snippet)
        assert handler.stream is sys.stderr
    finally:
        log.removeHandler(handler)


def test_what_another_thread_writes_to_stderr_meanwhile_is_not_the_sections(tmp_path, capsys):
    # make serve's server logs its requests while a saved snippet runs
    snippet = snippet_of(tmp_path, {
        "thread": "import sys, threading\n"
                  "other = threading.Thread(target=lambda: print('GET /layers/', file=sys.stderr))\n"
                  "other.start()\nother.join()\nprint('ran')"})
    assert run(snippet)[0] == {"thread": "ran\n"}
    assert capsys.readouterr().err == "GET /layers/\n"
