"""`clearml-agent config` end to end: the real binary reads a real clearml.conf from a temporary
HOME (or --config-file), applies the environment, prints the sanitised configuration, and fails
with file:line:col on a malformed file. No server is needed."""
import os
import subprocess

from conftest import binary

SECRET_CONF = """
# user file
api {
    api_server: http://127.0.0.1:8008
    web_server: http://127.0.0.1:8080 // comment after a URL
    credentials {"access_key": "AKEY123", "secret_key": "S3cr3tValue"}
}
agent {
    git_user: "bob"
    git_pass: "GitPassw0rd"
    package_manager.extra_index_url: ["https://user:IdxPassw0rd@pypi.example/simple"]
    extra_docker_arguments: ["-e", "CLEARML_API_SECRET_KEY=DockerS3cret", "--ipc=host"]
}
environment { MY_TOKEN: EnvS3cret }
"""


def run_agent(home, *args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env["HOME"] = str(home)
    env.update(env_extra or {})
    return subprocess.run([binary("clearml-agent"), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_config_prints_masked_configuration(tmp_path):
    conf = tmp_path / "clearml.conf"
    conf.write_text(SECRET_CONF)
    r = run_agent(tmp_path, "config")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"Current configuration (clearml_agent v1.9.2, location: {conf}):"
    assert lines[1] == "-" * 22
    out = r.stdout
    assert "api.api_server = http://127.0.0.1:8008\n" in out
    assert "api.web_server = http://127.0.0.1:8080\n" in out
    assert "api.credentials.access_key = AKEY123\n" in out
    assert "api.credentials.secret_key = ****\n" in out
    assert "agent.git_pass = ****\n" in out
    assert ("agent.package_manager.extra_index_url.0 = "
            "https://user:********@pypi.example/simple\n") in out
    assert "agent.extra_docker_arguments.1 = CLEARML_API_SECRET_KEY\\=********\n" in out
    assert "environment.MY_TOKEN = ****\n" in out
    for secret in ("S3cr3tValue", "GitPassw0rd", "IdxPassw0rd", "DockerS3cret", "EnvS3cret"):
        assert secret not in out and secret not in r.stderr
    # defaults are there, the internal keys are not
    assert "agent.venvs_dir = ~/.clearml/venvs-builds\n" in out
    assert "\nenv = " not in out and "logging.version" not in out


def test_config_file_option_and_environment(tmp_path):
    (tmp_path / "clearml.conf").write_text("agent.git_user: from-home\n")
    other = tmp_path / "etc" / "agent.conf"
    other.parent.mkdir()
    other.write_text("agent { git_user: from-option, worker_name: w1 }\n")
    r = run_agent(tmp_path, "--config-file", str(other), "config", env_extra={
        "CLEARML_API_HOST": "http://127.0.0.1:9999",
        "CLEARML_AGENT__AGENT__DOCKER_FORCE_PULL": "true",
        "CLEARML_AGENT__AGENT__EXTRA_DOCKER_ARGUMENTS": '["--ipc=host", "--network=host"]',
    })
    assert r.returncode == 0, r.stderr
    assert f"location: {other.resolve()}):" in r.stdout.splitlines()[0]
    assert "agent.git_user = from-option\n" in r.stdout
    assert "from-home" not in r.stdout
    assert "agent.worker_name = w1\n" in r.stdout
    assert "api.api_server = http://127.0.0.1:9999\n" in r.stdout
    assert "api.host = http://127.0.0.1:9999\n" in r.stdout
    assert "agent.docker_force_pull = true\n" in r.stdout
    assert "agent.extra_docker_arguments.1 = --network\\=host\n" in r.stdout


def test_config_without_any_file(tmp_path):
    r = run_agent(tmp_path, "config")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith("location: None):")
    assert "agent.package_manager.type = pip\n" in r.stdout


def test_malformed_config_reports_position(tmp_path):
    conf = tmp_path / "clearml.conf"
    conf.write_text('api {\n  api_server: "http://x\n}\n')
    r = run_agent(tmp_path, "config")
    assert r.returncode == 1
    assert f"{conf}:2:15: unterminated string" in r.stderr
    assert r.stdout == ""


def test_missing_config_file(tmp_path):
    r = run_agent(tmp_path, "--config-file", str(tmp_path / "nope.conf"), "config")
    assert r.returncode == 1
    assert "nope.conf" in r.stderr
    r = run_agent(tmp_path, "config", env_extra={"CLEARML_CONFIG_FILE": str(tmp_path / "gone.conf")})
    assert r.returncode == 1
    assert "Could not open configuration file" in r.stderr and "gone.conf" in r.stderr
