// SPDX-License-Identifier: LGPL-2.1-or-later
/* The PCR vocabulary: specs and names, banks, and the mask helpers of pcr.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tss2/tss2_tpm2_types.h>

#include "pcr.h"

/* systemd's names where it has one, so that specs read the same in both. */
static const char *const pcr_names[OYSTER_PCR_COUNT] = {
	[0] = "platform-code",
	[1] = "platform-config",
	[2] = "external-code",
	[3] = "external-config",
	[4] = "boot-loader-code",
	[5] = "boot-loader-config",
	[6] = "host-platform",
	[7] = "secure-boot-policy",
	[8] = "grub-commands",
	[9] = "kernel-initrd",
	[10] = "ima",
	[11] = "kernel-boot",
	[12] = "kernel-config",
	[13] = "sysexts",
	[14] = "shim-policy",
	[15] = "system-identity",
	[16] = "debug",
	[23] = "application-support",
};

static const char *const pcr_descriptions[OYSTER_PCR_COUNT] = {
	[0] = "firmware code",
	[1] = "firmware configuration",
	[2] = "option ROMs",
	[3] = "option ROM configuration",
	[4] = "boot loader",
	[5] = "GPT / boot loader configuration",
	[6] = "resume and host platform events",
	[7] = "Secure Boot state",
	[8] = "GRUB command line",
	[9] = "GRUB files",
	[10] = "IMA",
	[11] = "unified kernel image",
	[12] = "kernel configuration",
	[13] = "system extensions",
	[14] = "shim MOK",
	[15] = "system identity",
	[16] = "debug",
	[17] = "dynamic root of trust",
	[18] = "dynamic root of trust",
	[19] = "dynamic root of trust",
	[20] = "dynamic root of trust",
	[21] = "dynamic root of trust",
	[22] = "dynamic root of trust",
	[23] = "application support",
};

static const struct {
	const char *name;
	uint16_t alg;
	size_t size;
} pcr_banks[] = {
	{ "sha1", TPM2_ALG_SHA1, TPM2_SHA1_DIGEST_SIZE },
	{ "sha256", TPM2_ALG_SHA256, TPM2_SHA256_DIGEST_SIZE },
	{ "sha384", TPM2_ALG_SHA384, TPM2_SHA384_DIGEST_SIZE },
	{ "sha512", TPM2_ALG_SHA512, TPM2_SHA512_DIGEST_SIZE },
	{ "sm3_256", TPM2_ALG_SM3_256, TPM2_SM3_256_DIGEST_SIZE },
};

_Static_assert(TPM2_SHA512_DIGEST_SIZE <= OYSTER_MAX_DIGEST, "a bank does not fit pcr_state");

/*
 * Only canonical decimal ("7", never "07", "+7" or "0x7") or an exact name,
 * so that every accepted item means one PCR and nothing a typo could
 * stretch into another.
 */
static int pcr_parse_item(const char *s, size_t len, unsigned *pcr)
{
	unsigned v = 0;
	size_t i;

	if (s[0] >= '0' && s[0] <= '9') {
		if (s[0] == '0' && len > 1)
			return -EINVAL;
		for (i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return -EINVAL;
			v = v * 10 + (unsigned)(s[i] - '0');
			/* Checked at each digit, so that no input can overflow v. */
			if (v >= OYSTER_PCR_COUNT)
				return -EINVAL;
		}
		*pcr = v;
		return 0;
	}
	for (v = 0; v < OYSTER_PCR_COUNT; v++) {
		if (pcr_names[v] && strlen(pcr_names[v]) == len && !memcmp(pcr_names[v], s, len)) {
			*pcr = v;
			return 0;
		}
	}
	return -EINVAL;
}

/* A PCR listed twice is taken once: the selection is a set. */
int pcr_parse_spec(const char *spec, uint32_t *mask)
{
	uint32_t m = 0;
	const char *p;

	if (!spec || !mask)
		return -EINVAL;
	for (p = spec;; p++) {
		size_t len = strcspn(p, "+,");
		unsigned pcr;

		/* Also refuses an empty spec, "+7", "7+" and "7,,2". */
		if (!len || pcr_parse_item(p, len, &pcr) < 0)
			return -EINVAL;
		m |= 1u << pcr;
		p += len;
		if (!*p)
			break;
	}
	*mask = m;
	return 0;
}

/* A list that does not fit is left out entirely rather than cut short. */
void pcr_format_spec(uint32_t mask, char *buf, size_t size)
{
	size_t off = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (unsigned pcr = 0; pcr < 32; pcr++) {
		int n;

		if (!(mask & (1u << pcr)))
			continue;
		n = snprintf(buf + off, size - off, "%s%u", off ? "+" : "", pcr);
		if (n < 0 || (size_t)n >= size - off) {
			buf[0] = '\0';
			return;
		}
		off += (size_t)n;
	}
}

const char *pcr_name(unsigned pcr)
{
	return pcr < OYSTER_PCR_COUNT ? pcr_names[pcr] : NULL;
}

const char *pcr_description(unsigned pcr)
{
	return pcr < OYSTER_PCR_COUNT ? pcr_descriptions[pcr] : "not a PCR";
}

uint16_t pcr_bank_from_name(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(pcr_banks) / sizeof(pcr_banks[0]); i++) {
		if (!strcmp(pcr_banks[i].name, name))
			return pcr_banks[i].alg;
	}
	return 0;
}

const char *pcr_bank_name(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(pcr_banks) / sizeof(pcr_banks[0]); i++) {
		if (pcr_banks[i].alg == alg)
			return pcr_banks[i].name;
	}
	return NULL;
}

size_t pcr_bank_digest_size(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(pcr_banks) / sizeof(pcr_banks[0]); i++) {
		if (pcr_banks[i].alg == alg)
			return pcr_banks[i].size;
	}
	return 0;
}

/*
 * All zeros is a PCR nothing was measured into (or one reset by a
 * dynamic launch), all ones a PCR in an error state: binding to either
 * proves nothing about the boot.
 */
bool pcr_value_is_trivial(const uint8_t *value, size_t size)
{
	uint8_t any = 0, all = 0xff;

	for (size_t i = 0; i < size; i++) {
		any |= value[i];
		all &= value[i];
	}
	return any == 0 || all == 0xff;
}

uint32_t pcr_state_diff(const struct pcr_state *a, const struct pcr_state *b, uint32_t mask,
			size_t size)
{
	uint32_t diff = 0;

	FOREACH_PCR_IN_MASK(pcr, mask)
		if (memcmp(a->value[pcr], b->value[pcr], size))
			diff |= 1u << pcr;
	return diff;
}

uint32_t pcr_states_zero(const struct pcr_state *states, unsigned n, uint32_t mask, size_t size)
{
	uint32_t zero = 0;

	FOREACH_PCR_IN_MASK(pcr, n ? mask : 0) {
		bool all = true;

		for (unsigned s = 0; s < n && all; s++)
			for (size_t i = 0; i < size && all; i++)
				all = !states[s].value[pcr][i];
		if (all)
			zero |= 1u << pcr;
	}
	return zero;
}

void pcr_state_copy(struct pcr_state *dst, const struct pcr_state *src, uint32_t mask, size_t size)
{
	FOREACH_PCR_IN_MASK(pcr, mask)
		memcpy(dst->value[pcr], src->value[pcr], size);
}

void pcr_describe(uint32_t mask, char *buf, size_t size)
{
	size_t off = 0;

	if (size)
		buf[0] = '\0';
	FOREACH_PCR_IN_MASK(pcr, mask) {
		if (off >= size)
			break;
		off += snprintf(buf + off, size - off, "%sPCR %u (%s)", off ? ", " : "", pcr,
				pcr_description(pcr));
	}
}
