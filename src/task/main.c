/*
 * clearml-task — create a task from a repository, a local folder or a single script, and enqueue
 * it: the flags of the ClearML SDK's `clearml-task` CLI, on our C API client and configuration.
 * Prints what the SDK CLI prints (`New task created id=<id>`, `Task id=<id> sent for execution on
 * queue <q>`, `Execution log at: <url>`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "task/task_create.h"
#include "util.h"
#include "version.h"

#define TITLE "ClearML launch - launch any codebase on remote machine running clearml-agent"

enum kind { STR, LIST, FLAG };
struct opt {
	const char *name;
	enum kind kind;
	size_t off;   /* char* / char** / int */
	size_t n_off; /* size_t count for LIST */
	const char *help;
};

#define O(f) offsetof(struct task_opts, f)
static const struct opt opts[] = {
	{"--version", FLAG, O(version), 0, "Display the clearml-task utility version"},
	{"--project", STR, O(project), 0, "Project name for the task (optional with --base-task-id)"},
	{"--name", STR, O(name), 0, "Name for the remote task (required)"},
	{"--repo", STR, O(repo), 0, "Remote URL of the repository to use"},
	{"--branch", STR, O(branch), 0, "Repository branch (the latest commit of it)"},
	{"--commit", STR, O(commit), 0, "Repository commit id"},
	{"--folder", STR, O(folder), 0, "Execute the code of this local git folder (commit + uncommitted changes)"},
	{"--script", STR, O(script), 0, "Entry point script (relative to the repository with --repo)"},
	{"--module", STR, O(module), 0, "Entry point module, run as `python -m <module>`"},
	{"--cwd", STR, O(cwd), 0, "Working directory to launch the script from (relative to the repository)"},
	{"--args", LIST, O(args), O(n_args), "Arguments for the remote execution: <argument>=<value> ..."},
	{"--queue", STR, O(queue), 0, "Queue to launch the task on (without it the task stays a draft)"},
	{"--requirements", STR, O(requirements), 0, "requirements.txt file to install"},
	{"--packages", LIST, O(packages), O(n_packages), "Required packages, e.g. \"tqdm>=2.1\" \"scikit-learn\""},
	{"--docker", STR, O(docker), 0, "Docker image for the remote session"},
	{"--docker_args", STR, O(docker_args), 0, "Docker arguments, as a single string"},
	{"--docker_bash_setup_script", STR, O(docker_bash_setup_script), 0,
	 "Bash script (file or text) run inside the container before the task's environment is set up"},
	{"--task-type", STR, O(task_type), 0, "training, testing, inference, data_processing, application, monitor, "
	                                      "controller, optimizer, service, qc, custom"},
	{"--tags", LIST, O(tags), O(n_tags), "Tags for the task"},
	{"--skip-task-init", FLAG, O(skip_task_init), 0, "Do not add a Task.init() call to the entry point"},
	{"--base-task-id", STR, O(base_task_id), 0, "Clone this existing task and override its arguments"},
	{"--binary", STR, O(binary), 0, "Interpreter of the entry point (default python3; e.g. bash)"},
	{"--output-uri", STR, O(output_uri), 0, "The task's output_uri (model upload destination)"},
	{"--config-file", STR, O(config_file), 0, "clearml.conf to use (default: the standard locations)"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: clearml-task [-h] [--version] [--project PROJECT] [--name NAME] [--repo REPO]\n"
	           "                    [--branch BRANCH] [--commit COMMIT] [--folder FOLDER] [--script SCRIPT]\n"
	           "                    [--module MODULE] [--cwd CWD] [--args [ARGS ...]] [--queue QUEUE]\n"
	           "                    [--requirements REQUIREMENTS] [--packages [PACKAGES ...]] [--docker DOCKER]\n"
	           "                    [--docker_args DOCKER_ARGS] [--docker_bash_setup_script SCRIPT]\n"
	           "                    [--task-type TASK_TYPE] [--tags [TAGS ...]] [--skip-task-init]\n"
	           "                    [--base-task-id BASE_TASK_ID] [--binary BINARY] [--output-uri OUTPUT_URI]\n");
}

static void
help(FILE *f)
{
	usage(f);
	fprintf(f, "\n%s\n\noptions:\n  -h, --help  show this help message and exit\n", TITLE);
	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		fprintf(f, "  %-28s %s\n", opts[i].name, opts[i].help);
}

/* argparse: "--x" is an option, but a string with a space in it is always a value. */
static int
is_flag(const char *s)
{
	return str_starts_with(s, "--") && strchr(s, ' ') == NULL;
}

static void
list_push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

/* 0 ok, 1 help printed, 2 usage error */
static int
parse(int argc, char **argv, struct task_opts *o)
{
	memset(o, 0, sizeof *o);
	char *base = (char *)o;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help(stdout);
			return 1;
		}
		const char *eq = str_starts_with(a, "--") ? strchr(a, '=') : NULL;
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const struct opt *op = NULL;
		for (size_t k = 0; k < ARRAY_LEN(opts); k++)
			if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
				op = &opts[k];
		if (op == NULL) {
			usage(stderr);
			fprintf(stderr, "clearml-task: error: unrecognized arguments: %s\n", a);
			return 2;
		}
		if (op->kind == FLAG) {
			*(int *)(base + op->off) = 1;
		} else if (op->kind == STR) {
			const char *v = eq ? eq + 1 : NULL;
			if (v == NULL) {
				if (i + 1 >= argc || is_flag(argv[i + 1])) {
					usage(stderr);
					fprintf(stderr, "clearml-task: error: argument %s: expected one argument\n", op->name);
					return 2;
				}
				v = argv[++i];
			}
			char **dst = (char **)(base + op->off);
			free(*dst);
			*dst = xstrdup(v);
		} else {
			char ***v = (char ***)(base + op->off);
			size_t *n = (size_t *)(base + op->n_off);
			if (eq)
				list_push(v, n, eq + 1);
			while (i + 1 < argc && !is_flag(argv[i + 1]))
				list_push(v, n, argv[++i]);
		}
	}
	return 0;
}

static int
fail(const char *fmt, const char *a, const char *b)
{
	printf("\nError: ");
	printf(fmt, a, b);
	printf("\n");
	return 1;
}

/* ^name$ with the name escaped as the SDK does (names are matched as patterns by the server). */
static char *
anchored(const char *name)
{
	char *esc = re_escape(name);
	char *p = xasprintf("^%s$", esc);
	free(esc);
	return p;
}

static int
find_by_name(struct api_session *api, const char *service, const char *list_key, const char *name,
             char **id_out, struct api_error *err)
{
	char *pattern = anchored(name);
	json_t *req = json_pack("{s:s, s:[s,s], s:b}", "name", pattern, "only_fields", "id", "name",
	                        "search_hidden", 1);
	free(pattern);
	char *endpoint = xasprintf("%s.get_all", service);
	json_t *data = NULL;
	int rc = api_call(api, endpoint, NULL, req, &data, err);
	free(endpoint);
	json_decref(req);
	*id_out = NULL;
	if (rc < 0)
		return -1;
	json_t *arr = json_object_get(data, list_key);
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) {
		const char *n = json_string_value(json_object_get(it, "name"));
		const char *id = json_string_value(json_object_get(it, "id"));
		if (n && id && strcmp(n, name) == 0) {
			*id_out = xstrdup(id);
			break;
		}
	}
	json_decref(data);
	return 0;
}

static char *
web_server(const json_t *root)
{
	const char *web = cfg_str(root, "api.web_server", NULL);
	if (web && *web)
		return xstrdup(web);
	const char *api = cfg_str(root, "api.api_server", "");
	char *w = xstrdup(api);
	char *port = strstr(w, ":8008");
	if (port)
		memcpy(port, ":8080", 5);
	char *host = strstr(w, "://api.");
	if (host)
		memcpy(host, "://app.", 7);
	return w;
}

static int
run(struct task_opts *o)
{
	char err[1024];
	if (task_opts_check(o, err, sizeof err) < 0 || task_check_files(o, err, sizeof err) < 0)
		return fail("%s%s", err, "");

	struct config cfg;
	if (config_load(&cfg, o->config_file, err, sizeof err) < 0)
		return fail("%s%s", err, "");

	struct local_code code;
	int rc = 1;
	if (!o->base_task_id && task_collect_local(o, &code, err, sizeof err) < 0) {
		config_free(&cfg);
		return fail("%s%s", err, "");
	}
	if (o->base_task_id)
		memset(&code, 0, sizeof code);

	struct api_settings st;
	api_settings_from_config(&st, cfg.root);
	struct api_session *api = api_session_new(&st);
	struct api_error ae;
	char *project_id = NULL, *task_id = NULL, *queue_id = NULL;
	json_t *data = NULL;
	if (api_login(api, &ae) < 0) {
		fail("%s%s", ae.msg, "");
		goto out;
	}
	if (o->project) {
		if (find_by_name(api, "projects", "projects", o->project, &project_id, &ae) < 0) {
			fail("%s%s", ae.msg, "");
			goto out;
		}
		if (project_id == NULL) {
			json_t *req = json_pack("{s:s, s:s}", "name", o->project, "description", "Created by clearml-task");
			int r = api_call(api, "projects.create", NULL, req, &data, &ae);
			json_decref(req);
			if (r < 0) {
				fail("could not create project %s: %s", o->project, ae.msg);
				goto out;
			}
			project_id = xstrdup(json_string_value(json_object_get(data, "id")));
			json_decref(data);
			data = NULL;
		}
	}
	printf("Creating new task\n");
	if (o->base_task_id) {
		json_t *req = json_pack("{s:s, s:s}", "task", o->base_task_id, "new_task_name", o->name);
		if (project_id)
			json_object_set_new(req, "new_task_project", json_string(project_id));
		int r = api_call(api, "tasks.clone", "2.5", req, &data, &ae);
		json_decref(req);
		if (r < 0) {
			fail("could not clone task %s: %s", o->base_task_id, ae.msg);
			goto out;
		}
		task_id = xstrdup(json_string_value(json_object_get(data, "id")));
		json_decref(data);
		data = NULL;
		json_t *hp = task_build_hyperparams(o, NULL, 0, NULL);
		if (hp) {
			json_t *items = json_array();
			const char *k;
			json_t *v;
			json_object_foreach(json_object_get(hp, "Args"), k, v)
				json_array_append(items, v);
			json_t *edit = json_pack("{s:s, s:o, s:b}", "task", task_id, "hyperparams", items, "force", 1);
			r = api_call(api, "tasks.edit_hyper_params", NULL, edit, NULL, &ae);
			json_decref(edit);
			json_decref(hp);
			if (r < 0) {
				fail("could not set arguments: %s%s", ae.msg, "");
				goto out;
			}
		}
	} else {
		json_t *req = task_build_create(o, &code, project_id);
		int r = api_call(api, "tasks.create", NULL, req, &data, &ae);
		json_decref(req);
		if (r < 0) {
			fail("could not create the task: %s%s", ae.msg, "");
			goto out;
		}
		task_id = xstrdup(json_string_value(json_object_get(data, "id")));
		json_decref(data);
		data = NULL;
	}
	printf("New task created id=%s\n", task_id);
	if (o->queue == NULL) {
		printf("Warning: No queue was provided, leaving task in draft-mode.\n");
		rc = 0;
		goto out;
	}
	if (find_by_name(api, "queues", "queues", o->queue, &queue_id, &ae) < 0) {
		fail("%s%s", ae.msg, "");
		goto out;
	}
	if (queue_id == NULL) {
		fail("Could not find queue named '%s'%s", o->queue, "");
		goto out;
	}
	json_t *req = json_pack("{s:s, s:s}", "task", task_id, "queue", queue_id);
	int r = api_call(api, "tasks.enqueue", NULL, req, NULL, &ae);
	json_decref(req);
	if (r < 0) {
		fail("could not enqueue the task: %s%s", ae.msg, "");
		goto out;
	}
	char *web = web_server(cfg.root);
	printf("Task id=%s sent for execution on queue %s\n", task_id, o->queue);
	printf("Execution log at: %s/projects/%s/experiments/%s/output/log\n", web,
	       project_id ? project_id : "*", task_id);
	free(web);
	rc = 0;
out:
	free(project_id);
	free(task_id);
	free(queue_id);
	api_session_free(api);
	api_settings_free(&st);
	local_code_free(&code);
	config_free(&cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	log_set_prefix("clearml-task");
	struct task_opts o;
	printf("%s\n", TITLE);
	if (argc < 2) {
		help(stdout);
		return 0;
	}
	int pr = parse(argc, argv, &o);
	if (pr != 0) {
		task_opts_free(&o);
		return pr == 1 ? 0 : 2;
	}
	if (o.version) {
		printf("Version %s (clearml-task in C, %s)\n", CLEARML_AGENT_VERSION, CLEARML_C_BUILD);
		task_opts_free(&o);
		return 0;
	}
	if (o.config_file) {
		char *p = path_expand(o.config_file);
		setenv("CLEARML_CONFIG_FILE", p, 1);
		free(p);
	}
	fflush(stdout);
	int rc = run(&o);
	task_opts_free(&o);
	return rc;
}
