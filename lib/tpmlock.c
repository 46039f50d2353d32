// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A lock per TCTI so that two processes do not talk to a TPM at once where no
 * resource manager serializes them.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tpmlock.h"

/* The kernel's resource manager already serializes its users. */
static bool needs_lock(const char *conf)
{
	return strncmp(conf, "device:/dev/tpmrm", 17) != 0;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int lock_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if ((mkdir("/run/oyster", 0700) == 0 || errno == EEXIST) &&
	    access("/run/oyster", W_OK) == 0) {
		snprintf(buf, size, "/run/oyster");
		return 0;
	}
	if (xdg && *xdg && snprintf(buf, size, "%s/oyster", xdg) < (int)size &&
	    (mkdir(buf, 0700) == 0 || errno == EEXIST) && access(buf, W_OK) == 0)
		return 0;
	return -1;
}

int tpm_lock_take(const char *tcti_conf, int32_t wait_ms)
{
	char dir[256], path[320];
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int32_t waited = 0;
	int fd;

	if (!needs_lock(tcti_conf) || lock_dir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/tpm-%016llx.lock", dir,
		 (unsigned long long)fnv1a(tcti_conf));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_debug("No TPM lock (%s: %s); going on without one.", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (wait_ms == 0 && errno == EWOULDBLOCK) {
			/* The caller has another way to the TPM. */
			close(fd);
			return -EBUSY;
		}
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= wait_ms) {
			log_err("Another program has been using the TPM (%s) for %d s (lock %s); "
				"try again later.",
				tcti_conf, wait_ms / 1000, path);
			close(fd);
			return -ENODEV;
		}
		nanosleep(&pause, NULL);
		waited += 20;
	}
	return fd;
}

void tpm_lock_release(int fd)
{
	if (fd >= 0)
		close(fd);
}
