/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_STATEDIR_H
#define OYSTER_STATEDIR_H

#include "secret.h"

/* oyster's root-only state directory: $OYSTER_STATE_DIR, else /var/lib/oyster (mode 0700). */
const char *statedir_path(void);
/* Reads credential NAME (a file in statedir, 1..64 bytes, mode 0600) into a locked secret; -ENOENT
 * when absent. */
int statedir_read_secret(const char *name, struct secret **out);
/* Writes it atomically: temp file 0600, fsync, rename, fsync of the directory. */
int statedir_write_secret(const char *name, const struct secret *s);
int statedir_remove(const char *name);

#endif
