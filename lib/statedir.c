// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * oyster's own credentials, kept in root-only files of the root file system
 * (which the TPM unlocks): whoever can read them is root on the running
 * system, not someone who booted another root file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "statedir.h"

#define STATEDIR_DEFAULT "/var/lib/oyster"
#define STATEDIR_SECRET_MAX 64

const char *statedir_path(void)
{
	const char *dir = getenv("OYSTER_STATE_DIR");

	return dir && dir[0] == '/' ? dir : STATEDIR_DEFAULT;
}

/* Names are plain file names: no separators, no dot files. */
static int file_path(const char *name, char *buf, size_t size)
{
	if (!name || !name[0] || name[0] == '.' || strchr(name, '/') || strlen(name) > NAME_MAX - 8)
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s/%s", statedir_path(), name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The directory exists, belongs to root and nobody else may enter it. */
static int dir_open(bool create)
{
	const char *dir = statedir_path();
	struct stat st;
	int fd;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_err("Cannot create oyster's state directory %s: %s.", dir, strerror(errno));
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("oyster's state directory %s must belong to root with mode 0700; fix it "
			"(chmod 700) and try again.",
			dir);
		close(fd);
		return -EPERM;
	}
	return fd;
}

int statedir_read_secret(const char *name, struct secret **out)
{
	char path[PATH_MAX];
	struct secret *s = NULL;
	struct stat st;
	ssize_t n;
	int dfd = -1, fd = -1, r;

	*out = NULL;
	r = file_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	dfd = dir_open(false);
	if (dfd < 0)
		return dfd == -ENOENT ? -ENOENT : dfd;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = -EPERM;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_err("%s must be a file of root's with mode 0600.", path);
		goto out;
	}
	r = -EINVAL;
	if (st.st_size < 1 || st.st_size > STATEDIR_SECRET_MAX) {
		log_err("%s is not a credential of oyster's (1 to 64 bytes).", path);
		goto out;
	}
	s = secret_new(STATEDIR_SECRET_MAX);
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, s->data, STATEDIR_SECRET_MAX + 1);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		goto out;
	}
	s->len = (size_t)n;
	*out = s;
	s = NULL;
	r = 0;
out:
	secret_free(s);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r;
}

int statedir_write_secret(const char *name, const struct secret *s)
{
	char path[PATH_MAX], tmp[NAME_MAX + 1];
	int dfd, fd = -1, r;

	if (!s || s->len < 1 || s->len > STATEDIR_SECRET_MAX)
		return -EINVAL;
	r = file_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	dfd = dir_open(true);
	if (dfd < 0)
		return dfd;
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	errno = 0;
	if (write(fd, s->data, s->len) != (ssize_t)s->len || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) < 0 || fsync(dfd) < 0) {
		r = -errno;
		goto fail;
	}
	close(dfd);
	return 0;
fail:
	log_err("Cannot write %s: %s.", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dfd, tmp, 0);
	close(dfd);
	return r;
}

int statedir_remove(const char *name)
{
	char path[PATH_MAX];
	int dfd, r;

	r = file_path(name, path, sizeof(path));
	if (r < 0)
		return r;
	dfd = dir_open(false);
	if (dfd < 0)
		return dfd;
	r = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}
