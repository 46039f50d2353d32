/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_RECOVERY_H
#define OYSTER_RECOVERY_H

#include <stdbool.h>
#include <time.h>

#include "luks.h"
#include "secret.h"

struct crypt_device;

#define OYSTER_RECOVERY_TOKEN_VERSION 1
/* 256 bits as 64 modhex characters in 8 groups of 8 joined by dashes (systemd's shape). */
#define OYSTER_RECOVERY_KEY_BYTES 32
#define OYSTER_RECOVERY_KEY_LEN 71

/* A new recovery key from getrandom(), in its canonical form (the keyslot's passphrase). */
int recovery_key_generate(struct secret **out);
/*
 * When s holds a recovery key as a person typed it (any case, with or
 * without dashes, blanks and line ends ignored), rewrites it in place in its
 * canonical form and returns true; anything else is left as it is.
 */
bool recovery_key_normalize(struct secret *s);

/* Marks keyslot as a recovery key created at created; returns the token id. */
int recovery_token_add(struct crypt_device *cd, int keyslot, time_t created);
/*
 * The next oyster-recovery token with id >= from: its id, its keyslot (-1
 * when unreadable) and creation time (0 when unreadable); -ENOENT when none
 * is left.
 */
int recovery_token_next(struct crypt_device *cd, int from, int *keyslot, time_t *created);
/* Whether keyslot is marked by an oyster-recovery token. */
bool recovery_keyslot_is_marked(struct crypt_device *cd, int keyslot);

#endif
