// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A small scanner of raw JSON text, for the two things json-c does not say:
 * whether a key repeats, and where a token's text sits in a header's JSON
 * area. It only ever runs on text json-c has parsed already (the token
 * strictly, the area as libcryptsetup does), so it checks structure, not
 * every detail of the grammar, and it refuses anything it does not know
 * (comments, trailing commas) instead of guessing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonkeys.h"

/* json-c refuses deeper text by default; libcryptsetup keeps that default. */
#define JSON_MAX_DEPTH 64

struct key {
	size_t off, len;
};

struct scan {
	const char *p, *end;
	/* Decoded keys of the objects open on the current path, when tracked. */
	char *arena;
	size_t arena_len;
	struct key *keys;
	size_t n_keys;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * A string at s->p; decoded into out (room for the raw length: no escape
 * decodes longer than it is written) when out is not NULL. A surrogate pair
 * becomes one code point as in json-c; a lone surrogate is kept as its own
 * 3-byte sequence, which no key of the token format can equal.
 */
static int scan_string(struct scan *s, char *out, size_t *out_len)
{
	size_t n = 0;
	unsigned cp, lo;
	char quote;

	/* json-c takes single-quoted keys even in strict mode (fuzzing found it). */
	if (s->p >= s->end || (*s->p != '"' && *s->p != '\''))
		return -EINVAL;
	quote = *s->p++;
	while (s->p < s->end && *s->p != quote) {
		char c = *s->p++;

		if (c != '\\') {
			if (out)
				out[n] = c;
			n++;
			continue;
		}
		if (s->p >= s->end)
			return -EINVAL;
		c = *s->p++;
		switch (c) {
		case '"':
		case '\'':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			if (s->end - s->p < 4 || hex4(s->p, &cp) < 0)
				return -EINVAL;
			s->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
			    s->p[1] == 'u' && hex4(s->p + 2, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				s->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			/* "\uXXXX" is 6 bytes, a surrogate pair 12: neither decodes longer. */
			if (out)
				n += put_utf8(out + n, cp);
			else
				n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
			continue;
		default:
			return -EINVAL;
		}
		if (out)
			out[n] = c;
		n++;
	}
	if (s->p >= s->end)
		return -EINVAL;
	s->p++;
	if (out_len)
		*out_len = n;
	return 0;
}

static int scan_value(struct scan *s, int depth);

/* The key just decoded at keys[n_keys] repeats one of this object's keys since base. */
static bool key_repeats(const struct scan *s, size_t base)
{
	const struct key *k = &s->keys[s->n_keys];

	for (size_t i = base; i < s->n_keys; i++) {
		if (s->keys[i].len == k->len &&
		    !memcmp(s->arena + s->keys[i].off, s->arena + k->off, k->len))
			return true;
	}
	return false;
}

/* An object member's key and its ':'; with an arena, kept for key_repeats(). */
static int scan_key(struct scan *s, size_t base)
{
	int r;

	skip_ws(s);
	if (s->arena) {
		struct key *k = &s->keys[s->n_keys];

		k->off = s->arena_len;
		r = scan_string(s, s->arena + k->off, &k->len);
		if (r < 0)
			return r;
		if (key_repeats(s, base))
			return -EEXIST;
		s->arena_len += k->len;
		s->n_keys++;
	} else {
		r = scan_string(s, NULL, NULL);
		if (r < 0)
			return r;
	}
	skip_ws(s);
	if (s->p >= s->end || *s->p++ != ':')
		return -EINVAL;
	return 0;
}

/* An object ('}') or an array (']') from its opening character on. */
static int scan_members(struct scan *s, int depth, char close)
{
	size_t base = s->n_keys, arena_base = s->arena_len;
	int r;

	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		return 0;
	}
	for (;;) {
		if (close == '}' && (r = scan_key(s, base)) < 0)
			return r;
		r = scan_value(s, depth + 1);
		if (r < 0)
			return r;
		skip_ws(s);
		if (s->p >= s->end)
			return -EINVAL;
		if (*s->p != ',')
			break;
		s->p++;
	}
	if (*s->p++ != close)
		return -EINVAL;
	/* A closed object's keys are checked: its siblings may repeat them. */
	s->n_keys = base;
	s->arena_len = arena_base;
	return 0;
}

static bool is_scalar_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-' || c == '+' || c == '.';
}

static int scan_value(struct scan *s, int depth)
{
	const char *start;

	if (depth > JSON_MAX_DEPTH)
		return -EINVAL;
	skip_ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	switch (*s->p) {
	case '{':
		return scan_members(s, depth, '}');
	case '[':
		return scan_members(s, depth, ']');
	case '"':
	case '\'':
		return scan_string(s, NULL, NULL);
	default:
		/* Numbers, true, false, null: json-c has judged their spelling. */
		start = s->p;
		while (s->p < s->end && is_scalar_char(*s->p))
			s->p++;
		return s->p > start ? 0 : -EINVAL;
	}
}

/* One value and nothing after it but white space (and the NUL padding of a header). */
static int scan_all(struct scan *s)
{
	int r = scan_value(s, 0);

	if (r < 0)
		return r;
	skip_ws(s);
	while (s->p < s->end && *s->p == '\0')
		s->p++;
	return s->p == s->end ? 0 : -EINVAL;
}

int json_keys_unique(const char *text, size_t len)
{
	/* Every key takes at least 4 bytes of text ("":0), its decoding at most its length. */
	struct scan s = {
		.p = text,
		.end = text + len,
		.arena = malloc(len + 1),
		.keys = calloc(len / 4 + 1, sizeof(struct key)),
	};
	int r = -ENOMEM;

	if (s.arena && s.keys)
		r = scan_all(&s);
	free(s.arena);
	free(s.keys);
	return r;
}

/* The next key of the object at s->p, decoded into key (NUL-terminated, cut at size). */
static int next_key(struct scan *s, char *key, size_t size)
{
	const char *start;
	size_t n;
	int r;

	skip_ws(s);
	start = s->p;
	r = scan_string(s, NULL, &n);
	if (r < 0)
		return r;
	key[0] = '\0';
	if (n < size) {
		s->p = start;
		scan_string(s, key, &n);
		key[n] = '\0';
	}
	skip_ws(s);
	if (s->p >= s->end || *s->p++ != ':')
		return -EINVAL;
	return 0;
}

/* After a member's value: 1 at the object's end, 0 before the next member. */
static int member_end(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return -EINVAL;
	if (*s->p == ',') {
		s->p++;
		return 0;
	}
	return *s->p++ == '}' ? 1 : -EINVAL;
}

/* Within the "tokens" object at s->p: the span of the last member named want. */
static int find_member(struct scan *s, const char *want, const char **start, size_t *span)
{
	char key[16];
	int r, found = 0;

	skip_ws(s);
	if (s->p >= s->end || *s->p != '{')
		return -EINVAL;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return -ENOENT;
	}
	do {
		r = next_key(s, key, sizeof(key));
		if (r < 0)
			return r;
		skip_ws(s);
		if (!strcmp(key, want)) {
			if (found)
				return -EEXIST;
			found = 1;
			*start = s->p;
		}
		r = scan_value(s, 2);
		if (r < 0)
			return r;
		if (!strcmp(key, want))
			*span = (size_t)(s->p - *start);
		r = member_end(s);
		if (r < 0)
			return r;
	} while (!r);
	return found ? 0 : -ENOENT;
}

int json_find_token(const char *area, size_t len, int id, const char **start, size_t *span)
{
	struct scan s = { .p = area, .end = area + len };
	const char *tokens = NULL;
	char key[16], want[16];
	int r;

	snprintf(want, sizeof(want), "%d", id);
	skip_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -EINVAL;
	s.p++;
	skip_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return -ENOENT;
	do {
		r = next_key(&s, key, sizeof(key));
		if (r < 0)
			return r;
		skip_ws(&s);
		/* json-c keeps the last "tokens": remember where each starts. */
		if (!strcmp(key, "tokens"))
			tokens = s.p;
		r = scan_value(&s, 1);
		if (r < 0)
			return r;
		r = member_end(&s);
		if (r < 0)
			return r;
	} while (!r);
	while (s.p < s.end && *s.p == '\0')
		s.p++;
	if (s.p != s.end)
		return -EINVAL;
	if (!tokens)
		return -ENOENT;
	s.p = tokens;
	return find_member(&s, want, start, span);
}
