// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster unseal: the keyslot passphrase on stdout, for keyscripts. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ask.h"
#include "bootconf.h"
#include "cmd.h"
#include "log.h"
#include "luks.h"
#include "tpm.h"
#include "unlock.h"

static const char usage[] =
	"Usage: oyster unseal DEVICE [--token N] [--boot]\n\n"
	"Unseal the keyslot passphrase of DEVICE's oyster token with the TPM and write it,\n"
	"without a newline, to standard output, for keyscripts and 'cryptsetup --key-file=-'.\n"
	"Refuses to write to a terminal. Without --token, tries each oyster token in turn.\n"
	"A token with a PIN takes it from $PIN, or asks when standard input is a terminal.\n"
	"Exit status 3: the TPM refused (PCRs changed); 4: no TPM; 5: PIN needed or wrong;\n"
	"6: the TPM is locked out after too many wrong PINs.\n\n"
	"  --token N   use token N only\n"
	"  --boot      as the initramfs-tools keyscript runs it: the TPM of the boot settings\n"
	"              (oyster-prune(8): oyster.tcti=, oyster.timeout=), waited for that long\n"
	"              (not again once a volume found none); by default /dev/tpm0, then\n"
	"              /dev/tpmrm0; the TPM that answered is noted for the boot fence\n"
	"  -h, --help  show this help\n";

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Unseals device's token (token want when have_want, else each in turn) with
 * the TPM that OYSTER_TCTI names; the passphrase in *pass. Returns 0 or a
 * negative errno (-ENODEV: no TPM), each failure logged.
 */
static int unseal_tokens(const char *device, bool have_want, unsigned want, struct secret **pass)
{
	struct crypt_device *cd = NULL;
	struct secret *pin = NULL;
	struct token *tok = NULL;
	struct tpm *t = NULL;
	int id, parse_r, tried = 0, pin_r = 0;
	int r = -ENOENT;

	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	r = luks_open(device, &cd);
	if (r < 0)
		goto out;
	r = tpm_open(&t);
	if (r < 0)
		goto out;
	r = -ENOENT;
	for (id = luks_token_next(cd, have_want ? (int)want : 0, tok, &parse_r); id >= 0;
	     id = luks_token_next(cd, id + 1, tok, &parse_r)) {
		if (have_want && id != (int)want)
			break;
		tried++;
		if (parse_r < 0) {
			log_err("Token %d is malformed; wipe it and enroll again.", id);
			r = parse_r;
			continue;
		}
		if (tok->pin && !pin) {
			/* Asking for a PIN the TPM will not even check sends the user round in circles. */
			if (tpm_locked_out(t)) {
				log_err("The TPM is locked out after too many wrong PINs; unlock with the passphrase.");
				r = pin_r = -EBUSY;
				continue;
			}
			r = ask_pin(device, &pin);
			if (r == -ENOKEY)
				log_err("Token %d needs a PIN: set $PIN, or run on a terminal.",
					id);
			if (r < 0) {
				pin_r = r;
				continue;
			}
		}
		r = unlock_with_pin(t, tok, tok->pin ? pin : NULL, pass);
		if (r == 0 || r == -ENODEV)
			break;
		if (r == -ENOKEY || r == -EACCES || r == -EBUSY)
			pin_r = r;
	}
	/* What the caller can act on first: a PIN to give (again), or a lockout to wait out. */
	if (r < 0 && r != -ENODEV && pin_r < 0)
		r = pin_r;
	if (!tried) {
		if (have_want)
			log_err("%s has no oyster token %u; see oyster status.", device, want);
		else
			log_err("%s has no oyster token; enroll it first with oyster enroll.",
				device);
		r = -ENOENT;
	}
out:
	secret_free(pin);
	tpm_close(t);
	crypt_free(cd);
	free(tok);
	return r;
}

static bool is_chr(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

/* The first of paths that is a character device before seconds pass (polled: udev may be late). */
static const char *wait_for_tpm(const char *const *paths, unsigned seconds)
{
	for (unsigned tick = 0;; tick++) {
		for (const char *const *p = paths; *p; p++)
			if (is_chr(*p))
				return *p;
		if (tick >= seconds * 10)
			return NULL;
		usleep(100000);
	}
}

/* A TPM that did not show up for one volume is not waited for again in this boot. */
static int no_tpm(const char *path, unsigned waited)
{
	int fd;

	if (getenv("rootmnt"))
		(void)mkdir(OYSTER_RUNDIR, 0755);
	fd = open(OYSTER_RUNDIR "/no-tpm", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	log_err("No TPM found (waited %us for %s).", waited, path);
	return -ENODEV;
}

/* Unseals with tcti as OYSTER_TCTI ("": oyster's own choice). */
static int unseal_with(const char *tcti, const char *device, bool have_want, unsigned want,
		       struct secret **pass)
{
	if (*tcti)
		setenv("OYSTER_TCTI", tcti, 1);
	else
		unsetenv("OYSTER_TCTI");
	return unseal_tokens(device, have_want, want, pass);
}

/*
 * --boot, for the initramfs-tools keyscript: the TPM of the boot settings,
 * waited for as long as they say (not at all once a volume found none);
 * by default /dev/tpm0 itself when it is there (nothing else talks to the
 * TPM this early, and the kernel's resource manager would swap contexts
 * around every command), then /dev/tpmrm0. In the initramfs, the TPM that
 * answered goes to /run/oyster/tcti for the boot fence.
 */
static int boot_unseal(const char *device, bool have_want, unsigned want, struct secret **pass)
{
	static const char *const any[] = { "/dev/tpm0", "/dev/tpmrm0", NULL };
	struct bootconf conf;
	const char *one[2] = { NULL, NULL }, *used = "";
	unsigned wait;
	int r;

	bootconf_read(&conf, false);
	bootconf_export(&conf);
	wait = access(OYSTER_RUNDIR "/no-tpm", F_OK) == 0 ? 0 : conf.timeout;
	if (!*conf.tcti) {
		if (!wait_for_tpm(any, wait))
			return no_tpm("/dev/tpm0", wait);
		if (is_chr("/dev/tpm0")) {
			used = "device:/dev/tpm0";
			r = unseal_with(used, device, have_want, want, pass);
			if (r == -ENODEV && is_chr("/dev/tpmrm0")) {
				used = "device:/dev/tpmrm0";
				r = unseal_with(used, device, have_want, want, pass);
			}
		} else {
			r = unseal_with("", device, have_want, want, pass);
		}
	} else {
		if (!strncmp(conf.tcti, "device:", 7)) {
			one[0] = conf.tcti[7] ? conf.tcti + 7 : "/dev/tpm0";
			if (!wait_for_tpm(one, wait))
				return no_tpm(one[0], wait);
		}
		used = conf.tcti;
		r = unseal_with(used, device, have_want, want, pass);
	}
	if (r != -ENODEV && *used && getenv("rootmnt")) {
		FILE *f = fopen(OYSTER_RUNDIR "/tcti", "we");

		if (f) {
			fprintf(f, "%s\n", used);
			fclose(f);
		}
	}
	return r;
}

int cmd_unseal(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "boot", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct secret *pass = NULL;
	unsigned want = 0;
	bool have_want = false, boot = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_uint(optarg, 31, &want))
				return usage_error("unseal", "invalid token id '%s'", optarg);
			have_want = true;
			break;
		case 'b':
			boot = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("unseal", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("unseal", "expected exactly one DEVICE");
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "Refusing to print the passphrase on a terminal; pipe it into the "
				"command that needs it.\n");
		return OYSTER_EXIT_USAGE;
	}
	r = boot ? boot_unseal(argv[optind], have_want, want, &pass)
		 : unseal_tokens(argv[optind], have_want, want, &pass);
	if (r == 0)
		r = write_all(STDOUT_FILENO, pass->data, pass->len);
	secret_free(pass);
	return exit_status(r);
}
