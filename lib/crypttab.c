// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * crypttab(5) reading and editing for `oyster boot-setup`, every byte but the
 * options of one entry kept as it was.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypttab.h"

#define KEYSCRIPT_OPTION "keyscript=" OYSTER_KEYSCRIPT

/* Byte ranges of a line's whitespace-separated fields; n == 5 means "five or more". */
struct fields {
	unsigned n;
	size_t start[5], end[5];
};

static void split_fields(const char *line, size_t len, struct fields *f)
{
	size_t i = 0;

	f->n = 0;
	while (f->n < 5) {
		/* A CR is a separator too: a crypttab edited on Windows ends its lines with CRLF. */
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i >= len)
			break;
		f->start[f->n] = i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		f->end[f->n++] = i;
	}
}

static bool is_entry(const char *line, const struct fields *f)
{
	return f->n >= 2 && line[f->start[0]] != '#';
}

/* The line with 1-based number lineno: its start and length (without the newline). */
static const char *find_line(const char *text, unsigned lineno, size_t *len)
{
	const char *p = text;

	for (unsigned n = 1; *p; n++) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);

		if (n == lineno) {
			*len = l;
			return p;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return NULL;
}

/* crypttab's mangling, as Debian's printf %b and systemd read it: \NNN octal and \\. */
static int unmangle(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7') {
			unsigned v = 0, digits = 0;

			while (digits < 3 && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '7') {
				v = v * 8 + (unsigned)(s[++i] - '0');
				digits++;
			}
			c = (char)v;
		} else if (c == '\\' && i + 1 < len && s[i + 1] == '\\') {
			i++;
		}
		if (o + 1 >= size)
			return -E2BIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int field(const char *line, const struct fields *f, unsigned i, char *out, size_t size)
{
	if (i >= f->n) {
		out[0] = '\0';
		return 0;
	}
	return unmangle(line + f->start[i], f->end[i] - f->start[i], out, size);
}

int crypttab_option(const char *options, const char *name, char *out, size_t size)
{
	size_t n = strlen(name);
	const char *p = options;

	out[0] = '\0';
	while (*p) {
		size_t l = strcspn(p, ",");

		if (l > n + 1 && !strncmp(p, name, n) && p[n] == '=')
			return unmangle(p + n + 1, l - n - 1, out, size) < 0 ? -E2BIG : 1;
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int keyscript_of(const char *options, char *out, size_t size)
{
	int r = crypttab_option(options, "keyscript", out, size);

	return r < 0 ? r : 0;
}

static bool keyscript_is_ours(const char *value)
{
	static const char suffix[] = "/cryptsetup/scripts/" OYSTER_KEYSCRIPT;
	size_t l = strlen(value);

	return !strcmp(value, OYSTER_KEYSCRIPT) ||
	       (l >= strlen(suffix) && !strcmp(value + l - strlen(suffix), suffix));
}

static int fill_entry(const char *line, const struct fields *f, unsigned lineno,
		      struct crypttab_entry *e)
{
	int r;

	e->line = lineno;
	e->other_line = 0;
	r = field(line, f, 0, e->name, sizeof(e->name));
	if (r == 0)
		r = field(line, f, 1, e->source, sizeof(e->source));
	if (r == 0)
		r = field(line, f, 2, e->key, sizeof(e->key));
	if (r == 0) {
		size_t l = f->n > 3 ? f->end[3] - f->start[3] : 0;

		if (l >= sizeof(e->options))
			return -E2BIG;
		memcpy(e->options, line + (f->n > 3 ? f->start[3] : 0), l);
		e->options[l] = '\0';
		r = keyscript_of(e->options, e->keyscript, sizeof(e->keyscript));
	}
	return r;
}

int crypttab_find(const char *text, const char *uuid, crypttab_resolve_fn resolve, void *data,
		  struct crypttab_entry *e)
{
	const char *p = text;
	unsigned lineno = 0;
	int r = -ENOENT;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char source[sizeof(e->source)], got[OYSTER_UUID_MAX];
		struct fields f;

		lineno++;
		split_fields(p, len, &f);
		/* An unreadable or unresolvable source names no volume of ours. */
		if (is_entry(p, &f) && field(p, &f, 1, source, sizeof(source)) == 0 &&
		    resolve(source, got, sizeof(got), data) == 0 && !strcasecmp(got, uuid)) {
			if (r == 0) {
				e->other_line = lineno;
				return -ENOTUNIQ;
			}
			r = fill_entry(p, &f, lineno, e);
			if (r < 0)
				return r;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return r;
}

int crypttab_next(const char *text, unsigned *lineno, struct crypttab_entry *e)
{
	const char *p;
	size_t len;

	for (unsigned n = *lineno + 1; (p = find_line(text, n, &len)); n++) {
		struct fields f;

		split_fields(p, len, &f);
		if (is_entry(p, &f) && fill_entry(p, &f, n, e) == 0) {
			*lineno = n;
			return 0;
		}
	}
	return -ENOENT;
}

/* out = text with insert put in place of the bytes [at, at + drop). */
static int text_splice(const char *text, size_t at, size_t drop, const char *insert, char **out)
{
	size_t tl = strlen(text), il = strlen(insert);
	char *s = malloc(tl - drop + il + 1);

	if (!s)
		return -ENOMEM;
	memcpy(s, text, at);
	memcpy(s + at, insert, il);
	memcpy(s + at + il, text + at + drop, tl - at - drop + 1);
	*out = s;
	return 0;
}

int crypttab_add_keyscript(const char *text, const struct crypttab_entry *e, char **out)
{
	char insert[2 * 64 + sizeof("none") + sizeof(KEYSCRIPT_OPTION)];
	const char *line;
	struct fields f;
	size_t len, at, drop = 0;

	*out = NULL;
	line = find_line(text, e->line, &len);
	if (!line)
		return -EINVAL;
	split_fields(line, len, &f);
	if (!is_entry(line, &f) || f.n > 4)
		return -EINVAL;
	if (e->keyscript[0])
		return keyscript_is_ours(e->keyscript) ? 1 : -EEXIST;
	if (f.n >= 3 && strcmp(e->key, "none") && strcmp(e->key, "-"))
		return -EINVAL;

	if (f.n == 4) {
		bool empty = f.end[3] - f.start[3] == 1 && line[f.start[3]] == '-';

		at = empty ? f.start[3] : f.end[3];
		drop = empty ? 1 : 0;
		snprintf(insert, sizeof(insert), "%s%s", empty ? "" : ",", KEYSCRIPT_OPTION);
	} else {
		/* New fields take the separator that precedes the last one. */
		unsigned last = f.n - 1;
		size_t sep = f.start[last] - f.end[last - 1];

		if (sep >= 64)
			sep = 1;
		at = f.end[last];
		if (f.n == 3)
			snprintf(insert, sizeof(insert), "%.*s%s", (int)sep, line + f.end[last - 1],
				 KEYSCRIPT_OPTION);
		else
			snprintf(insert, sizeof(insert), "%.*snone%.*s%s", (int)sep,
				 line + f.end[last - 1], (int)sep, line + f.end[last - 1],
				 KEYSCRIPT_OPTION);
	}
	return text_splice(text, (size_t)(line - text) + at, drop, insert, out);
}
