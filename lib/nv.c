// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The NV index of an authorized token (docs/token-format.md, "Authorized
 * tokens"): a TPMT_HA (TPM2_ALG_SHA256, then the digest) of the approved
 * policy, as TPM2_PolicyAuthorizeNV reads it. Anyone may
 * read it (owner read, and the owner hierarchy has an empty password, or
 * oyster could not have defined it); only oyster's credential, its authValue,
 * may write it. oyster touches no index whose name is not the one its
 * attributes give: never one it did not define.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "log.h"
#include "tpm-private.h"

/* Ordinary index, written whole, read with the owner's (empty) auth, written with its own. */
#define NV_SIZE (2 + OYSTER_POLICY_SIZE)
#define NV_ATTRS                                                                                   \
	(TPMA_NV_OWNERREAD | TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA | TPMA_NV_WRITEALL |                \
	 (TPM2_NT_ORDINARY << TPMA_NV_TPM2_NT_SHIFT))

static void nv_public(uint32_t handle, bool written, TPM2B_NV_PUBLIC *pub)
{
	memset(pub, 0, sizeof(*pub));
	pub->nvPublic.nvIndex = handle;
	pub->nvPublic.nameAlg = TPM2_ALG_SHA256;
	pub->nvPublic.attributes = NV_ATTRS | (written ? TPMA_NV_WRITTEN : 0);
	pub->nvPublic.dataSize = NV_SIZE;
}

/* TPM 2.0 Part 1, 16: nameAlg || H(marshalled TPMS_NV_PUBLIC). */
int tpm_nv_name(uint32_t handle, bool written, uint8_t name[OYSTER_NV_NAME_LEN])
{
	uint8_t buf[sizeof(TPMS_NV_PUBLIC) + 8];
	TPM2B_NV_PUBLIC pub;
	unsigned len = 0;
	size_t off = 0;

	nv_public(handle, written, &pub);
	if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(&pub.nvPublic, buf, sizeof(buf), &off) !=
	    TSS2_RC_SUCCESS)
		return -EINVAL;
	name[0] = TPM2_ALG_SHA256 >> 8;
	name[1] = TPM2_ALG_SHA256 & 0xff;
	if (!EVP_Digest(buf, off, name + 2, &len, EVP_sha256(), NULL) || len != 32)
		return -EIO;
	return 0;
}

int tpm_nv_supported(struct tpm *t)
{
	bool has = false;
	int r = tpm_has_command(t, TPM2_CC_PolicyAuthorizeNV, &has);

	if (r < 0)
		return r;
	return has ? 0 : -EOPNOTSUPP;
}

/* The index at handle as an ESYS_TR, if its name is one of ours (or exactly want). */
static int nv_get(struct tpm *t, uint32_t handle, const uint8_t *want, ESYS_TR *tr, bool *written)
{
	uint8_t unwritten_name[OYSTER_NV_NAME_LEN], written_name[OYSTER_NV_NAME_LEN];
	TPM2B_NAME *name = NULL;
	TSS2_RC rc;
	int r;

	*tr = ESYS_TR_NONE;
	rc = Esys_TR_FromTPMPublic(t->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
	if (rc != TSS2_RC_SUCCESS) {
		*tr = ESYS_TR_NONE;
		r = tpm_rc_errno(rc, "NV_ReadPublic");
		/* HANDLE: nothing defined there. */
		return tpm_rc_base(rc) == TPM2_RC_HANDLE ? -ENOENT : r;
	}
	r = tpm_nv_name(handle, false, unwritten_name);
	if (r == 0)
		r = tpm_nv_name(handle, true, written_name);
	if (r == 0 && Esys_TR_GetName(t->esys, *tr, &name) != TSS2_RC_SUCCESS)
		r = -EIO;
	if (r == 0) {
		bool is_written = name->size == OYSTER_NV_NAME_LEN &&
				  !memcmp(name->name, written_name, OYSTER_NV_NAME_LEN);
		bool is_unwritten = name->size == OYSTER_NV_NAME_LEN &&
				    !memcmp(name->name, unwritten_name, OYSTER_NV_NAME_LEN);

		if (want ? !is_written || memcmp(want, written_name, OYSTER_NV_NAME_LEN)
			 : !is_written && !is_unwritten)
			r = -EKEYREJECTED;
		if (written)
			*written = is_written;
	}
	Esys_Free(name);
	if (r < 0) {
		Esys_TR_Close(t->esys, tr);
		*tr = ESYS_TR_NONE;
	}
	return r;
}

int tpm_nv_handles(struct tpm *t, uint32_t handles[OYSTER_NV_COUNT], size_t *n)
{
	TPMS_CAPABILITY_DATA *cap;
	int r;

	*n = 0;
	r = tpm_capability(t, TPM2_CAP_HANDLES, OYSTER_NV_FIRST, OYSTER_NV_COUNT, "handles", &cap);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < cap->data.handles.count && *n < OYSTER_NV_COUNT; i++)
		if (cap->data.handles.handle[i] >= OYSTER_NV_FIRST &&
		    cap->data.handles.handle[i] <= OYSTER_NV_LAST)
			handles[(*n)++] = cap->data.handles.handle[i];
	Esys_Free(cap);
	return 0;
}

int tpm_nv_free_handle(const uint32_t *used, size_t n, uint32_t *handle)
{
	for (uint32_t h = OYSTER_NV_FIRST; h <= OYSTER_NV_LAST; h++) {
		bool taken = false;

		for (size_t i = 0; i < n && !taken; i++)
			taken = used[i] == h;
		if (!taken) {
			*handle = h;
			return 0;
		}
	}
	log_debug("Every NV handle of oyster's range (0x%08x..0x%08x) is taken.", OYSTER_NV_FIRST,
		  OYSTER_NV_LAST);
	return -ENOSPC;
}

int tpm_nv_define(struct tpm *t, const struct secret *auth, uint32_t handle)
{
	TPM2B_NV_PUBLIC pub;
	TPM2B_AUTH value = { .size = (UINT16)auth->len };
	ESYS_TR session = ESYS_TR_NONE, tr = ESYS_TR_NONE;
	struct srk srk;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	if (auth->len > sizeof(value.buffer))
		return -EINVAL;
	r = srk_get(t, OYSTER_SRK_PERSISTENT, true, &srk);
	if (r < 0)
		return r;
	nv_public(handle, false, &pub);
	memcpy(value.buffer, auth->data, auth->len);
	/* Command encryption: the new index's authValue is the first parameter. */
	r = tpm_session_start(t, &srk, ESYS_TR_NONE, TPM2_SE_HMAC, &session);
	if (r == 0) {
		rc = Esys_TRSess_SetAttributes(t->esys, session, TPMA_SESSION_DECRYPT, 0xff);
		if (rc == TSS2_RC_SUCCESS)
			rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, session, ESYS_TR_NONE,
						 ESYS_TR_NONE, &value, &pub, &tr);
		if (rc != TSS2_RC_SUCCESS) {
			TSS2_RC base = tpm_rc_base(rc);

			r = tpm_rc_errno(rc, "NV_DefineSpace");
			if (base == TPM2_RC_BAD_AUTH || base == TPM2_RC_AUTH_FAIL ||
			    base == TPM2_RC_HIERARCHY) {
				log_debug("The TPM's owner hierarchy has a password (or is "
					  "disabled): "
					  "oyster cannot define its NV index.");
				r = -EACCES;
			} else if (base == TPM2_RC_NV_SPACE || r == -ENOSPC) {
				log_debug(
					"The TPM's NV memory is full: oyster cannot define its NV "
					"index.");
				r = -ENOSPC;
			} else {
				log_debug("The TPM refused to define an NV index (%s).",
					  Tss2_RC_Decode(rc));
			}
		}
	}
	explicit_bzero(&value, sizeof(value));
	tpm_session_end(t, &session, r == 0 && rc == TSS2_RC_SUCCESS);
	if (tr != ESYS_TR_NONE)
		Esys_TR_Close(t->esys, &tr);
	srk_put(t, &srk);
	return r;
}

int tpm_nv_write(struct tpm *t, uint32_t handle, const uint8_t *want, const struct secret *auth,
		 const uint8_t digest[OYSTER_POLICY_SIZE], uint8_t name[OYSTER_NV_NAME_LEN])
{
	TPM2B_MAX_NV_BUFFER data = { .size = NV_SIZE };
	TPM2B_AUTH value = { .size = (UINT16)auth->len };
	ESYS_TR session = ESYS_TR_NONE, tr = ESYS_TR_NONE;
	struct srk srk;
	bool written = false;
	TSS2_RC rc;
	int r;

	if (auth->len > sizeof(value.buffer))
		return -EINVAL;
	r = nv_get(t, handle, want, &tr, NULL);
	if (r == -EKEYREJECTED)
		log_err("NV index 0x%08x is not the one oyster defined for this token; it was left "
			"untouched.",
			handle);
	if (r < 0)
		return r;
	r = srk_get(t, OYSTER_SRK_PERSISTENT, false, &srk);
	if (r < 0)
		goto out;
	memcpy(value.buffer, auth->data, auth->len);
	rc = Esys_TR_SetAuth(t->esys, tr, &value);
	explicit_bzero(&value, sizeof(value));
	/* The credential keys the HMAC of a salted session: it never crosses the bus. */
	if (rc == TSS2_RC_SUCCESS)
		r = tpm_session_start(t, &srk, ESYS_TR_NONE, TPM2_SE_HMAC, &session);
	else
		r = tpm_rc_errno(rc, "TR_SetAuth");
	/* continueSession clear: the TPM flushes the session after NV_Write. */
	if (r == 0 &&
	    (rc = Esys_TRSess_SetAttributes(t->esys, session, 0, 0xff)) != TSS2_RC_SUCCESS)
		r = tpm_rc_errno(rc, "TRSess_SetAttributes");
	if (r == 0) {
		data.buffer[0] = TPM2_ALG_SHA256 >> 8;
		data.buffer[1] = TPM2_ALG_SHA256 & 0xff;
		memcpy(data.buffer + 2, digest, OYSTER_POLICY_SIZE);
		rc = Esys_NV_Write(t->esys, tr, tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0);
		if (rc == TSS2_RC_SUCCESS)
			written = true;
		else {
			r = tpm_rc_errno(rc, "NV_Write");
			if (tpm_rc_base(rc) == TPM2_RC_AUTH_FAIL ||
			    tpm_rc_base(rc) == TPM2_RC_BAD_AUTH) {
				log_err("oyster's credential for NV index 0x%08x does not match "
					"it.",
					handle);
				r = -EACCES;
			}
		}
	}
	tpm_session_end(t, &session, written);
	srk_put(t, &srk);
	if (r == 0 && name)
		r = tpm_nv_name(handle, true, name);
out:
	Esys_TR_Close(t->esys, &tr);
	return r;
}

int tpm_nv_read(struct tpm *t, uint32_t handle, const uint8_t name[OYSTER_NV_NAME_LEN],
		uint8_t digest[OYSTER_POLICY_SIZE])
{
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR tr;
	TSS2_RC rc;
	int r;

	r = nv_get(t, handle, name, &tr, NULL);
	if (r < 0)
		return r;
	rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			  ESYS_TR_NONE, NV_SIZE, 0, &data);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "NV_Read");
		if (tpm_rc_base(rc) == TPM2_RC_BAD_AUTH || tpm_rc_base(rc) == TPM2_RC_AUTH_FAIL)
			r = -EACCES; /* the owner hierarchy has a password */
	} else if (data->size != NV_SIZE || data->buffer[0] != (TPM2_ALG_SHA256 >> 8) ||
		   data->buffer[1] != (TPM2_ALG_SHA256 & 0xff))
		r = -EIO;
	else
		memcpy(digest, data->buffer + 2, OYSTER_POLICY_SIZE);
	Esys_Free(data);
	Esys_TR_Close(t->esys, &tr);
	return r;
}

int tpm_nv_undefine(struct tpm *t, uint32_t handle, const uint8_t *name)
{
	ESYS_TR tr;
	TSS2_RC rc;
	int r;

	r = nv_get(t, handle, name, &tr, NULL);
	if (r < 0)
		return r;
	rc = Esys_NV_UndefineSpace(t->esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				   ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "NV_UndefineSpace");
		Esys_TR_Close(t->esys, &tr);
	}
	/* On success ESAPI has dropped the TR with the index. */
	return r;
}

/* ESAPI's serialized IESYS_RESOURCE of an NV index (tpm2-tss esys_types.h: IESYSC_NV_RSRC). */
#define NV_IESYS_RSRC 2

/*
 * The index the token names as an ESYS_TR without asking the TPM
 * (NV_ReadPublic): its public area follows from the handle and oyster's
 * attributes, and ESAPI takes it in its serialized form. Safe without the
 * TPM's word: PolicyAuthorizeNV extends the policy with the index's real
 * name, so another index cannot satisfy the object's policy. When ESAPI
 * does not take it, or names it otherwise, the TPM is asked after all.
 */
static int nv_get_known(struct tpm *t, const struct token *tok, ESYS_TR *tr)
{
	uint8_t buf[sizeof(TPM2B_NAME) + sizeof(TPM2B_NV_PUBLIC) + 8];
	TPM2B_NAME name = { .size = OYSTER_NV_NAME_LEN }, *got = NULL;
	TPM2B_NV_PUBLIC pub;
	size_t off = 0;
	bool same;

	nv_public(tok->nv_index, true, &pub);
	memcpy(name.name, tok->nv_name, OYSTER_NV_NAME_LEN);
	if (Tss2_MU_UINT32_Marshal(tok->nv_index, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_NAME_Marshal(&name, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_UINT32_Marshal(NV_IESYS_RSRC, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_NV_PUBLIC_Marshal(&pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS ||
	    Esys_TR_Deserialize(t->esys, buf, off, tr) != TSS2_RC_SUCCESS)
		return nv_get(t, tok->nv_index, tok->nv_name, tr, NULL);
	same = Esys_TR_GetName(t->esys, *tr, &got) == TSS2_RC_SUCCESS &&
	       got->size == OYSTER_NV_NAME_LEN &&
	       !memcmp(got->name, tok->nv_name, OYSTER_NV_NAME_LEN);
	Esys_Free(got);
	if (same)
		return 0;
	Esys_TR_Close(t->esys, tr);
	return nv_get(t, tok->nv_index, tok->nv_name, tr, NULL);
}

int nv_policy_authorize(struct tpm *t, ESYS_TR session, const struct token *tok)
{
	ESYS_TR tr;
	TSS2_RC rc;
	int r;

	r = nv_get_known(t, tok, &tr);
	if (r == -ENOENT || r == -EKEYREJECTED)
		return -ENXIO;
	if (r < 0)
		return r;
	/* Owner read: the owner's empty password, in a password session (no command). */
	rc = Esys_PolicyAuthorizeNV(t->esys, ESYS_TR_RH_OWNER, tr, session, ESYS_TR_PASSWORD,
				    ESYS_TR_NONE, ESYS_TR_NONE);
	Esys_TR_Close(t->esys, &tr);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	r = tpm_rc_errno(rc, "PolicyAuthorizeNV");
	/* HANDLE: no index there (undefined, or the TPM was cleared). */
	if (tpm_rc_base(rc) == TPM2_RC_HANDLE)
		return -ENXIO;
	/* VALUE (swtpm; POLICY by some readings of the spec): the session's digest is not the
	 * approved policy the index holds. */
	if (tpm_rc_base(rc) == TPM2_RC_VALUE || tpm_rc_base(rc) == TPM2_RC_POLICY)
		return -ESTALE;
	/* BAD_AUTH, AUTH_FAIL: the owner hierarchy has a password now. */
	if (tpm_rc_base(rc) == TPM2_RC_BAD_AUTH || tpm_rc_base(rc) == TPM2_RC_AUTH_FAIL)
		return -ENXIO;
	return r;
}
