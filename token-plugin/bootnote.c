// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What the plugin leaves behind at boot, best effort (an unlock never fails
 * because of it): the one line that says why the TPM refused, on the
 * console, and a note of the volumes the TPM unlocked, for the initramfs's
 * prune.
 *
 * Why the kernel log: systemd-cryptsetup hands crypt_log() lines to the
 * journal, which does not forward them to the console by default, so the
 * user saw systemd's passphrase prompt and no reason. /dev/kmsg is a log
 * channel every initramfs has, and a line at KERN_ERR passes the console's
 * log level even under `quiet` (which lowers it to 4). It is written only
 * where nobody else shows crypt_log() lines (stderr is not a terminal:
 * cryptsetup's CLI prints them there itself), only for the machine's own TPM
 * (the device TCTI: never for the simulators of tests), and at most once per
 * volume and boot (a marker in /run/oyster, which the initramfs hands to the
 * system).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootnote.h"

#define BOOTNOTE_DIR "/run/oyster"

static bool machine_tpm(void)
{
	const char *conf = getenv("OYSTER_TCTI");

	return !conf || !*conf || !strncmp(conf, "device:", 7);
}

/* A LUKS UUID, nothing that could climb out of the directory. */
static bool plain_uuid(const char *uuid)
{
	if (!uuid || !*uuid || strlen(uuid) > 64)
		return false;
	return strspn(uuid, "0123456789abcdefABCDEF-") == strlen(uuid);
}

/* Creates BOOTNOTE_DIR/sub/uuid; 0 when this call created it, -EEXIST when it was there. */
static int mark(const char *sub, const char *uuid)
{
	char path[160];
	int fd;

	if (!plain_uuid(uuid))
		return -EINVAL;
	if (mkdir(BOOTNOTE_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", BOOTNOTE_DIR, sub);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s/%s", BOOTNOTE_DIR, sub, uuid);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

void bootnote_unlocked(const char *uuid)
{
	if (machine_tpm())
		(void)mark("unlocked", uuid);
}

void bootnote_refused(const char *uuid, const char *device, const char *reason)
{
	char line[768];
	int fd, n, r;

	if (!reason || !*reason || !machine_tpm() || isatty(STDERR_FILENO))
		return;
	r = mark("told", uuid);
	/* Said already in this boot; without a marker, say it anyway. */
	if (r == -EEXIST)
		return;
	fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* <3>: KERN_ERR. The reason is one of the core's lines: no secret, no newline. */
	n = snprintf(line, sizeof(line), "<3>oyster: %s: %.*s\n", device ? device : "?",
		     (int)strcspn(reason, "\n"), reason);
	if (n > 0)
		(void)!write(fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	close(fd);
}
