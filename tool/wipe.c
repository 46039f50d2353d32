// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster wipe: remove tokens and the keyslots only they use. */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approve.h"

#include "cmd.h"
#include "log.h"
#include "luks.h"
#include "recovery.h"
#include "tpm.h"

static const char usage[] =
	"Usage: oyster wipe DEVICE (--token N | --all | --recovery) [--force]\n\n"
	"Remove oyster tokens from DEVICE together with the keyslots they unlock (a keyslot\n"
	"that another token still uses is kept). Refuses when no keyslot a person can open (a\n"
	"passphrase or a recovery key) would remain, since the volume could then only be opened\n"
	"by the TPM, or not at all. An authorized token's NV index and its credential go with\n"
	"it, unless another token of DEVICE names the same index.\n\n"
	"  --token N   remove token N\n"
	"  --all       remove every oyster-tpm2 token\n"
	"  --recovery  remove the recovery keys that oyster enroll added\n"
	"  --force     remove even when no passphrase or recovery keyslot would remain\n"
	"  -h, --help  show this help\n";

/* The keyslots wipe_recovery() would remove: marked, active, and opened by no other token. */
static int recovery_slots(struct crypt_device *cd)
{
	time_t created;
	int id, slot, n = 0;

	for (id = recovery_token_next(cd, 0, &slot, &created); id >= 0;
	     id = recovery_token_next(cd, id + 1, &slot, &created)) {
		crypt_keyslot_info ki =
			slot >= 0 ? crypt_keyslot_status(cd, slot) : CRYPT_SLOT_INVALID;

		if ((ki == CRYPT_SLOT_ACTIVE || ki == CRYPT_SLOT_ACTIVE_LAST) &&
		    luks_keyslot_token_count(cd, slot, id) == 0)
			n++;
	}
	return n;
}

/* Every recovery key: its token, then its keyslot. Returns how many were removed. */
static int wipe_recovery(struct crypt_device *cd, const char *device, bool force)
{
	time_t created;
	int id, slot, slot_r, r, removed = 0;

	if (!force && luks_count_passphrase_keyslots(cd, -1) - recovery_slots(cd) <= 0) {
		log_err("%s has no passphrase keyslot besides its recovery keys; after the wipe "
			"only the TPM could open it, or nothing. Add a passphrase first "
			"(cryptsetup luksAddKey), or use --force.",
			device);
		return -EPERM;
	}
	for (id = recovery_token_next(cd, 0, &slot, &created); id >= 0;
	     id = recovery_token_next(cd, id + 1, &slot, &created)) {
		r = luks_token_drop(cd, id, slot, -1, &slot_r);
		if (r < 0)
			return r;
		if (slot_r < 0)
			return slot_r;
		if (slot_r > 0) {
			printf("Removed the recovery key in keyslot %d (token %d).\n", slot, id);
		} else {
			printf("Removed token %d (its keyslot is still used by another token).\n",
			       id);
		}
		removed++;
	}
	if (!removed) {
		log_err("%s has no recovery key; see oyster status.", device);
		return -ENOENT;
	}
	return removed;
}

/* Whether a token of cd other than skip names index. */
static bool index_shared(struct crypt_device *cd, int skip, const struct token *tok)
{
	struct token *other = calloc(1, sizeof(*other));
	bool shared = !other;
	int id, parse_r;

	for (id = luks_token_next(cd, 0, other, &parse_r); other && id >= 0 && !shared;
	     id = luks_token_next(cd, id + 1, other, &parse_r))
		shared = id != skip && parse_r == 0 && token_shares_index(tok, other);
	free(other);
	return shared;
}

/* After its token is gone: the NV index and the credential, when nothing else names them. */
static void forget_index(struct crypt_device *cd, struct tpm **t, int id, const struct token *tok)
{
	int r;

	if (index_shared(cd, id, tok)) {
		printf("Kept NV index 0x%08x: another token of this volume names it.\n",
		       tok->nv_index);
		return;
	}
	r = *t ? 0 : tpm_open(t);
	if (r == 0)
		r = approve_forget(*t, tok);
	if (r == 0)
		printf("Undefined NV index 0x%08x of token %d and removed its credential.\n",
		       tok->nv_index, id);
	else
		fprintf(stderr,
			"Warning: NV index 0x%08x of token %d is still defined (%s); it holds no "
			"secret: remove it with tpm2_nvundefine 0x%08x once no copy of this header "
			"is in use.\n",
			tok->nv_index, id, r == -ENODEV ? "no TPM" : strerror(-r), tok->nv_index);
}

int cmd_wipe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' }, { "all", no_argument, NULL, 'a' },
		{ "recovery", no_argument, NULL, 'R' },	   { "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },	   {},
	};
	struct crypt_device *cd = NULL;
	struct token *tok = NULL;
	struct tpm *t = NULL;
	bool all = false, force = false, have_want = false, recovery = false;
	unsigned want = 0;
	int c, id, parse_r, removed = 0;
	int r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_uint(optarg, 31, &want))
				return usage_error("wipe", "invalid token id '%s'", optarg);
			have_want = true;
			break;
		case 'a':
			all = true;
			break;
		case 'R':
			recovery = true;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("wipe", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("wipe", "expected exactly one DEVICE");
	if (all + have_want + recovery != 1)
		return usage_error("wipe", "give one of --token N, --all or --recovery");
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return OYSTER_EXIT_FAILURE;
	r = luks_open(argv[optind], &cd);
	if (r == 0)
		r = luks_header_consistent(cd);
	if (r < 0)
		goto out;
	if (recovery) {
		r = wipe_recovery(cd, argv[optind], force);
		r = r < 0 ? r : 0;
		goto out;
	}
	/* wipe only removes keyslots bound to tokens: the passphrase keyslots it leaves are those
	 * of now. */
	if (!force && luks_count_passphrase_keyslots(cd, -1) == 0) {
		log_err("%s has no passphrase or recovery keyslot; after the wipe only the TPM "
			"could open it, or nothing. Add a passphrase first (cryptsetup "
			"luksAddKey), or use "
			"--force.",
			argv[optind]);
		r = -EPERM;
		goto out;
	}
	for (id = luks_token_next(cd, have_want ? (int)want : 0, tok, &parse_r); id >= 0;
	     id = luks_token_next(cd, id + 1, tok, &parse_r)) {
		int slot = tok->keyslot, slot_r;
		bool authorized = parse_r == 0 && token_authorized(tok);

		if (have_want && id != (int)want)
			break;
		r = luks_token_drop(cd, id, slot, -1, &slot_r);
		if (r == 0 && slot_r < 0)
			r = slot_r;
		if (r < 0)
			goto out;
		if (slot_r > 0) {
			printf("Removed token %d and keyslot %d.\n", id, slot);
		} else {
			printf("Removed token %d (its keyslot is still used by another token).\n",
			       id);
		}
		if (authorized)
			forget_index(cd, &t, id, tok);
		removed++;
		if (have_want)
			break;
	}
	r = 0;
	if (!removed) {
		if (have_want)
			log_err("%s has no oyster token %u; see oyster status.", argv[optind],
				want);
		else
			log_err("%s has no oyster token.", argv[optind]);
		r = -ENOENT;
	}
out:
	tpm_close(t);
	crypt_free(cd);
	free(tok);
	return r == -EPERM ? OYSTER_EXIT_FAILURE : exit_status(r);
}
