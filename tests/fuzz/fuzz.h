/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_FUZZ_H
#define OYSTER_FUZZ_H

/*
 * Each fuzz-*.c defines the libFuzzer entry point. Linked with libFuzzer
 * (clang -fsanitize=fuzzer) it is a fuzzer; linked with replay.c (any
 * compiler) it replays the checked-in corpus as a unit test. A broken
 * invariant aborts, which both report as a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
