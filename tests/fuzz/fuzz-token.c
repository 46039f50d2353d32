// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The token JSON as an attacker with the disk writes it, through the code
 * the plugin runs on it: validate (token_parse), dump, and open up to the
 * first TPM command (the blobs unmarshalled for Esys_Load, the PolicyOR
 * branches recomputed for the policy session).
 */
#include <errno.h>
#include <string.h>

#include "blob.h"
#include "fuzz.h"
#include "policy.h"
#include "token.h"

static void dump_line(const char *text, void *data)
{
	size_t *n = data;

	*n += strlen(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	struct token *tok, *back;
	TPM2B_PRIVATE priv;
	TPM2B_PUBLIC pub;
	char *json, *out = NULL, *again = NULL;
	const char *why = NULL;
	size_t dumped = 0;
	int r;

	/* libcryptsetup hands the plugin a NUL-terminated string. */
	json = malloc(size + 1);
	tok = calloc(1, sizeof(*tok));
	back = calloc(1, sizeof(*back));
	FUZZ_ASSERT(json && tok && back);
	memcpy(json, data, size);
	json[size] = '\0';

	r = token_parse(json, tok, &why);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOMEM);
	/* Every refusal names its reason; success names none. */
	FUZZ_ASSERT(r == 0 ? why == NULL : (r == -ENOMEM || why != NULL));
	/* The repeated-key scanner understands all that json-c's strict parser accepts. */
	FUZZ_ASSERT(r == 0 || !why || strcmp(why, "token: not valid JSON"));
	if (r < 0)
		goto out;

	FUZZ_ASSERT(tok->version == OYSTER_TOKEN_VERSION ||
		    tok->version == OYSTER_TOKEN_AUTHORIZED);
	FUZZ_ASSERT(tok->keyslot >= 0 && tok->keyslot <= 31);
	FUZZ_ASSERT(tok->n_states >= 1 && tok->n_states <= token_max_states(tok));
	FUZZ_ASSERT(tok->pcr_mask && !(tok->pcr_mask >> OYSTER_PCR_COUNT));
	FUZZ_ASSERT(tok->private_len <= OYSTER_MAX_PRIVATE && tok->public_len <= OYSTER_MAX_PUBLIC);

	/* cryptsetup_token_dump() */
	token_dump(tok, dump_line, &dumped);
	FUZZ_ASSERT(dumped > 0);

	/* cryptsetup_token_open(): what tpm_unseal() computes before its first command. */
	FUZZ_ASSERT(blob_unmarshal(tok, &priv, &pub) == 0);
	FUZZ_ASSERT(pub.publicArea.authPolicy.size == OYSTER_POLICY_SIZE);
	if (token_authorized(tok))
		FUZZ_ASSERT(token_approved(tok, false, digest) == 0);
	else
		FUZZ_ASSERT(policy_for_states(tok->bank, tok->pcr_mask, tok->states, tok->n_states,
					      branches, digest) == 0);

	/* What parses can be written back, and reads back the same. */
	r = token_emit(tok, &out);
	FUZZ_ASSERT(r == 0 && out);
	FUZZ_ASSERT(token_parse(out, back, &why) == 0);
	FUZZ_ASSERT(token_emit(back, &again) == 0 && again);
	FUZZ_ASSERT(!strcmp(out, again));
out:
	free(again);
	free(out);
	free(back);
	free(tok);
	free(json);
	return 0;
}
