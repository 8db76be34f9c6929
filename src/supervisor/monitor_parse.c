/*
 * monitor_parse — pure text parsers for machine statistics; see monitor_parse.h.
 */
#include "supervisor/monitor_parse.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *
skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parse an unsigned decimal; advances *p. Returns -1 when no digits. */
static int
parse_u64(const char **p, uint64_t *out)
{
	const char *s = skip_space(*p);
	if (!isdigit((unsigned char)*s))
		return -1;
	uint64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (uint64_t)(*s - '0');
		s++;
	}
	*out = v;
	*p = s;
	return 0;
}

int
mon_parse_proc_stat(const char *text, struct cpu_times *out)
{
	const char *p = text;
	while (p && *p) {
		if (strncmp(p, "cpu ", 4) == 0) {
			p += 4;
			uint64_t f[10] = {0};
			int n = 0;
			while (n < 10 && parse_u64(&p, &f[n]) == 0)
				n++;
			if (n < 4)
				return -1;
			/* user nice system idle iowait irq softirq steal (guest fields are in user) */
			uint64_t idle = f[3] + (n > 4 ? f[4] : 0);
			uint64_t total = 0;
			for (int i = 0; i < n && i < 8; i++)
				total += f[i];
			out->total = total;
			out->busy = total - idle;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

double
mon_cpu_percent(const struct cpu_times *prev, const struct cpu_times *cur)
{
	if (cur->total <= prev->total || cur->busy < prev->busy)
		return 0.0;
	double v = 100.0 * (double)(cur->busy - prev->busy) / (double)(cur->total - prev->total);
	return v > 100.0 ? 100.0 : v;
}

int
mon_parse_meminfo(const char *text, uint64_t *total_kib, uint64_t *avail_kib)
{
	int got = 0;
	for (const char *p = text; p && *p;) {
		if (strncmp(p, "MemTotal:", 9) == 0) {
			const char *q = p + 9;
			if (parse_u64(&q, total_kib) == 0)
				got |= 1;
		} else if (strncmp(p, "MemAvailable:", 13) == 0) {
			const char *q = p + 13;
			if (parse_u64(&q, avail_kib) == 0)
				got |= 2;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return got == 3 ? 0 : -1;
}

int
mon_parse_net_dev(const char *text, uint64_t *rx, uint64_t *tx)
{
	*rx = *tx = 0;
	int seen = 0;
	for (const char *p = text; p && *p;) {
		const char *colon = strchr(p, ':');
		const char *nl = strchr(p, '\n');
		if (colon && (!nl || colon < nl)) {
			const char *name = skip_space(p);
			size_t nlen = (size_t)(colon - name);
			if (!(nlen == 2 && strncmp(name, "lo", 2) == 0)) {
				const char *q = colon + 1;
				uint64_t f[9];
				int n = 0;
				while (n < 9 && parse_u64(&q, &f[n]) == 0)
					n++;
				if (n == 9) {
					*rx += f[0];
					*tx += f[8];
					seen = 1;
				}
			} else {
				seen = 1;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return seen ? 0 : -1;
}

int
mon_parse_diskstats(const char *text, int (*is_disk)(const char *name), uint64_t *rd_bytes,
                    uint64_t *wr_bytes)
{
	*rd_bytes = *wr_bytes = 0;
	int seen = 0;
	for (const char *p = text; p && *p;) {
		const char *q = p;
		uint64_t major, minor;
		if (parse_u64(&q, &major) == 0 && parse_u64(&q, &minor) == 0) {
			q = skip_space(q);
			char name[64];
			size_t n = 0;
			while (q[n] && !isspace((unsigned char)q[n]) && n < sizeof name - 1) {
				name[n] = q[n];
				n++;
			}
			name[n] = '\0';
			q += n;
			uint64_t f[7];
			int k = 0;
			while (k < 7 && parse_u64(&q, &f[k]) == 0)
				k++;
			seen = 1;
			/* fields: reads merged sectors_read ms writes merged sectors_written */
			if (k == 7 && is_disk(name)) {
				*rd_bytes += f[2] * 512;
				*wr_bytes += f[6] * 512;
			}
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return seen ? 0 : -1;
}

static int
parse_csv_number(const char **p, double *out, int *ok)
{
	const char *s = skip_space(*p);
	char *end = NULL;
	double v = strtod(s, &end);
	*ok = end != s;
	if (!*ok) {
		/* "[N/A]" or "[Not Supported]": skip the field */
		while (*s && *s != ',' && *s != '\n')
			s++;
		end = (char *)(uintptr_t)s;
	}
	*out = *ok ? v : 0.0;
	s = skip_space(end);
	if (*s == ',')
		s++;
	*p = s;
	return 0;
}

int
mon_parse_nvidia_smi(const char *text, struct gpu_sample *out, int max)
{
	int n = 0;
	for (const char *p = text; p && *p && n < max;) {
		const char *nl = strchr(p, '\n');
		const char *q = skip_space(p);
		if (*q && *q != '\n') {
			double v[5];
			int ok[5];
			for (int i = 0; i < 5; i++)
				parse_csv_number(&q, &v[i], &ok[i]);
			if (!ok[0] || !ok[3] || !ok[4])
				return -1;
			out[n] = (struct gpu_sample){.index = (int)v[0],
			                             .temperature = v[1],
			                             .utilization = v[2],
			                             .has_util = ok[2],
			                             .mem_used_mib = v[3],
			                             .mem_total_mib = v[4]};
			n++;
		}
		p = nl ? nl + 1 : NULL;
	}
	return n;
}

int
mon_visible_gpus(const char *nvidia_visible, const char *cuda_visible, const char *const *uuids,
                 int n_gpus, int *out, int max)
{
	const char *spec = (nvidia_visible && *nvidia_visible) ? nvidia_visible : cuda_visible;
	if (spec == NULL)
		return -1;
	char *copy = xstrdup(spec);
	char *s = str_trim(copy);
	if (strcasecmp(s, "all") == 0) {
		free(copy);
		return -1;
	}
	if (*s == '\0' || strcasecmp(s, "none") == 0 || strcasecmp(s, "void") == 0) {
		free(copy);
		return 0;
	}
	int n = 0;
	for (char *tok = s; tok && *tok && n < max;) {
		char *comma = strchr(tok, ',');
		if (comma)
			*comma = '\0';
		char *t = str_trim(tok);
		long long idx;
		/* MIG "0:1" / "0.1": the parent GPU index */
		char *sep = strpbrk(t, ":.");
		if (sep && isdigit((unsigned char)t[0]))
			*sep = '\0';
		if (parse_long(t, 0, MON_MAX_GPUS - 1, &idx) == 0) {
			out[n++] = (int)idx;
		} else if (uuids) {
			for (int g = 0; g < n_gpus; g++)
				if (uuids[g] && strcmp(uuids[g], t) == 0) {
					out[n++] = g;
					break;
				}
		}
		tok = comma ? comma + 1 : NULL;
	}
	free(copy);
	return n;
}

double
mon_round3(double v)
{
	return round(v * 1000.0) / 1000.0;
}
