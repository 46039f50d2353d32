// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster unseal: the keyslot passphrase on stdout, for keyscripts. */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ask.h"
#include "cmd.h"
#include "log.h"
#include "luks.h"
#include "tpm.h"
#include "unlock.h"

static const char usage[] =
	"Usage: oyster unseal DEVICE [--token N]\n\n"
	"Unseal the keyslot passphrase of DEVICE's oyster token with the TPM and write it,\n"
	"without a newline, to standard output, for keyscripts and 'cryptsetup --key-file=-'.\n"
	"Refuses to write to a terminal. Without --token, tries each oyster token in turn.\n"
	"A token with a PIN takes it from $PIN, or asks when standard input is a terminal.\n"
	"Exit status 3: the TPM refused (PCRs changed); 4: no TPM; 5: PIN needed or wrong;\n"
	"6: the TPM is locked out after too many wrong PINs.\n\n"
	"  --token N   use token N only\n"
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

int cmd_unseal(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct crypt_device *cd = NULL;
	struct secret *pass = NULL, *pin = NULL;
	struct token *tok = NULL;
	struct tpm *t = NULL;
	unsigned want = 0;
	bool have_want = false;
	int c, id, parse_r, tried = 0, pin_r = 0;
	int r = -ENOENT;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_uint(optarg, 31, &want))
				return usage_error("unseal", "invalid token id '%s'", optarg);
			have_want = true;
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
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return OYSTER_EXIT_FAILURE;
	r = luks_open(argv[optind], &cd);
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
			r = ask_pin(argv[optind], &pin);
			if (r == -ENOKEY)
				log_err("Token %d needs a PIN: set $PIN, or run on a terminal.",
					id);
			if (r < 0) {
				pin_r = r;
				continue;
			}
		}
		r = unlock_with_pin(t, tok, tok->pin ? pin : NULL, &pass);
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
			log_err("%s has no oyster token %u; see oyster status.", argv[optind],
				want);
		else
			log_err("%s has no oyster token; enroll it first with oyster enroll.",
				argv[optind]);
		r = -ENOENT;
	}
	if (r == 0)
		r = write_all(STDOUT_FILENO, pass->data, pass->len);
out:
	secret_free(pass);
	secret_free(pin);
	tpm_close(t);
	crypt_free(cd);
	free(tok);
	return exit_status(r);
}
