// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Policy digests computed offline as the TPM would, so that states other than
 * today's can be sealed.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include "log.h"
#include "policy.h"

static const uint8_t policy_zero[OYSTER_POLICY_SIZE];

static int sha256(const uint8_t *data, size_t len, uint8_t out[OYSTER_POLICY_SIZE])
{
	unsigned out_len = 0;

	if (!EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) ||
	    out_len != OYSTER_POLICY_SIZE) {
		log_err("SHA-256 failed in OpenSSL.");
		return -EIO;
	}
	return 0;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * TPM 2.0 Part 3, PolicyPCR: policyDigest' = H(policyDigest || TPM_CC_PolicyPCR
 * || pcrs || pcrDigest), where pcrDigest hashes the selected values in
 * ascending order with the session's hash, not the bank's.
 */
int policy_pcr(const uint8_t old[OYSTER_POLICY_SIZE], uint16_t bank, uint32_t mask,
	       const struct pcr_state *state, uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t values[OYSTER_PCR_COUNT * OYSTER_MAX_DIGEST];
	uint8_t msg[OYSTER_POLICY_SIZE + 4 + sizeof(TPML_PCR_SELECTION) + OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	size_t size = pcr_bank_digest_size(bank), n = 0, off;
	TPML_PCR_SELECTION sel = { .count = 1 };
	int r;

	if (!size || !mask || mask >> OYSTER_PCR_COUNT || !state || !out)
		return -EINVAL;
	FOREACH_PCR_IN_MASK(pcr, mask) {
		memcpy(values + n, state->value[pcr], size);
		n += size;
	}

	memcpy(msg, old ? old : policy_zero, OYSTER_POLICY_SIZE);
	put_be32(msg + OYSTER_POLICY_SIZE, TPM2_CC_PolicyPCR);
	off = OYSTER_POLICY_SIZE + 4;
	sel.pcrSelections[0].hash = bank;
	sel.pcrSelections[0].sizeofSelect = 3;
	for (unsigned i = 0; i < 3; i++)
		sel.pcrSelections[0].pcrSelect[i] = (uint8_t)(mask >> (8 * i));
	if (Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, msg, sizeof(msg), &off) != TSS2_RC_SUCCESS)
		return -EINVAL;
	r = sha256(values, n, msg + off);
	if (r < 0)
		return r;
	off += OYSTER_POLICY_SIZE;
	r = sha256(msg, off, digest);
	if (r < 0)
		return r;
	memcpy(out, digest, OYSTER_POLICY_SIZE);
	return 0;
}

/*
 * TPM 2.0 Part 3, PolicyOR: the TPM resets policyDigest to zeros before
 * extending it with TPM_CC_PolicyOR and the list, so callers pass old as
 * NULL (or zeros) to match what the TPM computes.
 */
int policy_or(const uint8_t old[OYSTER_POLICY_SIZE], const uint8_t (*branches)[OYSTER_POLICY_SIZE],
	      unsigned n, uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t msg[OYSTER_POLICY_SIZE + 4 + OYSTER_MAX_STATES * OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	size_t off;
	int r;

	/* The TPM's TPML_DIGEST holds 2 to 8 digests; one alone would be no OR. */
	if (n < 2 || n > OYSTER_MAX_STATES || !branches || !out)
		return -EINVAL;
	memcpy(msg, old ? old : policy_zero, OYSTER_POLICY_SIZE);
	put_be32(msg + OYSTER_POLICY_SIZE, TPM2_CC_PolicyOR);
	off = OYSTER_POLICY_SIZE + 4;
	for (unsigned i = 0; i < n; i++, off += OYSTER_POLICY_SIZE)
		memcpy(msg + off, branches[i], OYSTER_POLICY_SIZE);
	r = sha256(msg, off, digest);
	if (r < 0)
		return r;
	memcpy(out, digest, OYSTER_POLICY_SIZE);
	return 0;
}

int policy_for_states(uint16_t bank, uint32_t mask, const struct pcr_state *states, unsigned n,
		      uint8_t (*branches)[OYSTER_POLICY_SIZE], uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t b[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	int r;

	if (n < 1 || n > OYSTER_MAX_STATES || !states || !out)
		return -EINVAL;
	/* Each branch starts from zeros: the unseal session replays it from a fresh start. */
	for (unsigned i = 0; i < n; i++) {
		r = policy_pcr(NULL, bank, mask, &states[i], b[i]);
		if (r < 0)
			return r;
	}
	if (n == 1) {
		memcpy(digest, b[0], OYSTER_POLICY_SIZE);
	} else {
		r = policy_or(NULL, (const uint8_t(*)[OYSTER_POLICY_SIZE])b, n, digest);
		if (r < 0)
			return r;
	}
	if (branches)
		memcpy(branches, b, n * sizeof(b[0]));
	memcpy(out, digest, OYSTER_POLICY_SIZE);
	return 0;
}

/* TPM 2.0 Part 3, PolicyAuthValue: policyDigest' = H(policyDigest || TPM_CC_PolicyAuthValue). */
int policy_auth_value(const uint8_t old[OYSTER_POLICY_SIZE], uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t buf[OYSTER_POLICY_SIZE + 4];

	memcpy(buf, old ? old : policy_zero, OYSTER_POLICY_SIZE);
	put_be32(buf + OYSTER_POLICY_SIZE, TPM2_CC_PolicyAuthValue);
	return sha256(buf, sizeof(buf), out);
}

int policy_for_token(uint16_t bank, uint32_t mask, const struct pcr_state *states, unsigned n,
		     bool pin, uint8_t (*branches)[OYSTER_POLICY_SIZE],
		     uint8_t out[OYSTER_POLICY_SIZE])
{
	int r = policy_for_states(bank, mask, states, n, branches, out);

	if (r < 0 || !pin)
		return r;
	return policy_auth_value(out, out);
}

/*
 * TPM 2.0 Part 3, PolicyCounterTimer: args = H(operandB || offset || operation),
 * policyDigest' = H(policyDigest || TPM_CC_PolicyCounterTimer || args).
 */
static int policy_counter_timer_eq32(const uint8_t old[OYSTER_POLICY_SIZE], uint32_t value,
				     uint16_t offset, uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t args_in[8], args[OYSTER_POLICY_SIZE];
	uint8_t buf[OYSTER_POLICY_SIZE + 4 + OYSTER_POLICY_SIZE];
	int r;

	put_be32(args_in, value);
	args_in[4] = (uint8_t)(offset >> 8);
	args_in[5] = (uint8_t)offset;
	args_in[6] = (uint8_t)(TPM2_EO_EQ >> 8);
	args_in[7] = (uint8_t)TPM2_EO_EQ;
	r = sha256(args_in, sizeof(args_in), args);
	if (r < 0)
		return r;
	memcpy(buf, old ? old : policy_zero, OYSTER_POLICY_SIZE);
	put_be32(buf + OYSTER_POLICY_SIZE, TPM2_CC_PolicyCounterTimer);
	memcpy(buf + OYSTER_POLICY_SIZE + 4, args, OYSTER_POLICY_SIZE);
	return sha256(buf, sizeof(buf), out);
}

int policy_next_boot(uint16_t bank, uint32_t fence_mask, uint32_t reset_count,
		     uint8_t out[OYSTER_POLICY_SIZE])
{
	struct pcr_state zeros;
	int r;

	memset(&zeros, 0, sizeof(zeros));
	memset(out, 0, OYSTER_POLICY_SIZE);
	if (fence_mask) {
		r = policy_pcr(NULL, bank, fence_mask, &zeros, out);
		if (r < 0)
			return r;
	}
	return policy_counter_timer_eq32(out, reset_count, OYSTER_RESET_COUNT_OFFSET, out);
}

/* One level up: groups of 8; a group of one is carried up as it is. */
static int tree_level(uint8_t (*d)[OYSTER_POLICY_SIZE], unsigned n, unsigned *up)
{
	unsigned groups = (n + OYSTER_MAX_STATES - 1) / OYSTER_MAX_STATES;
	int r;

	for (unsigned g = 0; g < groups; g++) {
		unsigned first = g * OYSTER_MAX_STATES;
		unsigned k = n - first < OYSTER_MAX_STATES ? n - first : OYSTER_MAX_STATES;
		uint8_t out[OYSTER_POLICY_SIZE];

		if (k == 1) {
			memcpy(out, d[first], OYSTER_POLICY_SIZE);
		} else {
			r = policy_or(NULL, (const uint8_t(*)[OYSTER_POLICY_SIZE])d + first, k,
				      out);
			if (r < 0)
				return r;
		}
		memcpy(d[g], out, OYSTER_POLICY_SIZE);
	}
	*up = groups;
	return 0;
}

int policy_tree_path(const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n, unsigned leaf,
		     struct policy_or_step steps[OYSTER_TREE_LEVELS], unsigned *n_steps)
{
	uint8_t d[OYSTER_TREE_LEAVES][OYSTER_POLICY_SIZE];
	unsigned levels = 0;
	int r;

	if (n < 1 || n > OYSTER_TREE_LEAVES || leaf >= n || !leaves)
		return -EINVAL;
	memcpy(d, leaves, n * sizeof(d[0]));
	while (n > 1) {
		unsigned first = leaf / OYSTER_MAX_STATES * OYSTER_MAX_STATES;
		unsigned k = n - first < OYSTER_MAX_STATES ? n - first : OYSTER_MAX_STATES;

		if (k > 1) {
			if (levels == OYSTER_TREE_LEVELS)
				return -EINVAL;
			if (steps) {
				steps[levels].n = k;
				memcpy(steps[levels].digests, d[first], k * sizeof(d[0]));
			}
			levels++;
		}
		r = tree_level(d, n, &n);
		if (r < 0)
			return r;
		leaf /= OYSTER_MAX_STATES;
	}
	*n_steps = levels;
	return 0;
}

int policy_tree(const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n,
		uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t d[OYSTER_TREE_LEAVES][OYSTER_POLICY_SIZE];
	int r;

	if (n < 1 || n > OYSTER_TREE_LEAVES || !leaves)
		return -EINVAL;
	memcpy(d, leaves, n * sizeof(d[0]));
	while (n > 1) {
		r = tree_level(d, n, &n);
		if (r < 0)
			return r;
	}
	memcpy(out, d[0], OYSTER_POLICY_SIZE);
	return 0;
}

int policy_authorize_nv(const uint8_t *name, size_t name_len, uint8_t out[OYSTER_POLICY_SIZE])
{
	uint8_t buf[OYSTER_POLICY_SIZE + 4 + 2 + 64];

	if (!name || name_len < 2 || name_len > sizeof(buf) - OYSTER_POLICY_SIZE - 4)
		return -EINVAL;
	memcpy(buf, policy_zero, OYSTER_POLICY_SIZE);
	put_be32(buf + OYSTER_POLICY_SIZE, TPM2_CC_PolicyAuthorizeNV);
	memcpy(buf + OYSTER_POLICY_SIZE + 4, name, name_len);
	return sha256(buf, OYSTER_POLICY_SIZE + 4 + name_len, out);
}
