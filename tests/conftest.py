import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PARTS = [
    "docs", "snippets", "outputs", "results", "tools", "overrides", "tests",
    "mkdocs.yml", "mkdocs.zh.yml", "pytest.ini", "ruff.toml",
]


@pytest.fixture
def project_copy(tmp_path) -> Path:
    """A scratch copy of the project, for tests that break it on purpose."""
    copy = tmp_path / "project"
    copy.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / part)
    return copy


def mkdocs_build(root: Path, config: str, site_dir: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict`, as `make build` runs it, into site_dir."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", config, "-d", str(site_dir)],
        cwd=root, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """Both languages built with --strict: English at the root, Chinese under zh/."""
    site_dir = tmp_path_factory.mktemp("site")
    for config, target in (("mkdocs.yml", site_dir), ("mkdocs.zh.yml", site_dir / "zh")):
        result = mkdocs_build(ROOT, config, target)
        assert result.returncode == 0, f"mkdocs build -f {config} failed:\n{result.stdout}\n{result.stderr}"
    return site_dir


def pytest_terminal_summary(terminalreporter):
    """Report Chinese pages whose English page changed since they were translated.

    Not a failure: the site shows such a page with a notice linking to the English page
    until the translation is updated (see tools/translations.py)."""
    from tools.translations import stale

    behind = stale(ROOT)
    if behind:
        terminalreporter.section("translations behind their English page")
        for line in behind:
            terminalreporter.write_line(line)
