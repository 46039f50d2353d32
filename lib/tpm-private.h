/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TPM_PRIVATE_H
#define OYSTER_TPM_PRIVATE_H

/* Shared by tpm.c, srk.c, seal.c and lockout.c only: nothing outside lib/ sees ESAPI. */
#include <stdbool.h>
#include <tss2/tss2_esys.h>

#include "tpm.h"

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;     /* from tctildr */
	TSS2_TCTI_CONTEXT *deadline; /* wraps tcti; what ESAPI talks to */
	ESYS_CONTEXT *esys;
	int lock_fd; /* see tpmlock.h; -1 for none */
	char tcti_conf[256];
};

/* A TSS return code as the negative errno of tpm.h; logs what failed at debug level. */
int tpm_rc_errno(TSS2_RC rc, const char *what);
/* The TPM's response code without the handle/session/parameter number. */
TSS2_RC tpm_rc_base(TSS2_RC rc);

/*
 * TPM2_GetCapability of count values from property on: 0 and *out (free it
 * with Esys_Free), or tpm_rc_errno()'s errno, logged as GetCapability(what).
 */
int tpm_capability(struct tpm *t, TPM2_CAP capability, uint32_t property, uint32_t count,
		   const char *what, TPMS_CAPABILITY_DATA **out);
/* One TPM property's value: 0, -EIO when the TPM does not report it, or tpm_capability()'s. */
int tpm_property(struct tpm *t, uint32_t property, uint32_t *value);
/* Whether the TPM implements command cc: 0 and *out, or tpm_capability()'s errno. */
int tpm_has_command(struct tpm *t, TPM2_CC cc, bool *out);

struct srk {
	ESYS_TR tr;
	uint32_t handle; /* OYSTER_SRK_PERSISTENT or OYSTER_SRK_TRANSIENT */
	bool transient;	 /* we created it: flush when done */
	TPM2B_NAME name;
};

/*
 * The storage root key. want is the handle recorded in a token (or
 * OYSTER_SRK_PERSISTENT at enrollment); persist makes a created key
 * persistent when the owner hierarchy allows it.
 */
int srk_get(struct tpm *t, uint32_t want, bool persist, struct srk *srk);
void srk_put(struct tpm *t, struct srk *srk);

/* A session salted with the SRK (AES-128-CFB): parameter encryption nobody on the bus can read. */
int tpm_session_start(struct tpm *t, const struct srk *srk, ESYS_TR bind, TPM2_SE type,
		      ESYS_TR *session);
/* Closes it: flushed by the TPM after a last successful command, else flushed here. */
void tpm_session_end(struct tpm *t, ESYS_TR *session, bool command_succeeded);

/* Authorized tokens (nv.c): PolicyAuthorizeNV on the token's index, in session. */
int nv_policy_authorize(struct tpm *t, ESYS_TR session, const struct token *tok);

#endif
