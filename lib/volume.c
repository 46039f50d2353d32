// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The volume transaction: a sealed secret added to a volume as keyslot and
 * token, proven, and undone on failure. Shared by enroll and by reseal's
 * passphrase path.
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "encode.h"
#include "log.h"
#include "luks.h"
#include "pin.h"
#include "tpm.h"
#include "unlock.h"
#include "volume.h"

static int new_secret(struct secret **raw, struct secret **pass)
{
	int r;

	*raw = secret_new(OYSTER_SECRET_SIZE);
	*pass = secret_new(OYSTER_PASSPHRASE_LEN);
	if (!*raw || !*pass)
		return -ENOMEM;
	if (getrandom((*raw)->data, OYSTER_SECRET_SIZE, 0) != OYSTER_SECRET_SIZE)
		return -errno;
	(*raw)->len = OYSTER_SECRET_SIZE;
	r = base64_encode((*raw)->data, (*raw)->len, (char *)(*pass)->data, (*pass)->size + 1);
	(*pass)->len = OYSTER_PASSPHRASE_LEN;
	return r;
}

/* Proves the new token the way an unlock will, before anything else relies on it. */
static int prove(struct tpm *t, struct crypt_device *cd, const struct token *tok,
		 const struct secret *pin, const struct secret *expected)
{
	struct secret *got = NULL;
	int r;

	r = unlock_with_pin(t, tok, pin, &got);
	if (r < 0)
		return r;
	if (got->len != expected->len || memcmp(got->data, expected->data, got->len))
		r = -EIO;
	else
		r = luks_keyslot_check(cd, tok->keyslot, got) == tok->keyslot ? 0 : -EIO;
	secret_free(got);
	if (r < 0)
		log_err("The new token does not open its keyslot; it was removed again.");
	return r;
}

/*
 * After a failed header write libcryptsetup's copy of the header may hold
 * what never reached the disk, and an undo through that copy writes it out
 * (seen with the fault shim: a token for a keyslot that was gone). So the
 * undo works on a fresh read of the disk, and is judged by another one.
 */
static int fresh_header(struct crypt_device *cd, struct crypt_device **fresh)
{
	int r = crypt_init(fresh, crypt_get_device_name(cd));

	if (r == 0)
		r = crypt_load(*fresh, CRYPT_LUKS2, NULL);
	if (r < 0) {
		crypt_free(*fresh);
		*fresh = NULL;
	}
	return r;
}

static bool is_oyster_token(struct crypt_device *cd, int id)
{
	const char *type = NULL;
	crypt_token_info ti = crypt_token_status(cd, id, &type);

	return (ti == CRYPT_TOKEN_EXTERNAL || ti == CRYPT_TOKEN_EXTERNAL_UNKNOWN) && type &&
	       !strcmp(type, OYSTER_TOKEN_TYPE);
}

static bool keyslot_unused(struct crypt_device *cd, int keyslot)
{
	crypt_keyslot_info ki = crypt_keyslot_status(cd, keyslot);

	return ki == CRYPT_SLOT_INACTIVE || ki == CRYPT_SLOT_INVALID;
}

/* Removes what this run added: tokens for its keyslot, then the keyslot. */
static void undo(struct crypt_device *cd, int keyslot)
{
	struct crypt_device *fresh = NULL;

	if (fresh_header(cd, &fresh) < 0)
		return;
	for (int id = 0; id < 32; id++)
		if (is_oyster_token(fresh, id) && luks_token_keyslot(fresh, id) == keyslot)
			luks_token_remove(fresh, id);
	if (!keyslot_unused(fresh, keyslot))
		luks_keyslot_remove(fresh, keyslot);
	crypt_free(fresh);
}

static bool left_clean(struct crypt_device *cd, int keyslot)
{
	struct crypt_device *fresh = NULL;
	bool clean;

	if (fresh_header(cd, &fresh) < 0)
		return false;
	clean = keyslot_unused(fresh, keyslot);
	for (int id = 0; id < 32 && clean; id++)
		if (is_oyster_token(fresh, id) && luks_token_keyslot(fresh, id) < 0)
			clean = false;
	crypt_free(fresh);
	return clean;
}

int volume_add(struct tpm *t, struct crypt_device *cd, struct token *tok, const struct secret *vk,
	       const struct secret *pin, const struct secret *auth, bool prove_now)
{
	struct secret *raw = NULL, *pass = NULL;
	int keyslot = -1, id = -1;
	int r;

	r = new_secret(&raw, &pass);
	if (r < 0)
		goto out;
	r = tpm_seal(t, raw, auth, tok);
	if (r < 0)
		goto out;
	/*
	 * The slot is chosen here, so that the undo knows it even when the
	 * keyslot's own header write failed half-way (one of two copies).
	 */
	keyslot = luks_keyslot_free(cd);
	if (keyslot < 0) {
		r = keyslot;
		goto out;
	}
	r = luks_keyslot_add(cd, keyslot, vk, pass);
	if (r < 0)
		goto undo;
	tok->keyslot = keyslot;
	id = luks_token_write(cd, -1, tok);
	if (id < 0) {
		r = id;
		goto undo;
	}
	if (prove_now) {
		r = prove(t, cd, tok, pin, pass);
		if (r < 0)
			goto undo;
	}
	r = id;
	goto out;
undo:
	/* Only what this run added; the user's keyslots are never touched. */
	undo(cd, keyslot);
	if (left_clean(cd, keyslot))
		log_err("Nothing was changed on the volume.");
	else
		log_err("The volume may keep an unused keyslot %d or an oyster token that opens "
			"nothing; the passphrase and the other tokens are untouched. See oyster "
			"status, and remove leftovers with oyster wipe.",
			keyslot);
out:
	secret_free(raw);
	secret_free(pass);
	return r;
}

int volume_reseal(struct tpm *t, struct crypt_device *cd, int id, const struct token *old,
		  struct token *tok, const struct secret *raw, const struct secret *pin,
		  bool prove_now)
{
	struct secret *auth = NULL, *got = NULL;
	int r;

	if (tok->pin) {
		r = pin_auth_value(tok, (const char *)pin->data, pin->len, &auth);
		if (r < 0)
			return r;
	}
	r = tpm_seal(t, raw, auth, tok);
	if (r < 0)
		goto out;
	r = luks_token_write(cd, id, tok);
	if (r < 0 || !prove_now)
		goto out;
	r = unlock_with_pin(t, tok, pin, &got);
	if (r < 0) {
		log_err("The resealed token does not unseal; the old one was put back.");
		luks_token_write(cd, id, old);
		r = -EIO;
	}
out:
	secret_free(got);
	secret_free(auth);
	return r < 0 ? r : 0;
}
