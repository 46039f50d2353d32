// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The prediction engine: the PCR values of the next boot after a kernel,
 * initramfs, command line, boot loader or Secure Boot database update,
 * computed from this boot's event log with the updated parts' digests put
 * in place of the old ones. The log is only believed when it reproduces the
 * TPM's PCR values of now.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eventlog.h"
#include "explain.h"
#include "log.h"
#include "predict.h"
#include "tpm.h"

/* path, else $OYSTER_EVENT_LOG, else the kernel's. */
static const char *log_path(const char *path)
{
	const char *env = getenv("OYSTER_EVENT_LOG");

	if (path)
		return path;
	return env && *env ? env : OYSTER_EVENTLOG_DEFAULT;
}

struct eventlog *predict_boot_log(const char *path)
{
	struct eventlog *log = NULL;

	path = log_path(path);
	if (access(path, R_OK) < 0)
		return NULL;
	if (eventlog_read(path, &log) < 0)
		return NULL;
	return log;
}

void predict_record_events(const char *path, struct token *tok, const struct pcr_state *now,
			   uint32_t skip)
{
	struct eventlog *log = predict_boot_log(path);

	tok->n_events = 0;
	if (!log)
		return;
	explain_record(log, now, skip, tok);
	log_debug("Recorded %u events of the event log in the token.", tok->n_events);
	eventlog_free(log);
}

int predict_state(struct tpm *t, uint16_t bank, uint32_t want, const struct predict_args *p,
		  struct pcr_state *out, uint32_t *changed)
{
	const char *path = log_path(p->event_log);
	size_t size = pcr_bank_digest_size(bank);
	struct pcr_state *before = NULL, *after = NULL;
	struct substitutions o = p->o;
	struct eventlog *log = NULL;
	uint32_t measured, measured_after, stale = 0, check;
	char pcrs[512];
	int r;

	*changed = 0;
	r = eventlog_read(path, &log);
	if (r == -ENOENT)
		log_err("There is no event log at %s: this machine's firmware (or kernel) does "
			"not expose one, so the next boot cannot be predicted.",
			path);
	if (r < 0)
		return r;
	r = -ENOMEM;
	before = malloc(sizeof(*before));
	after = malloc(sizeof(*after));
	if (!before || !after)
		goto out;
	r = eventlog_replay(log, bank, before, &measured);
	if (r < 0)
		goto out;
	/* The next boot's GRUB reads its files as they are then: now. No want: all that change. */
	o.pcr9 = !want || (want & (1u << 9));
	if (o.kernel || o.initrd || o.cmdline || o.boot_loader || o.pcr9) {
		r = substitute_apply(log, bank, &o, changed);
		if (r < 0)
			goto out;
	}
	if (p->o.boot_loader) {
		r = efivar_check_authority(log, bank, p->efi, p->n_efi, NULL, p->o.boot_loader,
					   p->o.current_boot_loader);
		if (r < 0)
			goto out;
	}
	r = efivar_apply(log, bank, p->efi, p->n_efi, NULL, changed);
	if (r < 0)
		goto out;
	if (p->shim) {
		r = efivar_apply_shim(log, bank, p->shim, NULL, changed);
		if (r < 0)
			goto out;
	}
	r = eventlog_replay(log, bank, after, &measured_after);
	if (r < 0)
		goto out;
	r = tpm_pcr_read(t, bank, want | *changed | 1u, out);
	if (r < 0)
		goto out;
	/* Only PCRs the log measures can be checked; the others are the TPM's. */
	check = measured & (want | *changed);
	stale = pcr_state_diff(before, out, check, size);
	if (stale) {
		pcr_describe(stale, pcrs, sizeof(pcrs));
		log_err("The event log %s does not reproduce the TPM's %s values of %s, so it "
			"cannot predict the next boot; approve the next boot with oyster reseal "
			"--next-boot instead.",
			path, pcr_bank_name(bank), pcrs);
		r = -ESTALE;
		goto out;
	}
	pcr_state_copy(out, after, *changed, size);
	r = 0;
out:
	free(before);
	free(after);
	eventlog_free(log);
	return r;
}
