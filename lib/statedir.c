// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster's root-only state directory and the credentials kept in it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "statedir.h"

#define STATEDIR_DEFAULT "/var/lib/oyster"
#define STATEDIR_MAX_SECRET 64

const char *statedir_path(void)
{
	const char *env = getenv("OYSTER_STATE_DIR");

	return env && *env ? env : STATEDIR_DEFAULT;
}

/* Credential names are plain file names: no path, no hidden or temporary files. */
static bool name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 64 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    name[i]))
			return false;
	return true;
}

/*
 * The directory, created 0700 when create; refused when anyone but its
 * owner (root) may read or write it: the files in it are credentials.
 */
static int dir_open(bool create)
{
	const char *path = statedir_path();
	struct stat st;
	int fd;

	if (create && mkdir(path, 0700) < 0 && errno != EEXIST) {
		int r = -errno;

		log_err("Cannot create oyster's state directory %s: %s.", path, strerror(errno));
		return r;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int r = -errno;

		if (errno != ENOENT)
			log_err("Cannot open oyster's state directory %s: %s.", path,
				strerror(errno));
		return r;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("oyster's state directory %s must belong to root with mode 0700 (it holds "
			"credentials); fix it with: chown root: %s && chmod 0700 %s.",
			path, path, path);
		close(fd);
		return -EPERM;
	}
	return fd;
}

int statedir_read_secret(const char *name, struct secret **out)
{
	struct secret *s = NULL;
	struct stat st;
	int dfd, fd = -1, r;
	ssize_t n;

	*out = NULL;
	if (!name_ok(name))
		return -EINVAL;
	dfd = dir_open(false);
	if (dfd < 0)
		return dfd;
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		if (errno != ENOENT)
			log_err("Cannot read %s/%s: %s.", statedir_path(), name, strerror(errno));
		goto out;
	}
	r = -EPERM;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_err("%s/%s must be a regular file of root's with mode 0600; oyster does not "
			"use it as it is.",
			statedir_path(), name);
		goto out;
	}
	r = -EINVAL;
	if (st.st_size < 1 || st.st_size > STATEDIR_MAX_SECRET) {
		log_err("%s/%s holds %lld bytes, not 1 to %d: it is not one of oyster's "
			"credentials.",
			statedir_path(), name, (long long)st.st_size, STATEDIR_MAX_SECRET);
		goto out;
	}
	r = -ENOMEM;
	s = secret_new(STATEDIR_MAX_SECRET);
	if (!s)
		goto out;
	n = read(fd, s->data, s->size);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		log_err("Cannot read %s/%s: %s.", statedir_path(), name,
			n < 0 ? strerror(errno) : "short read");
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
	char tmp[96];
	uint32_t rnd = 0;
	int dfd, fd = -1, r;
	ssize_t n;

	if (!name_ok(name) || s->len < 1 || s->len > STATEDIR_MAX_SECRET)
		return -EINVAL;
	dfd = dir_open(true);
	if (dfd < 0)
		return dfd;
	(void)getrandom(&rnd, sizeof(rnd), 0);
	snprintf(tmp, sizeof(tmp), ".%s.%08x.tmp", name, rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		log_err("Cannot create a file in %s: %s.", statedir_path(), strerror(errno));
		goto out;
	}
	n = write(fd, s->data, s->len);
	if (n != (ssize_t)s->len || fsync(fd) < 0) {
		r = n < 0 ? -errno : -EIO;
		log_err("Cannot write %s/%s: %s.", statedir_path(), name,
			n < 0 ? strerror(errno) : "short write");
		goto out;
	}
	if (renameat(dfd, tmp, dfd, name) < 0 || fsync(dfd) < 0) {
		r = -errno;
		log_err("Cannot write %s/%s: %s.", statedir_path(), name, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] && fd >= 0)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return r;
}

int statedir_remove(const char *name)
{
	int dfd, r = 0;

	if (!name_ok(name))
		return -EINVAL;
	dfd = dir_open(false);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, 0) < 0) {
		r = -errno;
		if (errno != ENOENT)
			log_err("Cannot remove %s/%s: %s.", statedir_path(), name, strerror(errno));
	} else if (fsync(dfd) < 0) {
		r = -errno;
	}
	close(dfd);
	return r;
}
