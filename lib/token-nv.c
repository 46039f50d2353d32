// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The fields of an authorized token (oyster_version 2, docs/token-format.md):
 * the NV index that holds the approved policy, each state's origin, the
 * approved policy itself and the set an interrupted approval replaces.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <tss2/tss2_tpm2_types.h>

#include "policy.h"
#include "token-parse.h"
#include "token.h"

static const char *const origin_names[TOKEN_ORIGIN_COUNT] = {
	[TOKEN_ORIGIN_ENROLLED] = "enrolled",
	[TOKEN_ORIGIN_BOOTED] = "booted",
	[TOKEN_ORIGIN_ADDED] = "added",
	[TOKEN_ORIGIN_PREDICTED] = "predicted",
};

const char *token_origin_name(unsigned kind)
{
	return kind < TOKEN_ORIGIN_COUNT ? origin_names[kind] : "unknown";
}

/* PCRs all zeros in every state of the list: the fence, for the next-boot branch. */
static uint32_t fence_of(const struct token *tok, const struct pcr_state *states, unsigned n)
{
	return pcr_states_zero(states, n, tok->pcr_mask, pcr_bank_digest_size(tok->bank));
}

uint32_t token_fence_of(const struct token *tok, bool previous)
{
	return previous ? fence_of(tok, tok->previous.states, tok->previous.n_states)
			: fence_of(tok, tok->states, tok->n_states);
}

int token_leaves(const struct token *tok, bool previous, uint8_t (*leaves)[OYSTER_POLICY_SIZE],
		 unsigned *n)
{
	const struct pcr_state *states = previous ? tok->previous.states : tok->states;
	unsigned count = previous ? tok->previous.n_states : tok->n_states;
	bool next_boot = previous ? tok->previous.next_boot : tok->next_boot;
	uint32_t reset = previous ? tok->previous.next_boot_reset : tok->next_boot_reset;
	int r;

	if (count < 1 || count + next_boot > OYSTER_MAX_APPROVED)
		return -EINVAL;
	for (unsigned s = 0; s < count; s++) {
		r = policy_pcr(NULL, tok->bank, tok->pcr_mask, &states[s], leaves[s]);
		if (r < 0)
			return r;
	}
	*n = count;
	if (next_boot) {
		r = policy_next_boot(tok->bank, fence_of(tok, states, count), reset, leaves[count]);
		if (r < 0)
			return r;
		(*n)++;
	}
	return 0;
}

int token_approved(const struct token *tok, bool previous, uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t(*leaves)[OYSTER_POLICY_SIZE] = malloc(OYSTER_MAX_APPROVED * OYSTER_POLICY_SIZE);
	unsigned n;
	int r = -ENOMEM;

	if (leaves) {
		r = token_leaves(tok, previous, leaves, &n);
		if (r == 0)
			r = policy_tree((const uint8_t(*)[OYSTER_POLICY_SIZE])leaves, n, out);
	}
	free(leaves);
	return r;
}

static bool printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static int parse_origin(struct json_object *obj, struct token_origin *o, const char **why)
{
	static const char bad[] = "tpm2_state_origins: an origin is not {kind, approved[, note]}";
	struct json_object *val;
	const char *s;
	size_t len;
	int keys = 2;

	if (!json_object_is_type(obj, json_type_object))
		return token_fail(why, bad);
	if (!json_object_object_get_ex(obj, "kind", &val) ||
	    !json_object_is_type(val, json_type_string))
		return token_fail(why, bad);
	s = json_object_get_string(val);
	for (o->kind = 0; o->kind < TOKEN_ORIGIN_COUNT; o->kind++)
		if (!strcmp(s, origin_names[o->kind]) &&
		    strlen(origin_names[o->kind]) == (size_t)json_object_get_string_len(val))
			break;
	if (o->kind == TOKEN_ORIGIN_COUNT)
		return token_fail(why, "tpm2_state_origins: unknown kind");
	if (!json_object_object_get_ex(obj, "approved", &val) ||
	    !json_object_is_type(val, json_type_string) ||
	    token_parse_time(json_object_get_string(val), json_object_get_string_len(val),
			     &o->when) < 0)
		return token_fail(why, "tpm2_state_origins: approved is not a UTC time");
	o->note[0] = '\0';
	if (json_object_object_get_ex(obj, "note", &val)) {
		keys++;
		if (!json_object_is_type(val, json_type_string))
			return token_fail(why, bad);
		s = json_object_get_string(val);
		len = json_object_get_string_len(val);
		if (len < 1 || len > OYSTER_NOTE_MAX || strlen(s) != len || !printable(s, len))
			return token_fail(why, "tpm2_state_origins: note is not 1..64 printable "
					       "ASCII characters");
		memcpy(o->note, s, len + 1);
	}
	if (json_object_object_length(obj) != keys)
		return token_fail(why, bad);
	return 0;
}

int token_parse_nv(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *val, *arr;
	int64_t handle;
	int r;

	r = token_get_field(root, F_NV_INDEX, &val, why);
	if (r < 0)
		return r;
	handle = json_object_get_int64(val);
	if (handle < OYSTER_NV_FIRST || handle > OYSTER_NV_LAST)
		return token_fail(why, "tpm2_nv_index: not in 0x01804f00..0x01804fff");
	tok->nv_index = (uint32_t)handle;
	r = token_get_name(root, F_NV_NAME, tok->nv_name, OYSTER_NV_NAME_LEN,
			   "tpm2_nv_name: not 68 lower-case hex digits",
			   "tpm2_nv_name: not a sha256 name (000b...)", why);
	if (r < 0)
		return r;

	r = token_get_field(root, F_ORIGINS, &arr, why);
	if (r < 0)
		return r;
	if (json_object_array_length(arr) != tok->n_states)
		return token_fail(why, "tpm2_state_origins: not one per state of tpm2_states");
	for (unsigned i = 0; i < tok->n_states; i++) {
		r = parse_origin(json_object_array_get_idx(arr, i), &tok->origins[i], why);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_digest(struct json_object *obj, uint8_t out[OYSTER_POLICY_SIZE], const char **why)
{
	return token_get_hex(obj, F_APPROVED, out, OYSTER_POLICY_SIZE,
			     "tpm2_approved_policy: not 64 lower-case hex digits", why);
}

static int parse_previous(struct json_object *root, struct token *tok, const char **why)
{
	struct token_previous *p = &tok->previous;
	struct json_object *obj, *val;
	uint8_t digest[OYSTER_POLICY_SIZE];
	int keys = 2, r;

	if (!json_object_object_get_ex(root, token_field_key(F_PREVIOUS), NULL))
		return 0;
	r = token_get_field(root, F_PREVIOUS, &obj, why);
	if (r < 0)
		return r;
	r = token_parse_state_list(obj, tok, p->states, OYSTER_MAX_APPROVED, &p->n_states, why);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(obj, token_field_key(F_NEXT_BOOT), &val)) {
		int64_t n;

		keys++;
		if (!json_object_is_type(val, json_type_int) ||
		    (n = json_object_get_int64(val)) < 1 || n > UINT32_MAX)
			return token_fail(why, "tpm2_previous: tpm2_next_boot_reset out of range");
		p->next_boot = true;
		p->next_boot_reset = (uint32_t)n;
	}
	r = parse_digest(obj, p->approved, why);
	if (r < 0)
		return r;
	if (json_object_object_length(obj) != keys)
		return token_fail(why, "tpm2_previous: a field other than tpm2_states, "
				       "tpm2_next_boot_reset and tpm2_approved_policy");
	tok->has_previous = true;
	if (p->n_states + p->next_boot > OYSTER_MAX_APPROVED ||
	    token_approved(tok, true, digest) < 0 || memcmp(digest, p->approved, sizeof(digest)))
		return token_fail(why, "tpm2_previous: tpm2_approved_policy does not match its "
				       "states");
	return 0;
}

int token_parse_approved(struct json_object *root, struct token *tok, const char **why)
{
	uint8_t digest[OYSTER_POLICY_SIZE];
	int r;

	r = parse_digest(root, tok->approved, why);
	if (r < 0)
		return r;
	if (token_approved(tok, false, digest) < 0 || memcmp(digest, tok->approved, sizeof(digest)))
		return token_fail(why, "tpm2_approved_policy: does not match the policy of "
				       "tpm2_states and tpm2_next_boot_reset");
	return parse_previous(root, tok, why);
}
