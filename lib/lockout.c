// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What `oyster tpm-setup` reads of a TPM and the lockout hierarchy's commands:
 * its authorization and dictionary-attack parameters.
 */
#include <errno.h>
#include <string.h>

#include "lockout.h"
#include "log.h"
#include "tpm-private.h"

static int has_handle(struct tpm *t, uint32_t handle, bool *out)
{
	TPMS_CAPABILITY_DATA *cap;
	int r;

	r = tpm_capability(t, TPM2_CAP_HANDLES, handle, 1, "handles", &cap);
	if (r < 0)
		return r;
	*out = cap->data.handles.count >= 1 && cap->data.handles.handle[0] == handle;
	Esys_Free(cap);
	return 0;
}

int tpm_state_read(struct tpm *t, struct tpm_state *st)
{
	uint32_t permanent = 0;
	int r;

	memset(st, 0, sizeof(*st));
	r = tpm_property(t, TPM2_PT_PERMANENT, &permanent);
	if (r == 0)
		r = tpm_da_read(t, &st->da);
	if (r == 0)
		r = has_handle(t, OYSTER_SRK_PERSISTENT, &st->srk_persistent);
	if (r == 0)
		r = tpm_has_command(t, TPM2_CC_PolicyAuthorizeNV, &st->policy_authorize_nv);
	st->lockout_auth_set = permanent & TPMA_PERMANENT_LOCKOUTAUTHSET;
	st->owner_auth_set = permanent & TPMA_PERMANENT_OWNERAUTHSET;
	st->in_lockout = permanent & TPMA_PERMANENT_INLOCKOUT;
	return r;
}

/*
 * An HMAC session salted with the SRK (created in the owner hierarchy when
 * it is not persistent), closed by the TPM after one command; with
 * encrypt, the command's first parameter travels encrypted.
 */
static int session_start(struct tpm *t, bool encrypt, ESYS_TR *session)
{
	struct srk srk;
	TSS2_RC rc;
	int r;

	*session = ESYS_TR_NONE;
	r = srk_get(t, OYSTER_SRK_PERSISTENT, false, &srk);
	if (r < 0)
		return r;
	r = tpm_session_start(t, &srk, ESYS_TR_NONE, TPM2_SE_HMAC, session);
	srk_put(t, &srk);
	if (r < 0)
		return r;
	rc = Esys_TRSess_SetAttributes(t->esys, *session, encrypt ? TPMA_SESSION_DECRYPT : 0, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		tpm_session_end(t, session, false);
		return tpm_rc_errno(rc, "TRSess_SetAttributes");
	}
	return 0;
}

static int set_lockout_auth(struct tpm *t, const struct secret *auth)
{
	TPM2B_AUTH value = { 0 };
	TSS2_RC rc;

	if (auth && auth->len > sizeof(value.buffer))
		return -EINVAL;
	if (auth) {
		value.size = (UINT16)auth->len;
		memcpy(value.buffer, auth->data, auth->len);
	}
	rc = Esys_TR_SetAuth(t->esys, ESYS_TR_RH_LOCKOUT, &value);
	explicit_bzero(&value, sizeof(value));
	return rc == TSS2_RC_SUCCESS ? 0 : tpm_rc_errno(rc, "TR_SetAuth");
}

/* The lockout hierarchy's answers: a wrong auth, and its own lockout after one. */
static int lockout_rc(TSS2_RC rc, const char *what)
{
	TSS2_RC base = tpm_rc_base(rc);

	if (base == TPM2_RC_AUTH_FAIL || base == TPM2_RC_BAD_AUTH) {
		tpm_rc_errno(rc, what);
		return -EACCES;
	}
	return tpm_rc_errno(rc, what);
}

/*
 * The lockout hierarchy's authorization on its ESYS_TR and a salted session,
 * for one command; on any failure the authorization is taken off again.
 */
static int lockout_begin(struct tpm *t, const struct secret *auth, bool encrypt, ESYS_TR *session)
{
	int r = set_lockout_auth(t, auth);

	if (r == 0)
		r = session_start(t, encrypt, session);
	if (r < 0)
		set_lockout_auth(t, NULL);
	return r;
}

static int lockout_end(struct tpm *t, ESYS_TR *session, TSS2_RC rc, const char *what)
{
	tpm_session_end(t, session, rc == TSS2_RC_SUCCESS);
	set_lockout_auth(t, NULL);
	return rc == TSS2_RC_SUCCESS ? 0 : lockout_rc(rc, what);
}

int tpm_lockout_change_auth(struct tpm *t, const struct secret *auth, const struct secret *new_auth)
{
	TPM2B_AUTH value = { .size = (UINT16)new_auth->len };
	ESYS_TR session;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	if (new_auth->len > sizeof(value.buffer))
		return -EINVAL;
	r = lockout_begin(t, auth, true, &session);
	if (r < 0)
		return r;
	memcpy(value.buffer, new_auth->data, new_auth->len);
	rc = Esys_HierarchyChangeAuth(t->esys, ESYS_TR_RH_LOCKOUT, session, ESYS_TR_NONE,
				      ESYS_TR_NONE, &value);
	explicit_bzero(&value, sizeof(value));
	return lockout_end(t, &session, rc, "HierarchyChangeAuth(lockout)");
}

int tpm_lockout_reset(struct tpm *t, const struct secret *auth)
{
	ESYS_TR session;
	TSS2_RC rc;
	int r;

	r = lockout_begin(t, auth, false, &session);
	if (r < 0)
		return r;
	rc = Esys_DictionaryAttackLockReset(t->esys, ESYS_TR_RH_LOCKOUT, session, ESYS_TR_NONE,
					    ESYS_TR_NONE);
	return lockout_end(t, &session, rc, "DictionaryAttackLockReset");
}

int tpm_lockout_parameters(struct tpm *t, const struct secret *auth, uint32_t max_tries,
			   uint32_t recovery_time, uint32_t lockout_recovery)
{
	ESYS_TR session;
	TSS2_RC rc;
	int r;

	r = lockout_begin(t, auth, false, &session);
	if (r < 0)
		return r;
	rc = Esys_DictionaryAttackParameters(t->esys, ESYS_TR_RH_LOCKOUT, session, ESYS_TR_NONE,
					     ESYS_TR_NONE, max_tries, recovery_time,
					     lockout_recovery);
	return lockout_end(t, &session, rc, "DictionaryAttackParameters");
}
