/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_RECOVERY_KEY_H
#define OYSTER_RECOVERY_KEY_H

#include <stdbool.h>

#include "secret.h"

struct crypt_device;

/* Where the new recovery key goes: the terminal (fd -1 until shown) or a file. */
struct recovery_out {
	const char *file; /* NULL: the terminal on stdout; "-": stdout as it is */
	int fd;
	bool created; /* file is ours to remove when nothing was written */
};

/*
 * Before anything changes: stdout is a terminal, or file (created 0600,
 * never over an existing file) is open. -ENOTTY or a negative errno after a
 * one-line error.
 */
int recovery_out_open(struct recovery_out *out, const char *file);
void recovery_out_close(struct recovery_out *out, bool failed);

/*
 * Adds a keyslot for a new recovery key opened by vk, marks it with an
 * oyster-recovery token and shows the key once; on any failure removes
 * what it added. Returns the keyslot.
 */
int recovery_enroll(struct crypt_device *cd, const char *device, const struct secret *vk,
		    struct recovery_out *out);

#endif
