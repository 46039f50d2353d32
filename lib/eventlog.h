/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_EVENTLOG_H
#define OYSTER_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pcr.h"

/*
 * The firmware's TCG event log (TCG PC Client Platform Firmware Profile):
 * the crypto-agile format (a "Spec ID Event03" header, then TCG_PCR_EVENT2
 * records) and the legacy SHA-1 format. The log is untrusted input: it is
 * believed only when its replay gives the TPM's own PCR values.
 */
#define OYSTER_EVENTLOG_DEFAULT "/sys/kernel/security/tpm0/binary_bios_measurements"
/* Far above real logs (tens of KiB, a few hundred events). */
#define OYSTER_EVENTLOG_MAX_SIZE (16u << 20)
#define OYSTER_EVENTLOG_MAX_EVENTS 65536u
#define OYSTER_EVENTLOG_MAX_BANKS 8u

#define EV_NO_ACTION 0x00000003u
#define EV_SEPARATOR 0x00000004u
#define EV_IPL 0x0000000du
#define EV_EVENT_TAG 0x00000006u
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u

struct eventlog_event {
	unsigned index; /* 0 is the log's first record */
	uint32_t pcr;
	uint32_t type;
	/* One digest per bank of the log, in log->banks order; NULL when absent. */
	uint8_t *digest[OYSTER_EVENTLOG_MAX_BANKS];
	const uint8_t *data;
	size_t data_len;
};

struct eventlog {
	bool legacy; /* SHA-1 only, TCG_PCClientPCREvent records */
	unsigned n_banks;
	uint16_t banks[OYSTER_EVENTLOG_MAX_BANKS];
	size_t sizes[OYSTER_EVENTLOG_MAX_BANKS];
	uint8_t startup_locality;
	unsigned n_events;
	struct eventlog_event *events;
	uint8_t *buf; /* the log's bytes, which data points into */
	size_t len;
	uint8_t *digests;
};

/*
 * Parses len bytes (copied); -EINVAL with the reason logged ("event log
 * truncated at event 57"), -EFBIG beyond the caps, -ENOMEM.
 */
int eventlog_parse(const uint8_t *buf, size_t len, struct eventlog **out);
/* Reads and parses a file; errors name it. -ENOENT when there is none. */
int eventlog_read(const char *path, struct eventlog **out);
void eventlog_free(struct eventlog *log);

/* The slot of bank in log->banks, or -ENOENT. */
int eventlog_bank(const struct eventlog *log, uint16_t bank);
/*
 * PCR values of bank after every measured event, from the reset values
 * (PCR 0 from the startup locality, 17..22 all ones). *measured gets the
 * PCRs that at least one event extends. -ENOENT when the log lacks the bank
 * (logged, naming the event without its digest).
 */
int eventlog_replay(const struct eventlog *log, uint16_t bank, struct pcr_state *out,
		    uint32_t *measured);
/* "EV_EFI_BOOT_SERVICES_APPLICATION", or NULL for a type without a name. */
const char *eventlog_type_name(uint32_t type);
/* Hashes len bytes with bank's algorithm into out; -ENOTSUP for an unknown bank. */
int eventlog_hash(uint16_t bank, const void *data, size_t len, uint8_t *out);

#endif
