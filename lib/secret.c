// SPDX-License-Identifier: LGPL-2.1-or-later
/* Buffers for key material: locked in RAM, out of core dumps, wiped on free. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "secret.h"

struct secret *secret_new(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t map_len = (sizeof(struct secret) + size + 1 + page - 1) / page * page;
	struct secret *s;

	s = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	/*
	 * mlock can fail under a tight RLIMIT_MEMLOCK; the secret must not be
	 * refused for that, but it must still never reach a core dump or a
	 * child's copy of memory.
	 */
	(void)mlock(s, map_len);
	(void)madvise(s, map_len, MADV_DONTDUMP);
	(void)madvise(s, map_len, MADV_WIPEONFORK);
	s->map_len = map_len;
	s->size = size;
	s->len = 0;
	return s;
}

void secret_free(struct secret *s)
{
	int saved = errno;
	size_t map_len;

	if (!s)
		return;
	map_len = s->map_len;
	explicit_bzero(s, map_len);
	munlock(s, map_len);
	munmap(s, map_len);
	errno = saved;
}

struct secret *secret_from_data(void *data)
{
	if (!data)
		return NULL;
	return (struct secret *)((uint8_t *)data - offsetof(struct secret, data));
}
