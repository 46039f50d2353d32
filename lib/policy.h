/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_POLICY_H
#define OYSTER_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "pcr.h"

/* Policies are always SHA-256 (the sealed object's nameAlg), whatever the PCR bank. */
#define OYSTER_POLICY_SIZE 32
#define OYSTER_MAX_STATES 8

/*
 * Offline policy digests, computed as the TPM would (TPM 2.0 Part 3,
 * PolicyPCR and PolicyOR), so that values other than today's can be sealed.
 * old == NULL means the all-zero digest of a fresh session; PolicyOR callers
 * pass NULL since the TPM resets the digest before extending it. -EIO means
 * OpenSSL failed.
 */
int policy_pcr(const uint8_t old[OYSTER_POLICY_SIZE], uint16_t bank, uint32_t mask,
	       const struct pcr_state *state, uint8_t out[OYSTER_POLICY_SIZE]);
int policy_or(const uint8_t old[OYSTER_POLICY_SIZE], const uint8_t (*branches)[OYSTER_POLICY_SIZE],
	      unsigned n, uint8_t out[OYSTER_POLICY_SIZE]);

/*
 * The object's authPolicy for n approved states: PolicyPCR alone for one
 * state, PolicyOR over each state's PolicyPCR for 2..8. branches gets each
 * state's PolicyPCR digest (the PolicyOR list the unseal session replays)
 * and may be NULL.
 */
int policy_for_states(uint16_t bank, uint32_t mask, const struct pcr_state *states, unsigned n,
		      uint8_t (*branches)[OYSTER_POLICY_SIZE], uint8_t out[OYSTER_POLICY_SIZE]);

int policy_auth_value(const uint8_t old[OYSTER_POLICY_SIZE], uint8_t out[OYSTER_POLICY_SIZE]);

/*
 * The sealed object's authPolicy: policy_for_states(), then PolicyAuthValue
 * when the token has a PIN (the unseal session replays it in that order).
 */
int policy_for_token(uint16_t bank, uint32_t mask, const struct pcr_state *states, unsigned n,
		     bool pin, uint8_t (*branches)[OYSTER_POLICY_SIZE],
		     uint8_t out[OYSTER_POLICY_SIZE]);

/*
 * A PolicyOR tree over n (1..OYSTER_TREE_LEAVES) leaves: each level ORs
 * groups of 8 consecutive digests (the last group may be smaller; a group
 * of one is carried up as it is, since PolicyOR needs 2..8), until one
 * digest is left. One leaf is its own root.
 */
#define OYSTER_TREE_LEAVES 64
#define OYSTER_TREE_LEVELS 2
int policy_tree(const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n,
		uint8_t out[OYSTER_POLICY_SIZE]);
/* The PolicyORs that lead leaf up to the root, bottom first (groups of one left out). */
struct policy_or_step {
	unsigned n;
	uint8_t digests[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
};
int policy_tree_path(const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n, unsigned leaf,
		     struct policy_or_step steps[OYSTER_TREE_LEVELS], unsigned *n_steps);
/*
 * TPM 2.0 Part 3, PolicyAuthorizeNV: the TPM resets the digest, then
 * policyDigest' = H(zeros || TPM_CC_PolicyAuthorizeNV || nvIndexName).
 */
int policy_authorize_nv(const uint8_t *name, size_t name_len, uint8_t out[OYSTER_POLICY_SIZE]);

/* Where TPMS_TIME_INFO (time, clock, resetCount, ...) keeps resetCount, for PolicyCounterTimer. */
#define OYSTER_RESET_COUNT_OFFSET 16

/*
 * The next-boot branch: the fence PCRs at their reset value (when
 * fence_mask is not empty), then PolicyCounterTimer(resetCount == reset_count):
 * it approves exactly the boot whose TPM reset count is reset_count, whatever
 * the other PCRs hold.
 */
int policy_next_boot(uint16_t bank, uint32_t fence_mask, uint32_t reset_count,
		     uint8_t out[OYSTER_POLICY_SIZE]);

#endif
