/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_BLOB_H
#define OYSTER_BLOB_H

#include <tss2/tss2_tpm2_types.h>

#include "token.h"

/*
 * The token's marshalled blobs as the structures Esys_Load() takes. Each
 * blob must unmarshal completely, with no byte left over; -EINVAL otherwise.
 * A function of its own so that the fuzzer runs the exact unlock path.
 */
int blob_unmarshal(const struct token *tok, TPM2B_PRIVATE *priv, TPM2B_PUBLIC *pub);
/* One blob each; the token parser checks them with these too. */
int blob_private(const uint8_t *blob, size_t len, TPM2B_PRIVATE *priv);
int blob_public(const uint8_t *blob, size_t len, TPM2B_PUBLIC *pub);

#endif
