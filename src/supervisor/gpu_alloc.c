/*
 * gpu_alloc — parsing the dynamic-GPU options and choosing GPUs, without I/O (gpu_alloc.h).
 */
#include "supervisor/gpu_alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* digits, optionally ":digits" (MIG). */
static int
valid_id(const char *s, size_t n)
{
	if (n == 0 || n >= GPU_ID_LEN)
		return 0;
	size_t i = 0, d = 0;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, d++;
	if (d == 0)
		return 0;
	if (i == n)
		return 1;
	if (s[i] != ':')
		return 0;
	i++;
	d = 0;
	while (i < n && isdigit((unsigned char)s[i]))
		i++, d++;
	return d > 0 && i == n;
}

int
gpu_set_find(const struct gpu_set *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->id[i], id) == 0)
			return (int)i;
	return -1;
}

static int
add_id(struct gpu_set *s, const char *id, size_t n, const char *spec, char *err, size_t errlen)
{
	if (s->n >= GPU_MAX) {
		snprintf(err, errlen, "--gpus \"%s\": more than %d GPUs", spec, GPU_MAX);
		return -1;
	}
	char tmp[GPU_ID_LEN];
	memcpy(tmp, id, n);
	tmp[n] = '\0';
	if (gpu_set_find(s, tmp) >= 0) {
		snprintf(err, errlen, "--gpus \"%s\": GPU %s is listed twice", spec, tmp);
		return -1;
	}
	memcpy(s->id[s->n++], tmp, n + 1);
	return 0;
}

static int set_parse(const char *spec, struct gpu_set *out, char *err, size_t errlen);

int
gpu_set_parse(const char *spec, struct gpu_set *out, char *err, size_t errlen)
{
	int rc = set_parse(spec, out, err, errlen);
	if (rc < 0)
		memset(out, 0, sizeof *out); /* nothing half-parsed */
	return rc;
}

static int
set_parse(const char *spec, struct gpu_set *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!spec || !*spec) {
		snprintf(err, errlen, "--dynamic-gpus needs --gpus as a range (0-3) or a list (0,1,2,3)");
		return -1;
	}
	size_t len = strlen(spec);
	const char *dash = strchr(spec, '-');
	if (dash && !strchr(spec, ',')) {
		long long a, b;
		char lo[GPU_ID_LEN], hi[GPU_ID_LEN];
		size_t la = (size_t)(dash - spec), lb = len - la - 1;
		if (la == 0 || lb == 0 || la >= sizeof lo || lb >= sizeof hi)
			goto bad;
		memcpy(lo, spec, la);
		lo[la] = '\0';
		memcpy(hi, dash + 1, lb);
		hi[lb] = '\0';
		if (parse_long(lo, 0, GPU_MAX - 1, &a) < 0 || parse_long(hi, 0, 1000000, &b) < 0 ||
		    !valid_id(lo, la) || !valid_id(hi, lb))
			goto bad;
		if (b < a) {
			snprintf(err, errlen, "--gpus \"%s\": the range runs backwards", spec);
			return -1;
		}
		if (b - a + 1 > GPU_MAX) {
			snprintf(err, errlen, "--gpus \"%s\": more than %d GPUs", spec, GPU_MAX);
			return -1;
		}
		for (long long g = a; g <= b; g++) {
			char id[GPU_ID_LEN];
			int n = snprintf(id, sizeof id, "%lld", g);
			if (add_id(out, id, (size_t)n, spec, err, errlen) < 0)
				return -1;
		}
		return 0;
	}
	size_t i = 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && spec[j] != ',')
			j++;
		if (!valid_id(spec + i, j - i))
			goto bad;
		if (add_id(out, spec + i, j - i, spec, err, errlen) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
bad:
	snprintf(err, errlen, "--gpus \"%s\" is not a range (0-3) or a list of GPU ids (0,1,2,3 or "
	         "MIG 0:0,0:1) as --dynamic-gpus needs", spec);
	memset(out, 0, sizeof *out);
	return -1;
}

/* A GPU count: digits, or a fraction like 0.5 / .25 (*frac = 1). -1 when neither. */
static int
parse_count(const char *s, size_t n, int *frac)
{
	*frac = 0;
	if (n == 0 || n > 9)
		return -1;
	int v = 0, dot = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && !dot) {
			dot = 1;
			continue;
		}
		if (!isdigit((unsigned char)s[i]))
			return -1;
		digits++;
		if (!dot)
			v = v * 10 + (s[i] - '0');
		else if (s[i] != '0')
			*frac = 1;
	}
	if (!digits)
		return -1;
	return v;
}

int
gpu_queue_spec_parse(const char *arg, size_t ngpus, int docker, struct gpu_queue_spec *out,
                     char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *eq = arg ? strrchr(arg, '=') : NULL;
	if (!eq || eq == arg) {
		snprintf(err, errlen, "--dynamic-gpus: queue \"%s\" needs a GPU count: name=N or "
		         "name=MIN-MAX (e.g. dual_gpus=2, opportunistic=1-4)", arg ? arg : "");
		return -1;
	}
	size_t nl = (size_t)(eq - arg);
	if (nl >= sizeof out->name) {
		snprintf(err, errlen, "--dynamic-gpus: queue name too long");
		return -1;
	}
	memcpy(out->name, arg, nl);
	out->name[nl] = '\0';
	const char *v = eq + 1;
	const char *dash = strchr(v, '-');
	int f1 = 0, f2 = 0, a, b;
	if (dash) {
		a = parse_count(v, (size_t)(dash - v), &f1);
		b = parse_count(dash + 1, strlen(dash + 1), &f2);
	} else {
		a = b = parse_count(v, strlen(v), &f1);
	}
	if (a < 0 || b < 0) {
		snprintf(err, errlen, "--dynamic-gpus: queue \"%s\": \"%s\" is not N or MIN-MAX "
		         "(whole numbers of GPUs)", out->name, v);
		return -1;
	}
	if (f1 || f2 || (a == 0 && strchr(v, '.'))) {
		if (!docker)
			snprintf(err, errlen, "--dynamic-gpus: queue \"%s\": fractional GPUs (%s) need "
			         "docker mode (--docker)", out->name, v);
		else
			snprintf(err, errlen, "--dynamic-gpus: queue \"%s\": fractional GPUs (%s) are not "
			         "available in this agent", out->name, v);
		return -1;
	}
	if (a <= 0 || b <= 0) {
		snprintf(err, errlen, "--dynamic-gpus: queue \"%s\": a task needs at least 1 GPU (got "
		         "%s)", out->name, v);
		return -1;
	}
	if (b < a) {
		snprintf(err, errlen, "--dynamic-gpus: queue \"%s\": range %s runs backwards", out->name,
		         v);
		return -1;
	}
	if ((size_t)b > ngpus) {
		snprintf(err, errlen, "--dynamic-gpus: queue \"%s\" asks for %d GPUs but --gpus names "
		         "only %zu", out->name, b, ngpus);
		return -1;
	}
	out->min = a;
	out->max = b;
	return 0;
}

size_t
gpu_busy_from_worker(const struct gpu_set *s, const char *name, const char *worker_id,
                     unsigned char *busy)
{
	if (!name || !worker_id)
		return 0;
	size_t nl = strlen(name);
	if (strncmp(worker_id, name, nl) != 0 || strncmp(worker_id + nl, ":gpu", 4) != 0)
		return 0;
	/* the GPUs are listed after the last ':' ("gpu0,1"; MIG ids carry ':' too, so parse from the
	 * ":gpu" on instead) */
	const char *p = worker_id + nl + 4;
	size_t marked = 0;
	while (*p) {
		const char *q = p;
		while (*q && *q != ',')
			q++;
		size_t n = (size_t)(q - p);
		if (valid_id(p, n)) {
			char id[GPU_ID_LEN];
			memcpy(id, p, n);
			id[n] = '\0';
			int i = gpu_set_find(s, id);
			if (i >= 0 && !busy[i]) {
				busy[i] = 1;
				marked++;
			}
		}
		p = *q ? q + 1 : q;
	}
	return marked;
}

size_t
gpu_pick(const struct gpu_set *s, const unsigned char *busy, int min, int max, size_t *picked)
{
	if (min < 1 || max < min)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < s->n && n < (size_t)max; i++)
		if (!busy[i])
			picked[n++] = i;
	return n >= (size_t)min ? n : 0;
}

void
gpu_ids_join(const struct gpu_set *s, const size_t *idx, size_t n, char *out, size_t outlen)
{
	size_t used = 0;
	if (outlen)
		out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < outlen; i++) {
		int w = snprintf(out + used, outlen - used, "%s%s", i ? "," : "", s->id[idx[i]]);
		if (w < 0)
			break;
		used += (size_t)w;
		if (used >= outlen) {
			out[outlen - 1] = '\0';
			break;
		}
	}
}
