// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The boot fence: once the initramfs is done with a volume, whatever the
 * outcome, it extends a PCR the volume's token is bound to at its reset
 * value. From then on, until the next reboot, the TPM refuses that token:
 * the running system (or an attacker's root filesystem that the passphrase
 * fallback was tricked into mounting) cannot unseal it.
 */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "luks.h"
#include "tpm.h"

static const char usage[] =
	"Usage: oyster fence DEVICE... [--pcr N]\n\n"
	"Extend the fence PCR (default 15) once for each DEVICE with a measurement of its\n"
	"LUKS2 UUID, so that tokens enrolled with --fence no longer unseal until the next\n"
	"boot. The boot integrations run it after the initramfs is done with a volume.\n\n"
	"  --pcr N     the fence PCR, 0-23 (default 15; it must start each boot at zero)\n"
	"  -h, --help  show this help\n";

static int fence_one(struct tpm *t, const char *device, unsigned pcr)
{
	struct crypt_device *cd = NULL;
	char event[128];
	int r;

	r = luks_open(device, &cd);
	if (r < 0)
		return r;
	snprintf(event, sizeof(event), "oyster-fence %s", crypt_get_uuid(cd));
	crypt_free(cd);
	r = tpm_pcr_event(t, pcr, event, strlen(event));
	if (r < 0)
		log_err("Cannot extend PCR %u for %s; its token still unseals until the next boot.",
			pcr, device);
	return r;
}

int cmd_fence(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pcr", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned pcr = OYSTER_FENCE_PCR;
	struct tpm *t = NULL;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!parse_uint(optarg, OYSTER_PCR_COUNT - 1, &pcr))
				return usage_error("fence", "invalid PCR '%s'", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("fence", "unknown option");
		}
	}
	if (optind >= argc)
		return usage_error("fence", "expected at least one DEVICE");
	r = tpm_open(&t);
	if (r < 0)
		return exit_status(r);
	/* Every device, even after a failure: each one left unfenced stays open to the TPM. */
	for (int i = optind; i < argc; i++) {
		int one = fence_one(t, argv[i], pcr);

		if (one < 0 && r == 0)
			r = one;
	}
	tpm_close(t);
	return r == -ENODEV ? OYSTER_EXIT_NO_TPM : r < 0 ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
}
