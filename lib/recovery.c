// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery keys: their modhex form and the oyster-recovery token that marks
 * their keyslot.
 */
#include <errno.h>
#include <json-c/json.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "luks.h"
#include "recovery.h"

/* systemd's modhex: 16 letters that read alike on every keyboard layout. */
static const char modhex[] = "cbdefghijklnrtuv";

/* The canonical form of 32 bytes: two letters a byte, a dash after every 8 letters. */
static void format_key(const uint8_t *bytes, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < OYSTER_RECOVERY_KEY_BYTES; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		out[o++] = modhex[bytes[i] >> 4];
		out[o++] = modhex[bytes[i] & 0xf];
	}
	out[o] = '\0';
}

int recovery_key_generate(struct secret **out)
{
	struct secret *raw = secret_new(OYSTER_RECOVERY_KEY_BYTES);
	struct secret *key = secret_new(OYSTER_RECOVERY_KEY_LEN);
	int r = -ENOMEM;

	*out = NULL;
	if (!raw || !key)
		goto out;
	if (getrandom(raw->data, OYSTER_RECOVERY_KEY_BYTES, 0) != OYSTER_RECOVERY_KEY_BYTES) {
		r = -errno;
		log_err("Cannot get random bytes for the recovery key: %s.", strerror(errno));
		goto out;
	}
	format_key(raw->data, (char *)key->data);
	key->len = OYSTER_RECOVERY_KEY_LEN;
	*out = key;
	key = NULL;
	r = 0;
out:
	secret_free(raw);
	secret_free(key);
	return r;
}

bool recovery_key_normalize(struct secret *s)
{
	char letters[2 * OYSTER_RECOVERY_KEY_BYTES];
	size_t n = 0;
	bool ok = s->size >= OYSTER_RECOVERY_KEY_LEN;

	for (size_t i = 0; ok && i < s->len; i++) {
		char c = (char)s->data[i];

		if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (n == sizeof(letters) || !c || !strchr(modhex, c))
			ok = false;
		else
			letters[n++] = c;
	}
	ok = ok && n == sizeof(letters);
	if (ok) {
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (i && i % 8 == 0)
				s->data[o++] = '-';
			s->data[o++] = (uint8_t)letters[i];
		}
		s->len = o;
		s->data[o] = '\0';
	}
	explicit_bzero(letters, sizeof(letters));
	return ok;
}

static int format_created(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -EINVAL;
	return 0;
}

static time_t parse_created(const char *s)
{
	struct tm tm = { 0 };
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	time_t t;

	if (!end || *end)
		return 0;
	t = timegm(&tm);
	return t == (time_t)-1 ? 0 : t;
}

int recovery_token_add(struct crypt_device *cd, int keyslot, time_t created)
{
	struct json_object *root = json_object_new_object();
	struct json_object *slots = json_object_new_array();
	char when[32], slot[16];
	int r = -ENOMEM;

	if (!root || !slots)
		goto out;
	snprintf(slot, sizeof(slot), "%d", keyslot);
	if (format_created(created, when, sizeof(when)) < 0) {
		r = -EINVAL;
		goto out;
	}
	json_object_array_add(slots, json_object_new_string(slot));
	json_object_object_add(root, "type", json_object_new_string(OYSTER_RECOVERY_TOKEN_TYPE));
	json_object_object_add(root, "keyslots", slots);
	slots = NULL;
	json_object_object_add(root, "oyster_version",
			       json_object_new_int(OYSTER_RECOVERY_TOKEN_VERSION));
	json_object_object_add(root, "created", json_object_new_string(when));
	r = crypt_token_json_set(cd, CRYPT_ANY_TOKEN,
				 json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	if (r < 0)
		log_err("Cannot write the recovery key's token to the LUKS2 header (%s).",
			strerror(-r));
out:
	json_object_put(slots);
	json_object_put(root);
	return r;
}

int recovery_token_next(struct crypt_device *cd, int from, int *keyslot, time_t *created)
{
	for (int id = from < 0 ? 0 : from; id < 32; id++) {
		struct json_object *root, *v;
		const char *type = NULL, *json = NULL;
		crypt_token_info info = crypt_token_status(cd, id, &type);

		if (info != CRYPT_TOKEN_EXTERNAL && info != CRYPT_TOKEN_EXTERNAL_UNKNOWN)
			continue;
		if (!type || strcmp(type, OYSTER_RECOVERY_TOKEN_TYPE))
			continue;
		*keyslot = luks_token_keyslot(cd, id);
		if (*keyslot < 0)
			*keyslot = -1;
		*created = 0;
		if (crypt_token_json_get(cd, id, &json) >= 0 && (root = json_tokener_parse(json))) {
			if (json_object_object_get_ex(root, "created", &v) &&
			    json_object_is_type(v, json_type_string))
				*created = parse_created(json_object_get_string(v));
			json_object_put(root);
		}
		return id;
	}
	return -ENOENT;
}

bool recovery_keyslot_is_marked(struct crypt_device *cd, int keyslot)
{
	int slot;
	time_t created;

	for (int id = recovery_token_next(cd, 0, &slot, &created); id >= 0;
	     id = recovery_token_next(cd, id + 1, &slot, &created))
		if (slot == keyslot)
			return true;
	return false;
}
