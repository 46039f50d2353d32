/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TEST_H
#define OYSTER_TEST_H

/*
 * A unit test is a program: each CHECK that fails prints where and why and
 * makes the program exit 1 at the end; the last line reports the counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static inline int test_done(void)
{
	printf("%u passed, %u failed\n", test_passed, test_failed);
	return test_failed || !test_passed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
