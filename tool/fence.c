// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The boot fence: once the initramfs is done, whatever the outcome, it
 * extends a PCR that --fence tokens bind at its reset value. From then on,
 * until the next reboot, the TPM refuses those tokens: the running system
 * (or an attacker's root file system that the passphrase fallback was
 * tricked into mounting) cannot unseal them. So the extend must happen on
 * every path: for volumes it cannot read, for no volume at all, and for a
 * TPM that shows up late; only a TPM that never answers leaves it open.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootconf.h"
#include "cmd.h"
#include "fence.h"
#include "log.h"
#include "tpm.h"

static const char usage[] =
	"Usage: oyster fence [--boot] [DEVICE... | --all] [--pcr N] [--wait SECONDS]\n\n"
	"Extend the fence PCR (default 15) once for each DEVICE with a measurement of the\n"
	"volume (its UUID and its volume key's digest records), so that the tokens enrolled\n"
	"with --fence no longer unseal until the next boot. A DEVICE that is not a readable\n"
	"LUKS volume is measured as an unreadable volume, and no DEVICE at all as no volume:\n"
	"the PCR is extended at least once whatever was found. The boot integrations run it\n"
	"once the initramfs is done. Exit status 0 once the PCR is extended; 4 when no TPM\n"
	"answered.\n\n"
	"  --all           every LUKS volume on this machine (libblkid)\n"
	"  --boot          as the boot integrations run it, once per boot, with their settings\n"
	"                  (oyster-prune(8)): oyster.fence=0 or OYSTER_FENCE=no turns it off,\n"
	"                  oyster.fence_pcr= and oyster.timeout= give --pcr and --wait,\n"
	"                  oyster.tcti= the TPM; a failure is one line, prefixed 'oyster: '\n"
	"  --pcr N         the fence PCR, 0-23 (default 15; it must start each boot at zero)\n"
	"  --wait SECONDS  wait up to SECONDS for a TPM that is not there yet (default 0)\n"
	"  -h, --help      show this help\n";

/* --boot: one line, the last that was to be said; the core's lines only with OYSTER_DEBUG. */
static bool boot_quiet;

static void boot_log(int level, const char *msg, void *data)
{
	if (debug_enabled() && level != OYSTER_LOG_DEBUG)
		fprintf(stderr, "%s\n", msg);
}

static int fence_one(struct tpm *t, const char *device, unsigned pcr)
{
	char event[OYSTER_FENCE_EVENT_MAX];

	if (!device)
		snprintf(event, sizeof(event), "%s", OYSTER_FENCE_NO_VOLUME);
	else if (fence_event(device, event, sizeof(event)) < 0) {
		if (!boot_quiet)
			fprintf(stderr,
				"%s is not a LUKS volume oyster can read; fenced as an unreadable "
				"volume.\n",
				device);
		snprintf(event, sizeof(event), "%s", OYSTER_FENCE_UNREADABLE);
	}
	return tpm_pcr_event(t, pcr, event, strlen(event));
}

int cmd_fence(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "boot", no_argument, NULL, 'b' },
		{ "pcr", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	unsigned pcr = OYSTER_FENCE_PCR, wait = 0;
	char **found = NULL, **devices;
	size_t ndevices, nfound = 0;
	struct tpm *t = NULL;
	struct bootconf conf;
	bool all = false, boot = false, have_pcr = false, have_wait = false;
	const char *prefix = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'b':
			boot = true;
			break;
		case 'p':
			if (!parse_uint(optarg, OYSTER_PCR_COUNT - 1, &pcr))
				return usage_error("fence", "invalid PCR '%s'", optarg);
			have_pcr = true;
			break;
		case 'w':
			if (!parse_uint(optarg, 3600, &wait))
				return usage_error("fence", "invalid number of seconds '%s'", optarg);
			have_wait = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("fence", "unknown option");
		}
	}
	if (all && optind < argc)
		return usage_error("fence", "give DEVICEs or --all, not both");
	if (boot) {
		bootconf_read(&conf, true);
		if (!conf.fence)
			return OYSTER_EXIT_OK;
		/* Once per boot: the emergency path after a done initramfs must not extend again. */
		if (bootconf_once("fenced") == -EEXIST)
			return OYSTER_EXIT_OK;
		bootconf_export(&conf);
		if (!have_pcr)
			pcr = conf.fence_pcr;
		if (!have_wait)
			wait = conf.timeout;
		boot_quiet = true;
		prefix = "oyster: ";
		log_set(boot_log, NULL);
	}
	devices = argv + optind;
	ndevices = (size_t)(argc - optind);
	if (all) {
		/* A volume libblkid cannot list is one the boot cannot have opened either. */
		if (fence_all_volumes(&found, &nfound) < 0 && !boot_quiet)
			fprintf(stderr, "Cannot list the LUKS volumes of this machine; fencing as "
					"no volume.\n");
		devices = found;
		ndevices = nfound;
	}
	r = tpm_open_wait(&t, wait);
	if (r < 0) {
		fprintf(stderr,
			"%sThe boot fence is open: no TPM answered%s, so tokens enrolled with "
			"--fence unseal in this boot if the TPM appears later.\n",
			prefix, wait ? " in time" : "");
		goto out;
	}
	/* Every device, even after a failure: each one left unfenced stays open to the TPM. */
	r = ndevices ? 0 : fence_one(t, NULL, pcr);
	for (size_t i = 0; i < ndevices; i++) {
		int one = fence_one(t, devices[i], pcr);

		if (one < 0 && r == 0)
			r = one;
	}
	if (r < 0)
		fprintf(stderr,
			"%sCannot extend PCR %u; tokens enrolled with --fence still unseal until the "
			"next boot.\n",
			prefix, pcr);
out:
	tpm_close(t);
	for (size_t i = 0; i < nfound; i++)
		free(found[i]);
	free(found);
	return r == -ENODEV ? OYSTER_EXIT_NO_TPM : r < 0 ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
}
