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

/* Whether a token of the header matches: the same index as tok (parsed), or handle. */
struct index_match {
	const struct token *tok; /* a token sharing its index; or, when NULL, */
	uint32_t handle;	 /* any token naming this handle, or one that does not parse, */
	struct tpm *t;		 /* sealed under this TPM's storage key (when not NULL) */
};

/* A handle-only match: the same number on another TPM is another index. */
static bool names_handle(const struct index_match *m, const struct token *other)
{
	return token_authorized(other) && other->nv_index == m->handle &&
	       !(m->t && tpm_srk_check(m->t, other) == -EKEYREJECTED);
}

static int header_names(struct crypt_device *cd, const struct index_match *m)
{
	struct token *other = calloc(1, sizeof(*other));
	int id, parse_r, found = 0;

	if (!other)
		return -ENOMEM;
	for (id = luks_token_next(cd, 0, other, &parse_r); id >= 0 && !found;
	     id = luks_token_next(cd, id + 1, other, &parse_r))
		found = m->tok ? parse_r == 0 && token_shares_index(m->tok, other)
			       : parse_r < 0 || names_handle(m, other);
	free(other);
	return found;
}

static int path_names(const char *path, const struct index_match *m)
{
	struct crypt_device *cd = NULL;
	int r;

	r = crypt_init(&cd, path);
	if (r == 0)
		r = crypt_load(cd, CRYPT_LUKS2, NULL);
	if (r == 0)
		r = header_names(cd, m);
	crypt_free(cd);
	return r;
}

/* 1 (and where) when a LUKS volume on this machine's block devices matches; 0 when none. */
static int block_devices_name(const struct index_match *m, char *where, size_t size)
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
		found = path_names(blkid_dev_devname(dev), m) > 0;
		if (found)
			snprintf(where, size, "%s", blkid_dev_devname(dev));
	}
	blkid_dev_iterate_end(iter);
	blkid_put_cache(cache);
	return found;
}

int approve_index_user(const struct token *tok, char *where, size_t size)
{
	const struct index_match m = { .tok = tok };

	return block_devices_name(&m, where, size);
}

/*
 * The record of an enrollment under way (the volume's UUID; no secret): its
 * index is defined before its token is written, so a crash between the two
 * would leave an index that nothing names. The next enrollment reclaims it.
 */
static void pending_name(uint32_t handle, char *buf, size_t size)
{
	snprintf(buf, size, "nv-%08x.pending", handle);
}

/*
 * Whether the volume with uuid (cd's, or one on this machine's block
 * devices) has a token that names handle (one that does not parse may: it
 * counts); -errno when it is not here or cannot be read.
 */
static int volume_names_handle(struct tpm *t, struct crypt_device *cd, const char *uuid,
			       uint32_t handle)
{
	const struct index_match m = { .handle = handle, .t = t };
	const char *own = crypt_get_uuid(cd);
	char *path;
	int r;

	if (own && !strcmp(own, uuid))
		return header_names(cd, &m);
	path = blkid_evaluate_tag("UUID", uuid, NULL);
	if (!path)
		return -ENOENT;
	r = path_names(path, &m);
	free(path);
	return r;
}

/*
 * Undefines the indexes that an interrupted enrollment left: defined, with
 * a pending record, named by no token of the record's volume (which is
 * here: a volume that cannot be read keeps its index) nor of another
 * volume on this machine's block devices sealed under this TPM (a disk
 * enrolled elsewhere names the same number on its own TPM). Best effort: it never fails an
 * enrollment.
 */
static void reclaim(struct tpm *t, struct crypt_device *cd, uint32_t *handles, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		const struct index_match m = { .handle = handles[i], .t = t };
		struct secret *rec = NULL;
		char name[40], uuid[40], where[256];
		int r;

		pending_name(handles[i], name, sizeof(name));
		if (statedir_read_secret(name, &rec) < 0)
			continue;
		snprintf(uuid, sizeof(uuid), "%.*s", (int)rec->len, (const char *)rec->data);
		secret_free(rec);
		r = volume_names_handle(t, cd, uuid, handles[i]);
		if (r == 0)
			r = block_devices_name(&m, where, sizeof(where));
		/* Cannot tell: the index, and its record, stay. */
		if (r < 0)
			continue;
		if (r == 0) {
			r = tpm_nv_undefine(t, handles[i], NULL);
			if (r < 0 && r != -ENOENT)
				continue;
			log_info("Removed NV index 0x%08x, which an interrupted enrollment of UUID=%s "
				 "had left defined.",
				 handles[i], uuid);
			approve_credential_name(handles[i], where, sizeof(where));
			statedir_remove(where);
			/* Free again: off the list. */
			handles[i--] = handles[--*n];
		}
		statedir_remove(name);
	}
}

void approve_settle(const struct token *tok)
{
	char name[40];

	pending_name(tok->nv_index, name, sizeof(name));
	statedir_remove(name);
}

int approve_setup(struct tpm *t, struct crypt_device *cd, struct token *tok)
{
	uint32_t used[OYSTER_NV_COUNT];
	size_t n_used = 0;
	struct secret *cred = NULL, *rec = NULL;
	const char *uuid = crypt_get_uuid(cd);
	char name[32], pending[40];
	unsigned n;
	bool defined = false, stored = false, recorded = false, kept = false;
	int r;

	r = tpm_nv_supported(t);
	if (r == 0)
		r = tpm_nv_handles(t, used, &n_used);
	if (r < 0)
		return r;
	reclaim(t, cd, used, &n_used);
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
	r = tpm_nv_free_handle(used, n_used, &tok->nv_index);
	if (r < 0)
		goto out;
	pending_name(tok->nv_index, pending, sizeof(pending));
	rec = uuid ? secret_new(strlen(uuid)) : NULL;
	if (!rec) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(rec->data, uuid, strlen(uuid));
	rec->len = strlen(uuid);
	r = statedir_write_secret(pending, rec) < 0 ? -EIO : 0;
	if (r < 0)
		goto out;
	recorded = true;
	r = tpm_nv_define(t, cred, tok->nv_index);
	if (r < 0) {
		/* Refused by the TPM: nothing defined. Otherwise it may be: the record stays. */
		kept = r != -EACCES && r != -ENOSPC;
		goto out;
	}
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
	/* Either of oyster's names (written or not); a dead TPM keeps the index, and the record. */
	if (r < 0 && defined && tpm_nv_undefine(t, tok->nv_index, NULL) < 0)
		kept = true;
	if (r < 0 && stored)
		statedir_remove(name);
	if (r < 0 && recorded && !kept)
		statedir_remove(pending);
	if (r < 0)
		tok->version = OYSTER_TOKEN_VERSION;
	secret_free(cred);
	secret_free(rec);
	return r;
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
	if (r == -EACCES) {
		log_err("The TPM's owner hierarchy now has a password, so oyster cannot read this "
			"token's NV index 0x%08x; remove the password or enroll again with the "
			"passphrase (oyster enroll --replace).",
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
