// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The token's field names, JSON types and messages in one table, read by
 * the parser (token.c, token-pcrs.c, token-nv.c) and the emitter
 * (token-emit.c), and the field readers the parser's files share.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <tss2/tss2_tpm2_types.h>

#include "encode.h"
#include "token-parse.h"

/* "2026-11-26T15:00:00Z" */
#define TOKEN_TIME_LEN 20

/* Messages are literals: *why must outlive the parse and never carries token data. */
#define FIELD(key, type, what)                                                                     \
	{                                                                                          \
		key, type, key ": missing", key ": not " what, key ": contains a NUL character"    \
	}

static const struct token_field {
	const char *key;
	enum json_type type;
	const char *missing;
	const char *wrong_type;
	const char *has_nul;
} token_fields[F_COUNT] = {
	[F_TYPE] = FIELD("type", json_type_string, "a string"),
	[F_KEYSLOTS] = FIELD("keyslots", json_type_array, "an array"),
	[F_VERSION] = FIELD("oyster_version", json_type_int, "an integer"),
	[F_PRIVATE] = FIELD("tpm2_private", json_type_string, "a string"),
	[F_PUBLIC] = FIELD("tpm2_public", json_type_string, "a string"),
	[F_SRK_HANDLE] = FIELD("tpm2_srk_handle", json_type_int, "an integer"),
	[F_SRK_NAME] = FIELD("tpm2_srk_name", json_type_string, "a string"),
	[F_BANK] = FIELD("tpm2_pcr_bank", json_type_string, "a string"),
	[F_PCRS] = FIELD("tpm2_pcrs", json_type_array, "an array"),
	[F_STATES] = FIELD("tpm2_states", json_type_array, "an array"),
	[F_POLICY] = FIELD("tpm2_policy", json_type_string, "a string"),
	[F_PIN] = FIELD("tpm2_pin", json_type_boolean, "a boolean"),
	[F_PIN_SALT] = FIELD("tpm2_pin_salt", json_type_string, "a string"),
	[F_PIN_ITERATIONS] = FIELD("tpm2_pin_iterations", json_type_int, "an integer"),
	[F_NEXT_BOOT] = FIELD("tpm2_next_boot_reset", json_type_int, "an integer"),
	[F_EVENTS] = FIELD("tpm2_events", json_type_object, "an object"),
	[F_CREATED] = FIELD("created", json_type_string, "a string"),
	[F_NV_INDEX] = FIELD("tpm2_nv_index", json_type_int, "an integer"),
	[F_NV_NAME] = FIELD("tpm2_nv_name", json_type_string, "a string"),
	[F_APPROVED] = FIELD("tpm2_approved_policy", json_type_string, "a string"),
	[F_ORIGINS] = FIELD("tpm2_state_origins", json_type_array, "an array"),
	[F_PREVIOUS] = FIELD("tpm2_previous", json_type_object, "an object"),
};

int token_fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

const char *token_field_key(int f)
{
	return token_fields[f].key;
}

int token_get_field(struct json_object *root, int f, struct json_object **val, const char **why)
{
	const struct token_field *tf = &token_fields[f];

	if (!json_object_object_get_ex(root, tf->key, val))
		return token_fail(why, tf->missing);
	/* A JSON null is a NULL object, of no type but json_type_null. */
	if (!json_object_is_type(*val, tf->type))
		return token_fail(why, tf->wrong_type);
	return 0;
}

int token_get_string(struct json_object *root, int f, const char **s, size_t *len, const char **why)
{
	struct json_object *val;
	int r;

	r = token_get_field(root, f, &val, why);
	if (r < 0)
		return r;
	*s = json_object_get_string(val);
	*len = json_object_get_string_len(val);
	/* "\u0000" is valid JSON; C string functions would stop there. */
	if (strlen(*s) != *len)
		return token_fail(why, token_fields[f].has_nul);
	return 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly size bytes as lower-case hex: one spelling per value, length checked first. */
int token_decode_hex(const char *s, size_t len, uint8_t *out, size_t size)
{
	size_t n;

	if (len != 2 * size || strspn(s, "0123456789abcdef") != len)
		return -EINVAL;
	if (hex_decode(s, out, size, &n) < 0 || n != size)
		return -EINVAL;
	return 0;
}

static unsigned digits(const char *s, size_t n)
{
	unsigned v = 0;

	while (n--)
		v = v * 10 + (unsigned)(*s++ - '0');
	return v;
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a real date from 1970 to 9999, seconds 00..59. */
int token_parse_time(const char *s, size_t len, time_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 }, in, back;
	time_t t;
	size_t i;

	if (len != TOKEN_TIME_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (shape[i] == 'd' ? !is_digit(s[i]) : s[i] != shape[i])
			return -EINVAL;
	}
	tm.tm_year = (int)digits(s, 4) - 1900;
	tm.tm_mon = (int)digits(s + 5, 2) - 1;
	tm.tm_mday = (int)digits(s + 8, 2);
	tm.tm_hour = (int)digits(s + 11, 2);
	tm.tm_min = (int)digits(s + 14, 2);
	tm.tm_sec = (int)digits(s + 17, 2);
	if (tm.tm_year < 70)
		return -EINVAL;
	in = tm;
	/* timegm() normalises "02-30" into March: converting back shows it. */
	t = timegm(&tm);
	if (t == (time_t)-1 || !gmtime_r(&t, &back))
		return -EINVAL;
	if (back.tm_year != in.tm_year || back.tm_mon != in.tm_mon || back.tm_mday != in.tm_mday ||
	    back.tm_hour != in.tm_hour || back.tm_min != in.tm_min || back.tm_sec != in.tm_sec)
		return -EINVAL;
	*out = t;
	return 0;
}

int token_get_hex(struct json_object *root, int f, uint8_t *out, size_t size,
		  const char *not_hex, const char **why)
{
	const char *s;
	size_t len;
	int r;

	r = token_get_string(root, f, &s, &len, why);
	if (r < 0)
		return r;
	if (token_decode_hex(s, len, out, size) < 0)
		return token_fail(why, not_hex);
	return 0;
}

int token_get_name(struct json_object *root, int f, uint8_t *out, size_t size,
		   const char *not_hex, const char *not_sha256, const char **why)
{
	int r = token_get_hex(root, f, out, size, not_hex, why);

	if (r < 0)
		return r;
	if (size < 2 || out[0] != (TPM2_ALG_SHA256 >> 8) || out[1] != (TPM2_ALG_SHA256 & 0xff))
		return token_fail(why, not_sha256);
	return 0;
}
