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

#endif
