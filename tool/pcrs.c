// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster pcrs: the TPM's current PCR values with their names. */
#include <getopt.h>
#include <stdio.h>

#include "cmd.h"
#include "encode.h"
#include "tpm.h"

static const char usage[] = "Usage: oyster pcrs [--bank BANK]\n\n"
			    "Show the TPM's current PCR values with their well-known names.\n\n"
			    "  --bank BANK  sha256 (default), sha1, sha384, sha512, sm3_256\n"
			    "  -h, --help   show this help\n";

int cmd_pcrs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bank", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	uint16_t bank = pcr_bank_from_name("sha256");
	struct pcr_state now;
	struct tpm *t = NULL;
	char hex[2 * OYSTER_MAX_DIGEST + 1];
	size_t size;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			bank = pcr_bank_from_name(optarg);
			if (!bank)
				return usage_error("pcrs", "unknown PCR bank '%s'", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("pcrs", "unknown option");
		}
	}
	if (optind != argc)
		return usage_error("pcrs", "unexpected argument '%s'", argv[optind]);
	r = tpm_open(&t);
	if (r < 0)
		return exit_status(r);
	r = tpm_pcr_read(t, bank, (1u << OYSTER_PCR_COUNT) - 1, &now);
	tpm_close(t);
	if (r < 0)
		return exit_status(r);
	size = pcr_bank_digest_size(bank);
	printf("PCR bank %s:\n", pcr_bank_name(bank));
	for (unsigned pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
		const char *name = pcr_name(pcr);

		hex_encode(now.value[pcr], size, hex, sizeof(hex));
		printf("%2u  %-20s %s  %s\n", pcr, name ? name : "-", hex, pcr_description(pcr));
	}
	return OYSTER_EXIT_OK;
}
