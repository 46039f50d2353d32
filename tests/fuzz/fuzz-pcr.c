// SPDX-License-Identifier: LGPL-2.1-or-later
/* The --pcrs syntax: pcr_parse_spec(), and pcr_format_spec() reading back the same set. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "pcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[OYSTER_PCR_SPEC_MAX];
	uint32_t mask = 0xdeadbeef, back = 0;
	char *spec;
	int r;

	spec = malloc(size + 1);
	FUZZ_ASSERT(spec);
	memcpy(spec, data, size);
	spec[size] = '\0';

	r = pcr_parse_spec(spec, &mask);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_ASSERT(mask == 0xdeadbeef); /* untouched on error */
	} else {
		FUZZ_ASSERT(mask && !(mask >> OYSTER_PCR_COUNT));
		pcr_format_spec(mask, buf, sizeof(buf));
		FUZZ_ASSERT(pcr_parse_spec(buf, &back) == 0 && back == mask);
	}
	/* The bank names share the token's text. */
	if (pcr_bank_from_name(spec))
		FUZZ_ASSERT(!strcmp(pcr_bank_name(pcr_bank_from_name(spec)), spec));
	free(spec);
	return 0;
}
