// SPDX-License-Identifier: LGPL-2.1-or-later
/* Whole-file reads, read-only mappings and atomic replaces; see file.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* What file_replace compares against: a configuration file, never an image. */
#define FILE_REPLACE_MAX (1024 * 1024)

int file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd, r;

	*data = NULL;
	*len = 0;
	if (max > SIZE_MAX - 2)
		return -EFBIG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = -ENOMEM;
	buf = malloc(max + 2);
	if (!buf)
		goto out;
	while (got <= max) {
		ssize_t n = read(fd, buf + got, max + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	r = -EFBIG;
	if (got > max)
		goto out;
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int file_read_text(const char *path, size_t max, char **text)
{
	uint8_t *data;
	size_t len;
	int r;

	*text = NULL;
	r = file_read(path, max, &data, &len);
	if (r < 0)
		return r;
	if (memchr(data, '\0', len)) {
		free(data);
		return -EINVAL;
	}
	*text = (char *)data;
	return 0;
}

int file_map(const char *path, size_t max, void **map, size_t *len)
{
	struct stat st;
	void *m;
	int fd, r;

	*map = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	r = -EINVAL;
	if (!S_ISREG(st.st_mode))
		goto out;
	r = -EFBIG;
	if ((uint64_t)st.st_size > max)
		goto out;
	r = 0;
	if (st.st_size == 0)
		goto out;
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	*map = m;
	*len = (size_t)st.st_size;
out:
	close(fd);
	return r;
}

void file_unmap(void *map, size_t len)
{
	if (map)
		munmap(map, len);
}

/* Writes text to a new temporary file next to target, with st's owner and mode. */
static int write_temp(const char *target, const char *text, const struct stat *st, char **tmp)
{
	size_t len = strlen(text), done = 0;
	char *name = NULL;
	int fd = -1, r;

	*tmp = NULL;
	if (asprintf(&name, "%s.XXXXXX", target) < 0)
		return -ENOMEM;
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(name);
		return r;
	}
	/* Only root can give a file away; anyone else keeps their own. */
	if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM)
		goto fail;
	if (fchmod(fd, st->st_mode & 07777) < 0)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	*tmp = name;
	return 0;
fail:
	r = -errno;
	if (fd >= 0)
		close(fd);
	unlink(name);
	free(name);
	return r;
}

static void sync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd;

	if (!dir)
		return;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* text in a temporary file next to target, renamed over target: all or nothing. */
static int write_over(const char *target, const char *text, const struct stat *st)
{
	char *tmp = NULL;
	int r = write_temp(target, text, st, &tmp);

	if (r == 0 && rename(tmp, target) < 0) {
		r = -errno;
		unlink(tmp);
	}
	free(tmp);
	return r;
}

int file_replace(const char *path, const char *old_text, const char *new_text, const char *backup)
{
	char *real = NULL, *current = NULL;
	struct stat st;
	int r;

	real = realpath(path, NULL);
	if (!real)
		return -errno;
	r = file_read_text(real, FILE_REPLACE_MAX, &current);
	if (r < 0)
		goto out;
	r = -ESTALE;
	if (strcmp(current, old_text))
		goto out;
	if (stat(real, &st) < 0) {
		r = -errno;
		goto out;
	}
	r = write_over(backup, old_text, &st);
	if (r == 0)
		r = write_over(real, new_text, &st);
	if (r == 0)
		sync_dir_of(real);
out:
	free(current);
	free(real);
	return r;
}
