// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The storage root key: found at its persistent handle or created, and checked
 * to be the one a token was sealed under.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "tpm-private.h"

/*
 * The TCG provisioning guidance's ECC NIST P-256 storage root key, with an
 * empty unique field: every tool that follows the guidance (systemd among
 * them) derives the very same key, so a persistent one can be shared.
 */
static const TPM2B_PUBLIC srk_template = {
	.publicArea = {
		.type = TPM2_ALG_ECC,
		.nameAlg = TPM2_ALG_SHA256,
		.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				    TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT,
		.parameters.eccDetail = {
			.symmetric = {
				.algorithm = TPM2_ALG_AES,
				.keyBits.aes = 128,
				.mode.aes = TPM2_ALG_CFB,
			},
			.scheme.scheme = TPM2_ALG_NULL,
			.curveID = TPM2_ECC_NIST_P256,
			.kdf.scheme = TPM2_ALG_NULL,
		},
	},
};

static int srk_set_name(struct tpm *t, struct srk *srk)
{
	TPM2B_NAME *name = NULL;
	TSS2_RC rc;

	rc = Esys_TR_GetName(t->esys, srk->tr, &name);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "TR_GetName(SRK)");
	srk->name = *name;
	Esys_Free(name);
	return 0;
}

static int srk_create(struct tpm *t, struct srk *srk)
{
	TPM2B_SENSITIVE_CREATE sensitive = { 0 };
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION creation_pcr = { 0 };
	TSS2_RC rc;

	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &sensitive, &srk_template, &outside, &creation_pcr,
				&srk->tr, NULL, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		int r = tpm_rc_errno(rc, "CreatePrimary(SRK)");

		if (tpm_rc_base(rc) == TPM2_RC_BAD_AUTH || tpm_rc_base(rc) == TPM2_RC_AUTH_FAIL) {
			log_err("The TPM's owner hierarchy has a password, so oyster cannot create "
				"its storage key; provision one at 0x81000001 (tpm2_createprimary "
				"-C o -G ecc; tpm2_evictcontrol) and enroll again.");
			return -EACCES;
		}
		return r;
	}
	srk->handle = OYSTER_SRK_TRANSIENT;
	srk->transient = true;
	return 0;
}

static int srk_persist(struct tpm *t, struct srk *srk)
{
	ESYS_TR persistent = ESYS_TR_NONE;
	TSS2_RC rc;

	rc = Esys_EvictControl(t->esys, ESYS_TR_RH_OWNER, srk->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			       ESYS_TR_NONE, OYSTER_SRK_PERSISTENT, &persistent);
	if (rc != TSS2_RC_SUCCESS) {
		/* A lost TPM, not a refusal: ESAPI takes no further command in this context. */
		if (tpm_rc_errno(rc, "EvictControl(SRK)") == -ENODEV)
			return -ENODEV;
		/* Still usable: each unlock recreates the same key, at a cost in time. */
		log_info("Could not make the storage key persistent; each unlock will recreate it "
			 "(slower).");
		return 0;
	}
	Esys_FlushContext(t->esys, srk->tr);
	srk->tr = persistent;
	srk->handle = OYSTER_SRK_PERSISTENT;
	srk->transient = false;
	return 0;
}

/* At enrollment only: whatever another tool left at 0x81000001 must be a storage key. */
static int srk_is_storage_key(struct tpm *t, const struct srk *srk)
{
	TPM2B_PUBLIC *pub = NULL;
	TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM;
	TSS2_RC rc;
	int r = 0;

	rc = Esys_ReadPublic(t->esys, srk->tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
			     NULL);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "ReadPublic(SRK)");
	if ((pub->publicArea.objectAttributes & need) != need ||
	    (pub->publicArea.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT)) {
		log_err("The key at TPM handle 0x81000001 is not a storage key; remove it "
			"(tpm2_evictcontrol -c 0x81000001) or ask whoever put it there.");
		r = -EINVAL;
	} else if (pub->publicArea.nameAlg != TPM2_ALG_SHA256) {
		/* The token records a SHA-256 name (docs/token-format.md). */
		log_err("The storage key at TPM handle 0x81000001 is not named with SHA-256, which "
			"oyster requires; replace it with a TCG-template key (see "
			"oyster-enroll(8)).");
		r = -EINVAL;
	}
	Esys_Free(pub);
	return r;
}

/* srk_get()'s end: r from the last check; on success the key's name, else put. */
static int srk_named(struct tpm *t, struct srk *srk, int r)
{
	if (r == 0)
		r = srk_set_name(t, srk);
	if (r < 0)
		srk_put(t, srk);
	return r;
}

int srk_get(struct tpm *t, uint32_t want, bool persist, struct srk *srk)
{
	TSS2_RC rc;
	int r;

	memset(srk, 0, sizeof(*srk));
	srk->tr = ESYS_TR_NONE;
	if (want == OYSTER_SRK_PERSISTENT) {
		rc = Esys_TR_FromTPMPublic(t->esys, OYSTER_SRK_PERSISTENT, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE, &srk->tr);
		if (rc == TSS2_RC_SUCCESS) {
			srk->handle = OYSTER_SRK_PERSISTENT;
			return srk_named(t, srk, persist ? srk_is_storage_key(t, srk) : 0);
		}
		r = tpm_rc_errno(rc, "ReadPublic(0x81000001)");
		/* Only a missing key is a reason to create one; a TPM that is gone, busy or
		 * failed would refuse that too, and say so a second time. */
		if (r == -ENODEV || r == -EAGAIN || r == -ENOTRECOVERABLE)
			return r;
		srk->tr = ESYS_TR_NONE;
	}
	r = srk_create(t, srk);
	if (r < 0)
		return r;
	return srk_named(t, srk, persist ? srk_persist(t, srk) : 0);
}

void srk_put(struct tpm *t, struct srk *srk)
{
	if (srk->tr == ESYS_TR_NONE)
		return;
	if (srk->transient)
		Esys_FlushContext(t->esys, srk->tr);
	else
		Esys_TR_Close(t->esys, &srk->tr);
	srk->tr = ESYS_TR_NONE;
}
