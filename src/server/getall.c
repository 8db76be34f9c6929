/*
 * getall — the get_all query language (§2.0) evaluated on JSON documents.
 *
 * The request body is compiled once into a list of clauses (regexes compiled, list values split
 * into any/all/none sets), then each document is tested against every clause. Ordering is a
 * stable merge of order_by keys; paging and the 500-result cap come last, then projection.
 * Regexes: getall_regex.c; comparing values and the `filters` object: getall_value.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/getall.h"
#include "util.h"

#define MAX_CLAUSES 64

/* A path segment's "%2E" stands for a '.' inside a key (the real server's escaping of keys
 * such as a hyper-parameter section "sec.tion1"); decoded in place. */
static void
unescape_dots(char *seg)
{
	char *w = seg;
	for (const char *r = seg; *r; r++) {
		if (r[0] == '%' && r[1] == '2' && (r[2] == 'E' || r[2] == 'e')) {
			*w++ = '.';
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

json_t *
json_path_get(const json_t *doc, const char *dotted)
{
	const json_t *cur = doc;
	const char *p = dotted;
	char seg[256];
	while (cur && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		unescape_dots(seg);
		if (!json_is_object(cur))
			return NULL;
		cur = json_object_get(cur, seg);
		p += n;
		if (*p == '.')
			p++;
	}
	return (json_t *)(uintptr_t)cur;
}

/* ---------------------------------------------------------------- clauses */

enum clause_kind { C_PATTERN, C_LIST, C_LISTFILTER, C_RANGE, C_DATETIME, C_TEXT, C_ANYALL };

struct clause {
	enum clause_kind kind;
	char *path;
	regex_t re;
	int has_re;
	json_t *any, *all, *none;  /* C_LIST */
	int any_null;              /* null among the values: "or the list is empty" */
	int list_or;               /* parts combined by or (a leading __$any/__$or) */
	json_t *lo, *hi;           /* C_RANGE: bounds (number or datetime string), NULL = open */
	struct getall_list_filter *lf; /* C_LISTFILTER: the `filters` entry of this field */
	json_t *dt;                /* C_DATETIME, C_ANYALL by datetime: conditions (see dt_ok) */
	char *text;                /* C_TEXT: lowercased */
	json_t *fields;            /* C_ANYALL / C_TEXT */
	int all_mode;              /* C_ANYALL: _all_ */
};

struct filter {
	struct clause c[MAX_CLAUSES];
	int n;
	int show_hidden;
	const struct getall_spec *spec;
};

static int
in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++) {
		size_t l = strlen(*list);
		if (l >= 2 && (*list)[l - 1] == '*' && (*list)[l - 2] == '.') {
			if (strncmp(name, *list, l - 1) == 0 && name[l - 1])
				return 1;
		} else if (strcmp(*list, name) == 0) {
			return 1;
		}
	}
	return 0;
}

static void
filter_free(struct filter *f)
{
	for (int i = 0; i < f->n; i++) {
		struct clause *c = &f->c[i];
		free(c->path);
		if (c->has_re)
			regfree(&c->re);
		json_decref(c->any);
		json_decref(c->all);
		json_decref(c->none);
		json_decref(c->lo);
		json_decref(c->hi);
		getall_list_filter_free(c->lf);
		json_decref(c->dt);
		free(c->text);
		json_decref(c->fields);
	}
	f->n = 0;
}

static struct clause *
clause_new(struct filter *f, struct reply *r, enum clause_kind k, const char *path)
{
	if (f->n >= MAX_CLAUSES) {
		reply_err(r, 400, 12, "Validation error (too many query fields)");
		return NULL;
	}
	struct clause *c = &f->c[f->n++];
	memset(c, 0, sizeof(*c));
	c->kind = k;
	c->path = xstrdup(path);
	return c;
}

/*
 * A list field's values, read as the real server does: plain values are "holds one of" (or,
 * after __$all/__$and, "holds all of"); __$not before a value, or a leading "-" while no operator
 * has been seen (the pre-2.8 form; __$nop restores it), is "holds none of"; null adds "or has
 * none". The parts are combined by the first operator when it comes before any value (__$any/
 * __$or: any part; __$all/__$and: every part), else all must hold.
 */
static int
compile_list(struct clause *c, const json_t *v)
{
	c->any = json_array();
	c->all = json_array();
	c->none = json_array();
	json_t *arr = json_is_array(v) ? json_incref((json_t *)(uintptr_t)v) : json_pack("[O]", v);
	int all_ctx = 0, negate_next = 0, legacy = 1, global = -1; /* -1 unset, 0 and, 1 or */
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x) {
		const char *s = json_string_value(x);
		if (s && !negate_next) {
			int op_all = !strcmp(s, "__$all") || !strcmp(s, "__$and");
			int op_any = !strcmp(s, "__$any") || !strcmp(s, "__$or");
			if (op_all || op_any) {
				all_ctx = op_all;
				legacy = 0;
				if (global < 0)
					global = op_any;
				continue;
			}
		}
		if (global < 0)
			global = 0;
		if (json_is_null(x)) {
			c->any_null = 1;
			negate_next = 0;
			continue;
		}
		if (s && !strcmp(s, "__$nop")) {
			all_ctx = 0;
			legacy = 1;
			negate_next = 0;
			continue;
		}
		if (s && !strcmp(s, "__$not")) {
			negate_next = 1;
			continue;
		}
		if (s && !negate_next && legacy && s[0] == '-' && s[1]) {
			json_array_append_new(c->none, json_string(s + 1));
			continue;
		}
		if (negate_next)
			json_array_append(c->none, x);
		else
			json_array_append(all_ctx ? c->all : c->any, x);
		negate_next = 0;
	}
	c->list_or = global == 1;
	json_decref(arr);
	return 0;
}

static int
compile_filter(const json_t *body, const struct getall_spec *spec, struct filter *f, struct reply *r)
{
	memset(f, 0, sizeof(*f));
	f->spec = spec;
	int sh = 0;
	json_t *shv = json_object_get(body, "search_hidden");
	if (json_is_true(shv))
		sh = 1;
	if (json_object_get(body, "id") && !json_is_null(json_object_get(body, "id")))
		sh = 1;
	if (spec->hidden_unless_name && json_is_string(json_object_get(body, "name")))
		sh = 1;
	f->show_hidden = sh || !spec->hidden_tag;
	const char *key;
	json_t *v;
	/* filters: {<list field>: {any/all/op}}, each replacing a plain query of the same field */
	json_t *filters = json_object_get(body, "filters");
	if (filters && !json_is_null(filters) && !json_is_object(filters)) {
		reply_err(r, 400, 12, "Validation error (filters must be an object)");
		return -1;
	}
	json_object_foreach(filters, key, v) {
		if (json_is_null(v) || !in_list(spec->list_fields, key))
			continue;
		struct clause *c = clause_new(f, r, C_LISTFILTER, key);
		if (!c || !(c->lf = getall_list_filter_new(key, v, r)))
			goto fail;
	}
	json_object_foreach((json_t *)(uintptr_t)body, key, v) {
		if (json_is_null(v))
			continue;
		struct clause *c = NULL;
		json_t *fv = json_object_get(filters, key);
		if (fv && !json_is_null(fv) && in_list(spec->list_fields, key))
			continue;
		if (in_list(spec->pattern_fields, key)) {
			if (!json_is_string(v)) {
				reply_err(r, 400, 12, "Validation error (pattern expected): field=%s", key);
				goto fail;
			}
			if (!(c = clause_new(f, r, C_PATTERN, key)))
				goto fail;
			if (getall_regex_compile(json_string_value(v), &c->re) != 0) {
				reply_err(r, 400, 12, "Validation error (invalid regular expression): field=%s",
				          key);
				goto fail;
			}
			c->has_re = 1;
		} else if (in_list(spec->list_fields, key)) {
			if (!(c = clause_new(f, r, C_LIST, key)))
				goto fail;
			compile_list(c, v);
		} else if (in_list(spec->range_fields, key)) {
			if (!json_is_array(v) || json_array_size(v) > 2) {
				reply_err(r, 400, 12, "Validation error (range [min, max] expected): field=%s", key);
				goto fail;
			}
			if (!(c = clause_new(f, r, C_RANGE, key)))
				goto fail;
			json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
			if (json_is_number(a) || json_is_string(a))
				c->lo = json_incref(a);
			if (json_is_number(b) || json_is_string(b))
				c->hi = json_incref(b);
		} else if (in_list(spec->datetime_fields, key)) {
			if (!(c = clause_new(f, r, C_DATETIME, key)))
				goto fail;
			c->dt = json_is_array(v) ? json_incref(v) : json_pack("[O]", v);
		} else if (!strcmp(key, "search_text") && spec->text_fields) {
			if (!json_is_string(v))
				continue;
			if (!(c = clause_new(f, r, C_TEXT, key)))
				goto fail;
			c->text = xstrdup(json_string_value(v));
			for (char *s = c->text; *s; s++)
				*s = (char)tolower((unsigned char)*s);
		} else if (!strcmp(key, "_any_") || !strcmp(key, "_all_") || !strcmp(key, "_or_") ||
		           !strcmp(key, "_and_")) {
			json_t *pat = json_object_get(v, "pattern");
			json_t *dt = json_object_get(v, "datetime");
			json_t *fields = json_object_get(v, "fields");
			if (!json_is_array(fields) || (!json_is_string(pat) && (!dt || json_is_null(dt))))
				continue;
			int all_mode = !strcmp(key, "_all_") || !strcmp(key, "_and_");
			if (!json_is_string(pat)) {
				/* by datetime: only the fields that are datetime fields take part */
				json_t *dtf = json_array();
				size_t k;
				json_t *fld;
				json_array_foreach(fields, k, fld)
					if (json_is_string(fld) &&
					    in_list(spec->datetime_fields, json_string_value(fld)))
						json_array_append(dtf, fld);
				if (!json_array_size(dtf)) {
					json_decref(dtf);
					continue;
				}
				if (!(c = clause_new(f, r, C_ANYALL, key))) {
					json_decref(dtf);
					goto fail;
				}
				c->all_mode = all_mode;
				c->fields = dtf;
				c->dt = json_is_array(dt) ? json_incref(dt) : json_pack("[O]", dt);
				continue;
			}
			if (!(c = clause_new(f, r, C_ANYALL, key)))
				goto fail;
			c->all_mode = all_mode;
			c->fields = json_incref(fields);
			if (getall_regex_compile(json_string_value(pat), &c->re) != 0) {
				reply_err(r, 400, 12, "Validation error (invalid regular expression): field=%s", key);
				goto fail;
			}
			c->has_re = 1;
		}
	}
	return 0;
fail:
	filter_free(f);
	return -1;
}

static int
value_has(const json_t *docv, const json_t *x)
{
	if (json_is_array(docv)) {
		size_t i;
		json_t *e;
		json_array_foreach(docv, i, e)
			if (json_equal(e, x))
				return 1;
		return 0;
	}
	if (json_is_object(docv) && json_is_string(json_object_get(docv, "value")))
		return json_equal(json_object_get(docv, "value"), x); /* hyperparams.S.N */
	return docv && json_equal(docv, x);
}

static int
value_empty(const json_t *v)
{
	return !v || json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0) ||
	       (json_is_string(v) && json_string_length(v) == 0);
}

/* compile_list's clause against a document's value. */
static int
list_ok(const struct clause *c, const json_t *v)
{
	size_t k;
	json_t *x;
	int parts = 0, hits = 0;
	if (json_array_size(c->any)) {
		int hit = 0;
		json_array_foreach(c->any, k, x)
			if (!hit && value_has(v, x))
				hit = 1;
		parts++;
		hits += hit;
	}
	if (json_array_size(c->all)) {
		int hit = 1;
		json_array_foreach(c->all, k, x)
			if (hit && !value_has(v, x))
				hit = 0;
		parts++;
		hits += hit;
	}
	if (json_array_size(c->none)) {
		int hit = 1;
		json_array_foreach(c->none, k, x)
			if (hit && value_has(v, x))
				hit = 0;
		parts++;
		hits += hit;
	}
	if (c->any_null && value_empty(v))
		return 1;
	if (!parts)
		return !c->any_null;
	return c->list_or ? hits > 0 : hits == parts;
}

static int
regex_on_value(const regex_t *re, const json_t *v)
{
	if (json_is_string(v))
		return regexec(re, json_string_value(v), 0, NULL, 0) == 0;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
			if (json_is_string(e) && regexec(re, json_string_value(e), 0, NULL, 0) == 0)
				return 1;
	}
	return 0;
}

/* A [min, max] range, both ends included; an open min also takes documents without the value
 * (the real server's range query). */
static int
range_ok(const json_t *docv, const json_t *lo, const json_t *hi)
{
	int cmp;
	if (!docv || json_is_null(docv))
		return !lo || json_is_null(lo);
	if (lo && !json_is_null(lo) && (getall_value_cmp(docv, lo, &cmp) != 0 || cmp < 0))
		return 0;
	if (hi && !json_is_null(hi) && (getall_value_cmp(docv, hi, &cmp) != 0 || cmp > 0))
		return 0;
	return 1;
}

static int
has_op_prefix(const char *s)
{
	return s && (s[0] == '>' || s[0] == '<');
}

/* Datetime conditions: ["<op><datetime>", …] with op one of >= > <= < or none (equal), all of
 * which must hold (a condition that is no datetime is ignored); or two plain values [min, max],
 * the range form. */
static int
dt_ok(const json_t *docv, const json_t *conds)
{
	if (json_array_size(conds) == 2 &&
	    !has_op_prefix(json_string_value(json_array_get(conds, 0))) &&
	    !has_op_prefix(json_string_value(json_array_get(conds, 1))))
		return range_ok(docv, json_array_get(conds, 0), json_array_get(conds, 1));
	int64_t dv = 0;
	int have = getall_datetime_parse(json_string_value(docv), &dv) == 0;
	size_t i;
	json_t *e;
	json_array_foreach(conds, i, e) {
		const char *s = json_string_value(e);
		if (!s)
			continue;
		int ge = 0, le = 0, gt = 0, lt = 0;
		if (!strncmp(s, ">=", 2) || !strncmp(s, "<=", 2)) {
			ge = s[0] == '>';
			le = !ge;
			s += 2;
		} else if (s[0] == '>' || s[0] == '<') {
			gt = s[0] == '>';
			lt = !gt;
			s++;
		}
		int64_t qv;
		if (getall_datetime_parse(s, &qv) != 0)
			continue;
		if (!have)
			return 0;
		if ((ge && dv < qv) || (le && dv > qv) || (gt && dv <= qv) || (lt && dv >= qv) ||
		    (!ge && !le && !gt && !lt && dv != qv))
			return 0;
	}
	return 1;
}

static int
contains_ci(const char *hay, const char *needle_lower)
{
	size_t n = strlen(needle_lower);
	if (n == 0)
		return 1;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle_lower, n) == 0)
			return 1;
	return 0;
}

static int
hidden_doc(const json_t *doc, const char *tag)
{
	json_t *st = json_object_get(doc, "system_tags");
	size_t i;
	json_t *e;
	json_array_foreach(st, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), tag))
			return 1;
	return 0;
}

static int
doc_passes(const json_t *doc, const struct filter *f)
{
	if (!f->show_hidden &&
	    hidden_doc(doc, f->spec->hidden_system_tag ? f->spec->hidden_system_tag : "hidden"))
		return 0;
	for (int i = 0; i < f->n; i++) {
		const struct clause *c = &f->c[i];
		json_t *v = c->kind == C_TEXT || c->kind == C_ANYALL ? NULL : json_path_get(doc, c->path);
		switch (c->kind) {
		case C_PATTERN:
			if (!regex_on_value(&c->re, v))
				return 0;
			break;
		case C_LIST:
			if (!list_ok(c, v))
				return 0;
			break;
		case C_LISTFILTER:
			if (!getall_list_filter_pass(c->lf, v))
				return 0;
			break;
		case C_RANGE:
			if ((c->lo || c->hi) && !range_ok(v, c->lo, c->hi))
				return 0;
			break;
		case C_DATETIME:
			if (!dt_ok(v, c->dt))
				return 0;
			break;
		case C_TEXT: {
			int hit = 0;
			for (const char *const *tf = f->spec->text_fields; tf && *tf && !hit; tf++) {
				const char *s = json_string_value(json_path_get(doc, *tf));
				if (s && contains_ci(s, c->text))
					hit = 1;
			}
			if (!hit)
				return 0;
			break;
		}
		case C_ANYALL: {
			size_t k;
			json_t *fld;
			int hits = 0, n = 0;
			json_array_foreach(c->fields, k, fld) {
				if (!json_is_string(fld))
					continue;
				n++;
				json_t *fvv = json_path_get(doc, json_string_value(fld));
				if (c->has_re ? regex_on_value(&c->re, fvv) : dt_ok(fvv, c->dt))
					hits++;
			}
			if (c->all_mode ? hits != n : hits == 0)
				return 0;
			break;
		}
		}
	}
	return 1;
}

int
getall_match(const json_t *doc, const json_t *body, const struct getall_spec *spec, struct reply *r)
{
	struct filter f;
	if (compile_filter(body, spec, &f, r) != 0)
		return -1;
	int m = doc_passes(doc, &f);
	filter_free(&f);
	return m;
}

/* ---------------------------------------------------------------- paging, order, projection */

static int
check_nonneg(const json_t *body, const char *k, long long lo, long long hi, struct reply *r)
{
	json_t *v = json_object_get(body, k);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		reply_err(r, 400, 12, "Validation error (expected an integer): field=%s", k);
		return -1;
	}
	long long x = json_integer_value(v);
	if (x < lo || x > hi) {
		if (hi == SRV_MAX_PAGE_SIZE)
			reply_err(r, 400, 12, "Validation error (%s must be between %lld and %lld; the "
			          "server returns at most %d results per query, use page to get more)",
			          k, lo, hi, SRV_MAX_PAGE_SIZE);
		else
			reply_err(r, 400, 12, "Validation error (%s must be >= %lld)", k, lo);
		return -1;
	}
	return 0;
}

int
getall_check(const json_t *body, struct reply *r)
{
	if (check_nonneg(body, "page", 0, 1000000000, r) ||
	    check_nonneg(body, "page_size", 1, SRV_MAX_PAGE_SIZE, r) ||
	    check_nonneg(body, "size", 1, SRV_MAX_PAGE_SIZE, r))
		return -1;
	json_t *of = json_object_get(body, "only_fields");
	if (of && !json_is_null(of) && !json_is_array(of)) {
		reply_err(r, 400, 12, "Validation error (only_fields must be a list)");
		return -1;
	}
	json_t *ob = json_object_get(body, "order_by");
	if (ob && !json_is_null(ob) && !json_is_array(ob) && !json_is_string(ob)) {
		reply_err(r, 400, 12, "Validation error (order_by must be a list)");
		return -1;
	}
	return 0;
}

struct sort_ctx {
	const char *keys[16];
	int desc[16];
	int n;
};

static int
json_cmp(const json_t *a, const json_t *b)
{
	/* missing/null sort first (MongoDB ascending order) */
	int an = !a || json_is_null(a), bn = !b || json_is_null(b);
	if (an || bn)
		return an == bn ? 0 : (an ? -1 : 1);
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	if (json_is_object(a) && json_is_object(b)) {
		/* embedded documents compare field by field, names then values (BSON order) */
		void *ia = json_object_iter((json_t *)(uintptr_t)a), *ib = json_object_iter((json_t *)(uintptr_t)b);
		for (; ia && ib; ia = json_object_iter_next((json_t *)(uintptr_t)a, ia),
		                 ib = json_object_iter_next((json_t *)(uintptr_t)b, ib)) {
			int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
			if (!c)
				c = json_cmp(json_object_iter_value(ia), json_object_iter_value(ib));
			if (c)
				return c;
		}
		return ia ? 1 : ib ? -1 : 0;
	}
	if (json_is_number(a) != json_is_number(b))
		return json_is_number(a) ? -1 : 1; /* numbers before strings (BSON order) */
	return 0;
}

struct sort_item {
	json_t *doc;
	size_t idx;
	const struct sort_ctx *ctx;
};

/* The sort value at key: a hyper-parameter / metadata item sorts by its value, and numeric
 * strings there compare as numbers (the real server's numeric collation for those fields). */
static int
sort_key_cmp(const json_t *doc_a, const json_t *doc_b, const char *key)
{
	const json_t *a = json_path_get(doc_a, key), *b = json_path_get(doc_b, key);
	int numeric = !strncmp(key, "hyperparams.", 12) || !strncmp(key, "metadata.", 9);
	if (!numeric)
		return json_cmp(a, b);
	if (json_is_object(a) && json_object_get(a, "value"))
		a = json_object_get(a, "value");
	if (json_is_object(b) && json_object_get(b, "value"))
		b = json_object_get(b, "value");
	if (json_is_string(a) && json_is_string(b)) {
		char *ea, *eb;
		const char *sa = json_string_value(a), *sb = json_string_value(b);
		double x = strtod(sa, &ea), y = strtod(sb, &eb);
		if (*sa && *sb && !*ea && !*eb)
			return x < y ? -1 : x > y;
	}
	return json_cmp(a, b);
}

/* No value for ordering purposes: missing, null, "" or []. */
static int
sort_empty(const json_t *doc, const char *key)
{
	const json_t *v = json_path_get(doc, key);
	return !v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
	       (json_is_array(v) && !json_array_size(v));
}

static int
sort_cmp(const void *pa, const void *pb)
{
	const struct sort_item *a = pa, *b = pb;
	/* documents without a value of the first key come last even in ascending order, as the
	 * real server queries them apart and appends them */
	if (a->ctx->n && !a->ctx->desc[0]) {
		int ea = sort_empty(a->doc, a->ctx->keys[0]), eb = sort_empty(b->doc, a->ctx->keys[0]);
		if (ea != eb)
			return ea ? 1 : -1;
	}
	for (int i = 0; i < a->ctx->n; i++) {
		int c = sort_key_cmp(a->doc, b->doc, a->ctx->keys[i]);
		if (c)
			return a->ctx->desc[i] ? -c : c;
	}
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int
path_in(const json_t *fields, const char *path, int excl)
{
	size_t i;
	json_t *e;
	json_array_foreach(fields, i, e) {
		const char *s = json_string_value(e);
		if (!s)
			continue;
		if (excl != (s[0] == '-'))
			continue;
		if (excl)
			s++;
		if (!strcmp(s, path))
			return 1;
	}
	return 0;
}

/* set value at a dotted path in dst, creating objects on the way */
static void
path_set(json_t *dst, const char *dotted, json_t *val)
{
	char *p = xstrdup(dotted);
	char *seg = p;
	json_t *cur = dst;
	for (;;) {
		char *dot = strchr(seg, '.');
		if (!dot)
			break;
		*dot = '\0';
		unescape_dots(seg);
		json_t *next = json_object_get(cur, seg);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(cur, seg, next);
		}
		cur = next;
		seg = dot + 1;
	}
	unescape_dots(seg);
	json_object_set(cur, seg, val);
	free(p);
}

static void
path_del(json_t *dst, const char *dotted)
{
	const char *dot = strrchr(dotted, '.');
	if (!dot) {
		json_object_del(dst, dotted);
		return;
	}
	char *parent = xstrndup(dotted, (size_t)(dot - dotted));
	json_t *p = json_path_get(dst, parent);
	if (json_is_object(p))
		json_object_del(p, dot + 1);
	free(parent);
}

/* "project.name" of a joined reference (an object holding its id) keeps project.id with it, as
 * the real server's join does. */
static void
keep_ref_id(json_t *out, const json_t *doc, const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot || !strcmp(dot + 1, "id"))
		return;
	char *parent = xstrndup(path, (size_t)(dot - path));
	json_t *src = json_path_get(doc, parent);
	json_t *id = json_object_get(src, "id");
	if (json_is_object(src) && json_is_string(id)) {
		json_t *dst = json_path_get(out, parent);
		if (json_is_object(dst))
			json_object_set(dst, "id", id);
	}
	free(parent);
}

json_t *
getall_project(const json_t *doc, const json_t *only_fields, const char *const *hidden_by_default)
{
	int includes = 0, all = 0;
	size_t i;
	json_t *e;
	json_array_foreach(only_fields, i, e) {
		const char *s = json_string_value(e);
		if (s && !strcmp(s, "*"))
			all = 1; /* projection "*": every field (named ones only add hidden fields) */
		else if (s && s[0] != '-' && s[0])
			includes++;
	}
	if (all)
		includes = 0;
	json_t *out;
	if (includes) {
		out = json_object();
		json_t *id = json_object_get(doc, "id");
		if (id)
			json_object_set(out, "id", id);
		json_array_foreach(only_fields, i, e) {
			const char *s = json_string_value(e);
			if (!s || s[0] == '-' || !s[0])
				continue;
			size_t sl = strlen(s);
			char *path = sl > 2 && !strcmp(s + sl - 2, ".*") ? xstrndup(s, sl - 2) : NULL;
			json_t *v = json_path_get(doc, path ? path : s);
			if (v)
				path_set(out, path ? path : s, v);
			keep_ref_id(out, doc, path ? path : s);
			free(path);
		}
	} else {
		out = json_deep_copy(doc);
		for (const char *const *h = hidden_by_default; h && *h; h++)
			if (!path_in(only_fields, *h, 0))
				path_del(out, *h);
	}
	json_array_foreach(only_fields, i, e) {
		const char *s = json_string_value(e);
		if (s && s[0] == '-' && strcmp(s + 1, "id") != 0)
			path_del(out, s + 1);
	}
	return out;
}

int
getall_query(const json_t *docs, const json_t *body, const struct getall_spec *spec,
             struct reply *r, json_t **out, char **scroll_id)
{
	return getall_query_join(docs, body, spec, r, out, scroll_id, NULL, NULL);
}

int
getall_query_join(const json_t *docs, const json_t *body, const struct getall_spec *spec,
                  struct reply *r, json_t **out, char **scroll_id, getall_join_fn join,
                  void *join_ctx)
{
	*out = NULL;
	if (scroll_id)
		*scroll_id = NULL;
	if (getall_check(body, r) != 0)
		return -1;
	struct filter f;
	if (compile_filter(body, spec, &f, r) != 0)
		return -1;
	size_t n = json_array_size(docs), m = 0;
	struct sort_item *items = xcalloc(n ? n : 1, sizeof(*items));
	struct sort_ctx ctx = {0};
	json_t *ob = json_object_get(body, "order_by");
	json_t *obarr = json_is_string(ob) ? json_pack("[O]", ob) : json_incref(ob);
	size_t i;
	json_t *e;
	json_array_foreach(obarr, i, e) {
		const char *s = json_string_value(e);
		if (!s || !*s || s[0] == '@' || ctx.n >= 16)
			continue;
		ctx.desc[ctx.n] = s[0] == '-';
		ctx.keys[ctx.n] = s[0] == '-' || s[0] == '+' ? s + 1 : s;
		if (*ctx.keys[ctx.n])
			ctx.n++;
	}
	for (i = 0; i < n; i++) {
		json_t *d = json_array_get(docs, i);
		if (doc_passes(d, &f)) {
			items[m].doc = d;
			items[m].idx = i;
			items[m].ctx = &ctx;
			m++;
		}
	}
	filter_free(&f);
	if (ctx.n)
		qsort(items, m, sizeof(*items), sort_cmp);
	long long page = 0, page_size = SRV_MAX_PAGE_SIZE;
	json_t *pv = json_object_get(body, "page"), *psv = json_object_get(body, "page_size");
	if (json_is_integer(psv))
		page_size = json_integer_value(psv);
	if (json_is_integer(pv))
		page = json_integer_value(pv);
	long long start = page * page_size;
	/* scroll: size + scroll_id ("<offset>") */
	json_t *sizev = json_object_get(body, "size");
	json_t *sidv = json_object_get(body, "scroll_id");
	int scrolling = json_is_integer(sizev) || json_is_string(sidv);
	if (scrolling) {
		page_size = json_is_integer(sizev) ? json_integer_value(sizev) : SRV_MAX_PAGE_SIZE;
		start = 0;
		long long off;
		const char *sid = json_string_value(sidv);
		if (sid && str_starts_with(sid, "lite-scroll-") &&
		    parse_long(sid + 12, 0, 1LL << 40, &off) == 0)
			start = off;
		/* refresh_scroll: everything from the start up to where the scroll had got */
		if (json_is_true(json_object_get(body, "refresh_scroll"))) {
			if (start > page_size)
				page_size = start;
			start = 0;
		}
	}
	json_t *res = json_array();
	json_t *of = json_object_get(body, "only_fields");
	if (!of)
		of = json_object_get(body, "projection");
	json_t *page_docs = join ? json_array() : NULL;
	for (long long k = start; k < (long long)m && k < start + page_size; k++) {
		if (page_docs)
			json_array_append_new(page_docs, json_deep_copy(items[k].doc));
		else
			json_array_append_new(res, getall_project(items[k].doc,
			                                          json_is_array(of) ? of : NULL,
			                                          spec->hidden_by_default));
	}
	if (page_docs) {
		/* joins go after filtering and ordering, which see the stored values */
		join(join_ctx, page_docs);
		json_array_foreach(page_docs, i, e)
			json_array_append_new(res, getall_project(e, json_is_array(of) ? of : NULL,
			                                          spec->hidden_by_default));
		json_decref(page_docs);
	}
	if (scrolling && scroll_id)
		*scroll_id = xasprintf("lite-scroll-%lld", start + (long long)json_array_size(res));
	free(items);
	json_decref(obarr);
	*out = res;
	return 0;
}

void
getall_reply(struct req *q, struct reply *r, const json_t *docs, const struct getall_spec *spec,
             const char *list_key)
{
	json_t *out = NULL;
	char *scroll = NULL;
	if (getall_query(docs, q->body, spec, r, &out, &scroll) != 0)
		return;
	json_t *data = json_object();
	json_object_set_new(data, list_key, out);
	if (scroll)
		json_object_set_new(data, "scroll_id", json_string(scroll));
	free(scroll);
	reply_data(r, data);
}

/* ---------------------------------------------------------------- a compiled filter, reusable */

struct getall_filter {
	struct filter f;
};

struct getall_filter *
getall_filter_new(const json_t *body, const struct getall_spec *spec, struct reply *r)
{
	struct getall_filter *g = xcalloc(1, sizeof(*g));
	if (compile_filter(body, spec, &g->f, r) != 0) {
		free(g);
		return NULL;
	}
	return g;
}

int
getall_filter_pass(const struct getall_filter *g, const json_t *doc)
{
	return doc_passes(doc, &g->f);
}

void
getall_filter_free(struct getall_filter *g)
{
	if (!g)
		return;
	filter_free(&g->f);
	free(g);
}
