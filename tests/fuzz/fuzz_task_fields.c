/* Fuzz the runner's parsers of task-supplied text: git URL parse/format/rewrite/prepare/mask,
 * requirement-line rewriting, shlex split, path containment, diff-vs-literal detection and the
 * Task.init patch. Invariants: no crash, a contained path never climbs out, masking removes the
 * secret, the URL handed to git never carries a password. */
// fuzz-sources: src/runner/gitcred.c src/runner/task_env.c src/runner/vcs.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runner/gitcred.h"
#include "runner/task_env.h"
#include "runner/vcs.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);

	struct git_url u;
	git_url_parse(s, &u);
	char *f = git_url_format(&u);
	free(f);
	git_url_free(&u);

	struct git_creds c = {.user = xstrdup("bob"), .pass = xstrdup("Secr3tPass"), .translate_ssh = 1};
	for (int mode = 0; mode < 2; mode++) {
		c.force_ssh = mode;
		char *r = gitcred_rewrite_url(&c, s);
		free(r);
		char *user = NULL, *pass = NULL;
		char *g = gitcred_prepare(&c, s, &user, &pass);
		struct git_url gu;
		git_url_parse(g, &gu);
		if (!gu.local && !gu.scp && gu.pass[0] &&
		    (strcasecmp(gu.scheme, "http") == 0 || strcasecmp(gu.scheme, "https") == 0))
			abort(); /* a password left in an http(s) URL for git */
		git_url_free(&gu);
		free(g);
		free(user);
		free(pass);
		char *req = gitcred_requirement_line(&c, s);
		free(req);
	}
	char *m = gitcred_mask_text(s, "Secr3tPass");
	if (strstr(m, "Secr3tPass"))
		abort();
	free(m);
	gitcred_free(&c);

	struct argvec v = {0};
	char err[64];
	shlex_split(s, &v, err, sizeof err);
	argvec_free(&v);

	char *p = path_contained(s);
	if (p && (p[0] == '/' || strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 || strstr(p, "/../")))
		abort();
	free(p);

	(void)vcs_diff_kind(s);
	(void)vcs_rev_ok(s);
	char *patched = script_patch_task_init(s, 1);
	free(patched);
	free(s);
	return 0;
}
