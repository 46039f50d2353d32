/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_LOCKOUT_H
#define OYSTER_LOCKOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"
#include "tpm.h"

/* What oyster tpm-setup reports about a TPM. */
struct tpm_state {
	bool lockout_auth_set;
	bool owner_auth_set;
	bool in_lockout;
	bool srk_persistent;	  /* 0x81000001 is there */
	bool policy_authorize_nv; /* TPM2_PolicyAuthorizeNV is implemented */
	struct tpm_da da;
};

int tpm_state_read(struct tpm *t, struct tpm_state *st);

/*
 * Commands authorized by the lockout hierarchy (auth NULL: empty), each in
 * a session salted with the SRK: the authorization is proven by HMAC and the
 * new value crosses the bus encrypted. A wrong auth returns -EACCES; while
 * the lockout hierarchy is itself locked out after a wrong one, -EBUSY.
 */
int tpm_lockout_change_auth(struct tpm *t, const struct secret *auth,
			    const struct secret *new_auth);
int tpm_lockout_reset(struct tpm *t, const struct secret *auth);
int tpm_lockout_parameters(struct tpm *t, const struct secret *auth, uint32_t max_tries,
			   uint32_t recovery_time, uint32_t lockout_recovery);

#endif
