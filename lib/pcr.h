/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_PCR_H
#define OYSTER_PCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OYSTER_PCR_COUNT 24
#define OYSTER_MAX_DIGEST 64

/* Values of the PCRs of one bank; only the indices in a mask are meaningful. */
struct pcr_state {
	uint8_t value[OYSTER_PCR_COUNT][OYSTER_MAX_DIGEST];
};

/*
 * "7", "0+2+4+7", "0,2,4,7" and well-known names ("boot-loader-code+7");
 * separators may be mixed and duplicates count once. Numbers are plain
 * decimal without leading zeros; ranges are refused, so that a typo cannot
 * silently bind to extra PCRs. Returns 0 or -EINVAL (mask untouched); the
 * mask is non-empty on success.
 */
int pcr_parse_spec(const char *spec, uint32_t *mask);
/* "0+2+7"; "" when size is too small (OYSTER_PCR_SPEC_MAX always suffices). */
#define OYSTER_PCR_SPEC_MAX 96
void pcr_format_spec(uint32_t mask, char *buf, size_t size);
/* Short well-known name ("boot-loader-code"), or NULL. */
const char *pcr_name(unsigned pcr);
/* What a user recognises ("boot loader", "Secure Boot state"), never NULL. */
const char *pcr_description(unsigned pcr);

/* Banks by name ("sha256") and TPM2_ALG_ID; 0 / NULL when unknown. */
uint16_t pcr_bank_from_name(const char *name);
const char *pcr_bank_name(uint16_t alg);
size_t pcr_bank_digest_size(uint16_t alg);

/* True when a PCR value is all zeros or all ones: nothing was measured into it. */
bool pcr_value_is_trivial(const uint8_t *value, size_t size);

/* The first PCR of mask at or after from; OYSTER_PCR_COUNT when none is left. */
static inline unsigned pcr_next(uint32_t mask, unsigned from)
{
	while (from < OYSTER_PCR_COUNT && !(mask & (1u << from)))
		from++;
	return from;
}

/*
 * Each PCR of a mask, lowest first, as a fresh `unsigned pcr` in the body
 * (systemd's FOREACH_PCR_IN_MASK): break and continue work as in any loop;
 * bits above OYSTER_PCR_COUNT are ignored.
 */
#define FOREACH_PCR_IN_MASK(pcr, mask) \
	for (unsigned pcr = pcr_next((mask), 0); pcr < OYSTER_PCR_COUNT; pcr = pcr_next((mask), pcr + 1))

/* The PCRs of mask whose values (size bytes each) differ between a and b; 0 when equal. */
uint32_t pcr_state_diff(const struct pcr_state *a, const struct pcr_state *b, uint32_t mask,
			size_t size);
/* The PCRs of mask that hold all zeros in every one of the n states; 0 when n is 0. */
uint32_t pcr_states_zero(const struct pcr_state *states, unsigned n, uint32_t mask, size_t size);
/* Copy the values of the PCRs of mask from src into dst. */
void pcr_state_copy(struct pcr_state *dst, const struct pcr_state *src, uint32_t mask, size_t size);

/*
 * "PCR 7 (Secure Boot state), PCR 9 (...)" for messages; cut short when size
 * is too small, "" for an empty mask.
 */
void pcr_describe(uint32_t mask, char *buf, size_t size);

#endif
