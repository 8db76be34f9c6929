"""What the runner learned is reported by the supervisor (spec §5.7, §11): the frozen
requirements replace `script.requirements.pip`, the original is kept in `org_pip` the first time
only. Full python environment flow against the local package index."""
from agent_helper import (AgentProcess, FAST_POLL, create_queue, create_script_task, enqueue,
                          fast_env, task, wait_status)
from pkgindex import pkg_index  # noqa: F401  (pytest fixture)


def test_frozen_requirements_reported_org_pip_kept_once(server, api, tmp_path, pkg_index):  # noqa: F811
    q = create_queue(api, "freeze")
    script = "import tinyalpha\nprint('alpha ok')\n"
    t = create_script_task(api, script, name="freeze", requirements={"pip": "tinyalpha==1.0\n"})
    enqueue(api, t, queue=q)
    env = pkg_index.env(fast_env(tmp_path, {"CLEARML_AGENT__AGENT__KILL_GRACE_SEC": "2"}),
                        cache_dir=tmp_path / "cache")
    env.pop("CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL", None)
    a = AgentProcess(server, tmp_path, ["--polling-interval", FAST_POLL, "--queue", "freeze"],
                     env=env)
    try:
        final = wait_status(api, t, timeout=240)
        assert final["status"] == "completed", a.output()[-4000:]
        reqs = final["script"]["requirements"]
        assert reqs.get("org_pip") == "tinyalpha==1.0\n", reqs
        pip = reqs.get("pip")
        lines = pip if isinstance(pip, list) else str(pip).splitlines()
        assert any(l.strip().lower() == "tinyalpha==1.0" for l in lines), reqs
        # run it again: the original request stays the one of the first run
        api.call("tasks.reset", task=t, force=True)
        enqueue(api, t, queue=q)
        final = wait_status(api, t, timeout=240)
        assert final["status"] == "completed", a.output()[-4000:]
        assert task(api, t)["script"]["requirements"].get("org_pip") == "tinyalpha==1.0\n"
    finally:
        a.stop()
