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

#endif
