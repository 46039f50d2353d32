/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_DEVICE_H
#define OYSTER_DEVICE_H

#include <stdbool.h>

/*
 * A DEVICE argument as users write it: a path, or UUID=... looked up with
 * blkid. 0 with *resolved NULL when spec is a path (use spec itself), 0
 * with *resolved (malloc'd) for a UUID= that names a device, -ENOENT when
 * it names none. Never logs.
 */
int device_resolve(const char *spec, char **resolved);

/*
 * Whether the root file system lives on the block device at path, through
 * any stack of dm devices (sysfs slaves, at most 8 deep); false for a file.
 */
bool device_backs_root(const char *path);

#endif
