// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Authorized tokens (version 2): the NV index and credential that hold a token's
 * approved policy, set up, rewritten with the header and forgotten together.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <blkid/blkid.h>
#include <libcryptsetup.h>

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
		return "oyster could not define an NV index, store its credential or write the "
		       "index (see above)";
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
	/* statedir said why; its errno must not read as the TPM's (-EACCES: owner password). */
	r = statedir_write_secret(name, cred) < 0 ? -EIO : 0;
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

/* Whether an oyster token of the LUKS2 header at path uses tok's index. */
static bool names_index(const char *path, const struct token *tok)
{
	struct crypt_device *cd = NULL;
	struct token *other = calloc(1, sizeof(*other));
	bool found = false;
	int id, parse_r;

	if (other && crypt_init(&cd, path) == 0 && crypt_load(cd, CRYPT_LUKS2, NULL) == 0)
		for (id = luks_token_next(cd, 0, other, &parse_r); id >= 0 && !found;
		     id = luks_token_next(cd, id + 1, other, &parse_r))
			found = parse_r == 0 && token_shares_index(tok, other);
	crypt_free(cd);
	free(other);
	return found;
}

int approve_index_user(const struct token *tok, char *where, size_t size)
{
	blkid_cache cache = NULL;
	blkid_dev_iterate iter;
	blkid_dev dev;
	bool found = false;

	if (blkid_get_cache(&cache, "/dev/null") < 0 || blkid_probe_all(cache) < 0) {
		blkid_put_cache(cache);
		return -EIO;
	}
	iter = blkid_dev_iterate_begin(cache);
	blkid_dev_set_search(iter, (char *)"TYPE", (char *)"crypto_LUKS");
	while (!found && blkid_dev_next(iter, &dev) == 0) {
		found = names_index(blkid_dev_devname(dev), tok);
		if (found)
			snprintf(where, size, "%s", blkid_dev_devname(dev));
	}
	blkid_dev_iterate_end(iter);
	blkid_put_cache(cache);
	return found;
}

int approve_forget(struct tpm *t, const struct token *tok)
{
	char name[32], where[256];
	int r;

	/* A copy of the header (a cloned disk) may still use the index. */
	if (approve_index_user(tok, where, sizeof(where)) > 0) {
		log_err("NV index 0x%08x is kept: a token of %s still names it.", tok->nv_index,
			where);
		return -EBUSY;
	}

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
