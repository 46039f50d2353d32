// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The one TPM connection: a TCTI opened from its string, the errno vocabulary of
 * tpm.h, PCR reads.
 */
#include <errno.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/vfs.h>
#include <time.h>
#include <tss2/tss2_rc.h>
#include <unistd.h>
#include <tss2/tss2_tctildr.h>

#include "deadline.h"
#include "log.h"
#include "tpmlock.h"
#include "tpm-private.h"

/*
 * Per command: long enough for a slow discrete TPM's ECC CreatePrimary
 * (well under a second on parts measured), short enough that a wedged TPM
 * or socket cannot hang the boot. OYSTER_TPM_TIMEOUT (seconds) overrides it.
 */
#define OYSTER_TPM_TIMEOUT_MS 10000

static int32_t tpm_timeout_ms(void)
{
	const char *s = getenv("OYSTER_TPM_TIMEOUT");
	char *end;
	long v;

	if (!s || !*s)
		return OYSTER_TPM_TIMEOUT_MS;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 3600)
		return OYSTER_TPM_TIMEOUT_MS;
	return (int32_t)(v * 1000);
}

TSS2_RC tpm_rc_base(TSS2_RC rc)
{
	if (rc & TSS2_RC_LAYER_MASK)
		return rc;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc;
}

int tpm_rc_errno(TSS2_RC rc, const char *what)
{
	TSS2_RC base = tpm_rc_base(rc);
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

	log_debug("%s: %s (0x%x)", what, Tss2_RC_Decode(rc), rc);
	switch (layer == TSS2_TCTI_RC_LAYER ? TSS2_BASE_RC_IO_ERROR : rc & ~TSS2_RC_LAYER_MASK) {
	case TSS2_BASE_RC_IO_ERROR:
	case TSS2_BASE_RC_NO_CONNECTION:
	case TSS2_BASE_RC_TRY_AGAIN:
	/*
	 * ESAPI's answer to every call after a command's connection failed, even
	 * when that failure was ignored (a FlushContext on a cleanup path).
	 */
	case TSS2_BASE_RC_BAD_SEQUENCE:
		/* The TPM was there a moment ago: callers only pass -ENODEV on, so say it here. */
		log_err("Lost the connection to the TPM during %s; check that it is still there "
			"(or that OYSTER_TCTI points at it) and try again.",
			what);
		return -ENODEV;
	}
	if (layer)
		return -EIO;
	switch (base) {
	case TPM2_RC_LOCKOUT:
		return -EBUSY;
	case TPM2_RC_RETRY:
	case TPM2_RC_YIELDED:
	case TPM2_RC_TESTING:
		/* The spec's "try again": ESAPI has resubmitted the command already, a bounded
		 * number of times (ESYS_MAX_SUBMISSIONS). */
		log_err("The TPM stayed busy during %s (%s) through tpm2-tss's resubmissions; try "
			"again in a moment, or use the passphrase.",
			what, Tss2_RC_Decode(rc));
		return -EAGAIN;
	case TPM2_RC_FAILURE:
		log_err("The TPM is in failure mode (TPM_RC_FAILURE during %s): it runs no command "
			"until the machine is powered off and on again; use the passphrase.",
			what);
		return -ENOTRECOVERABLE;
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
	case TPM2_RC_MEMORY:
		log_err("The TPM's memory is full of objects or sessions another program left "
			"loaded; flush them (tpm2_flushcontext -t -s) or reboot.");
		return -ENOSPC;
	case TPM2_RC_POLICY_FAIL:
	case TPM2_RC_PCR_CHANGED:
		return -EPERM;
	case TPM2_RC_INTEGRITY:
	case TPM2_RC_KEY:
	case TPM2_RC_SIZE:
		return -EINVAL;
	}
	return -EIO;
}

static int tpm_try(struct tpm *t, const char *conf, bool wait)
{
	TSS2_RC rc;

	snprintf(t->tcti_conf, sizeof(t->tcti_conf), "%s", conf);
	/* Before the TCTI opens anything: /dev/tpm0 admits one process at a time. */
	t->lock_fd = tpm_lock_take(conf, wait ? 4 * tpm_timeout_ms() : 0);
	if (t->lock_fd == -ENODEV || t->lock_fd == -EBUSY) {
		t->lock_fd = -1;
		return -ENODEV;
	}
	rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
	if (rc != TSS2_RC_SUCCESS) {
		t->tcti = NULL;
		tpm_lock_release(t->lock_fd);
		t->lock_fd = -1;
		log_debug("TPM interface '%s' unavailable: %s", conf, Tss2_RC_Decode(rc));
		return -ENODEV;
	}
	t->deadline = deadline_wrap(t->tcti, tpm_timeout_ms());
	if (!t->deadline) {
		Tss2_TctiLdr_Finalize(&t->tcti);
		tpm_lock_release(t->lock_fd);
		t->lock_fd = -1;
		return -ENOMEM;
	}
	rc = Esys_Initialize(&t->esys, t->deadline, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->esys = NULL;
		deadline_free(t->deadline);
		t->deadline = NULL;
		Tss2_TctiLdr_Finalize(&t->tcti);
		tpm_lock_release(t->lock_fd);
		t->lock_fd = -1;
		return tpm_rc_errno(rc, "Esys_Initialize");
	}
	return 0;
}

/*
 * tpm2-tss's log levels, as its TSS2_LOG parser reads them: "module+level"
 * entries, "all" for every module, the last match winning, a level known by
 * its prefix. Unset modules log warnings.
 */
enum { TSS2_LEVEL_WARNING = 3, TSS2_LEVEL_INFO = 4 };

static int tss2_log_level(const char *env, const char *module)
{
	static const char *const names[] = { "none", "(undefined)", "error", "warning",
					     "info", "debug",	    "trace" };
	size_t mlen = strlen(module);
	int level = TSS2_LEVEL_WARNING;

	for (const char *p = env; (p = strchr(p, '+')); p++) {
		if (!((p - env >= 3 && !strncasecmp(p - 3, "all", 3)) ||
		      ((size_t)(p - env) >= mlen && !strncasecmp(p - mlen, module, mlen))))
			continue;
		for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
			if (!strncasecmp(p + 1, names[i], strlen(names[i])))
				level = i;
	}
	return level;
}

/*
 * At debug level tpm2-tss's esys module logs the session key, and esys_crypto
 * the keys it derives (for a PIN, from the PIN's authValue); at trace,
 * esys_crypto logs the decrypted Unseal response: the secret itself. Such
 * logs get pasted into bug reports, so those two modules are held at info
 * whatever TSS2_LOG asks; every other module keeps its level. Each module
 * reads TSS2_LOG once, at its first log call: this runs before any.
 */
static void tss2_log_guard(void)
{
	static const char *const guarded[] = { "esys", "esys_crypto" };
	const char *env = getenv("TSS2_LOG");
	char value[512];
	size_t len;
	bool capped = false;

	/* tss2 logs its own errors to stderr; ours say the same in the user's terms. */
	if (!env) {
		setenv("TSS2_LOG", "all+none", 0);
		return;
	}
	len = snprintf(value, sizeof(value), "%s", env);
	for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		if (tss2_log_level(env, guarded[i]) <= TSS2_LEVEL_INFO)
			continue;
		len += snprintf(value + len, len < sizeof(value) ? sizeof(value) - len : 0,
				",%s+info", guarded[i]);
		capped = true;
	}
	if (!capped)
		return;
	if (len >= sizeof(value)) {
		/* Too long to amend: log nothing rather than secrets. */
		setenv("TSS2_LOG", "all+none", 1);
		log_info("TSS2_LOG is too long to check; tpm2-tss logging is off.");
		return;
	}
	setenv("TSS2_LOG", value, 1);
	log_info("TSS2_LOG: tpm2-tss's esys and esys_crypto modules held at info: their debug "
		 "and trace output holds session keys and the unsealed secret.");
}

/*
 * In the initramfs nothing else talks to the TPM, so /dev/tpm0 itself: through
 * the kernel's resource manager (/dev/tpmrm0) every command is wrapped in
 * ContextLoad/ContextSave of our session and object, 25 commands at the chip
 * for an unlock instead of 7 (measured). The kernel admits one opener of
 * /dev/tpm0 at a time; when another unlock holds it, /dev/tpmrm0 at once.
 * An initramfs: /etc/initrd-release (systemd's test, which dracut and systemd
 * images pass), or a root file system that is the kernel's ramfs.
 */
static bool in_initramfs(void)
{
	struct statfs fs;

	if (access("/etc/initrd-release", F_OK) == 0)
		return true;
	return statfs("/", &fs) == 0 && fs.f_type == RAMFS_MAGIC;
}

static int tpm_open_report(struct tpm **out, bool report)
{
	/*
	 * The running system: other programs may hold the TPM (tpm2-abrmd holds
	 * /dev/tpm0, systemd and tpm2-tools use /dev/tpmrm0), and /dev/tpm0 would
	 * lock them out while we run: the resource manager first, /dev/tpm0 only
	 * where there is none (kernels before 4.12).
	 */
	static const char *const defaults[] = { "device:/dev/tpmrm0", "device:/dev/tpm0" };
	static const char *const initramfs[] = { "device:/dev/tpm0", "device:/dev/tpmrm0" };
	const char *conf = getenv("OYSTER_TCTI");
	const char *const *order = in_initramfs() ? initramfs : defaults;
	struct tpm *t;
	int r = -ENODEV;

	*out = NULL;
	tss2_log_guard();
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->lock_fd = -1;
	if (conf && *conf) {
		r = tpm_try(t, conf, true);
	} else {
		/* The first choice is not waited for when another program holds it. */
		for (size_t i = 0; i < 2 && r < 0; i++)
			r = tpm_try(t, order[i], i == 1);
	}
	if (r < 0) {
		if (r == -ENODEV && report)
			log_err("No TPM found (tried %s); check that the TPM is enabled in the "
				"firmware, or set OYSTER_TCTI.",
				conf && *conf ? conf : "/dev/tpmrm0 and /dev/tpm0");
		free(t);
		return r;
	}
	*out = t;
	return 0;
}

int tpm_open(struct tpm **out)
{
	return tpm_open_report(out, true);
}

int tpm_open_wait(struct tpm **out, unsigned seconds)
{
	struct timespec now, end;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += seconds;
	for (;;) {
		r = tpm_open_report(out, false);
		if (r != -ENODEV)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec ||
		    (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	return tpm_open_report(out, true);
}

void tpm_close(struct tpm *t)
{
	if (!t)
		return;
	if (t->esys)
		Esys_Finalize(&t->esys);
	deadline_free(t->deadline);
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
	tpm_lock_release(t->lock_fd);
	free(t);
}

const char *tpm_tcti(const struct tpm *t)
{
	return t->tcti_conf;
}

int tpm_pcr_read(struct tpm *t, uint16_t bank, uint32_t mask, struct pcr_state *out)
{
	size_t size = pcr_bank_digest_size(bank);
	uint32_t left = mask;

	if (!size || !mask || mask >> OYSTER_PCR_COUNT)
		return -EINVAL;
	/* The TPM returns at most 8 digests per call and says which ones. */
	while (left) {
		TPML_PCR_SELECTION sel = { .count = 1 };
		TPML_PCR_SELECTION *got = NULL;
		TPML_DIGEST *values = NULL;
		uint32_t got_mask = 0;
		size_t n = 0;
		TSS2_RC rc;

		sel.pcrSelections[0].hash = bank;
		sel.pcrSelections[0].sizeofSelect = 3;
		for (unsigned i = 0; i < 3; i++)
			sel.pcrSelections[0].pcrSelect[i] = (left >> (8 * i)) & 0xff;
		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL,
				   &got, &values);
		if (rc != TSS2_RC_SUCCESS)
			return tpm_rc_errno(rc, "PCR_Read");
		for (uint32_t i = 0; i < got->count; i++) {
			if (got->pcrSelections[i].hash != bank)
				continue;
			for (unsigned b = 0; b < 3 && b < got->pcrSelections[i].sizeofSelect; b++)
				got_mask |= (uint32_t)got->pcrSelections[i].pcrSelect[b] << (8 * b);
		}
		got_mask &= left;
		FOREACH_PCR_IN_MASK(pcr, got_mask) {
			if (n >= values->count || values->digests[n].size != size)
				break;
			memcpy(out->value[pcr], values->digests[n].buffer, size);
			n++;
		}
		Esys_Free(got);
		Esys_Free(values);
		if (!got_mask || n != (size_t)__builtin_popcount(got_mask)) {
			log_err("The TPM has no active %s PCR bank; choose another with --bank.",
				pcr_bank_name(bank));
			return -EINVAL;
		}
		left &= ~got_mask;
	}
	return 0;
}

int tpm_capability(struct tpm *t, TPM2_CAP capability, uint32_t property, uint32_t count,
		   const char *what, TPMS_CAPABILITY_DATA **out)
{
	TPMI_YES_NO more;
	TSS2_RC rc;

	*out = NULL;
	rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, capability,
				property, count, &more, out);
	if (rc != TSS2_RC_SUCCESS) {
		char call[64];

		snprintf(call, sizeof(call), "GetCapability(%s)", what);
		return tpm_rc_errno(rc, call);
	}
	return 0;
}

int tpm_property(struct tpm *t, uint32_t property, uint32_t *value)
{
	TPMS_CAPABILITY_DATA *cap;
	int r;

	r = tpm_capability(t, TPM2_CAP_TPM_PROPERTIES, property, 1, "properties", &cap);
	if (r < 0)
		return r;
	r = -EIO;
	if (cap->data.tpmProperties.count == 1 &&
	    cap->data.tpmProperties.tpmProperty[0].property == property) {
		*value = cap->data.tpmProperties.tpmProperty[0].value;
		r = 0;
	}
	Esys_Free(cap);
	return r;
}

int tpm_has_command(struct tpm *t, TPM2_CC cc, bool *out)
{
	TPMS_CAPABILITY_DATA *cap;
	int r;

	r = tpm_capability(t, TPM2_CAP_COMMANDS, cc, 1, "commands", &cap);
	if (r < 0)
		return r;
	*out = cap->data.command.count >= 1 &&
	       (cap->data.command.commandAttributes[0] & TPMA_CC_COMMANDINDEX_MASK) == cc;
	Esys_Free(cap);
	return 0;
}

int tpm_da_read(struct tpm *t, struct tpm_da *da)
{
	TPMS_CAPABILITY_DATA *cap;
	int r;

	memset(da, 0, sizeof(*da));
	r = tpm_capability(t, TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_COUNTER, 4, "lockout", &cap);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < cap->data.tpmProperties.count; i++) {
		const TPMS_TAGGED_PROPERTY *p = &cap->data.tpmProperties.tpmProperty[i];

		switch (p->property) {
		case TPM2_PT_LOCKOUT_COUNTER:
			da->counter = p->value;
			break;
		case TPM2_PT_MAX_AUTH_FAIL:
			da->max_tries = p->value;
			break;
		case TPM2_PT_LOCKOUT_INTERVAL:
			da->interval = p->value;
			break;
		case TPM2_PT_LOCKOUT_RECOVERY:
			da->recovery = p->value;
			break;
		}
	}
	Esys_Free(cap);
	return 0;
}

int tpm_pcr_event(struct tpm *t, unsigned pcr, const void *data, size_t len)
{
	TPM2B_EVENT event = { .size = (UINT16)len };
	TPML_DIGEST_VALUES *digests = NULL;
	TSS2_RC rc;

	if (pcr >= OYSTER_PCR_COUNT || len > sizeof(event.buffer))
		return -EINVAL;
	memcpy(event.buffer, data, len);
	/* PCR_Event hashes the data into every active bank at once. */
	rc = Esys_PCR_Event(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			    ESYS_TR_NONE, &event, &digests);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "PCR_Event");
	Esys_Free(digests);
	return 0;
}

int tpm_reset_count(struct tpm *t, uint32_t *out)
{
	TPMS_TIME_INFO *info = NULL;
	TSS2_RC rc;

	rc = Esys_ReadClock(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &info);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_rc_errno(rc, "ReadClock");
	*out = info->clockInfo.resetCount;
	Esys_Free(info);
	return 0;
}

bool tpm_locked_out(struct tpm *t)
{
	uint32_t permanent;

	return tpm_property(t, TPM2_PT_PERMANENT, &permanent) == 0 &&
	       (permanent & TPMA_PERMANENT_INLOCKOUT);
}
