"""The GitHub workflows: zizmor's static audit, and the rules it does not cover."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools.project import BRANCH_FILES, ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_zizmor_finds_nothing():
    zizmor = Path(sys.executable).parent / "zizmor"
    result = subprocess.run([str(zizmor), "--offline", "--persona=pedantic", "--no-progress", ".github/workflows"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_pins_timeouts_and_concurrency(path):
    text = path.read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    assert workflow["permissions"] == {"contents": "read"}
    assert "pull_request_target" not in workflow[True]  # PyYAML reads the key `on` as True
    assert workflow["concurrency"]["cancel-in-progress"] is True
    for name, job in workflow["jobs"].items():
        assert "timeout-minutes" in job, f"{path.name}: job {name} has no timeout"
    for line in re.findall(r"uses: .*", text):
        assert re.fullmatch(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*", line), f"{path.name}: {line}"


def test_gpu_runs_need_a_maintainer_and_hold_no_secrets():
    text = (ROOT / ".github" / "workflows" / "gpu.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    (job,) = workflow["jobs"].values()
    assert workflow[True]["pull_request"] == {"types": ["labeled"]}
    assert "github.event.label.name == 'run-gpu'" in job["if"]
    assert job["environment"] == "gpu"
    assert "secrets." not in text


def test_the_gpu_job_runs_only_what_needs_a_gpu():
    (job,) = yaml.safe_load((ROOT / ".github" / "workflows" / "gpu.yml").read_text(encoding="utf-8"))["jobs"].values()
    commands = [step["run"] for step in job["steps"] if "run" in step]
    assert "make gpu TORCH_INDEX=" in commands  # TORCH_INDEX= : the CUDA build of torch, not the Makefile's CPU one
    assert not [c for c in commands if "make test" in c or "apt-get" in c or "npm" in c]


def test_the_site_is_deployed_from_the_tested_build_only_on_main():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    test, deploy = workflow["jobs"]["test"], workflow["jobs"]["deploy"]
    assert deploy["needs"] == "test" and "refs/heads/main" in deploy["if"]
    assert [s for s in test["steps"] if s.get("run") == "make test"]
    assert not [s for s in test["steps"] if "build" in s.get("run", "")]  # the tests' build is the one deployed
    assert set(deploy["permissions"]) == {"pages", "id-token"}


def test_the_tested_builds_notebooks_go_to_the_colab_branch_with_the_one_write_token():
    """On main, the test job lays out this build's notebooks (tools/publish_notebooks.py) and
    uploads that folder; the notebooks job, the only one that may write to the repository, runs
    no code of it: it pushes what it downloads to the branch that tools/project.py names."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    test, publish = workflow["jobs"]["test"], workflow["jobs"]["notebooks"]
    assert publish["needs"] == "test" and "refs/heads/main" in publish["if"]
    assert publish["permissions"] == {"contents": "write"}
    writes = [name for name, job in workflow["jobs"].items() if job.get("permissions", {}).get("contents") == "write"]
    assert writes == ["notebooks"]
    (lay_out,) = [s for s in test["steps"] if s.get("id") == "notebooks"]
    assert "-m tools.publish_notebooks\n" in lay_out["run"]
    assert "from tools.project import NOTEBOOKS_BRANCH; print(NOTEBOOKS_BRANCH)" in lay_out["run"]
    assert test["outputs"]["notebooks-branch"] == "${{ steps.notebooks.outputs.branch }}"
    steps = test["steps"]
    (upload,) = [s for s in steps[steps.index(lay_out):] if "upload-artifact" in s.get("uses", "")]
    assert upload["with"]["path"].rstrip("/") == BRANCH_FILES.relative_to(ROOT).as_posix()
    assert not [s for s in publish["steps"] if "checkout" in s.get("uses", "")]
    download, push = publish["steps"]
    assert "download-artifact" in download["uses"] and download["with"]["name"] == upload["with"]["name"]
    assert push["working-directory"] == download["with"]["path"]
    assert push["env"]["BRANCH"] == "${{ needs.test.outputs.notebooks-branch }}"
    assert 'git push --force "https://x-access-token:$TOKEN@' in push["run"]
    assert '"HEAD:refs/heads/$BRANCH"' in push["run"]


def test_the_audit_runs_on_the_tested_build_after_its_pages_artifact():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["test"]["steps"]
    where = {key: next(i for i, step in enumerate(steps) if key in (step.get("run") or step.get("uses", "")))
             for key in ("make test", "actions/upload-pages-artifact", "make audit")}
    assert where["make test"] < where["actions/upload-pages-artifact"] < where["make audit"]
    # the same address as the tests' build: make audit finds site/ up to date and builds nothing
    assert steps[where["make audit"]].get("env") == steps[where["make test"]].get("env")


def test_the_makefile_installs_torch_from_the_cpu_index_that_the_notebooks_name():
    """One CPU index: the Makefile's default TORCH_INDEX is tools/project.py's TORCH_CPU_INDEX,
    which a notebook on a machine without a GPU installs torch from (tools/notebook_setup.py)."""
    from tools.project import TORCH_CPU_INDEX

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.findall(r"(?m)^TORCH_INDEX \?= (\S+)$", makefile) == [TORCH_CPU_INDEX]
