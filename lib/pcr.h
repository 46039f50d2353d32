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
 * "7", "0+2+4+7", "0,2,4,7", well-known names ("boot-loader-code+7") and
 * ranges are not accepted: a typo must not silently bind to extra PCRs.
 * Returns 0 or -EINVAL; the mask is non-empty on success.
 */
int pcr_parse_spec(const char *spec, uint32_t *mask);
/* "0+2+7" */
void pcr_format_spec(uint32_t mask, char *buf, size_t size);
/* Short well-known name ("boot-loader-code"), or NULL. */
const char *pcr_name(unsigned pcr);
/* What a user recognises ("boot loader code (shim, GRUB, kernel EFI image)"), never NULL. */
const char *pcr_description(unsigned pcr);

/* Banks by name ("sha256") and TPM2_ALG_ID; 0 / NULL when unknown. */
uint16_t pcr_bank_from_name(const char *name);
const char *pcr_bank_name(uint16_t alg);
size_t pcr_bank_digest_size(uint16_t alg);

/* True when every selected value of the bank is all zeros or all ones. */
bool pcr_value_is_trivial(const uint8_t *value, size_t size);

#endif
