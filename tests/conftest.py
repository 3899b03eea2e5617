from pathlib import Path

import pytest

from tools.build import build
from tools.project import ROOT, SITE
from tools.scratch import copy_project


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A scratch copy of the project, for tests that break it on purpose."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def site(request) -> Path:
    """The site, built once per run into site/ (as `make build` builds it, in this process):
    the tests, `make bench`, CI's artifact and the deployed site all read this build. Outputs
    that differ from the stored ones do not stop it: tests/test_snippets.py reports them."""
    return built_site(request.config)


def built_site(config) -> Path:
    """The `site` fixture's build, made by whichever asks first; a failed build fails every test
    that needs the site, with the build's message, and is not tried again."""
    if BUILT not in config.stash:
        try:
            config.stash[BUILT] = build(SITE, check_outputs=False, say=lambda *_: None)
        except Exception as error:  # noqa: BLE001 - raised again to each test that needs the site
            config.stash[BUILT] = error
    if isinstance(config.stash[BUILT], Exception):
        raise config.stash[BUILT]
    return config.stash[BUILT]


BUILT = pytest.StashKey["Path | Exception"]()


def pytest_configure(config):
    """One thread for torch in this process: the browser checks run beside it on the other core,
    and two threads each would oversubscribe the two cores (a section that takes 1 s took 17).
    The snippets print the same with one thread as with several (`make outputs` uses them all)."""
    import torch

    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Marks that `make check` deselects (tests of the built site and of the browser), and the
    browser tests last: their checks run in another process while the other tests run."""
    for item in items:
        if "site" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.site)
    browser = [item for item in items if item.get_closest_marker("browser")]
    items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser


def pytest_collection_finish(session):
    """When browser tests are to run, the site is built now and their checks start, in a process
    of their own (tests/test_browser.py), to run while every other test runs."""
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("browser") for item in session.items):
        try:
            site = built_site(session.config)
        except Exception:  # noqa: BLE001 - each test that needs the site reports it
            return
        from test_browser import start

        session.config.browser_checks = start(site)


def pytest_terminal_summary(terminalreporter):
    """Chinese pages whose English page changed since they were translated.

    The policy: a stale translation is never a test failure. The English page may change
    first; the Chinese page then shows a notice that links to the English page, and this
    summary lists it, until a translator updates it (see tools/translations.py)."""
    from tools.translations import stale

    behind = stale(ROOT)
    if behind:
        terminalreporter.section("translations behind their English page")
        for line in behind:
            terminalreporter.write_line(line)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A contributor's mistake (a page or snippet that breaks a rule, an include of a section that
    does not exist) fails a test with its one message, not with a library's traceback."""
    from pymdownx.snippets import SnippetMissingError

    from tools.pages import PageError
    from tools.snippets import SnippetError

    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance((PageError, SnippetError, SnippetMissingError)):
        report.longrepr = f"{call.excinfo.typename}: {call.excinfo.value}"
    return report
