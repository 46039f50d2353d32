// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * make-seeds DIR: writes the seed corpora DIR/token, DIR/blob and DIR/pcr:
 * valid tokens of every shape the format allows (1..8 states, each bank,
 * PIN or not, persistent or transient SRK, few and many PCRs, the smallest
 * and largest blobs), the blob pairs inside them, and PCR specs. The blobs
 * are made up (no TPM needed); their authPolicy matches the states, so
 * every token passes token_parse(). Run it again when the format changes:
 *   make-seeds tests/fuzz/corpus
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tss2/tss2_mu.h>

#include "pcr.h"
#include "policy.h"
#include "token.h"

#define CREATED 1795705200 /* 2026-11-26T15:00:00Z */

static const char *outdir;

static void die(const char *what)
{
	fprintf(stderr, "make-seeds: %s\n", what);
	exit(1);
}

static void write_file(const char *sub, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("cannot create a corpus directory");
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write a seed");
}

static void make_token(struct token *tok, int keyslot, uint16_t bank, uint32_t mask,
		       unsigned n_states, uint32_t srk_handle, bool pin, size_t private_size)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	TPM2B_PRIVATE priv = { .size = (uint16_t)(private_size - 2) };
	TPM2B_PUBLIC pub = { 0 };
	size_t off = 0;

	memset(tok, 0, sizeof(*tok));
	tok->version = OYSTER_TOKEN_VERSION;
	tok->keyslot = keyslot;
	tok->bank = bank;
	tok->pcr_mask = mask;
	tok->n_states = n_states;
	for (unsigned i = 0; i < n_states; i++)
		for (unsigned pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++)
			for (size_t k = 0; k < pcr_bank_digest_size(bank); k++)
				tok->states[i].value[pcr][k] = (uint8_t)(31 * i + 7 * pcr + k);
	if (policy_for_token(bank, mask, tok->states, n_states, pin, branches, tok->policy) < 0)
		die("policy_for_token failed");

	pub.publicArea.type = TPM2_ALG_KEYEDHASH;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	if (!pin)
		pub.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	pub.publicArea.authPolicy.size = OYSTER_POLICY_SIZE;
	memcpy(pub.publicArea.authPolicy.buffer, tok->policy, OYSTER_POLICY_SIZE);
	pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	pub.publicArea.unique.keyedHash.size = 32;
	memset(pub.publicArea.unique.keyedHash.buffer, 0x5a, 32);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, tok->public_blob, sizeof(tok->public_blob), &off))
		die("cannot marshal a TPM2B_PUBLIC");
	tok->public_len = off;

	for (unsigned i = 0; i < priv.size; i++)
		priv.buffer[i] = (uint8_t)(3 * i + 1);
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, tok->private_blob, sizeof(tok->private_blob),
					  &off))
		die("cannot marshal a TPM2B_PRIVATE");
	tok->private_len = off;

	tok->srk_handle = srk_handle;
	tok->srk_name[0] = 0x00;
	tok->srk_name[1] = 0x0b;
	for (unsigned i = 2; i < 34; i++)
		tok->srk_name[i] = (uint8_t)(0xc0 + i);
	tok->srk_name_len = 34;
	tok->pin = pin;
	if (pin) {
		/* Few states: the shortest salt, the fewest iterations; many: the most. */
		tok->pin_salt_len = n_states < 4 ? OYSTER_PIN_SALT_MIN : OYSTER_PIN_SALT_MAX;
		for (size_t i = 0; i < tok->pin_salt_len; i++)
			tok->pin_salt[i] = (uint8_t)(0x11 * i + 5);
		tok->pin_iterations =
			n_states < 4 ? OYSTER_PIN_ITERATIONS_MIN : OYSTER_PIN_ITERATIONS_MAX;
	}
	tok->created = CREATED;
}

/* n recorded events for pcr, after those of lower PCRs (tpm2_events keeps them by PCR). */
static void add_events(struct token *tok, unsigned pcr, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct token_event *ev = &tok->events[tok->n_events++];

		ev->pcr = (uint8_t)pcr;
		ev->type = i ? 0x80000000u + i : 4u;
		memset(ev->digest, (int)(pcr * 16 + i), sizeof(ev->digest));
	}
}

static void emit(const struct token *tok, const char *name)
{
	uint8_t blob[2 + OYSTER_MAX_PRIVATE + OYSTER_MAX_PUBLIC];
	char file[256];
	char *json = NULL;

	if (token_emit(tok, &json) < 0)
		die("token_emit refused a seed token");
	snprintf(file, sizeof(file), "%s.json", name);
	write_file("token", file, json, strlen(json));
	free(json);

	blob[0] = (uint8_t)(tok->private_len >> 8);
	blob[1] = (uint8_t)tok->private_len;
	memcpy(blob + 2, tok->private_blob, tok->private_len);
	memcpy(blob + 2 + tok->private_len, tok->public_blob, tok->public_len);
	write_file("blob", name, blob, 2 + tok->private_len + tok->public_len);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		uint16_t alg;
	} banks[] = {
		{ "sha1", TPM2_ALG_SHA1 },
		{ "sha256", TPM2_ALG_SHA256 },
		{ "sha384", TPM2_ALG_SHA384 },
		{ "sha512", TPM2_ALG_SHA512 },
	};
	static const char *const specs[] = {
		"7",
		"0+2+4+7",
		"0,2,4,7",
		"0+2,4+7",
		"secure-boot-policy",
		"boot-loader-code+7",
		"platform-code,platform-config,external-code,7",
		"23",
		"7+7",
		("0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20+21+22+23"),
		"application-support",
		"kernel-initrd+kernel-boot+9",
	};
	struct token *tok = malloc(sizeof(*tok));
	char name[128];

	if (argc != 2 || !tok) {
		fprintf(stderr, "usage: make-seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST)
		die("cannot create the corpus directory");

	/* Each bank with 1..8 states, PIN and SRK kind alternating. */
	for (size_t b = 0; b < sizeof(banks) / sizeof(banks[0]); b++) {
		for (unsigned n = 1; n <= OYSTER_MAX_STATES; n++) {
			bool pin = n % 2 == 0;
			uint32_t srk = n % 3 == 0 ? OYSTER_SRK_TRANSIENT : OYSTER_SRK_PERSISTENT;

			make_token(tok, (int)n, banks[b].alg, (1u << 7) | (n > 4 ? 1u : 0), n, srk,
				   pin, 48 + n);
			snprintf(name, sizeof(name), "%s-%u-states%s%s", banks[b].name, n,
				 pin ? "-pin" : "",
				 srk == OYSTER_SRK_TRANSIENT ? "-transient" : "");
			emit(tok, name);
		}
	}
	make_token(tok, 0, TPM2_ALG_SHA256, 1u << 7, 1, OYSTER_SRK_PERSISTENT, false, 3);
	emit(tok, "smallest-private");
	make_token(tok, 31, TPM2_ALG_SHA512, (1u << OYSTER_PCR_COUNT) - 1, OYSTER_MAX_STATES,
		   OYSTER_SRK_PERSISTENT, true, OYSTER_MAX_PRIVATE);
	emit(tok, "largest");
	make_token(tok, 2, TPM2_ALG_SHA256, 0x95u | (1u << 23), 2, OYSTER_SRK_TRANSIENT, true, 160);
	tok->created = 0;
	emit(tok, "epoch-pcrs-0-2-4-7-23");
	/* tpm2_events: a few for PCRs 0 and 7, then as many as a token holds. */
	make_token(tok, 3, TPM2_ALG_SHA256, 0x95u, 2, OYSTER_SRK_PERSISTENT, false, 64);
	add_events(tok, 0, 3);
	add_events(tok, 7, 5);
	emit(tok, "events-pcrs-0-7");
	tok->n_events = 0;
	add_events(tok, 0, OYSTER_EVENTS_PER_PCR);
	add_events(tok, 2, OYSTER_EVENTS_PER_PCR);
	add_events(tok, 4, OYSTER_EVENTS_PER_PCR);
	emit(tok, "events-most");

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(name, sizeof(name), "spec-%02zu", i);
		write_file("pcr", name, specs[i], strlen(specs[i]));
	}
	free(tok);
	return 0;
}
