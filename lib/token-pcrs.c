// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The token's fields about PCRs (docs/token-format.md): tpm2_pcr_bank,
 * tpm2_pcrs, tpm2_states and the optional tpm2_events. The token as a whole,
 * and the order in which fields are read, are token.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "pcr.h"
#include "token-parse.h"
#include "token.h"

int token_parse_pcrs(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *arr, *val;
	const char *s;
	size_t len, i, n;
	int64_t pcr, prev = -1;
	int r;

	r = token_get_string(root, F_BANK, &s, &len, why);
	if (r < 0)
		return r;
	tok->bank = pcr_bank_from_name(s);
	/* Only the canonical spelling, so that emit gives back the same text. */
	if (!tok->bank || strcmp(s, pcr_bank_name(tok->bank)) ||
	    pcr_bank_digest_size(tok->bank) == 0 ||
	    pcr_bank_digest_size(tok->bank) > OYSTER_MAX_DIGEST)
		return token_fail(why, "tpm2_pcr_bank: unknown PCR bank");

	r = token_get_field(root, F_PCRS, &arr, why);
	if (r < 0)
		return r;
	n = json_object_array_length(arr);
	if (n == 0)
		return token_fail(why, "tpm2_pcrs: empty");
	for (i = 0; i < n; i++) {
		val = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(val, json_type_int))
			return token_fail(why, "tpm2_pcrs: not an array of integers");
		pcr = json_object_get_int64(val);
		if (pcr < 0 || pcr >= OYSTER_PCR_COUNT)
			return token_fail(why, "tpm2_pcrs: PCR index out of range 0..23");
		if (pcr <= prev)
			return token_fail(why, "tpm2_pcrs: not strictly ascending");
		tok->pcr_mask |= 1u << pcr;
		prev = pcr;
	}
	return 0;
}

static int parse_state(struct json_object *obj, const struct token *tok, struct pcr_state *state,
		       const char **why)
{
	size_t size = pcr_bank_digest_size(tok->bank);
	struct json_object *val;
	char key[4];

	if (!json_object_is_type(obj, json_type_object))
		return token_fail(why, "tpm2_states: a state is not an object");
	/* Every PCR of tpm2_pcrs present and nothing else: the count closes the set. */
	if (json_object_object_length(obj) != __builtin_popcount(tok->pcr_mask))
		return token_fail(why, "tpm2_states: a state's PCRs are not those of tpm2_pcrs");
	FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask) {
		snprintf(key, sizeof(key), "%u", pcr);
		if (!json_object_object_get_ex(obj, key, &val))
			return token_fail(why,
					  "tpm2_states: a state's PCRs are not those of tpm2_pcrs");
		if (!json_object_is_type(val, json_type_string) ||
		    token_decode_hex(json_object_get_string(val), json_object_get_string_len(val),
				     state->value[pcr], size) < 0)
			return token_fail(why,
					  "tpm2_states: a PCR value is not lower-case hex of the "
					  "bank's digest size");
	}
	return 0;
}

int token_parse_state_list(struct json_object *obj, const struct token *tok,
			   struct pcr_state *states, unsigned max, unsigned *out, const char **why)
{
	struct json_object *arr;
	size_t i, n;
	int r;

	r = token_get_field(obj, F_STATES, &arr, why);
	if (r < 0)
		return r;
	n = json_object_array_length(arr);
	if (n < 1 || n > max)
		return token_fail(why, max == OYSTER_MAX_STATES ? "tpm2_states: not 1..8 states"
								: "tpm2_states: not 1..64 states");
	for (i = 0; i < n; i++) {
		r = parse_state(json_object_array_get_idx(arr, i), tok, &states[i], why);
		if (r < 0)
			return r;
	}
	*out = (unsigned)n;
	return 0;
}

int token_parse_states(struct json_object *root, struct token *tok, const char **why)
{
	return token_parse_state_list(root, tok, tok->states, token_max_states(tok), &tok->n_states,
				      why);
}

/* "80000003:0123456789abcdef": the event type and the first bytes of its digest. */
#define TOKEN_EVENT_LEN (8 + 1 + 2 * OYSTER_EVENT_DIGEST)

static int parse_event(struct json_object *val, unsigned pcr, struct token_event *ev)
{
	char type_hex[9];
	const char *s;
	uint8_t type[4];

	if (!json_object_is_type(val, json_type_string) ||
	    json_object_get_string_len(val) != TOKEN_EVENT_LEN)
		return -EINVAL;
	s = json_object_get_string(val);
	/* hex_decode() reads up to the NUL: the type alone. */
	memcpy(type_hex, s, 8);
	type_hex[8] = '\0';
	if (s[8] != ':' || token_decode_hex(type_hex, 8, type, 4) < 0 ||
	    token_decode_hex(s + 9, 2 * OYSTER_EVENT_DIGEST, ev->digest, OYSTER_EVENT_DIGEST) < 0)
		return -EINVAL;
	ev->pcr = (uint8_t)pcr;
	ev->type = (uint32_t)type[0] << 24 | (uint32_t)type[1] << 16 | (uint32_t)type[2] << 8 |
		   type[3];
	return 0;
}

/* Optional; keys are bound PCRs, read in ascending order whatever the text's order. */
int token_parse_events(struct json_object *root, struct token *tok, const char **why)
{
	struct json_object *obj, *arr;
	unsigned pcr, keys = 0;
	char key[4];
	size_t i, n;
	int r;

	if (!json_object_object_get_ex(root, token_field_key(F_EVENTS), NULL))
		return 0;
	r = token_get_field(root, F_EVENTS, &obj, why);
	if (r < 0)
		return r;
	if (json_object_object_length(obj) == 0)
		return token_fail(why, "tpm2_events: empty");
	for (pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
		snprintf(key, sizeof(key), "%u", pcr);
		if (!json_object_object_get_ex(obj, key, &arr))
			continue;
		keys++;
		if (!(tok->pcr_mask & (1u << pcr)))
			return token_fail(why, "tpm2_events: a PCR that tpm2_pcrs does not bind");
		if (!json_object_is_type(arr, json_type_array))
			return token_fail(why, "tpm2_events: a PCR's events are not an array");
		n = json_object_array_length(arr);
		if (n < 1 || n > OYSTER_EVENTS_PER_PCR)
			return token_fail(why, "tpm2_events: not 1..32 events for a PCR");
		if (tok->n_events + n > OYSTER_EVENTS_MAX)
			return token_fail(why, "tpm2_events: more than 96 events");
		for (i = 0; i < n; i++)
			if (parse_event(json_object_array_get_idx(arr, i), pcr,
					&tok->events[tok->n_events++]) < 0)
				return token_fail(
					why, "tpm2_events: an event is not TYPE:DIGEST as 8 and "
					     "16 lower-case hex digits");
	}
	/* Anything else ("07", "x") is a key no writer makes. */
	if (keys != (unsigned)json_object_object_length(obj))
		return token_fail(why, "tpm2_events: a key is not a PCR's decimal number");
	return 0;
}
