/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_APPROVE_H
#define OYSTER_APPROVE_H

/*
 * Authorized tokens (docs/token-format.md): approvals are writes of the NV
 * index (with oyster's credential from the state directory) and of the
 * token, never an unseal.
 */
#include <stdbool.h>
#include <stddef.h>

#include "token.h"

struct crypt_device;
struct tpm;

/*
 * Makes tok (its states set, version 2) authorized for the volume of cd: a
 * credential, an NV index in oyster's range holding tok's approved policy,
 * the object's policy, and a record that the enrollment is under way until
 * approve_settle(). First it undefines what an interrupted enrollment left
 * (an index with a record that no token names). Nothing is left defined on
 * failure while the TPM answers: -EOPNOTSUPP (no PolicyAuthorizeNV),
 * -EACCES (owner password), -ENOSPC (NV full), or another error.
 */
int approve_setup(struct tpm *t, struct crypt_device *cd, struct token *tok);
/* After the token naming tok's index is written (or the index undefined): the record goes. */
void approve_settle(const struct token *tok);
/* One line for the user: why the literal mode, after approve_setup() failed with r. */
const char *approve_fallback_reason(int r);
/*
 * 1 (and where, the device) when a token of a LUKS volume on this machine's
 * block devices names tok's index; 0 when none does. Image files are not
 * searched.
 */
int approve_index_user(const struct token *tok, char *where, size_t size);
/*
 * Undefines tok's NV index (never while approve_index_user() finds a token
 * naming it: -EBUSY, logged) (only when it is the one the token names) and
 * removes its credential. 0 also when the index was gone already.
 */
int approve_forget(struct tpm *t, const struct token *tok);

/*
 * Replaces token id's approved set (old) by tok's: header with both sets,
 * NV index, header with the new set; a crash anywhere leaves one of the two
 * sets working. 0 with *changed false when the approved policy is the same
 * (nothing written). -ESTALE when the index holds neither set of old (an
 * old header, revoked).
 */
int approve_write(struct tpm *t, struct crypt_device *cd, int id, const struct token *old,
		  struct token *tok, bool *changed);

/* The credential's name in the state directory, for index handle. */
void approve_credential_name(uint32_t handle, char *buf, size_t size);

#endif
