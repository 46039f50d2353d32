// SPDX-License-Identifier: LGPL-2.1-or-later
/* The tool's one blkid lookup of a DEVICE argument; see device.h. */
#include <blkid/blkid.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "device.h"

int device_resolve(const char *spec, char **resolved)
{
	*resolved = NULL;
	if (strncmp(spec, "UUID=", 5))
		return 0;
	*resolved = blkid_evaluate_tag("UUID", spec + 5, NULL);
	return *resolved ? 0 : -ENOENT;
}
