// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The oyster-tpm2 token, specified in docs/token-format.md. This file is the
 * only reader and writer of that JSON, so that the plugin's validate, dump and
 * open and every subcommand agree on what a valid token is.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "blob.h"
#include "encode.h"
#include "jsonkeys.h"
#include "log.h"
#include "token.h"
#include "token-parse.h"

/*
 * A valid token nests three deep (the token, tpm2_states, a state), four in
 * version 2 (tpm2_previous holds its own tpm2_states); json-c counts the PCR
 * values inside a state as one more level.
 */
#define TOKEN_JSON_DEPTH 5
#define TOKEN_JSON_MAX OYSTER_TOKEN_JSON_MAX
/* Hex buffers fit the longest of a name and a digest. */
#define TOKEN_HEX_MAX (2 * OYSTER_MAX_NAME + 1)
_Static_assert(OYSTER_MAX_NAME >= OYSTER_MAX_DIGEST, "TOKEN_HEX_MAX too small for a digest");
/* TPM2B_NAME contents of the SRK: TPM2_ALG_SHA256, then its 32-byte digest. */
#define TOKEN_SRK_NAME_LEN 34
_Static_assert(OYSTER_MAX_PRIVATE == 1024 && OYSTER_MAX_PUBLIC == 1024,
	       "the \"longer than 1024 bytes\" messages and docs/token-format.md");

/* Canonical decimal, as libcryptsetup writes keyslot numbers: no sign, no leading zero. */
static int parse_index(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	if (len == 0 || len > 2 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_json(const char *json, struct json_object **root, const char **why)
{
	struct json_tokener *jt;
	size_t len;

	*root = NULL;
	len = strnlen(json, TOKEN_JSON_MAX + 1);
	if (len > TOKEN_JSON_MAX)
		return token_fail(why, "token: JSON larger than any valid token");
	jt = json_tokener_new_ex(TOKEN_JSON_DEPTH);
	if (!jt)
		return -ENOMEM;
	/* Strict: no trailing commas or characters; the NUL ends a bare top-level number. */
	json_tokener_set_flags(jt, JSON_TOKENER_STRICT);
	*root = json_tokener_parse_ex(jt, json, (int)len + 1);
	if (json_tokener_get_error(jt) != json_tokener_success) {
		json_object_put(*root);
		*root = NULL;
	}
	json_tokener_free(jt);
	if (!*root)
		return token_fail(why, "token: not valid JSON (or nested too deep)");
	if (!json_object_is_type(*root, json_type_object))
		return token_fail(why, "token: not a JSON object");
	/* json-c keeps the last of a repeated key; another parser may keep the first. */
	switch (json_keys_unique(json, len)) {
	case 0:
		return 0;
	case -EEXIST:
		return token_fail(why, "token: an object repeats a key");
	case -ENOMEM:
		return -ENOMEM;
	default:
		return token_fail(why, "token: not valid JSON");
	}
}

static int parse_type(struct json_object *root, const char **why)
{
	const char *s;
	size_t len;
	int r;

	r = token_get_string(root, F_TYPE, &s, &len, why);
	if (r < 0)
		return r;
	if (strcmp(s, OYSTER_TOKEN_TYPE))
		return token_fail(why, "type: not " OYSTER_TOKEN_TYPE);
	return 0;
}

static int parse_keyslots(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *arr, *val;
	unsigned keyslot;
	int r;

	r = token_get_field(root, F_KEYSLOTS, &arr, why);
	if (r < 0)
		return r;
	/* The secret opens one keyslot; a second would be a keyslot it cannot open. */
	if (json_object_array_length(arr) != 1)
		return token_fail(why, "keyslots: not exactly one keyslot");
	val = json_object_array_get_idx(arr, 0);
	if (!json_object_is_type(val, json_type_string))
		return token_fail(why, "keyslots: keyslot is not a string");
	if (parse_index(json_object_get_string(val), json_object_get_string_len(val), 31,
			&keyslot) < 0)
		return token_fail(why, "keyslots: keyslot is not a decimal number 0..31");
	tok->keyslot = (int)keyslot;
	return 0;
}

static int parse_version(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *val;
	int r;

	r = token_get_field(root, F_VERSION, &val, why);
	if (r < 0)
		return r;
	if (json_object_get_int64(val) != OYSTER_TOKEN_VERSION &&
	    json_object_get_int64(val) != OYSTER_TOKEN_AUTHORIZED)
		return token_fail(
			why, "oyster_version: unsupported version (this oyster knows 1 and 2)");
	tok->version = (unsigned)json_object_get_int64(val);
	return 0;
}

/* Each version is closed: a field it does not define means a writer this reader cannot trust. */
static int check_keys(struct json_object *root, const struct token *tok, const char **why)
{
	int f, last = tok->version == OYSTER_TOKEN_VERSION ? F_V1_COUNT : F_COUNT;

	json_object_object_foreach (root, key, val) {
		(void)val;
		for (f = 0; f < last; f++) {
			if (!strcmp(key, token_field_key(f)))
				break;
		}
		if (f == last)
			return token_fail(why,
					  tok->version == OYSTER_TOKEN_VERSION
						  ? "token: unknown field for oyster_version 1"
						  : "token: unknown field for oyster_version 2");
	}
	return 0;
}

static int parse_private(struct json_object *root, struct token *tok, const char **why)
{
	TPM2B_PRIVATE priv;
	const char *s;
	size_t len;
	int r;

	r = token_get_string(root, F_PRIVATE, &s, &len, why);
	if (r < 0)
		return r;
	if (len > BASE64_LEN(OYSTER_MAX_PRIVATE))
		return token_fail(why, "tpm2_private: longer than 1024 bytes");
	r = base64_decode(s, tok->private_blob, sizeof(tok->private_blob), &tok->private_len);
	if (r == -ENOBUFS)
		return token_fail(why, "tpm2_private: longer than 1024 bytes");
	if (r < 0)
		return token_fail(why, "tpm2_private: not base64");
	if (blob_private(tok->private_blob, tok->private_len, &priv) < 0)
		return token_fail(why, "tpm2_private: not a marshalled TPM2B_PRIVATE");
	return 0;
}

static int parse_public(struct json_object *root, struct token *tok, TPM2B_PUBLIC *pub,
			const char **why)
{
	const TPMA_OBJECT need = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	/*
	 * Nothing else but noDA (which a PIN clears): above all not userWithAuth,
	 * which would let an empty password unseal, bypassing the PCR policy.
	 */
	const TPMA_OBJECT allow = need | TPMA_OBJECT_NODA;
	const char *s;
	size_t len;
	TPMA_OBJECT attrs;
	int r;

	r = token_get_string(root, F_PUBLIC, &s, &len, why);
	if (r < 0)
		return r;
	if (len > BASE64_LEN(OYSTER_MAX_PUBLIC))
		return token_fail(why, "tpm2_public: longer than 1024 bytes");
	r = base64_decode(s, tok->public_blob, sizeof(tok->public_blob), &tok->public_len);
	if (r == -ENOBUFS)
		return token_fail(why, "tpm2_public: longer than 1024 bytes");
	if (r < 0)
		return token_fail(why, "tpm2_public: not base64");
	if (blob_public(tok->public_blob, tok->public_len, pub) < 0)
		return token_fail(why, "tpm2_public: not a marshalled TPM2B_PUBLIC");
	if (pub->publicArea.type != TPM2_ALG_KEYEDHASH ||
	    pub->publicArea.parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_NULL)
		return token_fail(why,
				  "tpm2_public: not a sealed data object (KEYEDHASH, scheme NULL)");
	if (pub->publicArea.nameAlg != TPM2_ALG_SHA256)
		return token_fail(why, "tpm2_public: nameAlg is not sha256");
	attrs = pub->publicArea.objectAttributes;
	if ((attrs & need) != need || (attrs & ~allow))
		return token_fail(
			why,
			"tpm2_public: attributes are not those of a policy-only sealed object");
	return 0;
}

static int parse_srk(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *val;
	int64_t handle;
	int r;

	r = token_get_field(root, F_SRK_HANDLE, &val, why);
	if (r < 0)
		return r;
	handle = json_object_get_int64(val);
	if (handle != OYSTER_SRK_PERSISTENT && handle != OYSTER_SRK_TRANSIENT)
		return token_fail(why, "tpm2_srk_handle: neither 2164260865 (0x81000001) nor 0");
	tok->srk_handle = (uint32_t)handle;

	r = token_get_name(root, F_SRK_NAME, tok->srk_name, TOKEN_SRK_NAME_LEN,
			   "tpm2_srk_name: not 68 lower-case hex digits",
			   "tpm2_srk_name: not a sha256 name (000b...)", why);
	if (r < 0)
		return r;
	tok->srk_name_len = TOKEN_SRK_NAME_LEN;
	return 0;
}

/* The stored digest is redundant on purpose: a mismatch means the token was altered. */
static int parse_policy(struct json_object *root, struct token *tok, const TPM2B_PUBLIC *pub,
			const char **why)
{
	unsigned n;
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	int r;

	if (token_authorized(tok)) {
		r = token_parse_approved(root, tok, why);
		if (r < 0)
			return r;
	}
	r = token_get_hex(root, F_POLICY, tok->policy, OYSTER_POLICY_SIZE,
			  "tpm2_policy: not 64 lower-case hex digits", why);
	if (r < 0)
		return r;
	if (tok->next_boot && tok->n_states >= token_max_states(tok))
		return token_fail(why,
				  token_authorized(tok)
					  ? "tpm2_next_boot_reset: no room for it beside 64 states"
					  : "tpm2_next_boot_reset: no room for it beside 8 states");
	if (token_policy(tok, branches, &n, digest) < 0)
		return token_fail(why, "tpm2_policy: cannot be computed from tpm2_states");
	if (memcmp(digest, tok->policy, OYSTER_POLICY_SIZE))
		return token_fail(why, token_authorized(tok)
					       ? "tpm2_policy: does not match the policy of "
						 "tpm2_nv_name and tpm2_pin"
					       : "tpm2_policy: does not match the policy of "
						 "tpm2_states and tpm2_pin");
	/* With a PIN the TPM must count wrong guesses; without one there is nothing to count. */
	if (!(pub->publicArea.objectAttributes & TPMA_OBJECT_NODA) != tok->pin)
		return token_fail(why,
				  "tpm2_public: noDA must be set exactly when there is no PIN");
	if (pub->publicArea.authPolicy.size != OYSTER_POLICY_SIZE ||
	    memcmp(pub->publicArea.authPolicy.buffer, tok->policy, OYSTER_POLICY_SIZE))
		return token_fail(why, "tpm2_public: authPolicy differs from tpm2_policy");
	return 0;
}

static int parse_pin(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *val;
	const char *s;
	size_t len;
	int64_t n;
	int r;

	r = token_get_field(root, F_PIN, &val, why);
	if (r < 0)
		return r;
	tok->pin = json_object_get_boolean(val);
	if (!tok->pin) {
		if (json_object_object_get_ex(root, token_field_key(F_PIN_SALT), NULL) ||
		    json_object_object_get_ex(root, token_field_key(F_PIN_ITERATIONS), NULL))
			return token_fail(why, "tpm2_pin_salt: present although tpm2_pin is false");
		return 0;
	}
	r = token_get_string(root, F_PIN_SALT, &s, &len, why);
	if (r < 0)
		return r;
	if (len < 2 * OYSTER_PIN_SALT_MIN || len > 2 * OYSTER_PIN_SALT_MAX ||
	    token_decode_hex(s, len, tok->pin_salt, len / 2) < 0)
		return token_fail(why, "tpm2_pin_salt: not 16 to 64 bytes of lower-case hex");
	tok->pin_salt_len = len / 2;
	r = token_get_field(root, F_PIN_ITERATIONS, &val, why);
	if (r < 0)
		return r;
	n = json_object_get_int64(val);
	if (n < OYSTER_PIN_ITERATIONS_MIN || n > OYSTER_PIN_ITERATIONS_MAX)
		return token_fail(why, "tpm2_pin_iterations: out of range 1000..10000000");
	tok->pin_iterations = (uint32_t)n;
	return 0;
}

static int parse_next_boot(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *val;
	int64_t n;
	int r;

	if (!json_object_object_get_ex(root, token_field_key(F_NEXT_BOOT), NULL))
		return 0;
	r = token_get_field(root, F_NEXT_BOOT, &val, why);
	if (r < 0)
		return r;
	n = json_object_get_int64(val);
	if (n < 1 || n > UINT32_MAX)
		return token_fail(why, "tpm2_next_boot_reset: out of range 1..4294967295");
	tok->next_boot = true;
	tok->next_boot_reset = (uint32_t)n;
	return 0;
}

static int parse_created(struct json_object *root, struct token *tok, const char **why)
{
	const char *s;
	size_t len;
	int r;

	r = token_get_string(root, F_CREATED, &s, &len, why);
	if (r < 0)
		return r;
	if (token_parse_time(s, len, &tok->created) < 0)
		return token_fail(why, "created: not a UTC time such as 2026-11-26T15:00:00Z");
	return 0;
}

uint32_t token_fence_pcrs(const struct token *tok)
{
	return pcr_states_zero(tok->states, tok->n_states, tok->pcr_mask,
			       pcr_bank_digest_size(tok->bank));
}

bool token_authorized(const struct token *tok)
{
	return tok->version == OYSTER_TOKEN_AUTHORIZED;
}

bool token_shares_index(const struct token *tok, const struct token *other)
{
	return token_authorized(tok) && token_authorized(other) &&
	       other->nv_index == tok->nv_index &&
	       !memcmp(other->nv_name, tok->nv_name, OYSTER_NV_NAME_LEN) &&
	       other->srk_name_len == tok->srk_name_len &&
	       !memcmp(other->srk_name, tok->srk_name, tok->srk_name_len);
}

unsigned token_max_states(const struct token *tok)
{
	return token_authorized(tok) ? OYSTER_MAX_APPROVED : OYSTER_MAX_STATES;
}

int token_policy(const struct token *tok, uint8_t (*branches)[OYSTER_POLICY_SIZE], unsigned *n,
		 uint8_t out[OYSTER_POLICY_SIZE])
{
	int r;

	*n = tok->n_states;
	/* Authorized: the object names the NV index; the states are in the index's policy. */
	if (token_authorized(tok)) {
		*n = 0;
		r = policy_authorize_nv(tok->nv_name, OYSTER_NV_NAME_LEN, out);
		if (r < 0 || !tok->pin)
			return r;
		return policy_auth_value(out, out);
	}
	if (!tok->next_boot)
		return policy_for_token(tok->bank, tok->pcr_mask, tok->states, tok->n_states,
					tok->pin, branches, out);
	if (tok->n_states < 1 || tok->n_states >= OYSTER_MAX_STATES)
		return -EINVAL;
	for (unsigned s = 0; s < tok->n_states; s++) {
		r = policy_pcr(NULL, tok->bank, tok->pcr_mask, &tok->states[s], branches[s]);
		if (r < 0)
			return r;
	}
	r = policy_next_boot(tok->bank, token_fence_pcrs(tok), tok->next_boot_reset,
			     branches[tok->n_states]);
	if (r < 0)
		return r;
	*n = tok->n_states + 1;
	r = policy_or(NULL, (const uint8_t(*)[OYSTER_POLICY_SIZE])branches, *n, out);
	if (r < 0 || !tok->pin)
		return r;
	return policy_auth_value(out, out);
}

int token_parse(const char *json, struct token *tok, const char **why)
{
	struct json_object *root = NULL;
	const char *err = NULL;
	TPM2B_PUBLIC pub;
	int r;

	memset(tok, 0, sizeof(*tok));
	/* Type and keyslot first: a token too broken to use can still be found and wiped. */
	tok->keyslot = -1;
	if (!json) {
		r = token_fail(&err, "token: no JSON");
		goto out;
	}
	r = parse_json(json, &root, &err);
	if (r < 0)
		goto out;
	r = parse_type(root, &err);
	if (r < 0)
		goto out;
	r = parse_keyslots(root, tok, &err);
	if (r < 0)
		goto out;
	/* Before check_keys(): a newer token is "unsupported version", not "unknown field". */
	r = parse_version(root, tok, &err);
	if (r < 0)
		goto out;
	r = check_keys(root, tok, &err);
	if (r < 0)
		goto out;
	r = parse_private(root, tok, &err);
	if (r < 0)
		goto out;
	r = parse_public(root, tok, &pub, &err);
	if (r < 0)
		goto out;
	r = parse_srk(root, tok, &err);
	if (r < 0)
		goto out;
	r = token_parse_pcrs(root, tok, &err);
	if (r < 0)
		goto out;
	r = token_parse_states(root, tok, &err);
	if (r < 0)
		goto out;
	r = parse_pin(root, tok, &err);
	if (r < 0)
		goto out;
	r = parse_next_boot(root, tok, &err);
	if (r < 0)
		goto out;
	r = token_parse_events(root, tok, &err);
	if (r < 0)
		goto out;
	if (token_authorized(tok)) {
		r = token_parse_nv(root, tok, &err);
		if (r < 0)
			goto out;
	}
	r = parse_policy(root, tok, &pub, &err);
	if (r < 0)
		goto out;
	r = parse_created(root, tok, &err);
out:
	json_object_put(root);
	if (why)
		*why = err;
	return r;
}
