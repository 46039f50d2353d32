// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Opening a LUKS2 volume for the tool: a UUID= lookup through blkid, and
 * the two header copies compared before and after libcryptsetup loads
 * them. Not in the core: the plugin gets its crypt_device from
 * libcryptsetup and never resolves a device.
 */
#include <errno.h>
#include <libcryptsetup.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "header.h"
#include "log.h"
#include "luks.h"

/*
 * The header as it is on disk, read past libcryptsetup's lock: copies that
 * disagree may only be another process's write between its two copies, so
 * a disagreement counts once it has lasted half a second.
 */
static int header_read_settled(struct crypt_device *cd, struct header *h)
{
	int r = header_read(cd, h);

	for (int i = 0; i < 10 && r == 0 && !header_copies_agree(h) &&
			(h->copy[HEADER_PRIMARY].found || h->copy[HEADER_SECONDARY].found);
	     i++) {
		header_free(h);
		usleep(50 * 1000);
		r = header_read(cd, h);
	}
	return r;
}

/* The copies disagreed before libcryptsetup loaded them: what it did about it. */
static void header_report(struct crypt_device *cd, const char *path, const struct header *before)
{
	struct header after;
	int used = header_in_use(before);

	if (header_read(cd, &after) == 0 && header_copies_agree(&after)) {
		log_err("Note: the LUKS2 header of %s needed recovery (%s); libcryptsetup "
			"restored it from the %s copy.",
			path, header_difference(before), header_copy_name(used));
	} else {
		log_err("Warning: the two copies of the LUKS2 header of %s disagree (%s); "
			"libcryptsetup uses the %s copy. Back the header up (cryptsetup "
			"luksHeaderBackup), then run: cryptsetup repair %s.",
			path, header_difference(before), header_copy_name(used), path);
	}
	header_free(&after);
}

int luks_header_consistent(struct crypt_device *cd)
{
	struct header h;
	int r;

	r = header_read_settled(cd, &h);
	if (r < 0) {
		log_err("Cannot read the LUKS2 header of %s: %s.", h.path ? h.path : "the device",
			strerror(-r));
	} else if (!header_copies_agree(&h)) {
		log_err("The two copies of the LUKS2 header of %s disagree (%s); oyster changes "
			"nothing until they agree. Back the header up (cryptsetup "
			"luksHeaderBackup), then run: cryptsetup repair %s.",
			h.path, header_difference(&h), h.path);
		r = -EUCLEAN;
	}
	header_free(&h);
	return r;
}

int luks_open(const char *spec, struct crypt_device **out)
{
	struct crypt_device *cd = NULL;
	struct header before = { 0 };
	char *resolved = NULL;
	const char *path = spec;
	int r;

	*out = NULL;
	r = device_resolve(spec, &resolved);
	if (r == -ENOENT)
		log_err("No device with %s; check the UUID with blkid.", spec);
	if (r < 0)
		return r;
	if (resolved)
		path = resolved;
	r = crypt_init(&cd, path);
	if (r < 0) {
		log_err("Cannot open %s: %s.", path, strerror(-r));
		goto out;
	}
	/* libcryptsetup recovers a damaged or stale copy as it loads: look before and after. */
	if (header_read_settled(cd, &before) < 0)
		log_debug("Cannot read the LUKS2 header of %s directly.", path);
	r = crypt_load(cd, CRYPT_LUKS, NULL);
	if (r < 0) {
		if (before.copy[HEADER_PRIMARY].found || before.copy[HEADER_SECONDARY].found)
			log_err("The LUKS2 header of %s cannot be loaded (%s); restore a header "
				"backup with cryptsetup luksHeaderRestore, or try: cryptsetup "
				"repair %s.",
				path,
				*header_difference(&before) ? header_difference(&before)
							    : "its metadata is invalid",
				path);
		else
			log_err("%s is not a LUKS volume (or its header is damaged).", path);
		goto out;
	}
	if (!header_copies_agree(&before))
		header_report(cd, path, &before);
	if (strcmp(crypt_get_type(cd), CRYPT_LUKS2)) {
		log_err("%s is %s; oyster needs LUKS2 tokens (convert with: cryptsetup convert "
			"--type luks2 %s).",
			path, crypt_get_type(cd), path);
		r = -EINVAL;
		goto out;
	}
	*out = cd;
	cd = NULL;
	r = 0;
out:
	header_free(&before);
	crypt_free(cd);
	free(resolved);
	return r;
}
