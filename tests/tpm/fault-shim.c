// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An LD_PRELOAD fault shim for tests/tpm/disk-faults.sh: a disk that fails
 * one write (device-mapper's dm-flakey is not available on the test
 * machines).
 *
 *   FAULT_PATH   the file whose writes are counted (compared by device and
 *                inode, so every descriptor on it counts: libcryptsetup
 *                opens an image several times, with and without O_DIRECT)
 *   FAULT_AT     N: the Nth counted call fails with EIO, nothing written
 *   FAULT_STICKY 1: every counted call from the Nth on fails (a disk that
 *                died), not only the Nth
 *   FAULT_FSYNC  1: fsync() and fdatasync() on the file count (and fail) too
 *   FAULT_LOG    a file that gets one line per injected fault, so that the
 *                test knows whether the run reached its fault
 *
 * libcryptsetup 2.6 writes LUKS2 headers and keyslot areas with lseek() and
 * write() (strace); the other write calls are covered too, so that another
 * version cannot slip past the shim unnoticed. Without FAULT_PATH or
 * FAULT_AT the shim does nothing.
 */
#undef _FILE_OFFSET_BITS /* pwrite and pwrite64 are both defined here */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static dev_t fault_dev;
static ino_t fault_ino;
static long fault_at;
static int fault_sticky, fault_fsync, fault_armed;
static const char *fault_log;
static long fault_count;

__attribute__((constructor)) static void fault_init(void)
{
	const char *path = getenv("FAULT_PATH");
	const char *at = getenv("FAULT_AT");
	const char *s;
	struct stat st;
	char *end;

	if (!path || !at || stat(path, &st) < 0)
		return;
	fault_at = strtol(at, &end, 10);
	if (*end || fault_at < 1)
		return;
	fault_dev = st.st_dev;
	fault_ino = st.st_ino;
	s = getenv("FAULT_STICKY");
	fault_sticky = s && !strcmp(s, "1");
	s = getenv("FAULT_FSYNC");
	fault_fsync = s && !strcmp(s, "1");
	fault_log = getenv("FAULT_LOG");
	fault_armed = 1;
}

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort(); /* a shim that cannot pass calls on must not pretend to work */
	return f;
}

/* Counts a call on fd; true when this one is to fail (errno is then EIO). */
static int fault_hit(int fd, const char *call)
{
	struct stat st;
	long n;
	int log_fd;
	char line[160];
	int len;

	if (!fault_armed || fstat(fd, &st) < 0 || st.st_dev != fault_dev || st.st_ino != fault_ino)
		return 0;
	n = __atomic_add_fetch(&fault_count, 1, __ATOMIC_SEQ_CST);
	if (n < fault_at || (n > fault_at && !fault_sticky))
		return 0;
	if (fault_log) {
		/* open(2) and the real write(2) only: nothing here may re-enter the shim. */
		log_fd = open(fault_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_fd >= 0) {
			len = snprintf(line, sizeof(line), "fault-shim: %s #%ld on fd %d: EIO\n",
				       call, n, fd);
			if (len > 0 && (size_t)len < sizeof(line))
				((ssize_t(*)(int, const void *, size_t))real("write"))(log_fd, line,
										       (size_t)len);
			close(log_fd);
		}
	}
	errno = EIO;
	return 1;
}

ssize_t write(int fd, const void *buf, size_t count)
{
	if (fault_hit(fd, "write"))
		return -1;
	return ((ssize_t(*)(int, const void *, size_t))real("write"))(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	if (fault_hit(fd, "pwrite"))
		return -1;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real("pwrite"))(fd, buf, count,
									      offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
	if (fault_hit(fd, "pwrite64"))
		return -1;
	return ((ssize_t(*)(int, const void *, size_t, off64_t))real("pwrite64"))(fd, buf, count,
										  offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (fault_hit(fd, "writev"))
		return -1;
	return ((ssize_t(*)(int, const struct iovec *, int))real("writev"))(fd, iov, iovcnt);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	if (fault_hit(fd, "pwritev"))
		return -1;
	return ((ssize_t(*)(int, const struct iovec *, int, off_t))real("pwritev"))(fd, iov, iovcnt,
										    offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off64_t offset)
{
	if (fault_hit(fd, "pwritev64"))
		return -1;
	return ((ssize_t(*)(int, const struct iovec *, int, off64_t))real("pwritev64"))(
		fd, iov, iovcnt, offset);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags)
{
	if (fault_hit(fd, "pwritev2"))
		return -1;
	return ((ssize_t(*)(int, const struct iovec *, int, off_t, int))real("pwritev2"))(
		fd, iov, iovcnt, offset, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off64_t offset, int flags)
{
	if (fault_hit(fd, "pwritev64v2"))
		return -1;
	return ((ssize_t(*)(int, const struct iovec *, int, off64_t, int))real("pwritev64v2"))(
		fd, iov, iovcnt, offset, flags);
}

int fsync(int fd)
{
	if (fault_fsync && fault_hit(fd, "fsync"))
		return -1;
	return ((int (*)(int))real("fsync"))(fd);
}

int fdatasync(int fd)
{
	if (fault_fsync && fault_hit(fd, "fdatasync"))
		return -1;
	return ((int (*)(int))real("fdatasync"))(fd);
}
