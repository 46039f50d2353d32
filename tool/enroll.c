// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster enroll: seal a new key to the TPM and add it as a keyslot and token. */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ask.h"
#include "cmd.h"
#include "device.h"
#include "approve.h"
#include "predict.h"
#include "states.h"
#include "encode.h"
#include "lockout.h"
#include "log.h"
#include "luks.h"
#include "pin.h"
#include "recovery-key.h"
#include "tpm.h"
#include "unlock.h"
#include "volume.h"

static const char usage[] =
	"Usage: oyster enroll DEVICE [--pcrs SPEC] [--bank BANK] [--key-file FILE] [--pin]\n"
	"                            [--fence[=PCR]] [--replace] [--configure-boot] [--literal]\n"
	"                            [--recovery-key [--recovery-key-file FILE] [--tpm]]\n\n"
	"Seal a new random secret in the TPM, bound to the current values of the chosen PCRs,\n"
	"and add it to DEVICE (a LUKS2 block device, image file or UUID=...) as a new keyslot\n"
	"with an oyster-tpm2 token. An existing passphrase authorizes it.\n\n"
	"  --pcrs SPEC      PCRs to bind, e.g. 7, 0+2+4+7, 0,7 or secure-boot-policy (default 7)\n"
	"  --bank BANK      PCR bank: sha256 (default), sha1, sha384, sha512, sm3_256\n"
	"  --key-file FILE  read the existing passphrase from FILE ('-' for stdin) instead of\n"
	"                   $PASSWORD or a prompt\n"
	"  --pin            also require a PIN (from $NEWPIN, or typed twice); the TPM counts\n"
	"                   wrong PINs and locks out after too many\n"
	"  --fence[=PCR]    also bind to the fence PCR (default 15) at its reset value, so that\n"
	"                   the token closes once the boot integrations extend it (oyster fence)\n"
	"  --replace        after the new token works, remove the other oyster tokens and "
	"keyslots\n"
	"                   (with --pin: how to change the PIN)\n"
	"  --configure-boot then make the initramfs unlock DEVICE at boot (oyster boot-setup);\n"
	"                   for the volume of the root file system this implies --fence\n"
	"  --no-fence       not even then\n"
	"  --recovery-key   add a keyslot for a generated recovery key instead (256 bits, typed\n"
	"                   as 8 groups of 8 letters), shown once on the terminal with a QR code\n"
	"  --recovery-key-file FILE  write it to FILE (created 0600; '-' for stdout) instead\n"
	"  --tpm            with --recovery-key: enroll the TPM too (implied by --pcrs, --bank,\n"
	"                   --pin, --fence, --replace, --configure-boot and --literal)\n"
	"  --literal        seal to the PCR values themselves (token version 1), even when the\n"
	"                   TPM could hold the approved states in an NV index (the default:\n"
	"                   later approvals then need no secret and revoke older ones)\n"
	"  -h, --help       show this help\n";

struct enroll_args {
	const char *device;
	const char *key_file;
	uint32_t mask;
	uint16_t bank;
	bool replace;
	bool pin;
	int fence; /* the fence PCR, or -1 */
	bool configure_boot;
	bool no_fence;
	bool tpm;      /* a TPM token is enrolled */
	bool recovery; /* a recovery key is added */
	const char *recovery_file;
	bool literal;
};

static int parse_args(int argc, char **argv, struct enroll_args *a)
{
	static const struct option opts[] = {
		{ "pcrs", required_argument, NULL, 'p' },
		{ "bank", required_argument, NULL, 'b' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "replace", no_argument, NULL, 'r' },
		{ "pin", no_argument, NULL, 'P' },
		{ "fence", optional_argument, NULL, 'F' },
		{ "configure-boot", no_argument, NULL, 'C' },
		{ "no-fence", no_argument, NULL, 'N' },
		{ "recovery-key", no_argument, NULL, 'R' },
		{ "recovery-key-file", required_argument, NULL, 'W' },
		{ "tpm", no_argument, NULL, 'T' },
		{ "literal", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool tpm_option = false;
	int c;

	a->mask = 1u << 7;
	a->fence = -1;
	a->bank = pcr_bank_from_name("sha256");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		tpm_option |= strchr("pbrPFCNTL", c) != NULL;
		switch (c) {
		case 'p':
			if (pcr_parse_spec(optarg, &a->mask) < 0)
				return usage_error("enroll",
						   "invalid PCR list '%s'; use numbers 0-23 or "
						   "names joined by '+' or ','",
						   optarg);
			break;
		case 'b':
			a->bank = pcr_bank_from_name(optarg);
			if (!a->bank)
				return usage_error("enroll", "unknown PCR bank '%s'", optarg);
			break;
		case 'k':
			a->key_file = optarg;
			break;
		case 'r':
			a->replace = true;
			break;
		case 'P':
			a->pin = true;
			break;
		case 'F': {
			unsigned pcr = OYSTER_FENCE_PCR;

			if (optarg && !parse_uint(optarg, OYSTER_PCR_COUNT - 1, &pcr))
				return usage_error("enroll", "invalid fence PCR '%s'", optarg);
			a->fence = (int)pcr;
			break;
		}
		case 'C':
			a->configure_boot = true;
			break;
		case 'N':
			a->no_fence = true;
			break;
		case 'R':
			a->recovery = true;
			break;
		case 'W':
			a->recovery = true;
			a->recovery_file = optarg;
			break;
		case 'T':
			break;
		case 'L':
			a->literal = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return usage_error("enroll", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("enroll", "expected exactly one DEVICE");
	a->device = argv[optind];
	a->tpm = !a->recovery || tpm_option;
	return 0;
}

static void warn_trivial(const struct token *tok, int fence)
{
	size_t size = pcr_bank_digest_size(tok->bank);

	FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask)
		if ((int)pcr != fence && pcr_value_is_trivial(tok->states[0].value[pcr], size))
			fprintf(stderr,
				"Warning: PCR %u (%s) reads all %s: nothing was measured into it, "
				"so binding to it protects nothing.\n",
				pcr, pcr_description(pcr),
				tok->states[0].value[pcr][0] ? "ones" : "zeros");
}

/*
 * Everything but the TPM blobs: today's PCR values (lib/states.c), the
 * policy, the PIN's parameters. *fenced tells that the fence PCR is
 * extended now, so the token cannot be proven before a reboot.
 */
static int token_init(struct tpm *t, const struct enroll_args *a, struct token *tok, bool *fenced)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	struct pcr_state now;
	unsigned n;
	int r;

	tok->version = OYSTER_TOKEN_VERSION;
	tok->created = time(NULL);
	if (a->pin) {
		tok->pin = true;
		tok->pin_salt_len = OYSTER_PIN_SALT_SIZE;
		tok->pin_iterations = OYSTER_PIN_ITERATIONS;
		if (getrandom(tok->pin_salt, tok->pin_salt_len, 0) != (ssize_t)tok->pin_salt_len)
			return -errno;
	}
	r = tpm_pcr_read(t, a->bank, a->mask | (a->fence >= 0 ? 1u << a->fence : 0), &now);
	if (r < 0)
		return r;
	states_init(tok, a->bank, a->mask, a->fence, &now, tok->created, fenced);
	warn_trivial(tok, a->fence);
	predict_record_events(NULL, tok, &tok->states[0], token_fence_pcrs(tok));
	return token_policy(tok, branches, &n, tok->policy);
}

/* Removes every oyster token but keep_id, and their keyslots but keep_slot (and NV indexes). */
static void remove_others(struct tpm *t, struct crypt_device *cd, int keep_id, int keep_slot)
{
	struct token *old = calloc(1, sizeof(*old));
	int id, parse_r;

	if (!old)
		return;
	for (id = luks_token_next(cd, 0, old, &parse_r); id >= 0;
	     id = luks_token_next(cd, id + 1, old, &parse_r)) {
		int slot = old->keyslot, slot_r;

		if (id == keep_id)
			continue;
		if (luks_token_drop(cd, id, slot, keep_slot, &slot_r) < 0)
			continue;
		/* Its NV index is its own: nothing else can use it once the token is gone. */
		if (parse_r == 0 && token_authorized(old) && approve_forget(t, old) < 0)
			fprintf(stderr,
				"Warning: could not undefine NV index 0x%08x of token %d.\n",
				old->nv_index, id);
		if (slot_r > 0)
			printf("Replaced token %d (keyslot %d).\n", id, slot);
		else
			printf("Replaced token %d (its keyslot %d is kept).\n", id, slot);
	}
	free(old);
}

/* The TPM side before the passphrase is asked: a missing TPM must not cost a prompt. */
static int tpm_prepare(struct enroll_args *a, struct crypt_device *cd, struct tpm **t,
		       struct token *tok, bool *fenced)
{
	int r = tpm_open(t);

	if (r < 0)
		return r;
	/*
	 * The initramfs unlocks the volume that holds the root file system: with
	 * --configure-boot its token is fenced unless told otherwise. (A volume
	 * unlocked after the initramfs must not be: the fence is up by then.)
	 */
	if (a->configure_boot && a->fence < 0 && !a->no_fence && device_backs_root(crypt_get_device_name(cd))) {
		a->fence = OYSTER_FENCE_PCR;
		printf("%s holds the root file system: binding the token to the boot fence (PCR "
		       "%d) too; --no-fence not to.\n",
		       a->device, OYSTER_FENCE_PCR);
	}
	return token_init(*t, a, tok, fenced);
}

static int tpm_enroll(const struct enroll_args *a, struct tpm *t, struct crypt_device *cd,
		      struct token *tok, const struct secret *vk, bool fenced)
{
	struct secret *pin = NULL, *auth = NULL;
	struct tpm_state st;
	char spec[128];
	int id, r;

	if (a->pin) {
		r = ask_new_pin(&pin);
		if (r == 0)
			r = pin_auth_value(tok, (const char *)pin->data, pin->len, &auth);
		if (r < 0)
			goto out;
	}
	if (!a->literal) {
		r = approve_setup(t, cd, tok);
		if (r < 0)
			printf("Literal mode (approvals will need the secret or the passphrase): "
			       "%s.\n",
			       approve_fallback_reason(r));
	}
	id = volume_add(t, cd, tok, vk, pin, auth, !fenced);
	if (id < 0) {
		if (token_authorized(tok) && approve_forget(t, tok) == 0)
			approve_settle(tok);
		r = id;
		goto out;
	}
	if (token_authorized(tok))
		approve_settle(tok);
	if (fenced)
		printf("PCR %d is extended already (by the boot fence): the new token will first "
		       "work at the next boot.\n",
		       a->fence);
	if (a->replace)
		remove_others(t, cd, id, tok->keyslot);
	pcr_format_spec(a->mask, spec, sizeof(spec));
	if (a->fence >= 0)
		printf("Enrolled token %d (keyslot %d), bound to PCRs %s of the %s bank, to the "
		       "boot fence (PCR %d at its reset value)%s.\n",
		       id, tok->keyslot, spec, pcr_bank_name(a->bank), a->fence,
		       a->pin ? " and a PIN" : "");
	else
		printf("Enrolled token %d (keyslot %d), bound to PCRs %s of the %s bank%s.\n", id,
		       tok->keyslot, spec, pcr_bank_name(a->bank), a->pin ? " and a PIN" : "");
	if (token_authorized(tok))
		printf("Approved states are kept in NV index 0x%08x; oyster reseal approves more "
		       "without the secret.\n",
		       tok->nv_index);
	if (a->pin && tpm_state_read(t, &st) == 0 && !st.lockout_auth_set)
		printf("Recommended: oyster tpm-setup --lockout-auth (while the TPM's lockout "
		       "authorization is empty, anyone can reset its count of wrong PINs).\n");
	r = 0;
out:
	secret_free(pin);
	secret_free(auth);
	return r;
}

int cmd_enroll(int argc, char **argv)
{
	struct enroll_args a = { 0 };
	struct recovery_out rout = { .fd = -1 };
	struct crypt_device *cd = NULL;
	struct secret *old = NULL, *vk = NULL;
	struct token *tok = NULL;
	struct tpm *t = NULL;
	bool bad_passphrase = false, fenced = false;
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r < 0 ? OYSTER_EXIT_OK : r;
	/* Where the recovery key goes is settled before anything changes. */
	if (a.recovery && recovery_out_open(&rout, a.recovery_file) < 0)
		return a.recovery_file ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_USAGE;
	tok = calloc(1, sizeof(*tok));
	if (!tok) {
		r = -ENOMEM;
		goto out;
	}

	r = luks_open(a.device, &cd);
	if (r == 0)
		r = luks_header_consistent(cd);
	if (r == 0 && a.tpm)
		r = tpm_prepare(&a, cd, &t, tok, &fenced);
	if (r < 0)
		goto out;

	r = ask_passphrase(a.key_file, a.device, &old);
	if (r < 0)
		goto out;
	r = luks_volume_key_get(cd, old, &vk);
	secret_free(old);
	old = NULL;
	if (r < 0) {
		bad_passphrase = true;
		goto out;
	}
	if (a.tpm) {
		r = tpm_enroll(&a, t, cd, tok, vk, fenced);
		if (r < 0)
			goto out;
	}
	if (a.recovery) {
		r = recovery_enroll(cd, a.device, vk, &rout);
		if (r < 0)
			goto out;
	}
	r = a.tpm && boot_after_enroll(a.device, a.configure_boot) < 0 ? -EIO : 0;
out:
	if (a.recovery)
		recovery_out_close(&rout, r < 0 || bad_passphrase);
	secret_free(old);
	secret_free(vk);
	tpm_close(t);
	crypt_free(cd);
	free(tok);
	/* Exit 3, 5 and 6 describe an unlock; here only a missing TPM has its own. */
	if (r == -ENODEV)
		return OYSTER_EXIT_NO_TPM;
	return r < 0 || bad_passphrase ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
}
