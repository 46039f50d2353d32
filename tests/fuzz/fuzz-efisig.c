// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Secure Boot update payloads (oyster predict --efi-update FILE) and the
 * signature lists of efivarfs: the EFI_VARIABLE_AUTHENTICATION_2 parser, the
 * signature list checker and the append rule on whatever they accept.
 */
#include <errno.h>
#include <string.h>

#include "efisig.h"
#include "fuzz.h"

/* Appends of lists that passed efisig_check: to themselves nothing, to nothing all. */
static void check_append(const uint8_t *esl, size_t len)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	unsigned n = 0, added = 0;

	FUZZ_ASSERT(efisig_check(esl, len, "fuzz", &n) == 0);
	FUZZ_ASSERT(efisig_append(esl, len, esl, len, &out, &out_len, &added) == 0);
	FUZZ_ASSERT(added == 0 && out_len == len && (!len || !memcmp(out, esl, len)));
	free(out);
	FUZZ_ASSERT(efisig_append(NULL, 0, esl, len, &out, &out_len, &added) == 0);
	FUZZ_ASSERT(added == n && out_len == len && (!len || !memcmp(out, esl, len)));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct efisig_auth auth;
	int r;

	r = efisig_parse_auth(data, size, "fuzz", &auth);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_ASSERT(auth.esl >= data && auth.esl + auth.esl_len == data + size);
		check_append(auth.esl, auth.esl_len);
	}
	r = efisig_check(data, size, "fuzz", NULL);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r == 0)
		check_append(data, size);
	return 0;
}
