// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster's verb table (dispatch and --help from one list) and exit codes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cmd.h"
#include "log.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "enroll", cmd_enroll, "Seal a new secret in the TPM and add it as a keyslot and token" },
	{ "status", cmd_status, "Show tokens, bound PCRs and whether the TPM would unlock now" },
	{ "reseal", cmd_reseal,
	  "Seal the secret again for the PCRs of now (or approve more states)" },
	{ "predict", cmd_predict, "Print the PCR values of the next boot after an update" },
	{ "wipe", cmd_wipe, "Remove oyster tokens and their keyslots" },
	{ "unseal", cmd_unseal, "Print the keyslot passphrase for a keyscript" },
	{ "pcrs", cmd_pcrs, "Show the current PCR values with their names" },
	{ "prune", cmd_prune, "Narrow tokens to the state of this boot (after a boot)" },
	{ "fence", cmd_fence, "Extend the fence PCR so that --fence tokens close until reboot" },
	{ "boot-setup", cmd_boot_setup, "Show or do what the initramfs needs to unlock a volume" },
	{ "list", cmd_list, "List the oyster tokens of the volumes in crypttab (for hooks)" },
	{ "tpm-setup", cmd_tpm_setup,
	  "Report the TPM's lockout state; set its lockout authorization" },
};

bool debug_enabled(void)
{
	const char *debug = getenv("OYSTER_DEBUG");

	return debug && *debug && strcmp(debug, "0");
}

static void tool_log(int level, const char *msg, void *data)
{
	if (level == OYSTER_LOG_DEBUG && !debug_enabled())
		return;
	fprintf(stderr, "%s\n", msg);
}

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: oyster COMMAND [OPTIONS]\n"
		   "       oyster --help | --version\n\n"
		   "Unlock LUKS2 volumes with a TPM 2.0.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun 'oyster COMMAND --help' for a command's options; 'oyster --version' prints\n"
		   "the version (the token plugin reports the same one to libcryptsetup).\n"
		   "Environment: OYSTER_TCTI selects the TPM (default device:/dev/tpmrm0, then "
		   "device:/dev/tpm0;\n"
		   "in an initramfs device:/dev/tpm0, then device:/dev/tpmrm0);\n"
		   "OYSTER_DEBUG=1 prints TPM details; OYSTER_TPM_TIMEOUT=SECONDS bounds each wait "
		   "for\n"
		   "the TPM (default 10).\n"
		   "Exit status: 0 success, 1 failure, 2 usage error, 3 the TPM refused (measured "
		   "state\n"
		   "changed), 4 no TPM reachable, 5 PIN needed or wrong, 6 TPM locked out.\n");
}

int exit_status(int r)
{
	switch (r) {
	case 0:
		return OYSTER_EXIT_OK;
	case -EPERM:
		return OYSTER_EXIT_REFUSED;
	case -ENODEV:
		return OYSTER_EXIT_NO_TPM;
	case -ENOKEY:
	case -EACCES:
		return OYSTER_EXIT_PIN;
	case -EBUSY:
		return OYSTER_EXIT_LOCKOUT;
	default:
		return OYSTER_EXIT_FAILURE;
	}
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "oyster %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'oyster %s --help').\n", cmd);
	return OYSTER_EXIT_USAGE;
}

bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

int main(int argc, char **argv)
{
	/* Secrets pass through this process: no core dumps of it. */
	struct rlimit no_core = { 0, 0 };

	setrlimit(RLIMIT_CORE, &no_core);
	log_set(tool_log, NULL);
	/* The TSS library's own log lines only for debugging: oyster says the same in one line. */
	if (debug_enabled())
		setenv("TSS2_LOG", "all+warning", 0);

	if (argc < 2) {
		show_usage(stderr);
		return OYSTER_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    (!strcmp(argv[1], "help") && argc == 2)) {
		show_usage(stdout);
		return OYSTER_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("oyster %s\n", OYSTER_VERSION);
		return OYSTER_EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		char *sub[] = { argv[2], "--help", NULL };

		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[2], commands[i].name))
				return commands[i].fn(2, sub);
		fprintf(stderr, "oyster: unknown command '%s' (see 'oyster --help').\n", argv[2]);
		return OYSTER_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "oyster: unknown command '%s' (see 'oyster --help').\n", argv[1]);
	return OYSTER_EXIT_USAGE;
}
