// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A kernel, boot loader or shim image given to oyster predict: the
 * Authenticode digest, the certificate table and the named sections
 * (.sbatlevel: a long name, through the COFF string table).
 */
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
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *section = NULL;
		size_t len = 0;
		int s = authenticode_section(data, size, i ? ".sbat" : ".sbatlevel", &section, &len);

		FUZZ_ASSERT(s == 0 || s == -ENOENT || s == -EINVAL);
		FUZZ_ASSERT(s != 0 || (section >= data && len <= size &&
				       (size_t)(section - data) <= size - len));
	}
	{
		const uint8_t *table = NULL;
		size_t len = 0;

		if (authenticode_cert_table(data, size, &table, &len) == 0 && len)
			FUZZ_ASSERT(table >= data && (size_t)(table - data) <= size - len);
	}
	return 0;
}
