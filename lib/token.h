/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TOKEN_H
#define OYSTER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pcr.h"
#include "policy.h"

#define OYSTER_TOKEN_TYPE "oyster-tpm2"
#define OYSTER_TOKEN_VERSION 1
/* Far above the largest valid token (eight SHA-512 states of 24 PCRs is ~30 KiB). */
#define OYSTER_TOKEN_JSON_MAX 65536
/* Upper bounds of a marshalled TPM2B_PRIVATE / TPM2B_PUBLIC. */
#define OYSTER_MAX_PRIVATE 1024
#define OYSTER_MAX_PUBLIC 1024
#define OYSTER_MAX_NAME 68
#define OYSTER_PIN_SALT_MIN 16
#define OYSTER_PIN_SALT_MAX 64
#define OYSTER_PIN_ITERATIONS_MIN 1000
#define OYSTER_PIN_ITERATIONS_MAX 10000000
#define OYSTER_SRK_TRANSIENT 0u
#define OYSTER_SRK_PERSISTENT 0x81000001u

/*
 * tpm2_events: the boot's events of the bound PCRs, so that a refusal can
 * say which event changed. At most this many per PCR and in all; the type
 * and the first bytes of the event's digest in the token's bank.
 */
#define OYSTER_EVENTS_PER_PCR 32
#define OYSTER_EVENTS_MAX 96
#define OYSTER_EVENT_DIGEST 8
struct token_event {
	uint8_t pcr;
	uint32_t type;
	uint8_t digest[OYSTER_EVENT_DIGEST];
};

/* One oyster-tpm2 token, as specified in docs/token-format.md. */
struct token {
	unsigned version;
	int keyslot;
	uint8_t private_blob[OYSTER_MAX_PRIVATE]; /* marshalled TPM2B_PRIVATE */
	size_t private_len;
	uint8_t public_blob[OYSTER_MAX_PUBLIC]; /* marshalled TPM2B_PUBLIC */
	size_t public_len;
	uint32_t srk_handle; /* OYSTER_SRK_PERSISTENT, or OYSTER_SRK_TRANSIENT */
	uint8_t srk_name[OYSTER_MAX_NAME];
	size_t srk_name_len;
	uint16_t bank;
	uint32_t pcr_mask;
	unsigned n_states;
	struct pcr_state states[OYSTER_MAX_STATES];
	uint8_t policy[OYSTER_POLICY_SIZE];
	bool pin;
	/* With a PIN: authValue = PBKDF2-HMAC-SHA256(PIN, pin_salt, pin_iterations). */
	uint8_t pin_salt[OYSTER_PIN_SALT_MAX];
	size_t pin_salt_len;
	uint32_t pin_iterations;
	/* One more PolicyOR branch: the boot whose TPM reset count is next_boot_reset. */
	bool next_boot;
	uint32_t next_boot_reset;
	/* Informational (not in the policy): none when n_events is 0; by PCR, then log order. */
	unsigned n_events;
	struct token_event events[OYSTER_EVENTS_MAX];
	time_t created;
};

/*
 * Parse and validate in one step: every field present, of the right type,
 * in range and decodable, the policy digest equal to the one recomputed from
 * the states. On -EINVAL, *why (if not NULL) names the offending field.
 */
int token_parse(const char *json, struct token *tok, const char **why);
/*
 * The token's authPolicy, and the PolicyOR branches an unseal replays
 * (*n of them; 1 means no PolicyOR). branches has room for OYSTER_MAX_STATES.
 */
int token_policy(const struct token *tok, uint8_t (*branches)[OYSTER_POLICY_SIZE], unsigned *n,
		 uint8_t out[OYSTER_POLICY_SIZE]);
/* PCRs bound to their reset value (zeros) in every state: the boot fence. */
uint32_t token_fence_pcrs(const struct token *tok);

/* JSON text for crypt_token_json_set(); the caller frees it. */
int token_emit(const struct token *tok, char **json);
/* Human-readable lines for cryptsetup luksDump / oyster status; called once per line. */
void token_dump(const struct token *tok, void (*line)(const char *text, void *data), void *data);

#endif
