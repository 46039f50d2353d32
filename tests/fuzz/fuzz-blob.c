// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The sealed object's two blobs as they reach blob_unmarshal() on the unlock
 * path (the same function tpm_unseal() calls), lying size fields included.
 * Input: two bytes, big-endian, the length of the TPM2B_PRIVATE; then the
 * TPM2B_PRIVATE; then the TPM2B_PUBLIC.
 */
#include <string.h>
#include <tss2/tss2_mu.h>

#include "blob.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t again[OYSTER_MAX_PUBLIC > OYSTER_MAX_PRIVATE ? OYSTER_MAX_PUBLIC
							     : OYSTER_MAX_PRIVATE];
	TPM2B_PRIVATE priv;
	TPM2B_PUBLIC pub;
	struct token *tok;
	size_t split, off;

	if (size < 2)
		return 0;
	split = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (split > size)
		split = size;
	/* token_parse() never fills more than the token's buffers hold. */
	if (split > OYSTER_MAX_PRIVATE || size - split > OYSTER_MAX_PUBLIC)
		return 0;
	tok = calloc(1, sizeof(*tok));
	FUZZ_ASSERT(tok);
	memcpy(tok->private_blob, data, split);
	tok->private_len = split;
	memcpy(tok->public_blob, data + split, size - split);
	tok->public_len = size - split;

	if (blob_unmarshal(tok, &priv, &pub) == 0) {
		/* Whole blobs, and the same bytes when marshalled again: no byte ignored. */
		FUZZ_ASSERT(priv.size == tok->private_len - 2);
		off = 0;
		FUZZ_ASSERT(Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, again, sizeof(again), &off) ==
			    TSS2_RC_SUCCESS);
		FUZZ_ASSERT(off == tok->private_len && !memcmp(again, tok->private_blob, off));
		off = 0;
		FUZZ_ASSERT(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, again, sizeof(again), &off) ==
			    TSS2_RC_SUCCESS);
		FUZZ_ASSERT(off == tok->public_len && !memcmp(again, tok->public_blob, off));
	}
	free(tok);
	return 0;
}
