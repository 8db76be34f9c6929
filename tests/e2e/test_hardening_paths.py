"""Issue 9, no writes outside the checkout: a repository holding a symbolic link to a directory
outside it (`out -> <tmp>/outside`). A diff through the link and a literal script whose
working_dir goes through it must fail the task with a clear reason and write nothing outside;
a link that stays inside the repository keeps working."""
import os

import pytest

from gitfix import GitRepo, git
from runner_helper import run_runner

SHOW = "print('SHOW ran')\n"


@pytest.fixture
def linked(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    r = GitRepo(tmp_path / "git", "proj")
    r.write({"show.py": SHOW, "sub/mod.py": "X = 1\n"})
    os.symlink(str(outside), os.path.join(r.work, "out"))
    os.symlink("sub", os.path.join(r.work, "inside"))
    git("add", "-A", cwd=r.work)
    git("commit", "-q", "-m", "links", cwd=r.work)
    r.push()
    r.outside = str(outside)
    return r


def task(url, **script):
    s = {"repository": url, "entry_point": "show.py", "binary": "python3", "working_dir": "."}
    s.update(script)
    return {"id": "paths0001", "script": s}


def test_diff_through_a_link_out_of_the_repo_fails_and_writes_nothing(tmp_path, linked):
    diff = ("diff --git a/out/pwned.py b/out/pwned.py\n"
            "--- a/out/pwned.py\n"
            "+++ b/out/pwned.py\n"
            "@@ -0,0 +1 @@\n"
            "+print('pwned')\n")
    run = run_runner(tmp_path, task(linked.file_url, diff=diff))
    assert run.rc == 86, run
    assert run.result["status"] == "failed"
    assert "leads outside the repository" in run.result["status_reason"], run.result
    assert os.listdir(linked.outside) == []


def test_literal_script_with_working_dir_through_a_link_fails(tmp_path, linked):
    run = run_runner(tmp_path, task(linked.file_url, working_dir="out", entry_point="task.py",
                                    diff="print('LITERAL')\n"))
    assert run.rc == 86, run
    assert "outside the repository" in run.result["status_reason"], run.result
    assert os.listdir(linked.outside) == []
    assert "LITERAL" not in run.output


def test_links_inside_the_repo_still_work(tmp_path, linked):
    run = run_runner(tmp_path, task(linked.file_url, working_dir="inside", entry_point="lit.py",
                                    diff="print('INSIDE ok')\n"))
    assert run.rc == 0, run
    assert "INSIDE ok" in run.output
    assert os.listdir(linked.outside) == []
