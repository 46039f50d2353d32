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
/* Version 1: literal PCR policy. Version 2: authorized through a TPM NV index. */
#define OYSTER_TOKEN_VERSION 1
#define OYSTER_TOKEN_AUTHORIZED 2
/*
 * Above the largest valid token: 64 SHA-512 states of 24 PCRs (~210 KiB),
 * twice in an interrupted approval, with their origins.
 */
#define OYSTER_TOKEN_JSON_MAX (512 * 1024)
/* Approved states of an authorized token, the next-boot branch included. */
#define OYSTER_MAX_APPROVED OYSTER_TREE_LEAVES
/* oyster's NV indexes: 256 handles of the TCG registry's unassigned owner range. */
#define OYSTER_NV_FIRST 0x01804f00u
#define OYSTER_NV_LAST 0x01804fffu
#define OYSTER_NV_COUNT (OYSTER_NV_LAST - OYSTER_NV_FIRST + 1)
/* TPM2B_NAME of an NV index: TPM2_ALG_SHA256, then the digest of its TPMS_NV_PUBLIC. */
#define OYSTER_NV_NAME_LEN 34
#define OYSTER_NOTE_MAX 64
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

/* Where an approved state comes from (tpm2_state_origins). */
enum token_origin_kind {
	TOKEN_ORIGIN_ENROLLED,	/* the state of the boot oyster enroll ran on */
	TOKEN_ORIGIN_BOOTED,	/* the state of a boot that oyster reseal approved */
	TOKEN_ORIGIN_ADDED,	/* oyster reseal --add-state, by hand */
	TOKEN_ORIGIN_PREDICTED, /* oyster reseal --predict: note names what was predicted */
	TOKEN_ORIGIN_COUNT
};
struct token_origin {
	unsigned kind;
	time_t when;
	char note[OYSTER_NOTE_MAX + 1]; /* printable ASCII, "" for none */
};

/* The approved set that an interrupted approval replaces (tpm2_previous). */
struct token_previous {
	unsigned n_states;
	struct pcr_state states[OYSTER_MAX_APPROVED];
	bool next_boot;
	uint32_t next_boot_reset;
	uint8_t approved[OYSTER_POLICY_SIZE];
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
	struct pcr_state states[OYSTER_MAX_APPROVED];
	/* Version 2 only: each state's origin, the NV index, the approved policy. */
	struct token_origin origins[OYSTER_MAX_APPROVED];
	uint32_t nv_index;
	uint8_t nv_name[OYSTER_NV_NAME_LEN];
	uint8_t approved[OYSTER_POLICY_SIZE];
	bool has_previous;
	struct token_previous previous;
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
/*
 * Version 2: the leaves of the approved PolicyOR tree (each state's
 * PolicyPCR, then the next-boot branch) of the current set, or of the
 * previous one when previous; *n of them, at most OYSTER_MAX_APPROVED.
 */
int token_leaves(const struct token *tok, bool previous, uint8_t (*leaves)[OYSTER_POLICY_SIZE],
		 unsigned *n);
/* Version 2: the approved policy (the NV index's contents) of the current or previous set. */
int token_approved(const struct token *tok, bool previous, uint8_t out[OYSTER_POLICY_SIZE]);
/* How many states (next-boot branch included) the token's version allows. */
unsigned token_max_states(const struct token *tok);
bool token_authorized(const struct token *tok);
/*
 * Whether other (a parsed token) uses tok's NV index: both authorized, the
 * same index and NV name, enrolled with the same TPM (the same SRK name). A
 * token of another TPM names an index of that TPM, however equal the handle
 * and name: NV names do not depend on the TPM.
 */
bool token_shares_index(const struct token *tok, const struct token *other);
const char *token_origin_name(unsigned kind);

/* Version 2: token_fence_pcrs() of the current or previous set. */
uint32_t token_fence_of(const struct token *tok, bool previous);
/* PCRs bound to their reset value (zeros) in every state: the boot fence. */
uint32_t token_fence_pcrs(const struct token *tok);

/* JSON text for crypt_token_json_set(); the caller frees it. */
int token_emit(const struct token *tok, char **json);
/* Human-readable lines for cryptsetup luksDump / oyster status; called once per line. */
void token_dump(const struct token *tok, void (*line)(const char *text, void *data), void *data);

#endif
