// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The raw-text scanner that finds what json-c hides: repeated keys, compared
 * as json-c decodes them, and the text of one token in a header's JSON area.
 */
#include <errno.h>

#include "jsonkeys.h"
#include "test.h"

static int unique(const char *text)
{
	return json_keys_unique(text, strlen(text));
}

static void test_unique(void)
{
	static const struct {
		const char *text;
		int want;
	} cases[] = {
		{ "{}", 0 },
		{ "{\"a\":1,\"b\":2}", 0 },
		{ " {\"a\" : [1, {\"a\":2}], \"b\":{\"a\":{\"a\":3}}}\n", 0 },
		{ "{\"a\":{\"x\":1},\"b\":{\"x\":1}}", 0 },
		{ "{\"a\":1,\"a\":1}", -EEXIST },
		{ "{\"a\":1,\"b\":2,\"a\":3}", -EEXIST },
		{ "{\"x\":[{\"a\":1,\"a\":2}]}", -EEXIST },
		{ "{\"\\u0061\":1,\"a\":2}", -EEXIST },
		{ "{\"\\u00e9\":1,\"\xc3\xa9\":2}", -EEXIST },
		{ "{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", -EEXIST },
		{ "{\"\\n\":1,\"\\u000a\":2}", -EEXIST },
		{ "{\"\\/\":1,\"/\":2}", -EEXIST },
		{ "{\"a\\u0000\":1,\"a\":2}", 0 },
		{ "{\"ab\":1,\"a\":2,\"b\":3}", 0 },
		{ "{\"\":1,\"\":2}", -EEXIST },
		/* a key repeated after its object closed is a new object's key */
		{ "[{\"a\":1},{\"a\":1}]", 0 },
		/* what it does not understand, it refuses */
		{ "{\"a\":1,}", -EINVAL },
		/* json-c's strict mode takes single-quoted keys: the same keys */
		{ "{'a':1}", 0 },
		{ "{'a':1,\"a\":2}", -EEXIST },
		{ "{'\"a\"':1,\"a\":2}", 0 },
		{ "{'\\'':1,\"'\":2}", -EEXIST },
		{ "{\"a\":1 /* c */}", -EINVAL },
		{ "{\"a\":\"\\x\"}", -EINVAL },
		{ "{\"a\":\"\\u12\"}", -EINVAL },
		{ "{\"a\"", -EINVAL },
		{ "{\"a\":1}}", -EINVAL },
		{ "", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = unique(cases[i].text);

		CHECK(r == cases[i].want, "\"%s\": %d, want %d", cases[i].text, r, cases[i].want);
	}

	/* Depth stops at the limit, not at the stack. */
	char deep[20001];
	memset(deep, '[', 10000);
	memset(deep + 10000, ']', 10000);
	deep[20000] = '\0';
	CHECK(unique(deep) == -EINVAL, "deep nesting");

	/* Thousands of keys: all compared, none missed. */
	char *many = malloc(10 * 5000 + 16);
	size_t n = 0;

	if (!many)
		exit(99);
	many[n++] = '{';
	for (int i = 0; i < 5000; i++)
		n += (size_t)sprintf(many + n, "%s\"%04d\":0", i ? "," : "", i);
	strcpy(many + n, "}");
	CHECK(unique(many) == 0, "5000 distinct keys");
	memcpy(many + n - 9, ",\"0000\":0}", 11);
	CHECK(unique(many) == -EEXIST, "the first key repeated last");
	free(many);
}

static void test_find_token(void)
{
	static const char area[] =
		"{\"keyslots\":{\"0\":{\"type\":\"luks2\"}},"
		"\"tokens\":{\"0\":{\"type\":\"a\"},\"10\":{\"type\":\"b\",\"x\":[1,{}]}},"
		"\"config\":{}}\0\0\0\0";
	const char *start = NULL;
	size_t span = 0;

	CHECK(json_find_token(area, sizeof(area) - 1, 10, &start, &span) == 0 && start &&
		      span == strlen("{\"type\":\"b\",\"x\":[1,{}]}") &&
		      !strncmp(start, "{\"type\":\"b\"", 11),
	      "token 10: span %zu", span);
	CHECK(json_find_token(area, sizeof(area) - 1, 0, &start, &span) == 0 &&
		      span == strlen("{\"type\":\"a\"}"),
	      "token 0");
	CHECK(json_find_token(area, sizeof(area) - 1, 1, &start, &span) == -ENOENT, "token 1");
	/* keyslot "0" is no token 0 */
	static const char keyslot_only[] = "{\"keyslots\":{\"0\":{}},\"tokens\":{}}";
	CHECK(json_find_token(keyslot_only, strlen(keyslot_only), 0, &start, &span) == -ENOENT,
	      "a keyslot named 0");
	static const char twice[] = "{\"tokens\":{\"3\":{},\"3\":{\"type\":\"x\"}}}";
	CHECK(json_find_token(twice, strlen(twice), 3, &start, &span) == -EEXIST, "token 3 twice");
	/* json-c keeps the last "tokens" */
	static const char two_sections[] = "{\"tokens\":{\"3\":{}},\"tokens\":{\"3\":{\"a\":1}}}";
	CHECK(json_find_token(two_sections, strlen(two_sections), 3, &start, &span) == 0 &&
		      span == 7,
	      "the last tokens section: span %zu", span);
	static const char escaped[] = "{\"tok\\u0065ns\":{\"\\u0033\":{\"a\":1}}}";
	CHECK(json_find_token(escaped, strlen(escaped), 3, &start, &span) == 0 && span == 7,
	      "escaped names");
	static const char broken[] = "{\"tokens\":{\"3\":{}}";
	CHECK(json_find_token(broken, strlen(broken), 3, &start, &span) == -EINVAL, "unbalanced");
	static const char garbage[] = "{\"tokens\":{}}x";
	CHECK(json_find_token(garbage, strlen(garbage), 3, &start, &span) == -EINVAL,
	      "text after the area's object");
}

int main(void)
{
	test_unique();
	test_find_token();
	return test_done();
}
