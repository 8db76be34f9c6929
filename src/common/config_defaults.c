/*
 * config_defaults — the built-in configuration layer (spec §2.3–2.5): what the Python agent
 * ships as backend_api/config/default/{api,agent,sdk,logging}.conf, as HOCON text compiled into
 * every program and parsed at load. Values and key order follow clearml-agent 1.9.2; comments
 * are left out so that parsing them costs little (`clearml-agent config` must stay in the
 * millisecond range). Keys the code reads with a code-side default (spec "(code)") are not
 * listed here: the reader supplies that default, exactly as upstream does.
 */
#include <stddef.h>

#include "config.h"

static const char api_conf[] =
	"version: 1.5\n"
	"verify_certificate: true\n"
	"default_version: 1.5\n"
	"http {\n"
	"  max_req_size: 15728640\n"
	"  retries { total: 240, connect: 240, read: 240, redirect: 240, status: 240,\n"
	"            backoff_factor: 1.0, backoff_max: 120.0 }\n"
	"  wait_on_maintenance_forever: true\n"
	"  pool_maxsize: 512\n"
	"  pool_connections: 512\n"
	"}\n"
	"auth { token_expiration_threshold_sec: 43200 }\n";

static const char agent_conf[] =
	"worker_id: \"\"\n"
	"worker_name: \"\"\n"
	"force_git_ssh_protocol: false\n"
	"python_binary: \"\"\n"
	"package_manager {\n"
	"  type: pip\n"
	"  pip_version: [\"<20.2 ; python_version < '3.10'\",\n"
	"                \"<22.3 ; python_version >= '3.10' and python_version <= '3.11'\",\n"
	"                \">=23,<24.3 ; python_version >= '3.12'\"]\n"
	"  system_site_packages: false\n"
	"  force_upgrade: false\n"
	"  pip_legacy_resolver: [\">=20.3,<24.3\"]\n"
	"  conda_channels: [\"pytorch\", \"conda-forge\", \"nvidia\", \"defaults\"]\n"
	"  priority_optional_packages: [\"pygobject\"]\n"
	"  torch_nightly: false\n"
	"  poetry_files_from_repo_working_dir: false\n"
	"  uv_files_from_repo_working_dir: false\n"
	"}\n"
	"venvs_dir: ~/.clearml/venvs-builds\n"
	"venvs_cache { max_entries: 10, free_space_threshold_gb: 2.0, path: ~/.clearml/venvs-cache }\n"
	"vcs_cache { enabled: true, path: ~/.clearml/vcs-cache }\n"
	"venv_update { enabled: false }\n"
	"pip_download_cache { enabled: true, path: ~/.clearml/pip-download-cache }\n"
	"translate_ssh: true\n"
	"reload_config: false\n"
	"docker_pip_cache: ~/.clearml/pip-cache\n"
	"docker_apt_cache: ~/.clearml/apt-cache\n"
	"docker_force_pull: false\n"
	"default_docker {\n"
	"  image: \"nvidia/cuda:11.0.3-cudnn8-runtime-ubuntu20.04\"\n"
	"  match_rules: [\n"
	"    { image: \"python:3.6-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.6$\" } } }\n"
	"    { image: \"python:3.7-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.7$\" } } }\n"
	"    { image: \"python:3.8-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.8$\" } } }\n"
	"    { image: \"python:3.9-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.9$\" } } }\n"
	"    { image: \"python:3.10-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.10$\" } } }\n"
	"    { image: \"python:3.11-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.11$\" } } }\n"
	"    { image: \"python:3.12-bullseye\", arguments: \"--ipc=host\",\n"
	"      match { script { binary: \"python3.12$\" } } }\n"
	"  ]\n"
	"}\n"
	"enable_task_env: false\n"
	"sanitize_config_printout {\n"
	"  hide_secrets: [\"^sanitize_config_printout$\", \"secret\", \"pass\", \"token\",\n"
	"                 \"account_key\", \"contents\"]\n"
	"  hide_secrets_recursive: [\"^environment$\"]\n"
	"  dont_hide_secrets: [\"^enable_git_ask_pass$\"]\n"
	"  docker_commands: [\"^extra_docker_arguments$\"]\n"
	"  urls: [\"^extra_index_url$\"]\n"
	"}\n"
	"hide_docker_command_env_vars { enabled: true, extra_keys: [], parse_embedded_urls: true }\n"
	"abort_callback_max_timeout: 1800\n"
	"docker_internal_mounts {\n"
	"  sdk_cache: \"/clearml_agent_cache\"\n"
	"  apt_cache: \"/var/cache/apt/archives\"\n"
	"  ssh_folder: \"~/.ssh\"\n"
	"  ssh_ro_folder: \"/.ssh\"\n"
	"  pip_cache: \"/root/.cache/pip\"\n"
	"  poetry_cache: \"/root/.cache/pypoetry\"\n"
	"  vcs_cache: \"/root/.clearml/vcs-cache\"\n"
	"  venvs_cache: \"/root/.clearml/venvs-cache\"\n"
	"  venv_build: \"~/.clearml/venvs-builds\"\n"
	"  pip_download: \"/root/.clearml/pip-download-cache\"\n"
	"}\n"
	"apply_environment: true\n"
	"apply_files: true\n"
	"custom_build_script: \"\"\n"
	"disable_task_docker_override: false\n";

static const char sdk_conf[] =
	"storage {\n"
	"  cache { default_base_dir: \"~/.clearml/cache\", size { min_free_bytes: 10GB } }\n"
	"  direct_access: [ { url: \"file://*\" } ]\n"
	"}\n"
	"metrics {\n"
	"  file_history_size: 100\n"
	"  matplotlib_untitled_history_size: 100\n"
	"  images { format: JPEG, quality: 87, subsampling: 0 }\n"
	"  tensorboard_single_series_per_graph: false\n"
	"}\n"
	"network {\n"
	"  metrics { file_upload_threads: 4, file_upload_starvation_warning_sec: 120 }\n"
	"  iteration { max_retries_on_server_error: 5, retry_backoff_factor_sec: 10 }\n"
	"}\n"
	"aws {\n"
	"  s3 { key: \"\", secret: \"\", region: \"\", credentials: [] }\n"
	"  boto3 { pool_connections: 512, max_multipart_concurrency: 16 }\n"
	"}\n"
	"google.storage {}\n"
	"azure.storage {}\n"
	"log { null_log_propagate: false, task_log_buffer_capacity: 66, disable_urllib3_info: true }\n"
	"development {\n"
	"  task_reuse_time_window_in_hours: 72.0\n"
	"  vcs_repo_detect_async: true\n"
	"  store_uncommitted_code_diff: true\n"
	"  support_stopping: true\n"
	"  default_output_uri: \"\"\n"
	"  force_analyze_entire_repo: false\n"
	"  suppress_update_message: false\n"
	"  detect_with_pip_freeze: false\n"
	"  worker { report_period_sec: 2, ping_period_sec: 30, log_stdout: true,\n"
	"           report_global_mem_used: false }\n"
	"}\n";

static const char logging_conf[] =
	"version: 1\n"
	"loggers { urllib3 { level: ERROR } }\n";

const struct config_default config_defaults[] = {
	{"agent", agent_conf},
	{"api", api_conf},
	{"logging", logging_conf},
	{"sdk", sdk_conf},
};
const size_t config_defaults_count = sizeof config_defaults / sizeof config_defaults[0];
