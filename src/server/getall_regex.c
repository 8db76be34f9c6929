/*
 * getall_regex — the MongoDB/PCRE-flavoured $regex of get_all queries, translated to POSIX ERE
 * (glibc regcomp), which has no catastrophic backtracking. Patterns are bounded in length and in
 * the constructs glibc expands into copies of the compiled tree (counted repetition, (…)+), and
 * what ERE cannot express (lookaround, backreferences, unknown escapes) is refused.
 */
#include <ctype.h>
#include <regex.h>
#include <string.h>

#include "server/getall.h"
#include "util.h"

#define MAX_PATTERN 1024
#define MAX_REPEAT 100     /* largest {n,m} bound */
#define MAX_BRACES 4       /* {…} quantifiers per pattern */
#define MAX_GROUP_PLUS 6   /* (…)+ per pattern */

static int
regex_translate(const char *pat, struct buf *out, int *icase)
{
	const char *p = pat;
	int in_bracket = 0, nbraces = 0, group_plus = 0;
	int *braces = &nbraces;
	*icase = 0;
	if (strncmp(p, "(?i)", 4) == 0) {
		*icase = 1;
		p += 4;
	}
	for (; *p; p++) {
		char c = *p;
		if (in_bracket) {
			if (c == ']' && in_bracket > 1) {
				in_bracket = 0;
				buf_puts(out, "]");
				continue;
			}
			in_bracket++;
			if (c == '\\' && p[1]) {
				p++;
				switch (*p) {
				case 'd': buf_puts(out, "0-9"); break;
				case 'w': buf_puts(out, "[:alnum:]_"); break;
				case 's': buf_puts(out, "[:space:]"); break;
				case 'n': buf_puts(out, "\n"); break;
				case 't': buf_puts(out, "\t"); break;
				default: buf_append(out, p, 1); break;
				}
				continue;
			}
			buf_append(out, &c, 1);
			continue;
		}
		if (c == '\\') {
			char n = p[1];
			if (!n)
				return -1;
			p++;
			switch (n) {
			case 'd': buf_puts(out, "[0-9]"); break;
			case 'D': buf_puts(out, "[^0-9]"); break;
			case 'w': buf_puts(out, "[[:alnum:]_]"); break;
			case 'W': buf_puts(out, "[^[:alnum:]_]"); break;
			case 's': buf_puts(out, "[[:space:]]"); break;
			case 'S': buf_puts(out, "[^[:space:]]"); break;
			case 'n': buf_puts(out, "\n"); break;
			case 't': buf_puts(out, "\t"); break;
			case 'A': buf_puts(out, "^"); break;
			case 'Z': case 'z': buf_puts(out, "$"); break;
			case 'b': case 'B': break; /* word boundaries: not in ERE; dropped */
			default:
				if (isalnum((unsigned char)n))
					return -1; /* unknown class escape */
				if (strchr(".[]()*+?{}|^$\\", n)) {
					char e[2] = {'\\', n};
					buf_append(out, e, 2);
				} else {
					buf_append(out, &n, 1);
				}
			}
			continue;
		}
		if (c == '[') {
			in_bracket = 1;
			buf_puts(out, "[");
			if (p[1] == '^') {
				buf_puts(out, "^");
				p++;
			}
			continue;
		}
		if (c == '(' && p[1] == '?' && p[2] == ':') {
			buf_puts(out, "(");
			p += 2;
			continue;
		}
		if (c == '(' && p[1] == '?')
			return -1; /* other extensions (lookaround, flags mid-pattern) */
		if (c == '{') {
			/* {n}, {n,}, {n,m}: small bounds only, and few of them — glibc expands each
			 * repetition into copies of the subtree, so big or nested counts explode */
			unsigned long lo = 0, hi = 0;
			const char *q = p + 1;
			int digits = 0;
			while (*q >= '0' && *q <= '9' && digits < 4) {
				lo = lo * 10 + (unsigned long)(*q++ - '0');
				digits++;
			}
			if (!digits || lo > MAX_REPEAT)
				return -1;
			hi = lo;
			if (*q == ',') {
				q++;
				digits = 0;
				hi = 0;
				while (*q >= '0' && *q <= '9' && digits < 4) {
					hi = hi * 10 + (unsigned long)(*q++ - '0');
					digits++;
				}
				if (digits && hi > MAX_REPEAT)
					return -1;
			}
			if (*q != '}' || ++(*braces) > MAX_BRACES || (p > pat && p[-1] == ')'))
				return -1; /* no counted repetition of groups */
			buf_append(out, p, (size_t)(q - p + 1));
			p = q;
			c = '}';
		} else {
			if (c == '+' && p > pat && p[-1] == ')' && ++group_plus > MAX_GROUP_PLUS)
				return -1; /* each (…)+ doubles the compiled tree */
			buf_append(out, &c, 1);
		}
		if (c == '*' || c == '+' || c == '?' || c == '}') {
			if (p[1] == '?' || p[1] == '+')
				p++; /* lazy or possessive: the same yes/no answer for our use */
			if (p[1] == '*' || p[1] == '+' || p[1] == '?' || p[1] == '{')
				return -1; /* stacked quantifiers: an error in PCRE, a blow-up in glibc */
		}
	}
	return in_bracket ? -1 : 0;
}

int
getall_regex_compile(const char *pattern, regex_t *re)
{
	if (strlen(pattern) > MAX_PATTERN)
		return -1;
	struct buf b;
	buf_init(&b, 8 * MAX_PATTERN + 16);
	int icase;
	int rc = regex_translate(pattern, &b, &icase);
	if (rc == 0)
		rc = regcomp(re, b.data ? b.data : "", REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0))
		             == 0 ? 0 : -1;
	buf_free(&b);
	return rc;
}

int
getall_regex_match(const char *pattern, const char *s)
{
	regex_t re;
	if (getall_regex_compile(pattern, &re) != 0)
		return -1;
	int m = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

