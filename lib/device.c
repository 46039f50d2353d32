// SPDX-License-Identifier: LGPL-2.1-or-later
/* Block devices for the tool: the blkid lookup of a DEVICE argument, the sysfs walk. */
#include <blkid/blkid.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "device.h"

int device_resolve(const char *spec, char **resolved)
{
	*resolved = NULL;
	if (strncmp(spec, "UUID=", 5))
		return 0;
	*resolved = blkid_evaluate_tag("UUID", spec + 5, NULL);
	return *resolved ? 0 : -ENOENT;
}

/* Whether the block device at sysfs path is dev, or sits on it (its slaves, recursively). */
static bool sysfs_stacked_on(const char *path, dev_t dev, int depth)
{
	char file[PATH_MAX], sub[PATH_MAX];
	unsigned maj, min;
	struct dirent *de;
	bool found = false;
	DIR *dir;
	FILE *f;

	if (depth > 8)
		return false;
	snprintf(file, sizeof(file), "%s/dev", path);
	f = fopen(file, "re");
	if (!f)
		return false;
	if (fscanf(f, "%u:%u", &maj, &min) == 2 && makedev(maj, min) == dev)
		found = true;
	fclose(f);
	snprintf(file, sizeof(file), "%s/slaves", path);
	dir = found ? NULL : opendir(file);
	while (dir && !found && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", file, de->d_name) < (int)sizeof(sub))
			found = sysfs_stacked_on(sub, dev, depth + 1);
	}
	if (dir)
		closedir(dir);
	return found;
}

bool device_backs_root(const char *path)
{
	struct stat root, dev;
	char sys[128];

	if (stat("/", &root) < 0 || stat(path, &dev) < 0 ||
	    !S_ISBLK(dev.st_mode))
		return false;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(root.st_dev), minor(root.st_dev));
	return sysfs_stacked_on(sys, dev.st_rdev, 0);
}
