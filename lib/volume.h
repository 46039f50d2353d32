/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_VOLUME_H
#define OYSTER_VOLUME_H

#include <stdbool.h>

#include "secret.h"

struct crypt_device;
struct token;
struct tpm;

/*
 * Seals a new secret for tok (policy already set), adds its keyslot with
 * the volume key vk and writes the token; proves it by unsealing when
 * prove_now. Returns the token id; on failure removes what it added.
 */
int volume_add(struct tpm *t, struct crypt_device *cd, struct token *tok, const struct secret *vk,
	       const struct secret *pin, const struct secret *auth, bool prove_now);
/*
 * The literal token id sealed again: the same secret raw under tok's new
 * policy, in the same keyslot, one header write. When prove_now, unseals it
 * and puts old back if that fails. Returns 0 or a negative errno.
 */
int volume_reseal(struct tpm *t, struct crypt_device *cd, int id, const struct token *old,
		  struct token *tok, const struct secret *raw, const struct secret *pin,
		  bool prove_now);

#endif
