// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The TPM's own defences: while its lockout authorization is empty, anyone
 * who boots another system can reset the dictionary-attack counter
 * (TPM2_DictionaryAttackLockReset) and guess a PIN forever. tpm-setup
 * reports that state and sets a random lockout authorization, kept in
 * oyster's root-only state directory.
 *
 * The TPM's HierarchyChangeAuth and the file cannot change together: the
 * new value goes to LOCKOUT_PENDING first, then to the TPM, then to
 * LOCKOUT_NAME. A pending file found later is resolved by the TPM's
 * lockoutAuthSet flag: oyster only ever sets an empty authorization, so a
 * set flag means the change reached the TPM (see oyster-tpm-setup(8)).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "cmd.h"
#include "lockout.h"
#include "log.h"
#include "statedir.h"
#include "tpm.h"

#define LOCKOUT_NAME "lockout-auth"
#define LOCKOUT_PENDING "lockout-auth.pending"
#define LOCKOUT_AUTH_SIZE 32

static const char usage[] =
	"Usage: oyster tpm-setup [--lockout-auth] [--reset-lockout]\n"
	"                        [--da-max-tries N] [--da-recovery-time S] "
	"[--da-lockout-recovery S]\n\n"
	"Report the TPM's state: its lockout authorization (empty or not), the dictionary-attack\n"
	"parameters, the owner authorization, the persistent SRK, TPM2_PolicyAuthorizeNV.\n\n"
	"  --lockout-auth     set a random lockout authorization, kept in oyster's state\n"
	"                     directory ($OYSTER_STATE_DIR, else /var/lib/oyster); an\n"
	"                     authorization oyster did not set is left alone\n"
	"  --reset-lockout    reset the dictionary-attack counter with it (TPM2_DictionaryAttack-\n"
	"                     LockReset), after too many wrong PINs\n"
	"  --da-max-tries N   wrong PINs before lockout (1-1000)\n"
	"  --da-recovery-time S  seconds until one wrong PIN is forgiven (1-2592000)\n"
	"  --da-lockout-recovery S  seconds the lockout authorization stays locked after a wrong\n"
	"                     one (0: until the next reboot; at most 2592000)\n"
	"  -h, --help         show this help\n";

struct setup_args {
	bool set_auth;
	bool reset;
	bool da;
	unsigned max_tries, recovery_time, lockout_recovery;
	bool have_max_tries, have_recovery_time, have_lockout_recovery;
};

static int parse_args(int argc, char **argv, struct setup_args *a)
{
	static const struct option opts[] = {
		{ "lockout-auth", no_argument, NULL, 'l' },
		{ "reset-lockout", no_argument, NULL, 'r' },
		{ "da-max-tries", required_argument, NULL, 'm' },
		{ "da-recovery-time", required_argument, NULL, 't' },
		{ "da-lockout-recovery", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			a->set_auth = true;
			break;
		case 'r':
			a->reset = true;
			break;
		case 'm':
			if (!parse_uint(optarg, 1000, &a->max_tries) || !a->max_tries)
				return usage_error("tpm-setup",
						   "--da-max-tries takes 1 to 1000, not '%s'",
						   optarg);
			a->have_max_tries = a->da = true;
			break;
		case 't':
			/* 0 would turn the TPM's dictionary-attack protection off. */
			if (!parse_uint(optarg, 2592000, &a->recovery_time) || !a->recovery_time)
				return usage_error(
					"tpm-setup",
					"--da-recovery-time takes 1 to 2592000 seconds, not '%s'",
					optarg);
			a->have_recovery_time = a->da = true;
			break;
		case 'L':
			if (!parse_uint(optarg, 2592000, &a->lockout_recovery))
				return usage_error("tpm-setup",
						   "--da-lockout-recovery takes 0 to 2592000 "
						   "seconds, not '%s'",
						   optarg);
			a->have_lockout_recovery = a->da = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return usage_error("tpm-setup", "unknown option");
		}
	}
	if (optind != argc)
		return usage_error("tpm-setup", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* An interrupted --lockout-auth: whether its change reached the TPM decides which file stays. */
static int settle_pending(const struct tpm_state *st)
{
	struct secret *pending = NULL;
	int r = statedir_read_secret(LOCKOUT_PENDING, &pending);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (st->lockout_auth_set) {
		r = statedir_write_secret(LOCKOUT_NAME, pending);
		if (r == 0)
			r = statedir_remove(LOCKOUT_PENDING);
		if (r == 0)
			printf("Finished an interrupted --lockout-auth: the TPM has the value in "
			       "%s/%s.\n",
			       statedir_path(), LOCKOUT_NAME);
	} else {
		r = statedir_remove(LOCKOUT_PENDING);
	}
	secret_free(pending);
	return r;
}

/* Our credential when the TPM's lockout authorization is ours, else NULL (empty or foreign). */
static int our_auth(const struct tpm_state *st, struct secret **auth)
{
	int r;

	*auth = NULL;
	if (!st->lockout_auth_set)
		return 0;
	r = statedir_read_secret(LOCKOUT_NAME, auth);
	return r == -ENOENT ? 0 : r;
}

static void report(struct tpm *t, const struct tpm_state *st, bool ours, bool stale)
{
	printf("TPM: %s\n", tpm_tcti(t));
	if (!st->lockout_auth_set)
		printf("  Lockout authorization: EMPTY: anyone can reset the dictionary-attack "
		       "counter and guess PINs forever; set it with oyster tpm-setup "
		       "--lockout-auth%s\n",
		       stale ? " (the credential in the state directory is from before a TPM "
			       "clear)"
			     : "");
	else if (ours)
		printf("  Lockout authorization: set by oyster (%s/%s)\n", statedir_path(),
		       LOCKOUT_NAME);
	else
		printf("  Lockout authorization: set, not by oyster (another system or an "
		       "administrator holds it)\n");
	printf("  Dictionary attack:     %u of %u wrong authorizations counted%s; one forgiven "
	       "every %u s\n",
	       st->da.counter, st->da.max_tries, st->in_lockout ? ", LOCKED OUT" : "",
	       st->da.interval);
	printf("  Lockout recovery:      %s", st->da.recovery ? "" : "at the next reboot\n");
	if (st->da.recovery)
		printf("%u s after a wrong lockout authorization\n", st->da.recovery);
	printf("  Owner authorization:   %s\n", st->owner_auth_set ? "set" : "empty");
	printf("  SRK 0x81000001:        %s\n",
	       st->srk_persistent ? "persistent" : "absent (oyster enroll makes it persistent)");
	printf("  TPM2_PolicyAuthorizeNV: %s\n",
	       st->policy_authorize_nv ? "implemented" : "NOT implemented (TPM before spec 1.38)");
}

static int set_lockout_auth(struct tpm *t, struct tpm_state *st)
{
	struct secret *auth = secret_new(LOCKOUT_AUTH_SIZE);
	int r;

	if (!auth)
		return -ENOMEM;
	if (getrandom(auth->data, LOCKOUT_AUTH_SIZE, 0) != LOCKOUT_AUTH_SIZE) {
		r = -errno;
		fprintf(stderr, "Cannot get random bytes: %s.\n", strerror(errno));
		goto out;
	}
	auth->len = LOCKOUT_AUTH_SIZE;
	/* The file first: a TPM holding a value that no file holds would be lost. */
	r = statedir_write_secret(LOCKOUT_PENDING, auth);
	if (r < 0)
		goto out;
	r = tpm_lockout_change_auth(t, NULL, auth);
	if (r < 0) {
		fprintf(stderr,
			"The TPM did not take the new lockout authorization (%s); nothing "
			"was changed.\n",
			r == -EBUSY ? "its lockout authorization is locked out" : strerror(-r));
		statedir_remove(LOCKOUT_PENDING);
		goto out;
	}
	r = statedir_write_secret(LOCKOUT_NAME, auth);
	if (r == 0)
		r = statedir_remove(LOCKOUT_PENDING);
	if (r < 0) {
		fprintf(stderr,
			"The TPM has the new lockout authorization, but %s/%s could not be "
			"written; it is in %s/%s: run oyster tpm-setup again.\n",
			statedir_path(), LOCKOUT_NAME, statedir_path(), LOCKOUT_PENDING);
		goto out;
	}
	st->lockout_auth_set = true;
	printf("Set a random lockout authorization; it is in %s/%s (root only). Keep a copy of "
	       "that file with the machine's backups.\n",
	       statedir_path(), LOCKOUT_NAME);
out:
	secret_free(auth);
	return r;
}

static int lockout_error(int r, const char *what, const struct tpm_state *st)
{
	if (r == -EACCES)
		fprintf(stderr,
			"The TPM refused oyster's lockout authorization for %s; %s/%s does "
			"not hold the TPM's (was the TPM's authorization changed?).\n",
			what, statedir_path(), LOCKOUT_NAME);
	else if (r == -EBUSY)
		fprintf(stderr,
			"The TPM's lockout authorization is itself locked out after a wrong "
			"one; try again %s.\n",
			st->da.recovery ? "later" : "after a reboot");
	else
		fprintf(stderr, "Cannot %s: %s.\n", what, strerror(-r));
	return r;
}

static int apply(struct tpm *t, const struct setup_args *a, struct tpm_state *st)
{
	struct secret *auth = NULL;
	bool foreign;
	int r;

	r = our_auth(st, &auth);
	if (r < 0)
		return r;
	foreign = st->lockout_auth_set && !auth;
	if (a->set_auth && foreign)
		printf("The TPM's lockout authorization was set by someone else (another system or "
		       "an administrator); oyster leaves it as it is.\n");
	else if (a->set_auth && auth)
		printf("The TPM's lockout authorization is oyster's already (%s/%s).\n",
		       statedir_path(), LOCKOUT_NAME);
	else if (a->set_auth)
		r = set_lockout_auth(t, st);
	if (r == 0 && a->set_auth && !auth && !foreign)
		r = our_auth(st, &auth);
	if (r == 0 && (a->reset || a->da) && foreign) {
		fprintf(stderr,
			"The TPM's lockout authorization is not oyster's: whoever set it "
			"can reset the counter or change the parameters (tpm2_dictionarylockout "
			"-p).\n");
		r = -EPERM;
	}
	if (r == 0 && a->da) {
		r = tpm_lockout_parameters(
			t, auth, a->have_max_tries ? a->max_tries : st->da.max_tries,
			a->have_recovery_time ? a->recovery_time : st->da.interval,
			a->have_lockout_recovery ? a->lockout_recovery : st->da.recovery);
		if (r < 0)
			lockout_error(r, "set the dictionary-attack parameters", st);
		else
			printf("Set the dictionary-attack parameters.\n");
	}
	if (r == 0 && a->reset) {
		r = tpm_lockout_reset(t, auth);
		if (r < 0)
			lockout_error(r, "reset the dictionary-attack counter", st);
		else
			printf("Reset the dictionary-attack counter.\n");
	}
	secret_free(auth);
	return r;
}

int cmd_tpm_setup(int argc, char **argv)
{
	struct setup_args a = { 0 };
	struct secret *auth = NULL;
	struct tpm_state st;
	struct tpm *t = NULL;
	bool stale;
	int r;

	r = parse_args(argc, argv, &a);
	if (r)
		return r < 0 ? OYSTER_EXIT_OK : r;
	r = tpm_open(&t);
	if (r == 0)
		r = tpm_state_read(t, &st);
	if (r == 0)
		r = settle_pending(&st);
	if (r == 0 && (a.set_auth || a.reset || a.da)) {
		r = apply(t, &a, &st);
		if (r == 0)
			r = tpm_state_read(t, &st);
	}
	if (r < 0)
		goto out;
	r = statedir_read_secret(LOCKOUT_NAME, &auth);
	if (r < 0 && r != -ENOENT)
		goto out;
	stale = auth && !st.lockout_auth_set;
	report(t, &st, auth && st.lockout_auth_set, stale);
	r = 0;
out:
	secret_free(auth);
	tpm_close(t);
	return r == -EPERM ? OYSTER_EXIT_FAILURE : exit_status(r);
}
