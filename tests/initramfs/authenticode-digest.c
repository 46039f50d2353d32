// SPDX-License-Identifier: LGPL-2.1-or-later
/* authenticode-digest FILE: lib/authenticode.c's SHA-256 digest of FILE, in hex, for tests. */
#include <stdio.h>

#include <tss2/tss2_tpm2_types.h>

#include "authenticode.h"
#include "encode.h"
#include "log.h"

static void to_stderr(int level, const char *msg, void *data)
{
	(void)level;
	(void)data;
	fprintf(stderr, "%s\n", msg);
}

int main(int argc, char **argv)
{
	uint8_t digest[32];
	char hex[65];

	if (argc != 2) {
		fprintf(stderr, "usage: authenticode-digest FILE\n");
		return 2;
	}
	log_set(to_stderr, NULL);
	if (authenticode_file(argv[1], TPM2_ALG_SHA256, digest) < 0 ||
	    hex_encode(digest, sizeof(digest), hex, sizeof(hex)) < 0)
		return 1;
	printf("%s\n", hex);
	return 0;
}
