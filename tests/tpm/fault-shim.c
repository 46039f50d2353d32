// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An LD_PRELOAD fault shim for tests/tpm/disk-faults.sh: a disk that fails
 * one write (device-mapper's dm-flakey is not available on the test
 * machines).
 *
 *   FAULT_PATH   the file whose writes are counted (compared by device and
 *                inode, so every descriptor on it counts: libcryptsetup
 *                opens an image several times, with and without O_DIRECT)
 *   FAULT_DIR    instead of FAULT_PATH: a directory ("/etc/", with its
 *                slash), for files made and renamed there (crypttab's
 *                temporary copies): writes to any file whose path starts
 *                with it count, and so does rename() onto such a path
 *   FAULT_ERRNO  the error the failing call returns (a number; default EIO)
 *   FAULT_SETRO  1: FAULT_PATH is a block device (a loop device); instead of
 *                failing the Nth call, set the device read-only
 *                (BLKROSET, as blockdev --setro does) and let the call go
 *                on: the kernel refuses it and every later write
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
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static dev_t fault_dev, fault_rdev;
static ino_t fault_ino;
static int fault_setro;
static const char *fault_dir;
static int fault_errno = EIO;
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

	fault_dir = getenv("FAULT_DIR");
	if (fault_dir && fault_dir[0] != '/')
		fault_dir = NULL;
	if ((!path && !fault_dir) || !at || (!fault_dir && stat(path, &st) < 0))
		return;
	fault_at = strtol(at, &end, 10);
	if (*end || fault_at < 1)
		return;
	if (!fault_dir) {
		fault_dev = st.st_dev;
		fault_ino = st.st_ino;
		/* A device node may be opened by another name: the device is what counts. */
		if (S_ISBLK(st.st_mode))
			fault_rdev = st.st_rdev;
	}
	s = getenv("FAULT_SETRO");
	fault_setro = s && !strcmp(s, "1") && fault_rdev;
	s = getenv("FAULT_ERRNO");
	if (s && atoi(s) > 0)
		fault_errno = atoi(s);
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

static int in_fault_dir(const char *path)
{
	return path && !strncmp(path, fault_dir, strlen(fault_dir));
}

/* Whether a call on fd counts: the file of FAULT_PATH, or one in FAULT_DIR. */
static int fault_fd(int fd)
{
	char link[64], path[4096];
	struct stat st;
	ssize_t n;

	if (!fault_dir && fault_rdev)
		return fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == fault_rdev;
	if (!fault_dir)
		return fstat(fd, &st) == 0 && st.st_dev == fault_dev && st.st_ino == fault_ino;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return in_fault_dir(path);
}

/* Counts a call that matched; true when this one is to fail (errno is then set). */
static int fault_count_hit(int fd, const char *call)
{
	long n;
	int log_fd;
	char line[160];
	int len;

	n = __atomic_add_fetch(&fault_count, 1, __ATOMIC_SEQ_CST);
	if (n < fault_at || (n > fault_at && !fault_sticky))
		return 0;
	if (fault_log) {
		/* open(2) and the real write(2) only: nothing here may re-enter the shim. */
		log_fd = open(fault_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (log_fd >= 0) {
			len = snprintf(line, sizeof(line), "fault-shim: %s #%ld on fd %d: %s\n",
				       call, n, fd, fault_setro ? "set read-only" : "failed");
			if (len > 0 && (size_t)len < sizeof(line))
				((ssize_t(*)(int, const void *, size_t))real("write"))(log_fd, line,
										       (size_t)len);
			close(log_fd);
		}
	}
	if (fault_setro) {
		int one = 1;

		/* The real call runs on a device that is read-only from now on. */
		ioctl(fd, BLKROSET, &one);
		return 0;
	}
	errno = fault_errno;
	return 1;
}

static int fault_hit(int fd, const char *call)
{
	return fault_armed && fault_fd(fd) && fault_count_hit(fd, call);
}

/* A rename onto a path in FAULT_DIR: the step that makes a new file the real one. */
static int fault_rename(const char *newpath, const char *call)
{
	return fault_armed && fault_dir && in_fault_dir(newpath) && fault_count_hit(-1, call);
}

int rename(const char *oldpath, const char *newpath)
{
	if (fault_rename(newpath, "rename"))
		return -1;
	return ((int (*)(const char *, const char *))real("rename"))(oldpath, newpath);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	if (fault_rename(newpath, "renameat"))
		return -1;
	return ((int (*)(int, const char *, int, const char *))real("renameat"))(olddirfd, oldpath,
										 newdirfd, newpath);
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
