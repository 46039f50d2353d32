// SPDX-License-Identifier: LGPL-2.1-or-later
/* The record of the volumes the TPM did not open in this boot (/run/oyster/fallback). */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "fallback.h"

const char *fallback_reason(const char *uuid, char *buf, size_t size)
{
	FILE *f = fopen(OYSTER_FALLBACK_RECORD, "re");
	size_t n = uuid ? strlen(uuid) : 0;
	const char *found = NULL;

	if (!f)
		return NULL;
	while (n && !found && fgets(buf, (int)size, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (!strncmp(buf, uuid, n) && buf[n] == ' ')
			found = buf + n + 1;
	}
	fclose(f);
	return found;
}

bool fallback_volume_open(const char *uuid)
{
	char want[80], path[300], got[160];
	size_t n = 0;
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (!uuid || strlen(uuid) > 40)
		return false;
	n = (size_t)snprintf(want, sizeof(want), "CRYPT-LUKS2-");
	for (const char *c = uuid; *c; c++)
		if (*c != '-')
			want[n++] = *c;
	want[n++] = '-';
	want[n] = '\0';
	d = opendir("/sys/class/block");
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		FILE *f;

		if (strncmp(e->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/class/block/%s/dm/uuid", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		found = fgets(got, sizeof(got), f) && !strncasecmp(got, want, n);
		fclose(f);
	}
	closedir(d);
	return found;
}
