/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TPM_H
#define OYSTER_TPM_H

#include <stdint.h>

#include "encode.h"
#include "pcr.h"
#include "secret.h"
#include "token.h"

/*
 * Errors, in the caller's terms:
 *   -ENODEV       no TPM reachable (missing device, dead socket)
 *   -EPERM        the TPM refused: the policy (PCR state) is not satisfied
 *   -EKEYREJECTED the storage root key has another name: another TPM
 *   -EBUSY        the TPM is in dictionary-attack lockout
 *   -ENOKEY       the token needs a PIN and none was given
 *   -EACCES       wrong PIN (the TPM counted it)
 *   -ENOSPC       the TPM's object or session memory is full
 *   -EINVAL       the token's blobs are not usable objects
 *   -EAGAIN       the TPM stayed busy (RETRY, YIELDED, TESTING) through ESAPI's
 *                 bounded resubmissions
 *   -ENOTRECOVERABLE the TPM is in failure mode (TPM_RC_FAILURE)
 *   -EIO          any other TPM failure
 * and from tpm_unseal() of an authorized token:
 *   -ESTALE       the state is approved by this token, but the NV index holds
 *                 another approved policy (a later approval revoked it)
 *   -ENXIO        the token's NV index is gone or unreadable (unlock_nv_verdict()
 *                 says which)
 */
#define OYSTER_SECRET_SIZE 32
#define OYSTER_PASSPHRASE_LEN BASE64_LEN(OYSTER_SECRET_SIZE)

struct tpm;

/*
 * $OYSTER_TCTI, else device:/dev/tpmrm0 then device:/dev/tpm0; in an initramfs
 * device:/dev/tpm0 then device:/dev/tpmrm0 (tpm.c says why).
 */
int tpm_open(struct tpm **out);
/* tpm_open(), retried while no TPM is reachable, for at most seconds: a TPM driver may come up late. */
int tpm_open_wait(struct tpm **out, unsigned seconds);
void tpm_close(struct tpm *t);
/* The TCTI configuration actually used, for messages. */
const char *tpm_tcti(const struct tpm *t);

int tpm_pcr_read(struct tpm *t, uint16_t bank, uint32_t mask, struct pcr_state *out);
/* How many times the TPM was reset (rebooted) since it was cleared: the boot's number. */
int tpm_reset_count(struct tpm *t, uint32_t *out);
/* Extends pcr in every active bank with the hash of data (TPM2_PCR_Event). */
int tpm_pcr_event(struct tpm *t, unsigned pcr, const void *data, size_t len);

/*
 * Seal secret under the SRK (made persistent when it can be) to the token's
 * policy, with auth (the PIN's authValue) iff tok->pin; fills the token's
 * blobs and SRK handle and name.
 */
int tpm_seal(struct tpm *t, const struct secret *secret, const struct secret *auth,
	     struct token *tok);
/* Unseal the token's secret after checking the SRK's name; auth as for tpm_seal(). */
int tpm_unseal(struct tpm *t, const struct token *tok, const struct secret *auth,
	       struct secret **out);

/* Dictionary-attack state: failures counted, failures allowed, seconds per forgiven failure. */
struct tpm_da {
	uint32_t counter;
	uint32_t max_tries;
	uint32_t interval;
	uint32_t recovery;
};
int tpm_da_read(struct tpm *t, struct tpm_da *da);
/* True when the TPM is in dictionary-attack lockout now (false when it cannot tell). */
bool tpm_locked_out(struct tpm *t);
/* 0 when the TPM's SRK is the one the token was sealed under, else -EKEYREJECTED. */
int tpm_srk_check(struct tpm *t, const struct token *tok);

/*
 * Authorized tokens (nv.c): the NV index holding the approved policy.
 * tpm_nv_supported: 0, or -EOPNOTSUPP when the TPM lacks PolicyAuthorizeNV.
 * tpm_nv_handles: the handles defined in oyster's range.
 * tpm_nv_free_handle: the first handle of the range not among used (what
 *   tpm_nv_handles listed); -ENOSPC when none is free.
 * tpm_nv_define: a new index at handle whose authValue is auth; -EACCES
 *   when the owner hierarchy has a password, -ENOSPC when NV is full (each
 *   logged).
 * tpm_nv_write: digest into the index, which must be oyster's (its name
 *   from its attributes; want, when not NULL, the written name the token
 *   records); name gets its written name. -EKEYREJECTED for an index that is
 *   not oyster's (untouched), -ENOENT when none is there.
 * tpm_nv_read / tpm_nv_undefine: the index with the written name given;
 *   tpm_nv_read: -EACCES when the owner hierarchy's password keeps it unread.
 */
int tpm_nv_supported(struct tpm *t);
int tpm_nv_name(uint32_t handle, bool written, uint8_t name[OYSTER_NV_NAME_LEN]);
int tpm_nv_handles(struct tpm *t, uint32_t handles[OYSTER_NV_COUNT], size_t *n);
int tpm_nv_free_handle(const uint32_t *used, size_t n, uint32_t *handle);
int tpm_nv_define(struct tpm *t, const struct secret *auth, uint32_t handle);
int tpm_nv_write(struct tpm *t, uint32_t handle, const uint8_t *want, const struct secret *auth,
		 const uint8_t digest[OYSTER_POLICY_SIZE], uint8_t name[OYSTER_NV_NAME_LEN]);
int tpm_nv_read(struct tpm *t, uint32_t handle, const uint8_t name[OYSTER_NV_NAME_LEN],
		uint8_t digest[OYSTER_POLICY_SIZE]);
int tpm_nv_undefine(struct tpm *t, uint32_t handle, const uint8_t *name);

#endif
