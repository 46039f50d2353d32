// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Re-seal a token to today's PCR values (and pre-approved future ones).
 * While the token still unseals, the same secret is sealed again and the
 * token replaced in place: one header write, the keyslot untouched, so a
 * crash leaves the old token or the new one, each working. When it no
 * longer unseals, the passphrase authorizes a fresh secret in a new keyslot
 * and the old token and keyslot go only after the new ones are proven.
 */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ask.h"
#include "cmd.h"
#include "encode.h"
#include "fallback.h"
#include "log.h"
#include "luks.h"
#include "pin.h"
#include "approve.h"
#include "predict-args.h"
#include "states.h"
#include "tpm.h"
#include "unlock.h"
#include "volume.h"

static const char usage[] =
	"Usage: oyster reseal DEVICE [--token N] [--add-state SPEC] [--next-boot] [--prune]\n"
	"                            [--predict [--kernel NEW] [--initrd NEW] ...] [--key-file "
	"FILE]\n"
	"                            [--unattended | --after-fallback]\n\n"
	"Approve the PCR values of now. An authorized token (the default since token version 2)\n"
	"is approved through its NV index, with no secret and no passphrase. A literal one is\n"
	"sealed again and replaced in place (its keyslot is kept); when the TPM no longer\n"
	"unseals it, an existing passphrase (--key-file, $PASSWORD or a prompt) authorizes a\n"
	"fresh secret in a new keyslot, and the old token and keyslot are removed once the new\n"
	"ones work. A PIN comes from $PIN or a prompt.\n\n"
	"  --token N          the oyster token to reseal (needed when there are several)\n"
	"  --add-state SPEC   keep the approved states and approve one more: today's values with\n"
	"                     some replaced, SPEC = PCR:BANK=HEX[,PCR:BANK=HEX...] (at most 64\n"
	"                     states, 8 for a literal token)\n"
	"  --predict          keep the approved states and approve the next boot's as oyster\n"
	"                     predict computes it from the event log, with these "
	"options:\n" PREDICT_USAGE
	"  --prune            keep only the state of now (what the machine booted with) and a\n"
	"                     next-boot approval for a boot still to come; writes nothing when\n"
	"                     that is all the token holds\n"
	"  --next-boot        also approve the next boot, whatever it measures (a firmware "
	"update);\n"
	"                     bound to the TPM's reset count, so it cannot be used on a later "
	"boot\n"
	"  --key-file FILE    the existing passphrase, when one is needed\n"
	"  --unattended       never ask (for hooks): when the token does not unseal now, or\n"
	"                     needs a PIN that $PIN does not give, change nothing and fail\n"
	"  --after-fallback   --unattended, and keep the approved states and approve this boot\n"
	"                     even if the token did not: only when the initramfs recorded\n"
	"                     that the TPM did not open DEVICE in this boot\n"
	"                     (" OYSTER_FALLBACK_RECORD ") and DEVICE is open, so its passphrase\n"
	"                     or a recovery key opened it (OYSTER_AUTO_REPAIR; authorized tokens)\n"
	"  -h, --help         show this help\n\n"
	"PCRs bound to their reset value (the boot fence) stay bound to it.\n";

struct reseal_args {
	const char *device;
	const char *key_file;
	const char *add_state;
	bool prune;
	bool next_boot;
	bool unattended;
	bool after_fallback;
	bool predict;
	struct predict_args pred;
	bool have_token;
	unsigned token;
};

static int parse_args(int argc, char **argv, struct reseal_args *a)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "add-state", required_argument, NULL, 'a' },
		{ "prune", no_argument, NULL, 'p' },
		{ "next-boot", no_argument, NULL, 'n' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "unattended", no_argument, NULL, 'u' },
		{ "after-fallback", no_argument, NULL, 'F' },
		{ "predict", no_argument, NULL, 'P' },
		PREDICT_LONG_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (predict_option(c, optarg, &a->pred))
			continue;
		switch (c) {
		case 't':
			if (!parse_uint(optarg, 31, &a->token))
				return usage_error("reseal", "invalid token id '%s'", optarg);
			a->have_token = true;
			break;
		case 'a':
			a->add_state = optarg;
			break;
		case 'p':
			a->prune = true;
			break;
		case 'n':
			a->next_boot = true;
			break;
		case 'k':
			a->key_file = optarg;
			break;
		case 'u':
			a->unattended = true;
			break;
		case 'F':
			a->after_fallback = a->unattended = true;
			break;
		case 'P':
			a->predict = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return usage_error("reseal", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("reseal", "expected exactly one DEVICE");
	if (a->prune && (a->add_state || a->next_boot || a->predict))
		return usage_error("reseal",
				   "--prune contradicts --add-state, --next-boot and --predict");
	if (a->after_fallback && (a->prune || a->add_state || a->next_boot || a->predict))
		return usage_error(
			"reseal", "--after-fallback approves the state of now and nothing else; it "
				  "contradicts --prune, --add-state, --next-boot and --predict");
	c = predict_check("reseal", &a->pred);
	if (c)
		return c;
	if (a->pred.any != a->predict || (a->pred.event_log && !a->predict))
		return usage_error("reseal", a->predict ? "--predict needs --kernel, --initrd, "
							  "--cmdline or --boot-loader"
							: "those options go with --predict");
	a->device = argv[optind];
	return 0;
}

/*
 * The new approved states (lib/states.c) from what the TPM says now.
 * *now_approved tells whether the machine's state of now is among them, so
 * the result can be proven. *usage_shown: a usage error was printed (exit 2).
 */
static int new_states(struct tpm *t, const struct reseal_args *a, const struct token *old,
		      struct token *tok, bool *now_approved, bool *was_approved, bool *usage_shown)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	uint32_t fence = token_fence_pcrs(old), changed = 0;
	struct states_change c = {
		/* A repair adds the boot a person unlocked and changes nothing else. */
		.keep = a->add_state || a->next_boot || a->predict || a->after_fallback,
		.prune = a->prune,
		.add_spec = a->add_state,
		.next_boot = a->next_boot,
		.when = time(NULL),
	};
	static char note[OYSTER_NOTE_MAX + 1];
	struct pcr_state now, next;
	unsigned n;
	int r;

	r = tpm_pcr_read(t, old->bank, old->pcr_mask, &now);
	if (r == 0 && (old->next_boot || a->next_boot))
		r = tpm_reset_count(t, &c.reset_count);
	if (r == 0 && a->predict) {
		r = predict_state(t, old->bank, old->pcr_mask & ~fence, &a->pred, &next, &changed);
		if (r == 0 && !(changed & old->pcr_mask & ~fence))
			log_info("The update changes none of the token's PCRs (%s): the state of "
				 "now covers the next boot.",
				 pcr_bank_name(old->bank));
		c.predicted = &next;
		c.predicted_mask = changed;
		/* What the predicted state stands for, in a few words: the new file's name. */
		const char *what = a->pred.o.kernel	   ? a->pred.o.kernel
				   : a->pred.o.initrd	   ? a->pred.o.initrd
				   : a->pred.o.boot_loader ? a->pred.o.boot_loader
							   : "command line";
		const char *base = strrchr(what, '/');

		snprintf(note, sizeof(note), "%s", base ? base + 1 : what);
		c.predicted_note = note;
	}
	if (r < 0)
		return r;
	c.now = &now;
	predict_record_events(a->pred.event_log, tok, &now, fence);
	*was_approved = states_approve_now(old, &now, c.reset_count);
	r = states_change(old, &c, tok, now_approved);
	if (r == -EDOM) {
		usage_error("reseal",
			    "invalid --add-state '%s': use PCR:%s=HEX for PCRs the token binds",
			    a->add_state, pcr_bank_name(old->bank));
		*usage_shown = true;
	}
	if (r < 0)
		return r;
	return token_policy(tok, branches, &n, tok->policy);
}

/* The token's secret, unsealed now: the way to reseal without a passphrase. */
static int unseal_raw(struct tpm *t, const struct token *tok, const struct secret *pin,
		      struct secret **raw)
{
	int r;

	r = unlock_token_raw(t, tok, pin ? (const char *)pin->data : NULL, pin ? pin->len : 0, raw);
	if (r == 0 && (*raw)->len > OYSTER_SECRET_SIZE) {
		/* Not a secret oyster sealed. */
		secret_free(*raw);
		*raw = NULL;
		r = -ENOBUFS;
	}
	return r;
}

/* A fresh secret in a new keyslot, authorized by the passphrase; then the old ones go. */
static int reseal_by_passphrase(struct tpm *t, struct crypt_device *cd, int id,
				const struct reseal_args *a, struct token *tok,
				const struct secret *pin, bool prove_now, bool *bad_passphrase)
{
	struct secret *old = NULL, *vk = NULL, *auth = NULL;
	int old_slot = tok->keyslot, new_id, slot_r, r;

	r = ask_passphrase(a->key_file, a->device, &old);
	if (r < 0)
		return r;
	r = luks_volume_key_get(cd, old, &vk);
	secret_free(old);
	if (r < 0) {
		*bad_passphrase = true;
		return r;
	}
	if (tok->pin) {
		r = pin_auth_value(tok, (const char *)pin->data, pin->len, &auth);
		if (r < 0)
			goto out;
	}
	new_id = volume_add(t, cd, tok, vk, pin, auth, prove_now);
	if (new_id < 0) {
		r = new_id;
		goto out;
	}
	r = luks_token_drop(cd, id, old_slot, -1, &slot_r);
	if (r == 0 && slot_r < 0)
		r = slot_r;
	if (r == 0)
		printf("Resealed token %d with a fresh secret as token %d (keyslot %d); removed "
		       "the old keyslot %d.\n",
		       id, new_id, tok->keyslot, old_slot);
out:
	secret_free(auth);
	secret_free(vk);
	return r;
}

/* A boot the token does not approve, and why this run may not approve it; returns r. */
static int not_approving(const struct reseal_args *a, int id, const char *why, int r)
{
	log_err("Token %d of %s does not approve the state of this boot%s; nothing was changed: "
		"after checking this boot, approve it with oyster reseal %s --token %d.",
		id, a->device, why, a->device, id);
	return r;
}

/*
 * --after-fallback: may this run approve a boot that the token did not? Only
 * when the initramfs recorded that the TPM did not open the volume in this
 * boot and the volume is open: a person typed its passphrase or a recovery
 * key at this boot's prompt, and that person's boot is what gets approved.
 */
static int fallback_proven(struct crypt_device *cd, int id, const struct reseal_args *a)
{
	const char *uuid = crypt_get_uuid(cd), *reason;
	char record[256];

	reason = fallback_reason(uuid, record, sizeof(record));
	if (!reason) {
		return not_approving(a, id,
				     ", and the initramfs recorded no passphrase boot of it "
				     "(" OYSTER_FALLBACK_RECORD ")",
				     -ENOENT);
	}
	if (!fallback_volume_open(uuid)) {
		return not_approving(a, id,
				     ", and it is not open, so nobody is known to have opened it "
				     "with its passphrase",
				     -ENOENT);
	}
	log_info("The TPM did not open %s in this boot (%s); its passphrase or a recovery key "
		 "did.",
		 a->device, reason);
	return 0;
}

/*
 * An authorized token: the approval is the NV index and the token's list,
 * written with oyster's credential; no unseal, no PIN, no passphrase.
 */
static int reseal_authorized(struct tpm *t, struct crypt_device *cd, int id,
			     const struct reseal_args *a, const struct token *old,
			     struct token *tok, bool now_approved, bool was_approved)
{
	bool changed = false;
	char spec[128];
	int r;

	/*
	 * Every approval keeps the state of now. Only a person may approve a boot
	 * that the token did not (after a passphrase boot): --prune and
	 * --unattended (the hooks, the services) never do; --after-fallback
	 * (OYSTER_AUTO_REPAIR) only for the boot that person unlocked.
	 */
	if (!was_approved && a->after_fallback) {
		r = fallback_proven(cd, id, a);
		if (r < 0)
			return r;
	} else if (!was_approved && (a->prune || a->unattended)) {
		return not_approving(a, id, "", -EPERM);
	}
	if (!was_approved)
		log_info("The state of this boot was not approved before; it is now.");

	r = approve_write(t, cd, id, old, tok, &changed);
	if (r < 0)
		return r;
	pcr_format_spec(tok->pcr_mask, spec, sizeof(spec));
	if (!changed && a->prune)
		printf("Token %d approves only the state of now: nothing to prune.\n", id);
	else if (!changed)
		printf("Token %d approves these states already: nothing to write.\n", id);
	else
		printf("Approved for token %d: %u state%s%s, PCRs %s of the %s bank (NV index "
		       "0x%08x).\n",
		       id, tok->n_states, tok->n_states == 1 ? "" : "s",
		       tok->next_boot ? " and the next boot" : "", spec, pcr_bank_name(tok->bank),
		       tok->nv_index);
	if (!now_approved)
		printf("The state of now is fenced: it is proven at the next boot.\n");
	return 0;
}

/* The one token to reseal: --token N, or the only oyster token there is. */
static int pick_token(struct crypt_device *cd, const struct reseal_args *a, struct token *tok,
		      bool *usage_shown)
{
	int id, next, parse_r;

	id = luks_token_next(cd, a->have_token ? (int)a->token : 0, tok, &parse_r);
	if (id < 0 || (a->have_token && id != (int)a->token)) {
		log_err("%s has no oyster token%s; see oyster status.", a->device,
			a->have_token ? " with that id" : "");
		return -ENOENT;
	}
	if (parse_r < 0) {
		log_err("Token %d is malformed; wipe it and enroll again.", id);
		return -EINVAL;
	}
	if (!a->have_token) {
		struct token *other = calloc(1, sizeof(*other));

		if (!other)
			return -ENOMEM;
		next = luks_token_next(cd, id + 1, other, &parse_r);
		free(other);
		if (next >= 0) {
			log_err("%s has several oyster tokens; choose one with --token (see oyster "
				"status).",
				a->device);
			*usage_shown = true;
			return -ENOTUNIQ;
		}
	}
	return id;
}

int cmd_reseal(int argc, char **argv)
{
	struct reseal_args a = { 0 };
	struct crypt_device *cd = NULL;
	struct secret *pin = NULL, *raw = NULL;
	struct token *old = NULL, *tok = NULL;
	struct tpm *t = NULL;
	bool now_approved = false, was_approved = false, bad_passphrase = false, usage_shown = false;
	char spec[128];
	int id, r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r < 0 ? OYSTER_EXIT_OK : r;
	old = calloc(1, sizeof(*old));
	tok = calloc(1, sizeof(*tok));
	if (!old || !tok) {
		r = -ENOMEM;
		goto out;
	}
	r = luks_open(a.device, &cd);
	if (r == 0)
		r = luks_header_consistent(cd);
	if (r < 0)
		goto out;
	r = id = pick_token(cd, &a, old, &usage_shown);
	if (r < 0)
		goto out;
	r = tpm_open(&t);
	if (r < 0)
		goto out;
	*tok = *old;
	r = new_states(t, &a, old, tok, &now_approved, &was_approved, &usage_shown);
	if (r < 0)
		goto out;
	if (token_authorized(old)) {
		r = reseal_authorized(t, cd, id, &a, old, tok, now_approved, was_approved);
		goto out;
	}
	if (a.prune && states_unchanged(old, tok)) {
		printf("Token %d approves only the state of now: nothing to prune.\n", id);
		goto out;
	}
	if (old->pin && a.unattended && !getenv("PIN")) {
		log_err("Token %d of %s needs its PIN, and --unattended asks for none; nothing was "
			"changed: run oyster reseal %s --token %d.",
			id, a.device, a.device, id);
		r = -ENOKEY;
		goto out;
	}
	if (old->pin) {
		r = ask_pin(a.device, &pin);
		if (r < 0) {
			if (r == -ENOKEY)
				log_err("Token %d needs its PIN: set $PIN, or run on a terminal.",
					id);
			goto out;
		}
	}

	r = unseal_raw(t, old, pin, &raw);
	if (r == 0) {
		r = volume_reseal(t, cd, id, old, tok, raw, pin, now_approved);
		if (r == 0)
			printf("Resealed token %d in place (keyslot %d).\n", id, tok->keyslot);
	} else if ((r == -EPERM || r == -EKEYREJECTED || r == -EINVAL) && a.unattended) {
		log_err("Token %d of %s does not unseal now, and --%s asks for no passphrase; "
			"nothing was changed: run oyster reseal %s --token %d.",
			id, a.device, a.after_fallback ? "after-fallback" : "unattended", a.device,
			id);
	} else if (r == -EPERM || r == -EKEYREJECTED || r == -EINVAL) {
		log_info("The token does not unseal now; an existing passphrase authorizes a fresh "
			 "secret.");
		r = reseal_by_passphrase(t, cd, id, &a, tok, pin, now_approved, &bad_passphrase);
	}
	if (r < 0)
		goto out;
	pcr_format_spec(tok->pcr_mask, spec, sizeof(spec));
	printf("Approved states: %u, PCRs %s of the %s bank%s.\n", tok->n_states, spec,
	       pcr_bank_name(tok->bank),
	       now_approved ? "" : " (the state of now is fenced: it is proven at the next boot)");
out:
	secret_free(raw);
	secret_free(pin);
	tpm_close(t);
	crypt_free(cd);
	free(old);
	free(tok);
	if (usage_shown)
		return OYSTER_EXIT_USAGE;
	if (bad_passphrase)
		return OYSTER_EXIT_FAILURE;
	return exit_status(r);
}
