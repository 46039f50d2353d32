// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * oyster's tokens and keyslots in a LUKS2 header, through libcryptsetup: read,
 * write and remove tokens, add, check and remove keyslots.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libcryptsetup.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "header.h"
#include "log.h"
#include "luks.h"

int luks_token_get(struct crypt_device *cd, int id, struct token *tok, const char **why)
{
	const char *json = NULL;
	int r;

	memset(tok, 0, sizeof(*tok));
	tok->keyslot = -1;
	*why = "cannot read the token";
	r = crypt_token_json_get(cd, id, &json);
	if (r >= 0)
		r = token_parse(json, tok, why);
	/* libcryptsetup hands over its own re-serialization: a repeated key shows only on disk. */
	if (r >= 0)
		r = header_token_strict(cd, id, why);
	if (r < 0) {
		log_debug("Token %d: %s", id, *why ? *why : "unreadable");
		tok->keyslot = luks_token_keyslot(cd, id);
	}
	return r;
}

int luks_token_scan(struct crypt_device *cd, int from, struct token *tok, int *parse_r,
		    const char **why)
{
	for (int id = from < 0 ? 0 : from; id < 32; id++) {
		const char *type = NULL;
		crypt_token_info info = crypt_token_status(cd, id, &type);

		if (info != CRYPT_TOKEN_EXTERNAL && info != CRYPT_TOKEN_EXTERNAL_UNKNOWN)
			continue;
		if (!type || strcmp(type, OYSTER_TOKEN_TYPE))
			continue;
		*parse_r = luks_token_get(cd, id, tok, why);
		return id;
	}
	return -ENOENT;
}

int luks_token_next(struct crypt_device *cd, int from, struct token *tok, int *parse_r)
{
	const char *why = NULL;

	return luks_token_scan(cd, from, tok, parse_r, &why);
}

int luks_token_keyslot(struct crypt_device *cd, int id)
{
	struct json_object *root, *slots, *slot;
	const char *json = NULL;
	int keyslot = -ENOENT;

	if (crypt_token_json_get(cd, id, &json) < 0)
		return -ENOENT;
	root = json_tokener_parse(json);
	if (root && json_object_object_get_ex(root, "keyslots", &slots) &&
	    json_object_is_type(slots, json_type_array) && json_object_array_length(slots) >= 1) {
		slot = json_object_array_get_idx(slots, 0);
		if (json_object_is_type(slot, json_type_string)) {
			char *end;
			long v = strtol(json_object_get_string(slot), &end, 10);

			if (!*end && v >= 0 && v < 32)
				keyslot = (int)v;
		}
	}
	json_object_put(root);
	return keyslot;
}

/*
 * After a failed header write: a block device that turned read-only under
 * us (a disk protecting itself, blockdev --setro) is worth naming, since
 * the errno libcryptsetup passes on (EIO, EPERM) does not say it.
 */
static void say_if_read_only(struct crypt_device *cd)
{
	const char *path = crypt_get_metadata_device_name(cd);
	int fd, ro = 0;

	if (!path)
		path = crypt_get_device_name(cd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, BLKROGET, &ro) == 0 && ro)
		log_err("%s is read-only now, so the header could not be written. Make it writable "
			"(blockdev --setrw %s), check with oyster status, then run the command "
			"again.",
			path, path);
	close(fd);
}

int luks_token_write(struct crypt_device *cd, int id, const struct token *tok)
{
	char *json = NULL;
	int r;

	r = token_emit(tok, &json);
	if (r < 0)
		return r;
	r = crypt_token_json_set(cd, id < 0 ? CRYPT_ANY_TOKEN : id, json);
	free(json);
	if (r < 0) {
		log_err("Cannot write the token to the LUKS2 header (%s)%s.", strerror(-r),
			r == -ENOSPC || r == -EINVAL ? "; the header's metadata area may be full"
						     : "");
		say_if_read_only(cd);
	}
	return r;
}

int luks_token_remove(struct crypt_device *cd, int id)
{
	int r = crypt_token_json_set(cd, id, NULL);

	if (r < 0) {
		log_err("Cannot remove token %d: %s.", id, strerror(-r));
		say_if_read_only(cd);
	}
	return r;
}

int luks_volume_key_get(struct crypt_device *cd, const struct secret *pass, struct secret **vk)
{
	struct secret *key;
	size_t size;
	int r;

	*vk = NULL;
	r = crypt_get_volume_key_size(cd);
	if (r <= 0)
		return -EINVAL;
	key = secret_new((size_t)r);
	if (!key)
		return -ENOMEM;
	size = key->size;
	r = crypt_volume_key_get(cd, CRYPT_ANY_SLOT, (char *)key->data, &size,
				 (const char *)pass->data, pass->len);
	if (r < 0) {
		secret_free(key);
		if (r == -EPERM)
			log_err("No key available with this passphrase.");
		else
			log_err("Cannot unlock a keyslot: %s.", strerror(-r));
		return r;
	}
	key->len = size;
	*vk = key;
	return r;
}

int luks_keyslot_free(struct crypt_device *cd)
{
	int max = crypt_keyslot_max(CRYPT_LUKS2);

	for (int k = 0; k < max; k++)
		if (crypt_keyslot_status(cd, k) == CRYPT_SLOT_INACTIVE)
			return k;
	log_err("Cannot add a keyslot: all %d keyslots are in use.", max);
	return -ENOSPC;
}

int luks_keyslot_add(struct crypt_device *cd, int keyslot, const struct secret *vk,
		     const struct secret *new_pass)
{
	/* The secret has full entropy: stretching it buys nothing and costs boot time and memory.
	 */
	struct crypt_pbkdf_type pbkdf = {
		.type = CRYPT_KDF_PBKDF2,
		.hash = "sha512",
		.iterations = 1000,
		.flags = CRYPT_PBKDF_NO_BENCHMARK,
	};
	int r;

	r = crypt_set_pbkdf_type(cd, &pbkdf);
	if (r < 0)
		return r;
	r = crypt_keyslot_add_by_volume_key(cd, keyslot, (const char *)vk->data, vk->len,
					    (const char *)new_pass->data, new_pass->len);
	if (r < 0) {
		log_err("Cannot add a keyslot: %s%s.", strerror(-r),
			r == -ENOSPC || r == -EINVAL
				? " (no free keyslot, or the header's metadata area is full)"
				: "");
		say_if_read_only(cd);
	}
	return r;
}

/*
 * oyster destroys only keyslots it made (PBKDF2-SHA512, 1000 iterations, see
 * luks_keyslot_add()): a token's "keyslots" can be rewritten by anyone with
 * the disk, and must never lead a wipe to the user's passphrase.
 */
static bool keyslot_is_oyster(struct crypt_device *cd, int keyslot)
{
	struct crypt_pbkdf_type pbkdf = { 0 };

	return crypt_keyslot_get_pbkdf(cd, keyslot, &pbkdf) == 0 && pbkdf.type &&
	       !strcmp(pbkdf.type, CRYPT_KDF_PBKDF2) && pbkdf.hash &&
	       !strcmp(pbkdf.hash, "sha512") && pbkdf.iterations == 1000;
}

int luks_keyslot_remove(struct crypt_device *cd, int keyslot)
{
	int r;

	if (!keyslot_is_oyster(cd, keyslot)) {
		log_err("Keeping keyslot %d: oyster did not make it (its key derivation is not "
			"oyster's PBKDF2-SHA512 with 1000 iterations), so it may hold a "
			"passphrase.",
			keyslot);
		return -EPERM;
	}
	r = crypt_keyslot_destroy(cd, keyslot);
	if (r < 0) {
		log_err("Cannot remove keyslot %d: %s.", keyslot, strerror(-r));
		say_if_read_only(cd);
	}
	return r;
}

int luks_keyslot_check(struct crypt_device *cd, int keyslot, const struct secret *pass)
{
	return crypt_activate_by_passphrase(cd, NULL, keyslot, (const char *)pass->data, pass->len,
					    0);
}

int luks_keyslot_token_count(struct crypt_device *cd, int keyslot, int skip)
{
	int n = 0;

	for (int id = 0; id < 32; id++) {
		crypt_token_info info = crypt_token_status(cd, id, NULL);

		if (id == skip || info == CRYPT_TOKEN_INVALID || info == CRYPT_TOKEN_INACTIVE)
			continue;
		if (crypt_token_is_assigned(cd, id, keyslot) == 0)
			n++;
	}
	return n;
}

int luks_token_drop(struct crypt_device *cd, int id, int slot, int keep, int *slot_r)
{
	int r = luks_token_remove(cd, id);

	*slot_r = 0;
	if (r < 0)
		return r;
	if (slot >= 0 && slot != keep && luks_keyslot_token_count(cd, slot, -1) == 0) {
		*slot_r = luks_keyslot_remove(cd, slot);
		if (*slot_r == 0)
			*slot_r = 1;
	}
	return 0;
}

/* Tokens assigned to keyslot other than recovery-key marks: a person cannot type those. */
static int keyslot_machine_token_count(struct crypt_device *cd, int keyslot)
{
	int n = 0;

	for (int id = 0; id < 32; id++) {
		const char *type = NULL;
		crypt_token_info info = crypt_token_status(cd, id, &type);

		if (info == CRYPT_TOKEN_INVALID || info == CRYPT_TOKEN_INACTIVE)
			continue;
		if (type && !strcmp(type, OYSTER_RECOVERY_TOKEN_TYPE))
			continue;
		if (crypt_token_is_assigned(cd, id, keyslot) == 0)
			n++;
	}
	return n;
}

int luks_count_passphrase_keyslots(struct crypt_device *cd, int skip)
{
	int n = 0;

	for (int slot = 0; slot < crypt_keyslot_max(CRYPT_LUKS2); slot++) {
		crypt_keyslot_info ki = crypt_keyslot_status(cd, slot);

		if (slot == skip || (ki != CRYPT_SLOT_ACTIVE && ki != CRYPT_SLOT_ACTIVE_LAST))
			continue;
		if (keyslot_machine_token_count(cd, slot) == 0)
			n++;
	}
	return n;
}
