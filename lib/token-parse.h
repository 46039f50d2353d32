// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Inside the token module: the field table and readers of token-fields.c,
 * which token.c (the token as a whole), token-pcrs.c (bank, PCRs, states,
 * events), token-nv.c (version 2) and token-emit.c share; and the parsers
 * token.c calls. Not for other callers: they use token_parse().
 */
#ifndef OYSTER_TOKEN_PARSE_H
#define OYSTER_TOKEN_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "token.h"

enum {
	F_TYPE,
	F_KEYSLOTS,
	F_VERSION,
	F_PRIVATE,
	F_PUBLIC,
	F_SRK_HANDLE,
	F_SRK_NAME,
	F_BANK,
	F_PCRS,
	F_STATES,
	F_POLICY,
	F_PIN,
	F_PIN_SALT,
	F_PIN_ITERATIONS,
	F_NEXT_BOOT,
	F_EVENTS,
	F_CREATED,
	F_V1_COUNT,
	/* Version 2 only. */
	F_NV_INDEX = F_V1_COUNT,
	F_NV_NAME,
	F_APPROVED,
	F_ORIGINS,
	F_PREVIOUS,
	F_COUNT
};

/* Sets *why (a literal, never token data) and returns -EINVAL. */
int token_fail(const char **why, const char *msg);
/* The field's JSON key: one spelling for the parser and the emitter. */
const char *token_field_key(int f);
/* Field f present with its JSON type; else a message naming it. */
int token_get_field(struct json_object *root, int f, struct json_object **val, const char **why);
/* A string field without NUL characters. */
int token_get_string(struct json_object *root, int f, const char **s, size_t *len,
		     const char **why);
/* Exactly size bytes as lower-case hex: one spelling per value, length checked first. */
int token_decode_hex(const char *s, size_t len, uint8_t *out, size_t size);
/* A field of exactly size bytes as lower-case hex; else not_hex (a literal). */
int token_get_hex(struct json_object *root, int f, uint8_t *out, size_t size,
		  const char *not_hex, const char **why);
/*
 * A TPM name field: size bytes as lower-case hex (else not_hex) that start
 * with TPM2_ALG_SHA256 (else not_sha256); the messages are literals.
 */
int token_get_name(struct json_object *root, int f, uint8_t *out, size_t size,
		   const char *not_hex, const char *not_sha256, const char **why);

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a real date from 1970 to 9999. */
int token_parse_time(const char *s, size_t len, time_t *out);

int token_parse_pcrs(struct json_object *root, struct token *tok, const char **why);
int token_parse_states(struct json_object *root, struct token *tok, const char **why);
int token_parse_events(struct json_object *root, struct token *tok, const char **why);
/* tpm2_states of obj (the token, or tpm2_previous) into states, at most max. */
int token_parse_state_list(struct json_object *obj, const struct token *tok,
			   struct pcr_state *states, unsigned max, unsigned *n, const char **why);
/* Version 2 (token-nv.c): tpm2_nv_index, tpm2_nv_name, tpm2_state_origins. */
int token_parse_nv(struct json_object *root, struct token *tok, const char **why);
/* Version 2: tpm2_approved_policy, tpm2_previous, checked against the states. */
int token_parse_approved(struct json_object *root, struct token *tok, const char **why);

#endif
