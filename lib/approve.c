// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "approve.h"
#include "log.h"
#include "luks.h"
#include "statedir.h"
#include "tpm.h"

#define APPROVE_CREDENTIAL_SIZE 32

void approve_credential_name(uint32_t handle, char *buf, size_t size)
{
	snprintf(buf, size, "nv-%08x", handle);
}

const char *approve_fallback_reason(int r)
{
	switch (r) {
	case -EOPNOTSUPP:
		return "the TPM does not implement TPM2_PolicyAuthorizeNV";
	case -EACCES:
		return "the TPM's owner hierarchy has a password, so oyster cannot define an NV "
		       "index";
	case -ENOSPC:
		return "the TPM has no room for another NV index";
	default:
		return "the TPM could not define or write an NV index";
	}
}

int approve_setup(struct tpm *t, struct token *tok)
{
	struct secret *cred = NULL;
	char name[32];
	unsigned n;
	bool defined = false, stored = false;
	int r;

	r = tpm_nv_supported(t);
	if (r < 0)
		return r;
	tok->version = OYSTER_TOKEN_AUTHORIZED;
	tok->has_previous = false;
	r = token_approved(tok, false, tok->approved);
	if (r < 0)
		return r;
	cred = secret_new(APPROVE_CREDENTIAL_SIZE);
	if (!cred)
		return -ENOMEM;
	if (getrandom(cred->data, APPROVE_CREDENTIAL_SIZE, 0) != APPROVE_CREDENTIAL_SIZE) {
		r = -errno;
		goto out;
	}
	cred->len = APPROVE_CREDENTIAL_SIZE;
	r = tpm_nv_define(t, cred, &tok->nv_index);
	if (r < 0)
		goto out;
	defined = true;
	approve_credential_name(tok->nv_index, name, sizeof(name));
	r = statedir_write_secret(name, cred);
	if (r < 0)
		goto out;
	stored = true;
	r = tpm_nv_write(t, tok->nv_index, NULL, cred, tok->approved, tok->nv_name);
	if (r < 0)
		goto out;
	r = token_policy(tok, NULL, &n, tok->policy);
out:
	if (r < 0 && defined && tpm_nv_undefine(t, tok->nv_index, NULL) < 0) {
		uint8_t written[OYSTER_NV_NAME_LEN];

		if (tpm_nv_name(tok->nv_index, true, written) == 0)
			tpm_nv_undefine(t, tok->nv_index, written);
	}
	if (r < 0 && stored)
		statedir_remove(name);
	if (r < 0)
		tok->version = OYSTER_TOKEN_VERSION;
	secret_free(cred);
	return r;
}

int approve_forget(struct tpm *t, const struct token *tok)
{
	char name[32];
	int r;

	r = tpm_nv_undefine(t, tok->nv_index, tok->nv_name);
	if (r == -EKEYREJECTED) {
		log_err("NV index 0x%08x is not the one this token names; it was left untouched.",
			tok->nv_index);
		return r;
	}
	if (r < 0 && r != -ENOENT)
		return r;
	approve_credential_name(tok->nv_index, name, sizeof(name));
	r = statedir_remove(name);
	return r == -ENOENT ? 0 : r;
}

int approve_write(struct tpm *t, struct crypt_device *cd, int id, const struct token *old,
		  struct token *tok, bool *changed)
{
	uint8_t live[OYSTER_POLICY_SIZE];
	struct secret *cred = NULL;
	char name[32];
	int r;

	*changed = false;
	r = token_approved(tok, false, tok->approved);
	if (r < 0)
		return r;
	r = tpm_nv_read(t, old->nv_index, old->nv_name, live);
	if (r == -ENOENT || r == -EKEYREJECTED) {
		log_err("The TPM no longer holds this token's NV index 0x%08x; enroll again with "
			"the passphrase (oyster enroll --replace).",
			old->nv_index);
		return -ENXIO;
	}
	if (r < 0)
		return r;
	/* The set the index approves now stays in the header until the index holds the new one. */
	if (!memcmp(live, old->approved, OYSTER_POLICY_SIZE)) {
		tok->previous.n_states = old->n_states;
		memcpy(tok->previous.states, old->states, old->n_states * sizeof(old->states[0]));
		tok->previous.next_boot = old->next_boot;
		tok->previous.next_boot_reset = old->next_boot_reset;
		memcpy(tok->previous.approved, old->approved, OYSTER_POLICY_SIZE);
	} else if (old->has_previous && !memcmp(live, old->previous.approved, OYSTER_POLICY_SIZE)) {
		tok->previous = old->previous;
	} else {
		log_err("The TPM approves states that this header does not know (a restored old "
			"header?); enroll again with the passphrase (oyster enroll --replace).");
		return -ESTALE;
	}
	if (!memcmp(live, tok->approved, OYSTER_POLICY_SIZE)) {
		/* Only an interrupted approval to finish: the header, without the old set. */
		tok->has_previous = false;
		if (!old->has_previous)
			return 0;
		*changed = true;
		return luks_token_write(cd, id, tok) < 0 ? -EIO : 0;
	}
	approve_credential_name(old->nv_index, name, sizeof(name));
	r = statedir_read_secret(name, &cred);
	if (r == -ENOENT)
		log_err("oyster's credential for NV index 0x%08x (%s/%s) is missing; enroll again "
			"with the passphrase (oyster enroll --replace).",
			old->nv_index, statedir_path(), name);
	if (r < 0)
		return r;
	*changed = true;
	tok->has_previous = true;
	r = luks_token_write(cd, id, tok);
	if (r < 0)
		goto out;
	r = tpm_nv_write(t, old->nv_index, old->nv_name, cred, tok->approved, NULL);
	if (r < 0)
		goto out;
	tok->has_previous = false;
	r = luks_token_write(cd, id, tok);
out:
	secret_free(cred);
	return r;
}
