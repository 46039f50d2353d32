// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * initramfs-tools' part of oyster boot-setup: the volume's /etc/crypttab
 * entry, found by UUID with libblkid, gets keyscript=oyster.
 */
#include <blkid.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "boot.h"
#include "crypttab.h"
#include "file.h"
#include "log.h"

/* The UUID of the LUKS volume at path (a device or an image file), by libblkid. */
static int probe_uuid(const char *path, char *uuid, size_t size)
{
	const char *type = NULL, *value = NULL;
	blkid_probe pr;
	int r = -ENODEV;

	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return -ENODEV;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "TYPE", &type, NULL) == 0 &&
	    !strcmp(type, "crypto_LUKS") &&
	    blkid_probe_lookup_value(pr, "UUID", &value, NULL) == 0 && value[0] &&
	    strlen(value) < size) {
		strcpy(uuid, value);
		r = 0;
	}
	blkid_free_probe(pr);
	return r;
}

/*
 * A crypttab source or a DEVICE argument to the UUID of the LUKS volume it
 * names: UUID= and /dev/disk/by-uuid/ say it; LABEL=, PARTUUID=, paths and
 * the like are looked up and probed.
 */
int boot_resolve_uuid(const char *source, char *uuid, size_t size, void *data)
{
	static const char by_uuid[] = "/dev/disk/by-uuid/";
	const char *given = NULL;
	char *dev;
	int r;

	if (!strncasecmp(source, "UUID=", 5))
		given = source + 5;
	else if (!strncmp(source, by_uuid, strlen(by_uuid)))
		given = source + strlen(by_uuid);
	if (given) {
		if (!given[0] || strlen(given) >= size)
			return -EINVAL;
		strcpy(uuid, given);
		return 0;
	}
	dev = blkid_evaluate_spec(source, NULL);
	if (!dev)
		return -ENODEV;
	r = probe_uuid(dev, uuid, size);
	free(dev);
	return r;
}

/* A copy of line lineno of text. */
static char *line_of(const char *text, unsigned lineno)
{
	const char *p = text;

	for (unsigned n = 1; n < lineno && p; n++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return p ? strndup(p, strcspn(p, "\n")) : NULL;
}

/* A crypttab entry for the volume, named as Debian's installer names them. */
void boot_suggest_entry(const char *device, const char *uuid, char *line, size_t size)
{
	const char *base = strrchr(device, '/');

	if (base && base[1])
		snprintf(line, size, "%s_crypt UUID=%s none luks,keyscript=" OYSTER_KEYSCRIPT,
			 base + 1, uuid);
	else
		snprintf(line, size, "luks-%s UUID=%s none luks,keyscript=" OYSTER_KEYSCRIPT, uuid,
			 uuid);
}

/*
 * initramfs-tools: the volume's crypttab entry needs keyscript=oyster. When
 * it lacks it, *todo is the entry as it should read (configure: as it now
 * reads).
 */
int boot_setup_crypttab(const char *device, const char *uuid, bool configure, char **todo,
			char *name, size_t name_size)
{
	struct crypttab_entry *e = NULL;
	char *text = NULL, *new_text = NULL;
	int r;

	*todo = NULL;
	r = file_read_text(CRYPTTAB, OYSTER_CONFIG_MAX_SIZE, &text);
	if (r == -ENOENT)
		text = strdup("");
	else if (r < 0) {
		log_err("Cannot read %s: %s.", CRYPTTAB, strerror(-r));
		goto out;
	}
	e = calloc(1, sizeof(*e));
	r = -ENOMEM;
	if (!text || !e)
		goto out;

	r = crypttab_find(text, uuid, boot_resolve_uuid, NULL, e);
	if (r == -ENOENT) {
		char line[512];

		boot_suggest_entry(device, uuid, line, sizeof(line));
		if (configure)
			log_err("%s has no entry for %s (UUID=%s). Add one, for example:\n  %s\n"
				"and run this command again.",
				CRYPTTAB, device, uuid, line);
		goto out;
	}
	if (r == -ENOTUNIQ) {
		log_err("Lines %u and %u of %s both name %s; keep one of them and run this command "
			"again.",
			e->line, e->other_line, CRYPTTAB, device);
		goto out;
	}
	if (r < 0) {
		log_err("Cannot read the entry for %s in %s: %s.", device, CRYPTTAB, strerror(-r));
		goto out;
	}
	snprintf(name, name_size, "%s", e->name);

	r = crypttab_add_keyscript(text, e, &new_text);
	if (r == 1) {
		printf("%s: entry '%s' (line %u) opens this volume with keyscript=%s.\n", CRYPTTAB,
		       e->name, e->line, e->keyscript);
		r = 0;
		goto out;
	}
	if (r == -EEXIST) {
		log_err("Entry '%s' (line %u of %s) has its own keyscript (%s); oyster does not "
			"replace it. Remove that keyscript= option first if oyster should unlock "
			"the volume.",
			e->name, e->line, CRYPTTAB, e->keyscript);
		goto out;
	}
	if (r == -EINVAL) {
		if (e->key[0] && strcmp(e->key, "none") && strcmp(e->key, "-"))
			log_err("Entry '%s' (line %u of %s) reads the key file %s; a keyscript "
				"would "
				"replace it. Set its key field to 'none' first if oyster should "
				"unlock the volume.",
				e->name, e->line, CRYPTTAB, e->key);
		else
			log_err("Entry '%s' (line %u of %s) has more than four fields; fix it by "
				"hand.",
				e->name, e->line, CRYPTTAB);
		goto out;
	}
	if (r < 0)
		goto out;

	if (configure) {
		r = file_replace(CRYPTTAB, text, new_text, CRYPTTAB_BACKUP);
		if (r == -ESTALE) {
			log_err("%s changed while oyster was editing it; it was left as it was. "
				"Run: oyster boot-setup %s --configure-boot",
				CRYPTTAB, device);
			goto out;
		}
		if (r < 0) {
			log_err("Cannot rewrite %s: %s; it was left as it was. Fix that, then run: "
				"oyster boot-setup %s --configure-boot",
				CRYPTTAB, strerror(-r), device);
			goto out;
		}
		printf("%s: added keyscript=oyster to entry '%s' (line %u); the previous file is "
		       "%s.\n",
		       CRYPTTAB, e->name, e->line, CRYPTTAB_BACKUP);
	} else {
		printf("%s: entry '%s' (line %u) opens this volume, without keyscript=oyster.\n",
		       CRYPTTAB, e->name, e->line);
	}
	*todo = line_of(new_text, e->line);
	r = *todo ? 0 : -ENOMEM;
out:
	free(new_text);
	free(text);
	free(e);
	return r;
}
