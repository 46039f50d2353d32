// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * oyster predict, and the options it shares with oyster reseal --predict:
 * parse, one call into lib/predict.c, print.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cmd.h"
#include "encode.h"
#include "predict-args.h"
#include "tpm.h"

static const char usage[] =
	"Usage: oyster predict [--kernel NEW [--current-kernel OLD]] [--initrd NEW\n"
	"                      [--current-initrd OLD]] [--cmdline STR] [--boot-loader NEW\n"
	"                      --current-boot-loader OLD] [--pcrs LIST] [--bank BANK]\n"
	"                      [--efi-update VAR=FILE] [--efi-replace VAR=FILE]\n"
	"                      [--shim NEW] [--event-log FILE]\n\n"
	"Print the PCR values the next boot will measure after an update, in the syntax of\n"
	"oyster reseal --add-state (PCR:BANK=HEX,...): this boot's event log replayed with the\n"
	"new parts' digests in place of the old ones. The log must reproduce the TPM's values\n"
	"of now. Prints the PCRs the update changes, or those of --pcrs.\n\n" PREDICT_USAGE
	"  --pcrs LIST        print these PCRs (e.g. 0+2+4+7), changed or not\n"
	"  --bank BANK        sha256 (default), sha1, sha384, sha512\n"
	"  -h, --help         show this help\n";

static char default_kernel[300], default_initrd[300];

int predict_option(int c, const char *arg, struct predict_args *p)
{
	switch (c) {
	case PREDICT_OPT_KERNEL:
		p->o.kernel = arg;
		break;
	case PREDICT_OPT_CURRENT_KERNEL:
		p->o.current_kernel = arg;
		break;
	case PREDICT_OPT_INITRD:
		p->o.initrd = arg;
		break;
	case PREDICT_OPT_CURRENT_INITRD:
		p->o.current_initrd = arg;
		break;
	case PREDICT_OPT_CMDLINE:
		p->o.cmdline = arg;
		break;
	case PREDICT_OPT_BOOT_LOADER:
		p->o.boot_loader = arg;
		break;
	case PREDICT_OPT_CURRENT_BOOT_LOADER:
		p->o.current_boot_loader = arg;
		break;
	case PREDICT_OPT_EVENT_LOG:
		p->event_log = arg;
		break;
	case PREDICT_OPT_SHIM:
		p->shim = arg;
		break;
	case PREDICT_OPT_EFI_UPDATE:
	case PREDICT_OPT_EFI_REPLACE:
		/* VAR=FILE is split by predict_check, which may report usage errors. */
		if (p->n_efi < OYSTER_EFI_UPDATES_MAX)
			p->efi[p->n_efi] =
				(struct efi_update){ .file = arg,
						     .append = c == PREDICT_OPT_EFI_UPDATE };
		p->n_efi++;
		break;
	default:
		return 0;
	}
	return 1;
}

/* --efi-update VAR=FILE: VAR one of the Secure Boot databases, FILE the payload. */
static int check_efi(const char *cmd, struct efi_update *u)
{
	static const char *const names[] = { "PK", "KEK", "db", "dbx" };
	const char *opt = u->append ? "--efi-update" : "--efi-replace";

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);

		if (strncmp(u->file, names[i], n) || u->file[n] != '=')
			continue;
		if (!u->file[n + 1])
			break;
		u->var = names[i];
		u->file += n + 1;
		if (u->append && i == 0)
			return usage_error(cmd, "PK is replaced, never appended to: give "
						"--efi-replace PK=FILE");
		return 0;
	}
	return usage_error(cmd, "%s takes VAR=FILE with VAR one of PK, KEK, db, dbx, not '%s'", opt,
			   u->file);
}

int predict_check(const char *cmd, struct predict_args *p)
{
	struct utsname u;
	int r;

	if (p->o.current_kernel && !p->o.kernel)
		return usage_error(cmd, "--current-kernel needs --kernel");
	if (p->o.current_initrd && !p->o.initrd)
		return usage_error(cmd, "--current-initrd needs --initrd");
	if (!p->o.boot_loader != !p->o.current_boot_loader)
		return usage_error(cmd, "--boot-loader and --current-boot-loader go together");
	if (p->n_efi > OYSTER_EFI_UPDATES_MAX)
		return usage_error(cmd, "at most %u Secure Boot updates at once",
				   OYSTER_EFI_UPDATES_MAX);
	for (unsigned i = 0; i < p->n_efi; i++) {
		r = check_efi(cmd, &p->efi[i]);
		if (r)
			return r;
	}
	p->any = p->o.kernel || p->o.initrd || p->o.cmdline || p->o.boot_loader || p->n_efi ||
		 p->shim;
	if ((p->o.kernel && !p->o.current_kernel) || (p->o.initrd && !p->o.current_initrd)) {
		if (uname(&u) < 0)
			return usage_error(cmd,
					   "cannot tell the running kernel: give --current-kernel "
					   "and --current-initrd");
		snprintf(default_kernel, sizeof(default_kernel), "/boot/vmlinuz-%s", u.release);
		snprintf(default_initrd, sizeof(default_initrd), "/boot/initrd.img-%s", u.release);
		if (!p->o.current_kernel && p->o.kernel)
			p->o.current_kernel = default_kernel;
		if (!p->o.current_initrd && p->o.initrd)
			p->o.current_initrd = default_initrd;
	}
	return 0;
}

int cmd_predict(int argc, char **argv)
{
	static const struct option opts[] = {
		PREDICT_LONG_OPTIONS,
		{ "pcrs", required_argument, NULL, 'p' },
		{ "bank", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct predict_args p = { 0 };
	uint16_t bank = pcr_bank_from_name("sha256");
	uint32_t want = 0, changed, show;
	struct pcr_state next;
	struct tpm *t = NULL;
	char hex[2 * OYSTER_MAX_DIGEST + 1];
	const char *sep = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (predict_option(c, optarg, &p))
			continue;
		switch (c) {
		case 'p':
			if (pcr_parse_spec(optarg, &want) < 0)
				return usage_error("predict", "invalid PCR list '%s'", optarg);
			break;
		case 'b':
			bank = pcr_bank_from_name(optarg);
			if (!bank)
				return usage_error("predict", "unknown PCR bank '%s'", optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("predict", "unknown option");
		}
	}
	if (optind != argc)
		return usage_error("predict", "unexpected argument '%s'", argv[optind]);
	r = predict_check("predict", &p);
	if (r)
		return r;
	if (!p.any)
		return usage_error("predict", "say what the next boot changes: --kernel, --initrd, "
					      "--cmdline, --boot-loader, --efi-update, "
					      "--efi-replace or --shim");
	r = tpm_open(&t);
	if (r < 0)
		return exit_status(r);
	r = predict_state(t, bank, want, &p, &next, &changed);
	tpm_close(t);
	if (r < 0)
		return r == -ENODEV ? OYSTER_EXIT_NO_TPM : OYSTER_EXIT_FAILURE;
	show = want ? want : changed;
	if (!show) {
		fprintf(stderr, "The next boot measures the same values as this one: nothing to "
				"approve.\n");
		return OYSTER_EXIT_OK;
	}
	FOREACH_PCR_IN_MASK(pcr, show) {
		hex_encode(next.value[pcr], pcr_bank_digest_size(bank), hex, sizeof(hex));
		printf("%s%u:%s=%s", sep, pcr, pcr_bank_name(bank), hex);
		sep = ",";
	}
	printf("\n");
	return OYSTER_EXIT_OK;
}
