"""The clearml-agent command line end to end: the real binary's --version, -h/--help, usage
errors (status 2), --config-file handling (exported for children, missing file → status 1),
`config` masking a secret, `build`/`init` refusing, and @file argument files. No server needed:
every case here stops before any request is made."""
import os
import subprocess

from conftest import binary


def run_agent(home, *args, env_extra=None, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env["HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([binary("clearml-agent"), *args], env=env, capture_output=True,
                          text=True, timeout=60, input=stdin)


def test_version(tmp_path):
    r = run_agent(tmp_path, "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "CLEARML-AGENT version 1.9.2\n"
    assert r.stderr == ""


def test_version_does_not_read_the_configuration(tmp_path):
    # a broken clearml.conf in HOME and a missing --config-file: --version still answers
    (tmp_path / "clearml.conf").write_text("api { this is not hocon")
    r = run_agent(tmp_path, "--config-file", str(tmp_path / "missing.conf"), "--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "CLEARML-AGENT version 1.9.2\n"


def test_short_and_detailed_help(tmp_path):
    r = run_agent(tmp_path, "-h")
    assert r.returncode == 0
    assert r.stdout.startswith("CLEARML-AGENT Deep Learning DevOps\n\nusage: clearml-agent ")
    for cmd in ("execute", "build", "list", "daemon", "config", "init"):
        assert f"\n    {cmd} " in r.stdout
    r = run_agent(tmp_path, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("CLEARML-AGENT Deep Learning DevOps\n\n")
    for flag in ("--services-mode [SERVICES_MODE]", "--queue QUEUES [QUEUES ...]",
                 "--entry-point {reuse_task,clone_task}", "--disable-monitoring"):
        assert flag in r.stdout
    r = run_agent(tmp_path, "daemon", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: clearml-agent daemon [-h]")
    assert "--detached, -d" in r.stdout


def test_no_subcommand_prints_help(tmp_path):
    r = run_agent(tmp_path)
    assert r.returncode == 0
    assert r.stdout.startswith("usage: clearml-agent ")


def test_unknown_subcommand_and_flag_are_usage_errors(tmp_path):
    r = run_agent(tmp_path, "launch")
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.startswith("usage: clearml-agent ")
    assert "clearml-agent: error: argument command: invalid choice: 'launch'" in r.stderr

    r = run_agent(tmp_path, "config", "--bogus")
    assert r.returncode == 2
    assert r.stderr.startswith("usage: clearml-agent ")
    assert r.stderr.endswith("clearml-agent: error: unrecognized arguments: --bogus\n")

    r = run_agent(tmp_path, "execute")
    assert r.returncode == 2
    assert "clearml-agent execute: error: the following arguments are required: --id" in r.stderr

    r = run_agent(tmp_path, "daemon", "--log-level", "chatty")
    assert r.returncode == 2
    assert "argument --log-level: invalid choice: 'CHATTY'" in r.stderr


def test_config_prints_header_and_masks_secret(tmp_path):
    conf = tmp_path / "agent.conf"
    conf.write_text('api { credentials { access_key: "AK1", secret_key: "TopS3cretKey" } }\n'
                    'agent.git_user: alice\n')
    r = run_agent(tmp_path, "--config-file", str(conf), "config")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Current configuration (clearml_agent v1.9.2, location: {conf}):"
    assert lines[1] == "-" * 22
    assert "api.credentials.access_key = AK1\n" in r.stdout
    assert "api.credentials.secret_key = ****\n" in r.stdout
    assert "agent.git_user = alice\n" in r.stdout
    assert "TopS3cretKey" not in r.stdout + r.stderr


def test_config_file_relative_and_expanded(tmp_path):
    # ~ and $VAR are expanded and the path made absolute before it is used and exported
    conf = tmp_path / "sub" / "c.conf"
    conf.parent.mkdir()
    conf.write_text("agent.worker_name: from-expanded\n")
    r = run_agent(tmp_path, "--config-file", "~/sub/c.conf", "config")
    assert r.returncode == 0, r.stderr
    assert f"location: {conf}):" in r.stdout.splitlines()[0]
    assert "agent.worker_name = from-expanded\n" in r.stdout
    r = run_agent(tmp_path, "--config-file=$CONF_DIR/c.conf", "config",
                  env_extra={"CONF_DIR": str(conf.parent)})
    assert r.returncode == 0, r.stderr
    assert "agent.worker_name = from-expanded\n" in r.stdout


def test_missing_config_file_is_an_error(tmp_path):
    r = run_agent(tmp_path, "--config-file", str(tmp_path / "nope.conf"), "config")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("\nclearml_agent: ERROR: ")
    assert "nope.conf" in r.stderr
    # a directory is not a configuration file either
    r = run_agent(tmp_path, "--config-file", str(tmp_path), "config")
    assert r.returncode == 1
    assert "clearml_agent: ERROR: " in r.stderr


def test_build_usage_errors(tmp_path):
    """build is available (tests/e2e/test_build*.py); its usage errors exit 2 before any work."""
    r = run_agent(tmp_path, "build", "--id", "0123456789abcdef0123456789abcdef")
    assert r.returncode == 2
    assert "--target DIR is required" in r.stderr
    r = run_agent(tmp_path, "build", "--id", "0123456789abcdef0123456789abcdef", "--target", "x",
                  "--entry-point", "reuse_task")
    assert r.returncode == 2 and "need --docker" in r.stderr


def test_init_wizard_writes_a_working_configuration(server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    pasted = ("api {\n"
              f"  web_server: {server.url.replace('8008', '8080')}\n"
              f"  api_server: {server.url}\n"
              "  files_server: http://127.0.0.1:8081\n"
              f'  credentials {{"access_key": "{server.access_key}", '
              f'"secret_key": "{server.secret_key}"}}\n'
              "}\n")
    answers = "s\nbob\nGitS3cret\nhttps://u:p@idx.example/simple\n\n"
    r = run_agent(home, "init", stdin=pasted + answers)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Credentials verified!" in r.stdout
    assert server.secret_key not in r.stdout + r.stderr
    assert "GitS3cret" not in r.stdout + r.stderr
    conf = home / "clearml.conf"
    assert (conf.stat().st_mode & 0o777) == 0o600
    r = run_agent(home, "config")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"api.api_server = {server.url}\n" in out
    assert f"api.credentials.access_key = {server.access_key}\n" in out
    assert "agent.git_user = bob\n" in out
    assert "agent.package_manager.extra_index_url.0 = https://u:********@idx.example/simple\n" in out
    assert "sdk.development.default_output_uri = http://127.0.0.1:8081\n" in out
    # a second run leaves the non-empty file alone
    before = conf.read_text()
    r = run_agent(home, "init", stdin=pasted + answers)
    assert r.returncode == 0
    assert "Configuration file already exists" in r.stdout
    assert conf.read_text() == before


def test_init_wizard_refuses_bad_credentials(server, tmp_path):
    pasted = (f'api {{ api_server: "{server.url}"\n'
              'credentials { access_key: "NOPE", secret_key: "WRONG" } }\n')
    r = run_agent(tmp_path, "init", stdin=pasted + "\n\n\n")
    assert r.returncode == 1
    assert "could not verify credentials" in r.stderr
    assert not (tmp_path / "clearml.conf").exists()


def test_argument_file(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("agent.worker_name: via-argfile\n")
    args = tmp_path / "args.txt"
    args.write_text(f"--config-file\n{conf}\nconfig\n")
    r = run_agent(tmp_path, f"@{args}")
    assert r.returncode == 0, r.stderr
    assert "agent.worker_name = via-argfile\n" in r.stdout
    r = run_agent(tmp_path, f"@{tmp_path / 'missing.txt'}")
    assert r.returncode == 2
    assert "No such file or directory" in r.stderr


def test_services_mode_with_dynamic_gpus_is_refused(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("api.api_server: \"http://127.0.0.1:9\"\n")
    r = run_agent(tmp_path, "--config-file", str(conf), "daemon", "--services-mode",
                  "--dynamic-gpus", "--gpus", "0-1", "--queue", "q=1")
    assert r.returncode == 1
    assert ("clearml_agent: ERROR: Combining --dynamic-gpus and --services-mode is not supported"
            in r.stderr)
