/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_FENCE_H
#define OYSTER_FENCE_H

#include <stddef.h>

/* The events for a boot that saw no volume, and for a volume the fence cannot read. */
#define OYSTER_FENCE_NO_VOLUME "oyster-fence no-volume"
#define OYSTER_FENCE_UNREADABLE "oyster-fence unreadable-volume"
#define OYSTER_FENCE_UUID_MAX 40
#define OYSTER_FENCE_EVENT_MAX 128

/*
 * "oyster-fence UUID KEYS" for the LUKS1 or LUKS2 volume (or detached header)
 * at spec (a path or UUID=...), KEYS the SHA-256 in hex of its volume key's
 * digest records. Negative errno when it is not a LUKS volume it can read.
 */
int fence_event(const char *spec, char *event, size_t size);
/* Every LUKS volume libblkid sees on this machine (none is not an error); free each and the array. */
int fence_all_volumes(char ***paths, size_t *count);

#endif
