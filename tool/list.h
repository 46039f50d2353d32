/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_LIST_H
#define OYSTER_LIST_H

/*
 * Calls fn for each volume /etc/crypttab names on this machine (its header=
 * file when it has one), with the core's log silenced: entries that are not
 * LUKS2 volumes here are no error. Returns 0, or a negative errno when
 * crypttab exists but cannot be read (said on stderr); none is no error.
 */
int list_crypttab_volumes(void (*fn)(const char *path, void *data), void *data);

#endif
