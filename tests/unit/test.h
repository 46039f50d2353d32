/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TEST_H
#define OYSTER_TEST_H

/*
 * A unit test is a program: each CHECK that fails prints where and why and
 * makes the program exit 1 at the end; the last line reports the counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static unsigned test_passed, test_failed;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			test_passed++;                                                             \
		} else {                                                                           \
			test_failed++;                                                             \
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* The last error line the core logged: log_set(test_capture_error, NULL). */
static char test_last_error[512];

static inline void test_capture_error(int level, const char *msg, void *data)
{
	(void)data;
	if (level == OYSTER_LOG_ERROR)
		snprintf(test_last_error, sizeof(test_last_error), "%s", msg);
}

/* A whole file, malloc'ed (one spare byte), or NULL. */
static inline uint8_t *test_slurp(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	FILE *f;
	long n;

	f = fopen(path, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static inline int test_done(void)
{
	printf("%u passed, %u failed\n", test_passed, test_failed);
	return test_failed || !test_passed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
