/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_LUKS_H
#define OYSTER_LUKS_H

#include <stdbool.h>

#include "secret.h"
#include "token.h"

struct crypt_device;

/* The LUKS2 token type that marks a keyslot as a recovery key (docs/token-format.md). */
#define OYSTER_RECOVERY_TOKEN_TYPE "oyster-recovery"

/*
 * The next two are the tool library's (luks-open.c): they resolve UUID=
 * through blkid, which the plugin never links.
 *
 * DEVICE is a block device, an image file or UUID=...; it must hold LUKS2.
 * When the header's two copies disagree it says what libcryptsetup did.
 */
int luks_open(const char *spec, struct crypt_device **cd);
/* Before a header write: both copies agree on disk, or -EUCLEAN after saying what to do. */
int luks_header_consistent(struct crypt_device *cd);

/*
 * The next oyster-tpm2 token with id >= from: returns its id and parses it
 * into tok, with *parse_r the parse result (a malformed token is still
 * returned, so that it can be listed and wiped). -ENOENT when none is left.
 * luks_token_scan() also says in *why what is malformed, as luks_token_get().
 */
int luks_token_next(struct crypt_device *cd, int from, struct token *tok, int *parse_r);
int luks_token_scan(struct crypt_device *cd, int from, struct token *tok, int *parse_r,
		    const char **why);
/* Token id parsed into tok, as luks_token_next() does; on error *why says what is wrong. */
int luks_token_get(struct crypt_device *cd, int id, struct token *tok, const char **why);
/* The first keyslot a token of any shape is assigned to, read loosely. */
int luks_token_keyslot(struct crypt_device *cd, int id);
/* Writes tok (assigned to tok->keyslot) in one header write; id, or id to replace (-1 for any). */
int luks_token_write(struct crypt_device *cd, int id, const struct token *tok);
int luks_token_remove(struct crypt_device *cd, int id);

/*
 * The volume key that pass opens (one PBKDF run, however slow the user's
 * keyslot is); returns the keyslot it opened.
 */
int luks_volume_key_get(struct crypt_device *cd, const struct secret *pass, struct secret **vk);
/* The first unused keyslot, or -ENOSPC (with a message). */
int luks_keyslot_free(struct crypt_device *cd);
/* Adds keyslot for passphrase new_pass (PBKDF2-SHA512, 1000 iterations). */
int luks_keyslot_add(struct crypt_device *cd, int keyslot, const struct secret *vk,
		     const struct secret *new_pass);
/* Only a keyslot oyster made (its PBKDF says so); -EPERM for any other. */
int luks_keyslot_remove(struct crypt_device *cd, int keyslot);
/* The keyslot that passphrase opens, or a negative errno (-EPERM: wrong passphrase). */
int luks_keyslot_check(struct crypt_device *cd, int keyslot, const struct secret *pass);
/*
 * Number of active keyslots a person can open: bound to no token, or only
 * marked as a recovery key; not counting skip (-1 for none).
 */
int luks_count_passphrase_keyslots(struct crypt_device *cd, int skip);
/* Number of tokens (any type) assigned to keyslot, not counting token skip. */
int luks_keyslot_token_count(struct crypt_device *cd, int keyslot, int skip);
/*
 * Removes token id, then its keyslot slot when no other token is assigned to
 * it and it is not keep (-1: keep none). The token goes first: a keyslot
 * left behind alone is harmless, a token without its keyslot is not. Returns
 * the token's removal (0, or a negative errno: nothing changed); *slot_r says
 * what became of the keyslot: 1 removed, 0 kept (shared, keep, or none), or
 * the negative errno of its removal (the token is gone already).
 */
int luks_token_drop(struct crypt_device *cd, int id, int slot, int keep, int *slot_r);

#endif
