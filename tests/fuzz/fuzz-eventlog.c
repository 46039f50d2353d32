// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The TCG event log, as read from securityfs or --event-log: the parser, the
 * replay of every bank it lists, GRUB's command line substitution, and the
 * token's event record and its comparison with the log.
 */
#include <errno.h>
#include <string.h>

#include <tss2/tss2_tpm2_types.h>

#include "eventlog.h"
#include "explain.h"
#include "fuzz.h"
#include "substitute.h"

static void count_line(const char *text, void *data)
{
	FUZZ_ASSERT(text && strlen(text) < 256);
	(*(unsigned *)data)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct substitutions o = { .cmdline = "root=/dev/fuzz ro" };
	struct eventlog *log = (struct eventlog *)0x1;
	struct pcr_state state;
	struct token *tok;
	uint32_t measured, changed;
	unsigned lines = 0;
	int r;

	r = eventlog_parse(data, size, &log);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -EFBIG);
	if (r < 0) {
		FUZZ_ASSERT(log == NULL);
		return 0;
	}
	FUZZ_ASSERT(log->n_events >= 1 && log->n_events <= OYSTER_EVENTLOG_MAX_EVENTS);
	FUZZ_ASSERT(log->n_banks >= 1 && log->n_banks <= OYSTER_EVENTLOG_MAX_BANKS);
	for (unsigned i = 0; i < log->n_events; i++) {
		const struct eventlog_event *ev = &log->events[i];

		FUZZ_ASSERT(ev->pcr < OYSTER_PCR_COUNT && ev->index == i);
		FUZZ_ASSERT(ev->data >= log->buf && ev->data_len <= log->len &&
			    (size_t)(ev->data - log->buf) <= log->len - ev->data_len);
	}
	for (unsigned b = 0; b < log->n_banks; b++) {
		r = eventlog_replay(log, log->banks[b], &state, &measured);
		FUZZ_ASSERT(r == 0 || r == -ENOENT);
	}

	tok = calloc(1, sizeof(*tok));
	FUZZ_ASSERT(tok);
	tok->bank = TPM2_ALG_SHA256;
	tok->pcr_mask = (1u << OYSTER_PCR_COUNT) - 1;
	if (eventlog_replay(log, TPM2_ALG_SHA256, &state, &measured) == 0) {
		explain_record(log, &state, 0, tok);
		FUZZ_ASSERT(tok->n_events <= OYSTER_EVENTS_MAX);
		/* The log against its own record: nothing but "the same events" lines. */
		explain_diff(tok, log, &state, measured, count_line, &lines);
		FUZZ_ASSERT(lines <= (unsigned)__builtin_popcount(measured));
	}
	r = substitute_apply(log, TPM2_ALG_SHA256, &o, &changed);
	FUZZ_ASSERT(r == 0 || r == -ENOENT || r == -E2BIG || r == -ENOMEM);
	FUZZ_ASSERT(!(changed & ~(1u << 8)));
	if (r == 0 && tok->n_events) {
		lines = 0;
		explain_diff(tok, log, &state, changed, count_line, &lines);
	}
	free(tok);
	eventlog_free(log);
	return 0;
}
