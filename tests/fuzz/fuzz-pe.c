// SPDX-License-Identifier: LGPL-2.1-or-later
/* A kernel or boot loader image given to oyster predict: the Authenticode digest. */
#include <errno.h>
#include <string.h>

#include <tss2/tss2_tpm2_types.h>

#include "authenticode.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t a[64], b[64];
	int r;

	r = authenticode_digest(data, size, TPM2_ALG_SHA256, a);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r == 0) {
		/* The same bytes hash the same; another bank accepts the same image. */
		FUZZ_ASSERT(authenticode_digest(data, size, TPM2_ALG_SHA256, b) == 0);
		FUZZ_ASSERT(!memcmp(a, b, 32));
		FUZZ_ASSERT(authenticode_digest(data, size, TPM2_ALG_SHA1, b) == 0);
	}
	return 0;
}
