// SPDX-License-Identifier: LGPL-2.1-or-later
/* The token's sealed blobs unmarshalled into the structures Esys_Load() takes. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "blob.h"

/*
 * A non-empty TPM2B whose size field covers the rest of the blob exactly.
 * tss2 3.2.1 accepts a TPM2B_PUBLIC of size 0 (two zero bytes) as an
 * all-zero publicArea, and logs to stderr on malformed input: check first.
 */
static bool tpm2b_whole(const uint8_t *blob, size_t len)
{
	return len > 2 && ((size_t)blob[0] << 8 | blob[1]) == len - 2;
}

int blob_private(const uint8_t *blob, size_t len, TPM2B_PRIVATE *priv)
{
	size_t off = 0;

	/* The unmarshallers refuse to fill a TPM2B whose size is not zero. */
	memset(priv, 0, sizeof(*priv));
	if (!tpm2b_whole(blob, len) ||
	    Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, priv) != TSS2_RC_SUCCESS || off != len)
		return -EINVAL;
	return 0;
}

int blob_public(const uint8_t *blob, size_t len, TPM2B_PUBLIC *pub)
{
	size_t off = 0;

	memset(pub, 0, sizeof(*pub));
	if (!tpm2b_whole(blob, len) ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, pub) != TSS2_RC_SUCCESS || off != len)
		return -EINVAL;
	return 0;
}

int blob_unmarshal(const struct token *tok, TPM2B_PRIVATE *priv, TPM2B_PUBLIC *pub)
{
	memset(priv, 0, sizeof(*priv));
	memset(pub, 0, sizeof(*pub));
	if (tok->private_len > sizeof(tok->private_blob) ||
	    tok->public_len > sizeof(tok->public_blob))
		return -EINVAL;
	if (blob_private(tok->private_blob, tok->private_len, priv) < 0)
		return -EINVAL;
	return blob_public(tok->public_blob, tok->public_len, pub);
}
