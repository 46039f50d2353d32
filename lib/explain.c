// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which events changed: the token keeps, per bound PCR, each event's type
 * and the first bytes of its digest (tpm2_events); a refused unlock compares
 * them with the event log of the boot that was refused. Only a hint: the
 * list is not part of the policy, and the log is only compared where its
 * replay gives the TPM's values.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "efivar.h"
#include "explain.h"

/* Lines per PCR before "and N more": a changed firmware can change everything. */
#define EXPLAIN_LINES_PER_PCR 6

static unsigned count_events(const struct eventlog *log, unsigned pcr)
{
	unsigned n = 0;

	for (unsigned i = 0; i < log->n_events; i++)
		if (log->events[i].pcr == pcr && log->events[i].type != EV_NO_ACTION)
			n++;
	return n;
}

/* The PCRs of mask whose replay of the token's bank equals now. */
static uint32_t reproduced(const struct eventlog *log, uint16_t bank, const struct pcr_state *now,
			   uint32_t mask)
{
	size_t size = pcr_bank_digest_size(bank);
	struct pcr_state replay;
	uint32_t measured;

	if (eventlog_bank(log, bank) < 0 || eventlog_replay(log, bank, &replay, &measured) < 0)
		return 0;
	mask &= measured & ((1u << OYSTER_PCR_COUNT) - 1);
	return mask & ~pcr_state_diff(&replay, now, mask, size);
}

void explain_record(const struct eventlog *log, const struct pcr_state *now, uint32_t skip,
		    struct token *tok)
{
	int b = eventlog_bank(log, tok->bank);
	uint32_t ok = reproduced(log, tok->bank, now, tok->pcr_mask & ~skip);

	tok->n_events = 0;
	if (b < 0)
		return;
	FOREACH_PCR_IN_MASK(pcr, ok) {
		unsigned n = count_events(log, pcr);

		if (n > OYSTER_EVENTS_PER_PCR || tok->n_events + n > OYSTER_EVENTS_MAX)
			continue;
		for (unsigned i = 0; i < log->n_events; i++) {
			const struct eventlog_event *ev = &log->events[i];
			struct token_event *te;

			if (ev->pcr != pcr || ev->type == EV_NO_ACTION)
				continue;
			te = &tok->events[tok->n_events++];
			te->pcr = (uint8_t)pcr;
			te->type = ev->type;
			memcpy(te->digest, ev->digest[b], OYSTER_EVENT_DIGEST);
		}
	}
}

static void type_text(uint32_t type, char *buf, size_t size)
{
	const char *name = eventlog_type_name(type);

	if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "event type 0x%08x", type);
}

/* " (db)" for an event measuring a UEFI variable, so that a refusal names it. */
static void variable_text(const struct eventlog_event *ev, char *buf, size_t size)
{
	char name[40];

	buf[0] = 0;
	if (efivar_event_name(ev, name, sizeof(name)))
		snprintf(buf, size, " (%s)", name);
}

static void say(void (*line)(const char *, void *), void *data, unsigned *lines, unsigned *shown,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void say(void (*line)(const char *, void *), void *data, unsigned *lines, unsigned *shown,
		const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	(*shown)++;
	if (*shown > EXPLAIN_LINES_PER_PCR)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	line(buf, data);
	(*lines)++;
}

unsigned explain_diff(const struct token *tok, const struct eventlog *log,
		      const struct pcr_state *now, uint32_t pcrs,
		      void (*line)(const char *text, void *data), void *data)
{
	int b = eventlog_bank(log, tok->bank);
	uint32_t believed = reproduced(log, tok->bank, now, pcrs);
	unsigned lines = 0;
	char buf[256], a[64], c[64], v[48];

	if (b < 0)
		return 0;
	FOREACH_PCR_IN_MASK(pcr, pcrs) {
		const struct token_event *rec = NULL;
		unsigned n_rec = 0, k = 0, shown = 0;

		for (unsigned i = 0; i < tok->n_events; i++)
			if (tok->events[i].pcr == pcr) {
				rec = rec ? rec : &tok->events[i];
				n_rec++;
			}
		if (!rec)
			continue;
		if (!(believed & (1u << pcr))) {
			snprintf(buf, sizeof(buf),
				 "PCR %u: the event log does not reproduce its value; no event to "
				 "name",
				 pcr);
			line(buf, data);
			lines++;
			continue;
		}
		for (unsigned i = 0; i < log->n_events; i++) {
			const struct eventlog_event *ev = &log->events[i];

			if (ev->pcr != pcr || ev->type == EV_NO_ACTION)
				continue;
			type_text(ev->type, c, sizeof(c));
			variable_text(ev, v, sizeof(v));
			if (k >= n_rec) {
				say(line, data, &lines, &shown, "PCR %u: %s #%u%s added", pcr, c,
				    k + 1, v);
			} else if (rec[k].type != ev->type) {
				type_text(rec[k].type, a, sizeof(a));
				say(line, data, &lines, &shown,
				    "PCR %u: event #%u changed from %s to %s", pcr, k + 1, a, c);
			} else if (memcmp(rec[k].digest, ev->digest[b], OYSTER_EVENT_DIGEST)) {
				unsigned added = efivar_appended(log, b, ev, rec[k].digest,
								 OYSTER_EVENT_DIGEST);

				if (added)
					say(line, data, &lines, &shown,
					    "PCR %u: %s #%u%s changed: %u signature%s appended",
					    pcr, c, k + 1, v, added, added == 1 ? "" : "s");
				else
					say(line, data, &lines, &shown, "PCR %u: %s #%u%s changed",
					    pcr, c, k + 1, v);
			}
			k++;
		}
		for (; k < n_rec; k++) {
			type_text(rec[k].type, a, sizeof(a));
			say(line, data, &lines, &shown, "PCR %u: %s #%u removed", pcr, a, k + 1);
		}
		if (shown > EXPLAIN_LINES_PER_PCR) {
			snprintf(buf, sizeof(buf), "PCR %u: and %u more changed events", pcr,
				 shown - EXPLAIN_LINES_PER_PCR);
			line(buf, data);
			lines++;
		} else if (!shown) {
			snprintf(buf, sizeof(buf), "PCR %u: the same events as recorded", pcr);
			line(buf, data);
			lines++;
		}
	}
	return lines;
}
