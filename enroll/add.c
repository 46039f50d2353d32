// SPDX-License-Identifier: LGPL-2.1-or-later
/* Adding a sealed secret to a volume: shared by enroll and by reseal's passphrase path. */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cmd.h"
#include "encode.h"
#include "log.h"
#include "luks.h"
#include "tpm.h"
#include "unlock.h"

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

int unlock_with_pin(struct tpm *t, const struct token *tok, const struct secret *pin,
		    struct secret **passphrase)
{
	return unlock_token_with(t, tok, pin ? (const char *)pin->data : NULL, pin ? pin->len : 0,
				 passphrase);
}

int enroll_add(struct tpm *t, struct crypt_device *cd, struct token *tok, const struct secret *vk,
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
	keyslot = luks_keyslot_add(cd, vk, pass);
	if (keyslot < 0) {
		r = keyslot;
		goto out;
	}
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
	if (id >= 0)
		luks_token_remove(cd, id);
	luks_keyslot_remove(cd, keyslot);
	log_err("Nothing was changed on the volume.");
out:
	secret_free(raw);
	secret_free(pass);
	return r;
}
