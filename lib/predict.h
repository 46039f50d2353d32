/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_PREDICT_H
#define OYSTER_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "efivar.h"
#include "pcr.h"
#include "substitute.h"

struct eventlog;
struct token;
struct tpm;

/* What the next boot changes: oyster predict's and oyster reseal --predict's options. */
struct predict_args {
	struct substitutions o;
	const char *event_log;
	struct efi_update efi[OYSTER_EFI_UPDATES_MAX];
	unsigned n_efi;
	const char *shim; /* the shim that sets SbatLevel at the next boot */
	bool any;
};

/*
 * The next boot's values of bank's PCRs: today's (from the TPM) with the
 * PCRs the substitutions change replayed from the rewritten log. Refuses
 * (-ESTALE, logged with the PCRs) a log whose replay differs from the TPM
 * for PCRs of want or of the change. *changed gets the changed PCRs.
 */
int predict_state(struct tpm *t, uint16_t bank, uint32_t want, const struct predict_args *p,
		  struct pcr_state *out, uint32_t *changed);

/*
 * The event log of this boot when there is one (path; NULL: $OYSTER_EVENT_LOG,
 * else the kernel's), or NULL: explanations are optional, a missing log is
 * no error.
 */
struct eventlog *predict_boot_log(const char *path);
/* tpm2_events for tok from this boot's log; now holds the PCR values, skip the fence. */
void predict_record_events(const char *path, struct token *tok, const struct pcr_state *now,
			   uint32_t skip);

#endif
