/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_AUTHORITY_H
#define OYSTER_AUTHORITY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The entry of db (signature lists, efisig_check()ed) that the firmware will
 * measure as the authority that verified the PE image at path: the first
 * X.509 entry anchoring its signer's chain. 0 with *entry pointing at that
 * EFI_SIGNATURE_DATA (owner GUID, then the certificate), or NULL when no
 * entry anchors it; -EINVAL (reason logged) for an image without a usable
 * Authenticode signature, another negative errno when it cannot be read.
 */
int authority_anchor(const char *path, const uint8_t *db, size_t db_len, const uint8_t **entry,
		     size_t *entry_len);
/* The entry in words ("db's certificate /CN=...", "no db entry"). */
void authority_describe(const uint8_t *entry, size_t entry_len, char *buf, size_t size);

#endif
