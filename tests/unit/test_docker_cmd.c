/* Unit tests for docker_cmd.c: splitting, templates, filters, forbidden switches, the merge with
 * protected switches, the port range, GPU flags of docker and podman, k8s host-mount rewriting,
 * container names, masking, and the assembled `docker run` argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/docker_cmd.h"

static char *
joined(const struct dargs *a)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	for (size_t i = 0; i < a->n; i++)
		buf_printf(&b, "%s%s", i ? "|" : "", a->v[i]);
	buf_append(&b, "", 1);
	char *s = strdup(b.data ? b.data : "");
	buf_free(&b);
	return s;
}

static void
assert_args(const struct dargs *a, const char *want)
{
	char *j = joined(a);
	assert_string_equal(j, want);
	free(j);
}

static void
split(const char *s, struct dargs *out)
{
	memset(out, 0, sizeof *out);
	assert_int_equal(docker_split_args(s, out), 0);
}

static void
test_split(void **state)
{
	(void)state;
	struct dargs a;
	split("  --ipc=host -e 'A=b c' -e \"X=\\\"q\\\"\"  plain\\ word ", &a);
	assert_args(&a, "--ipc=host|-e|A=b c|-e|X=\"q\"|plain word");
	dargs_free(&a);
	struct dargs b = {0};
	assert_int_equal(docker_split_args("-e 'unterminated", &b), -1);
	dargs_free(&b);
	split("", &a);
	assert_int_equal(a.n, 0);
	dargs_free(&a);
}

static char *
lookup(void *ctx, const char *path)
{
	(void)ctx;
	if (strcmp(path, "TASK.project") == 0)
		return strdup("  Proj-ID ");
	if (strcmp(path, "QUEUE_NAME") == 0)
		return strdup("GPU_Queue");
	return NULL;
}

static void
test_templates(void **state)
{
	(void)state;
	struct buf w;
	buf_init(&w, 1 << 16);
	char *r = docker_template_resolve("--label=q=${CLEARML_QUEUE_NAME|lower}", lookup, NULL, &w);
	assert_string_equal(r, "--label=q=gpu_queue");
	free(r);
	r = docker_template_resolve("p=${CLEARML_TASK.project|strip}/${CLEARML_NOPE:dflt}", lookup, NULL, &w);
	assert_string_equal(r, "p=Proj-ID/dflt");
	free(r);
	assert_int_equal(w.len, 0);
	r = docker_template_resolve("x${CLEARML_MISSING}y ${HOME} ${CLEARML_QUEUE_NAME|capitalize}", lookup, NULL, &w);
	assert_string_equal(r, "xy ${HOME} Gpu_queue");
	free(r);
	buf_append(&w, "", 1);
	assert_non_null(strstr(w.data, "CLEARML_MISSING"));
	buf_free(&w);
}

static void
test_forbidden(void **state)
{
	(void)state;
	struct dargs a, removed = {0};
	split("--entrypoint /bin/sh -e A=1 --entrypoint=/x --rm --ipc host", &a);
	char *forbidden[] = {"entrypoint", NULL};
	assert_int_equal(docker_strip_forbidden(&a, forbidden, &removed), 2);
	assert_args(&a, "-e|A=1|--rm|--ipc|host");
	assert_args(&removed, "--entrypoint|/bin/sh|--entrypoint=/x");
	dargs_free(&a);
	dargs_free(&removed);
}

static void
test_filters(void **state)
{
	(void)state;
	struct dargs a, dropped = {0};
	split("-e A=1 --privileged --ipc=host -v /:/host --shm-size 1g", &a);
	char *filters[] = {"^-e=", "^--ipc", "^--shm-size", NULL};
	assert_int_equal(docker_filter_args(&a, filters, &dropped), 2);
	assert_args(&a, "-e|A=1|--ipc=host|--shm-size|1g");
	assert_args(&dropped, "--privileged|-v|/:/host");
	dargs_free(&a);
	dargs_free(&dropped);
	split("-v /:/host", &a);
	assert_int_equal(docker_filter_args(&a, NULL, NULL), 0); /* no filters: all kept */
	assert_int_equal(a.n, 2);
	dargs_free(&a);
}

static void
test_merge(void **state)
{
	(void)state;
	struct dargs extra, task, out = {0};
	split("--network host --ipc=host -e E=1", &extra);
	split("--network=bridge -e T=2 --privileged --ipc private", &task);
	char *prot[] = {"privileged", "security-opt", "network", "ipc", NULL};
	docker_merge_args(&extra, &task, 1, prot, &out);
	assert_args(&out, "--network|host|--ipc=host|-e|E=1|-e|T=2|--privileged");
	dargs_free(&out);
	docker_merge_args(&extra, &task, 0, prot, &out);
	assert_args(&out, "--network=bridge|-e|T=2|--privileged|--ipc|private|-e|E=1");
	dargs_free(&out);
	dargs_free(&extra);
	dargs_free(&task);
}

static void
test_ports(void **state)
{
	(void)state;
	struct dargs a, dropped = {0};
	split("-p 8080:80 -p 12000:80 --publish=127.0.0.1:12001:81/tcp -p 90 -p 11000-11002:5000-5002 -p 11000-20000:1", &a);
	assert_int_equal(docker_check_ports(&a, 10000, 15000, &dropped), 2);
	assert_args(&a, "-p|12000:80|--publish=127.0.0.1:12001:81/tcp|-p|90|-p|11000-11002:5000-5002");
	assert_args(&dropped, "-p|8080:80|-p|11000-20000:1");
	dargs_free(&a);
	dargs_free(&dropped);
	split("--network host -p 80:80", &a);
	assert_int_equal(docker_check_ports(&a, 10000, 15000, NULL), 0);
	dargs_free(&a);
}

static void
test_gpus(void **state)
{
	(void)state;
	struct dargs a = {0};
	char *nv;
	docker_gpu_args(ENGINE_DOCKER, "0,1", 0, 0, &a, &nv); /* explicit: even without a driver */
	assert_args(&a, "--gpus|\"device=0,1\"");
	assert_string_equal(nv, "all");
	free(nv);
	dargs_free(&a);
	docker_gpu_args(ENGINE_DOCKER, "0.1", 0, 1, &a, &nv); /* MIG: dots back to colons */
	assert_args(&a, "--gpus|\"device=0:1\"");
	free(nv);
	dargs_free(&a);
	docker_gpu_args(ENGINE_DOCKER, NULL, 0, 1, &a, &nv);
	assert_args(&a, "--gpus|all");
	assert_string_equal(nv, "all");
	free(nv);
	dargs_free(&a);
	docker_gpu_args(ENGINE_DOCKER, "all", 0, 0, &a, &nv); /* CPU-only host: no --gpus */
	assert_int_equal(a.n, 0);
	assert_string_equal(nv, "none");
	free(nv);
	docker_gpu_args(ENGINE_DOCKER, "none", 0, 1, &a, &nv); /* --cpu-only */
	assert_int_equal(a.n, 0);
	assert_string_equal(nv, "none");
	free(nv);
	docker_gpu_args(ENGINE_DOCKER, "2,3", 1, 1, &a, &nv); /* CLEARML_DOCKER_SKIP_GPUS_FLAG */
	assert_int_equal(a.n, 0);
	assert_string_equal(nv, "2,3");
	free(nv);
	docker_gpu_args(ENGINE_PODMAN, "0,1", 0, 1, &a, &nv);
	assert_args(&a, "--device|nvidia.com/gpu=0|--device|nvidia.com/gpu=1");
	free(nv);
	dargs_free(&a);
	docker_gpu_args(ENGINE_PODMAN, "all", 0, 1, &a, &nv);
	assert_args(&a, "--device|nvidia.com/gpu=all");
	free(nv);
	dargs_free(&a);
}

static void
test_k8s_mount(void **state)
{
	(void)state;
	char *r = docker_k8s_host_path("/mnt/node:/pod/data", "/pod/data/cache/pip");
	assert_string_equal(r, "/mnt/node/cache/pip");
	free(r);
	r = docker_k8s_host_path("/mnt/node:/pod/data/", "/pod/data");
	assert_string_equal(r, "/mnt/node");
	free(r);
	assert_null(docker_k8s_host_path("/mnt/node:/pod/data", "/pod/database"));
	assert_null(docker_k8s_host_path("/mnt/node:/pod/data", "/root/.cache"));
	r = docker_k8s_host_path(NULL, "/x");
	assert_string_equal(r, "/x");
	free(r);
}

static void
test_names(void **state)
{
	(void)state;
	char *n = docker_container_name(NULL, "abc123", "w:0", NULL);
	assert_string_equal(n, "clearml-id-abc123");
	free(n);
	n = docker_container_name("{worker_id}/{task_id}-{rand_string:.4}", "t1", "host:gpu0", "wxyz9");
	assert_string_equal(n, "host-gpu0-t1-wxyz");
	free(n);
	n = docker_container_name("_{task_id}", "t", NULL, NULL);
	assert_string_equal(n, "ct");
	free(n);
}

static void
test_display_masks(void **state)
{
	(void)state;
	char *argv[] = {"docker", "run", "-e", "CLEARML_API_SECRET_KEY=s3cr3t", "-e", "MY_TOKEN=abc",
	                "--env=AWS_SECRET_ACCESS_KEY=aws", "-e", "PLAIN=1", "-e", "CLEARML_API_SECRET_KEY",
	                "img", "pip", "https://user:pw@host/x", "two words", NULL};
	char *extra[] = {"MY_TOKEN", NULL};
	char *d = docker_display(argv, extra, 1);
	assert_null(strstr(d, "s3cr3t"));
	assert_null(strstr(d, "abc"));
	assert_null(strstr(d, "=aws"));
	assert_null(strstr(d, ":pw@"));
	assert_non_null(strstr(d, "CLEARML_API_SECRET_KEY=******** "));
	assert_non_null(strstr(d, "MY_TOKEN=********"));
	assert_non_null(strstr(d, "PLAIN=1"));
	assert_non_null(strstr(d, "https://user:********@host/x"));
	assert_non_null(strstr(d, "'two words'"));
	free(d);
	d = docker_display(argv, NULL, 0);
	assert_non_null(strstr(d, "MY_TOKEN=abc")); /* not in the list */
	assert_null(strstr(d, "s3cr3t"));
	free(d);
}

static void
test_build_run(void **state)
{
	(void)state;
	struct dargs labels = {0}, gpu = {0}, args = {0}, env = {0}, names = {0}, mounts = {0}, cmd = {0}, out = {0};
	dargs_push(&labels, "clearml-worker-id=w");
	dargs_push(&args, "--ipc=host");
	dargs_push(&env, "CLEARML_TASK_ID=t");
	dargs_push(&names, "CLEARML_API_SECRET_KEY");
	dargs_push(&mounts, "/h:/c:ro");
	dargs_push(&cmd, "/r");
	dargs_push(&cmd, "--in-container");
	char *nv;
	docker_gpu_args(ENGINE_DOCKER, "0", 0, 1, &gpu, &nv);
	free(nv);
	struct docker_run_in in = {.engine_bin = "docker", .name = "n", .labels = &labels, .gpu = &gpu,
	                           .args = &args, .env = &env, .env_names = &names, .mounts = &mounts,
	                           .image = "img:1", .command = &cmd};
	docker_build_run(&in, &out);
	assert_args(&out, "docker|run|--name|n|--gpus|\"device=0\"|--ipc=host|-l|clearml-worker-id=w|-e|"
	                  "CLEARML_TASK_ID=t|-e|CLEARML_API_SECRET_KEY|-v|/h:/c:ro|img:1|/r|--in-container");
	for (size_t i = 0; i < out.n; i++) { /* no pty (output as a local task's), no --rm (inspect first) */
		assert_string_not_equal(out.v[i], "-t");
		assert_string_not_equal(out.v[i], "--rm");
	}
	struct dargs *all[] = {&labels, &gpu, &args, &env, &names, &mounts, &cmd, &out};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		dargs_free(all[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),      cmocka_unit_test(test_templates), cmocka_unit_test(test_forbidden),
		cmocka_unit_test(test_filters),    cmocka_unit_test(test_merge),     cmocka_unit_test(test_ports),
		cmocka_unit_test(test_gpus),       cmocka_unit_test(test_k8s_mount), cmocka_unit_test(test_names),
		cmocka_unit_test(test_display_masks), cmocka_unit_test(test_build_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
