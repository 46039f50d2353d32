/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_EXPLAIN_H
#define OYSTER_EXPLAIN_H

#include <stdint.h>

#include "eventlog.h"
#include "token.h"

/*
 * Records in tok (tpm2_events) the log's events of each bound PCR outside
 * skip whose replay gives its value in now; nothing for the others, nor for
 * a PCR with more events than a token holds. Replaces what tok had.
 */
void explain_record(const struct eventlog *log, const struct pcr_state *now, uint32_t skip,
		    struct token *tok);
/*
 * One line per difference between tok's recorded events and log's, for the
 * PCRs of pcrs ("PCR 4: EV_EFI_BOOT_SERVICES_APPLICATION #3 changed"); now
 * holds the TPM's values, to tell when the log itself cannot be believed.
 * Returns the number of lines.
 */
unsigned explain_diff(const struct token *tok, const struct eventlog *log,
		      const struct pcr_state *now, uint32_t pcrs,
		      void (*line)(const char *text, void *data), void *data);

#endif
