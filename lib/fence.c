// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the boot fence measures. PCR 15 must end every boot extended at least
 * once, whatever the initramfs saw, so every outcome has an event: a volume
 * it can read, one it cannot, or none at all. A readable volume is measured
 * by its UUID and by a digest of its volume key's digest records: the UUID
 * names the volume, and the key records tell the volume the token was
 * sealed for from an impostor that copied its UUID (whoever can open a
 * volume with the victim's key records knows the victim's key already).
 *
 * Read past libcryptsetup, from the raw header: the fence must not stop at
 * a LUKS1 volume, a damaged header or a header whose copies disagree, and
 * has nothing to say about them beyond "unreadable".
 */
#include <blkid/blkid.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "encode.h"
#include "fence.h"
#include "header.h"
#include "log.h"

/* LUKS1's binary header (cryptsetup's docs/on-disk-format.pdf). */
#define LUKS1_PHDR_SIZE 208
#define LUKS1_OFF_MK_DIGEST 112
#define LUKS1_MK_DIGEST_LEN 20
#define LUKS1_OFF_MK_SALT 132
#define LUKS1_MK_SALT_LEN 32

static int probe(const char *path, char *uuid, size_t uuid_size, int *version)
{
	const char *type = NULL, *value = NULL, *ver = NULL;
	blkid_probe pr;
	int r = -EINVAL;

	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return -errno ? -errno : -ENOENT;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
						      BLKID_SUBLKS_VERSION);
	if (blkid_do_safeprobe(pr) == 0 && !blkid_probe_lookup_value(pr, "TYPE", &type, NULL) &&
	    !strcmp(type, "crypto_LUKS") && !blkid_probe_lookup_value(pr, "UUID", &value, NULL) &&
	    strlen(value) < uuid_size) {
		snprintf(uuid, uuid_size, "%s", value);
		*version = blkid_probe_lookup_value(pr, "VERSION", &ver, NULL) == 0 ? atoi(ver) : 0;
		r = 0;
	}
	blkid_free_probe(pr);
	return r;
}

/* The salt and digest of each LUKS2 digest object, in the header's order. */
static int luks2_key_records(const char *path, EVP_MD_CTX *md)
{
	struct header h = { 0 };
	struct json_object *root = NULL, *digests;
	int which, r = -EINVAL;

	if (header_read_path(path, &h) < 0)
		goto out;
	which = header_in_use(&h);
	if (which < 0)
		goto out;
	root = json_tokener_parse(h.copy[which].json);
	if (!root || !json_object_object_get_ex(root, "digests", &digests) ||
	    !json_object_is_type(digests, json_type_object))
		goto out;
	r = -ENOENT;
	json_object_object_foreach(digests, id, d)
	{
		struct json_object *salt, *digest;

		if (!json_object_object_get_ex(d, "salt", &salt) ||
		    !json_object_object_get_ex(d, "digest", &digest))
			continue;
		EVP_DigestUpdate(md, id, strlen(id) + 1);
		EVP_DigestUpdate(md, json_object_get_string(salt),
				 strlen(json_object_get_string(salt)) + 1);
		EVP_DigestUpdate(md, json_object_get_string(digest),
				 strlen(json_object_get_string(digest)) + 1);
		r = 0;
	}
out:
	json_object_put(root);
	header_free(&h);
	return r;
}

static int luks1_key_records(const char *path, EVP_MD_CTX *md)
{
	unsigned char phdr[LUKS1_PHDR_SIZE];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pread(fd, phdr, sizeof(phdr), 0);
	close(fd);
	if (n != (ssize_t)sizeof(phdr))
		return -EIO;
	EVP_DigestUpdate(md, phdr + LUKS1_OFF_MK_SALT, LUKS1_MK_SALT_LEN);
	EVP_DigestUpdate(md, phdr + LUKS1_OFF_MK_DIGEST, LUKS1_MK_DIGEST_LEN);
	return 0;
}

int fence_event(const char *spec, char *event, size_t size)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	char uuid[OYSTER_FENCE_UUID_MAX], hex[2 * 32 + 1];
	unsigned digest_len = 0;
	char *resolved = NULL;
	const char *path = spec;
	EVP_MD_CTX *md = NULL;
	int version = 0, r;

	r = device_resolve(spec, &resolved);
	if (r < 0)
		goto out;
	if (resolved)
		path = resolved;
	r = probe(path, uuid, sizeof(uuid), &version);
	if (r < 0)
		goto out;
	md = EVP_MD_CTX_new();
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	r = version == 1 ? luks1_key_records(path, md) : luks2_key_records(path, md);
	if (r < 0)
		goto out;
	if (!EVP_DigestFinal_ex(md, digest, &digest_len) || digest_len != 32) {
		r = -EIO;
		goto out;
	}
	hex_encode(digest, digest_len, hex, sizeof(hex));
	if (snprintf(event, size, "oyster-fence %s %s", uuid, hex) >= (int)size)
		r = -ENOBUFS;
out:
	EVP_MD_CTX_free(md);
	free(resolved);
	if (r < 0)
		log_debug("Cannot read the LUKS header of %s (%s).", spec, strerror(-r));
	return r;
}

int fence_all_volumes(char ***out, size_t *count)
{
	blkid_dev_iterate iter = NULL;
	blkid_cache cache = NULL;
	blkid_dev dev;
	char **paths = NULL;
	size_t n = 0;
	int r = -ENOMEM;

	*out = NULL;
	*count = 0;
	/* No cache file: in an initramfs there may be nowhere to write one, and it must not be stale. */
	if (blkid_get_cache(&cache, "/dev/null") < 0 || blkid_probe_all(cache) < 0) {
		r = -EIO;
		goto out;
	}
	iter = blkid_dev_iterate_begin(cache);
	if (!iter || blkid_dev_set_search(iter, "TYPE", "crypto_LUKS") < 0)
		goto out;
	while (blkid_dev_next(iter, &dev) == 0) {
		char **grown = realloc(paths, (n + 1) * sizeof(*paths));

		if (!grown)
			goto out;
		paths = grown;
		paths[n] = strdup(blkid_dev_devname(dev));
		if (!paths[n])
			goto out;
		n++;
	}
	*out = paths;
	*count = n;
	paths = NULL;
	n = 0;
	r = 0;
out:
	while (n)
		free(paths[--n]);
	free(paths);
	blkid_dev_iterate_end(iter);
	blkid_put_cache(cache);
	return r;
}
