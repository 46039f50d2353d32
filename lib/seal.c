// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Sealing and unsealing: the policy sessions that replay a token's policy on
 * the TPM, and the session helpers the other TPM files share.
 */
#include <errno.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "blob.h"
#include "log.h"
#include "tpm-private.h"

static const TPMT_SYM_DEF session_symmetric = {
	.algorithm = TPM2_ALG_AES,
	.keyBits.aes = 128,
	.mode.aes = TPM2_ALG_CFB,
};

/*
 * Salted with the SRK: the session key is known only to us and the TPM, so
 * parameter encryption hides the secret from anyone on the bus.
 */
int tpm_session_start(struct tpm *t, const struct srk *srk, ESYS_TR bind, TPM2_SE type,
		      ESYS_TR *session)
{
	TSS2_RC rc;

	rc = Esys_StartAuthSession(t->esys, srk->tr, bind, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   NULL, type, &session_symmetric, TPM2_ALG_SHA256, session);
	if (rc != TSS2_RC_SUCCESS) {
		*session = ESYS_TR_NONE;
		return tpm_rc_errno(rc, "StartAuthSession");
	}
	return 0;
}

/*
 * The last command clears continueSession, so the TPM flushes the session
 * itself on success (one round trip less); only a failure leaves it behind.
 */
void tpm_session_end(struct tpm *t, ESYS_TR *session, bool command_succeeded)
{
	if (*session == ESYS_TR_NONE)
		return;
	if (command_succeeded)
		Esys_TR_Close(t->esys, session);
	else
		Esys_FlushContext(t->esys, *session);
	*session = ESYS_TR_NONE;
}

static int srk_matches(const struct srk *srk, const struct token *tok)
{
	if (srk->name.size != tok->srk_name_len ||
	    memcmp(srk->name.name, tok->srk_name, tok->srk_name_len) != 0) {
		log_err("This volume was enrolled with another TPM (its storage key differs); "
			"unlock with the passphrase and enroll again.");
		return -EKEYREJECTED;
	}
	return 0;
}

int tpm_srk_check(struct tpm *t, const struct token *tok)
{
	struct srk srk;
	int r;

	r = srk_get(t, tok->srk_handle, false, &srk);
	if (r < 0)
		return r;
	r = srk_matches(&srk, tok);
	srk_put(t, &srk);
	return r;
}

int tpm_seal(struct tpm *t, const struct secret *secret, const struct secret *auth,
	     struct token *tok)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	TPM2B_PUBLIC template = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION creation_pcr = { 0 };
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR session = ESYS_TR_NONE;
	struct srk srk;
	size_t off;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	if (secret->len > sizeof(sensitive.sensitive.data.buffer) || !auth != !tok->pin ||
	    (auth && auth->len > sizeof(sensitive.sensitive.userAuth.buffer)))
		return -EINVAL;
	r = srk_get(t, OYSTER_SRK_PERSISTENT, true, &srk);
	if (r < 0)
		return r;

	template.publicArea.type = TPM2_ALG_KEYEDHASH;
	template.publicArea.nameAlg = TPM2_ALG_SHA256;
	/* No userWithAuth: only the policy can authorize. */
	template.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	if (!tok->pin)
		template.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	template.publicArea.authPolicy.size = OYSTER_POLICY_SIZE;
	memcpy(template.publicArea.authPolicy.buffer, tok->policy, OYSTER_POLICY_SIZE);
	template.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;

	r = tpm_session_start(t, &srk, ESYS_TR_NONE, TPM2_SE_HMAC, &session);
	if (r < 0)
		goto out;
	/* Command encryption: inSensitive, the first parameter, carries the secret. */
	rc = Esys_TRSess_SetAttributes(t->esys, session, TPMA_SESSION_DECRYPT, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "TRSess_SetAttributes");
		goto out;
	}
	sensitive.sensitive.data.size = secret->len;
	memcpy(sensitive.sensitive.data.buffer, secret->data, secret->len);
	if (auth) {
		sensitive.sensitive.userAuth.size = auth->len;
		memcpy(sensitive.sensitive.userAuth.buffer, auth->data, auth->len);
	}
	rc = Esys_Create(t->esys, srk.tr, session, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
			 &template, &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
	explicit_bzero(&sensitive, sizeof(sensitive));
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "Create");
		log_err("The TPM could not seal the secret (%s); nothing was changed.",
			r == -EBUSY ? "it is in dictionary-attack lockout" : "TPM error");
		goto out;
	}

	off = 0;
	rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, tok->private_blob, sizeof(tok->private_blob),
					   &off);
	tok->private_len = off;
	if (rc == TSS2_RC_SUCCESS) {
		off = 0;
		rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, tok->public_blob, sizeof(tok->public_blob),
						  &off);
		tok->public_len = off;
	}
	if (rc != TSS2_RC_SUCCESS) {
		r = -ENOBUFS;
		goto out;
	}
	tok->srk_handle = srk.handle;
	tok->srk_name_len = srk.name.size;
	memcpy(tok->srk_name, srk.name.name, srk.name.size);
	r = 0;
out:
	tpm_session_end(t, &session, rc == TSS2_RC_SUCCESS && r == 0);
	Esys_Free(priv);
	Esys_Free(pub);
	srk_put(t, &srk);
	return r;
}

static int policy_pcr_now(struct tpm *t, ESYS_TR session, uint16_t bank, uint32_t mask)
{
	TPML_PCR_SELECTION sel = { .count = 1 };
	TPM2B_DIGEST empty = { 0 };
	TSS2_RC rc;

	sel.pcrSelections[0].hash = bank;
	sel.pcrSelections[0].sizeofSelect = 3;
	for (unsigned i = 0; i < 3; i++)
		sel.pcrSelections[0].pcrSelect[i] = (mask >> (8 * i)) & 0xff;
	/* An empty pcrDigest: the TPM uses its own current values, never ours. */
	rc = Esys_PolicyPCR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty,
			    &sel);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "PolicyPCR");
	return 0;
}

static int policy_or_now(struct tpm *t, ESYS_TR session,
			 const uint8_t (*branches)[OYSTER_POLICY_SIZE], unsigned n)
{
	TPML_DIGEST list = { .count = n };
	TSS2_RC rc;

	for (unsigned i = 0; i < n; i++) {
		list.digests[i].size = OYSTER_POLICY_SIZE;
		memcpy(list.digests[i].buffer, branches[i], OYSTER_POLICY_SIZE);
	}
	rc = Esys_PolicyOR(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &list);
	if (rc == TSS2_RC_SUCCESS)
		return 0;
	/* PolicyOR says VALUE when the session's digest matches none of the branches. */
	if (tpm_rc_base(rc) == TPM2_RC_VALUE) {
		tpm_rc_errno(rc, "PolicyOR");
		return -EPERM;
	}
	return tpm_rc_errno(rc, "PolicyOR");
}

/*
 * The next-boot branch, after the PCR branches failed: the fence PCRs at
 * zero, and the TPM's own reset count equal to the approved one.
 */
static int policy_next_boot_now(struct tpm *t, ESYS_TR session, const struct token *tok,
				uint32_t fence, uint32_t reset)
{
	TPM2B_OPERAND operand = { .size = 4 };
	TSS2_RC rc;
	int r;

	rc = Esys_PolicyRestart(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "PolicyRestart");
	if (fence) {
		r = policy_pcr_now(t, session, tok->bank, fence);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < 4; i++)
		operand.buffer[i] = (uint8_t)(reset >> (24 - 8 * i));
	rc = Esys_PolicyCounterTimer(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				     &operand, OYSTER_RESET_COUNT_OFFSET, TPM2_EO_EQ);
	if (rc != TSS2_RC_SUCCESS) {
		/* POLICY: this is not the approved boot. */
		r = tpm_rc_errno(rc, "PolicyCounterTimer");
		return tpm_rc_base(rc) == TPM2_RC_POLICY ? -EPERM : r;
	}
	return 0;
}

static int policy_replay(struct tpm *t, ESYS_TR session, const struct token *tok)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	uint8_t digest[OYSTER_POLICY_SIZE];
	unsigned n;
	int r;

	r = token_policy(tok, branches, &n, digest);
	if (r < 0)
		return r;
	r = policy_pcr_now(t, session, tok->bank, tok->pcr_mask);
	if (r < 0 || n < 2)
		return r;
	r = policy_or_now(t, session, (const uint8_t(*)[OYSTER_POLICY_SIZE])branches, n);
	if (r != -EPERM || !tok->next_boot)
		return r;
	r = policy_next_boot_now(t, session, tok, token_fence_pcrs(tok), tok->next_boot_reset);
	if (r < 0)
		return r;
	return policy_or_now(t, session, (const uint8_t(*)[OYSTER_POLICY_SIZE])branches, n);
}

/* Which leaf the session's digest is: the tree's first PolicyOR must hold it. */
static int policy_leaf_now(struct tpm *t, ESYS_TR session,
			   const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n)
{
	TPM2B_DIGEST *digest = NULL;
	TSS2_RC rc;
	int leaf = -EPERM;

	rc = Esys_PolicyGetDigest(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				  &digest);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "PolicyGetDigest");
	for (unsigned i = 0; i < n && leaf < 0; i++)
		if (digest->size == OYSTER_POLICY_SIZE &&
		    !memcmp(digest->buffer, leaves[i], OYSTER_POLICY_SIZE))
			leaf = (int)i;
	Esys_Free(digest);
	return leaf;
}

static int policy_path_now(struct tpm *t, ESYS_TR session,
			   const uint8_t (*leaves)[OYSTER_POLICY_SIZE], unsigned n, unsigned leaf)
{
	struct policy_or_step steps[OYSTER_TREE_LEVELS];
	unsigned n_steps;
	int r;

	r = policy_tree_path(leaves, n, leaf, steps, &n_steps);
	for (unsigned i = 0; r == 0 && i < n_steps; i++)
		r = policy_or_now(t, session,
				  (const uint8_t(*)[OYSTER_POLICY_SIZE])steps[i].digests,
				  steps[i].n);
	return r;
}

/*
 * An authorized token's approved set: PolicyPCR, then the PolicyORs up the
 * tree (which leaf, the TPM says when the tree has more than one level),
 * else the next-boot branch and its way up.
 */
static int policy_replay_set(struct tpm *t, ESYS_TR session, const struct token *tok, bool previous)
{
	uint8_t leaves[OYSTER_MAX_APPROVED][OYSTER_POLICY_SIZE];
	const uint8_t(*l)[OYSTER_POLICY_SIZE] = (const uint8_t(*)[OYSTER_POLICY_SIZE])leaves;
	unsigned n, n_pcr = previous ? tok->previous.n_states : tok->n_states;
	bool next_boot = previous ? tok->previous.next_boot : tok->next_boot;
	int leaf = 0, r;

	r = token_leaves(tok, previous, leaves, &n);
	if (r < 0)
		return r;
	r = policy_pcr_now(t, session, tok->bank, tok->pcr_mask);
	if (r < 0 || n == 1)
		return r;
	if (n > OYSTER_MAX_STATES)
		leaf = policy_leaf_now(t, session, l, n_pcr);
	if (leaf >= 0)
		r = policy_path_now(t, session, l, n, (unsigned)leaf);
	else
		r = leaf;
	if (r != -EPERM || !next_boot)
		return r;
	r = policy_next_boot_now(t, session, tok, token_fence_of(tok, previous),
				 previous ? tok->previous.next_boot_reset : tok->next_boot_reset);
	if (r < 0)
		return r;
	return policy_path_now(t, session, l, n, n - 1);
}

/*
 * The approved set, then PolicyAuthorizeNV: the TPM compares the session's
 * digest with the approved policy in the NV index. After an interrupted
 * approval the token holds two sets; the index says which one is approved.
 */
static int policy_replay_authorized(struct tpm *t, ESYS_TR session, const struct token *tok)
{
	uint8_t nv[OYSTER_POLICY_SIZE];
	bool previous = false;
	int r;

	if (tok->has_previous && tpm_nv_read(t, tok->nv_index, tok->nv_name, nv) == 0)
		previous = !memcmp(nv, tok->previous.approved, OYSTER_POLICY_SIZE);
	r = policy_replay_set(t, session, tok, previous);
	if (r < 0)
		return r;
	return nv_policy_authorize(t, session, tok);
}

/* The PIN is proven by the session's HMAC, keyed with it: it never crosses the bus. */
static int policy_replay_pin(struct tpm *t, ESYS_TR session, const struct token *tok)
{
	TSS2_RC rc;

	if (!tok->pin)
		return 0;
	rc = Esys_PolicyAuthValue(t->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "PolicyAuthValue");
	return 0;
}

int tpm_unseal(struct tpm *t, const struct token *tok, const struct secret *auth,
	       struct secret **out)
{
	TPM2B_SENSITIVE_DATA *data = NULL;
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_PUBLIC pub = { 0 };
	ESYS_TR object = ESYS_TR_NONE;
	ESYS_TR session = ESYS_TR_NONE;
	struct secret *s = NULL;
	struct srk srk;
	TSS2_RC rc = TSS2_RC_SUCCESS;
	int r;

	*out = NULL;
	if (tok->pin && !auth)
		return -ENOKEY;
	r = blob_unmarshal(tok, &priv, &pub);
	if (r < 0)
		return r;
	r = srk_get(t, tok->srk_handle, false, &srk);
	if (r < 0)
		return r;
	/* Before anything that bears a secret: a swapped TPM or an interposer stops here. */
	r = srk_matches(&srk, tok);
	if (r < 0)
		goto out;

	rc = Esys_Load(t->esys, srk.tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
		       &object);
	if (rc != TSS2_RC_SUCCESS) {
		object = ESYS_TR_NONE;
		r = tpm_rc_errno(rc, "Load");
		if (r == -EINVAL) {
			log_err("The TPM rejected the sealed object in the token (damaged, or not "
				"made by this TPM); unlock with the passphrase and enroll again.");
			r = -EINVAL;
		}
		goto out;
	}
	if (tok->pin) {
		TPM2B_AUTH value = { .size = (UINT16)auth->len };

		if (auth->len > sizeof(value.buffer)) {
			r = -EINVAL;
			goto out;
		}
		memcpy(value.buffer, auth->data, auth->len);
		rc = Esys_TR_SetAuth(t->esys, object, &value);
		explicit_bzero(&value, sizeof(value));
		if (rc != TSS2_RC_SUCCESS) {
			r = tpm_rc_errno(rc, "TR_SetAuth");
			goto out;
		}
	}
	/*
	 * Salted but not bound: the HMAC that proves the PIN is keyed with the
	 * session key, which only the TPM can derive from the salt. Bound to the
	 * object, ESAPI leaves the authValue out of the HMAC key of a policy
	 * session, while the TPM puts it in after PolicyAuthValue: every PIN would
	 * read as wrong and count against the lockout (docs/token-format.md, PIN).
	 */
	r = tpm_session_start(t, &srk, ESYS_TR_NONE, TPM2_SE_POLICY, &session);
	if (r < 0)
		goto out;
	r = token_authorized(tok) ? policy_replay_authorized(t, session, tok)
				  : policy_replay(t, session, tok);
	if (r == 0)
		r = policy_replay_pin(t, session, tok);
	if (r < 0)
		goto out;
	/* Response encryption: the unsealed secret crosses the bus encrypted. */
	rc = Esys_TRSess_SetAttributes(t->esys, session, TPMA_SESSION_ENCRYPT, 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "TRSess_SetAttributes");
		goto out;
	}
	rc = Esys_Unseal(t->esys, object, session, ESYS_TR_NONE, ESYS_TR_NONE, &data);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_rc_errno(rc, "Unseal");
		if (tok->pin &&
		    (tpm_rc_base(rc) == TPM2_RC_AUTH_FAIL || tpm_rc_base(rc) == TPM2_RC_BAD_AUTH))
			r = -EACCES;
		goto out;
	}
	s = secret_new(data->size);
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(s->data, data->buffer, data->size);
	s->len = data->size;
	*out = s;
	r = 0;
out:
	if (data) {
		explicit_bzero(data, sizeof(*data));
		Esys_Free(data);
	}
	tpm_session_end(t, &session, rc == TSS2_RC_SUCCESS && r == 0);
	if (object != ESYS_TR_NONE)
		Esys_FlushContext(t->esys, object);
	srk_put(t, &srk);
	return r;
}
