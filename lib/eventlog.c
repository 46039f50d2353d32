// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * TCG event log parsing and replay. Every length in the log is checked
 * against the bytes that remain before it is used, and every count against
 * a cap, because anyone who can write the log file (or a hostile firmware)
 * chooses them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "eventlog.h"
#include "file.h"
#include "log.h"

#define SHA1_SIZE 20
#define SPEC_ID_03 "Spec ID Event03"
#define STARTUP_LOCALITY "StartupLocality"

struct cursor {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return false;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static bool take_u32(struct cursor *c, uint32_t *v)
{
	const uint8_t *p;

	if (!take(c, 4, &p))
		return false;
	*v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return true;
}

static bool take_u16(struct cursor *c, uint16_t *v)
{
	const uint8_t *p;

	if (!take(c, 2, &p))
		return false;
	*v = (uint16_t)(p[0] | p[1] << 8);
	return true;
}

static const struct {
	uint32_t type;
	const char *name;
} event_types[] = {
	{ 0x00000000, "EV_PREBOOT_CERT" },
	{ 0x00000001, "EV_POST_CODE" },
	{ 0x00000003, "EV_NO_ACTION" },
	{ 0x00000004, "EV_SEPARATOR" },
	{ 0x00000005, "EV_ACTION" },
	{ 0x00000006, "EV_EVENT_TAG" },
	{ 0x00000007, "EV_S_CRTM_CONTENTS" },
	{ 0x00000008, "EV_S_CRTM_VERSION" },
	{ 0x00000009, "EV_CPU_MICROCODE" },
	{ 0x0000000a, "EV_PLATFORM_CONFIG_FLAGS" },
	{ 0x0000000b, "EV_TABLE_OF_DEVICES" },
	{ 0x0000000c, "EV_COMPACT_HASH" },
	{ 0x0000000d, "EV_IPL" },
	{ 0x0000000e, "EV_IPL_PARTITION_DATA" },
	{ 0x0000000f, "EV_NONHOST_CODE" },
	{ 0x00000010, "EV_NONHOST_CONFIG" },
	{ 0x00000011, "EV_NONHOST_INFO" },
	{ 0x00000012, "EV_OMIT_BOOT_DEVICE_EVENTS" },
	{ 0x80000001, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
	{ 0x80000002, "EV_EFI_VARIABLE_BOOT" },
	{ 0x80000003, "EV_EFI_BOOT_SERVICES_APPLICATION" },
	{ 0x80000004, "EV_EFI_BOOT_SERVICES_DRIVER" },
	{ 0x80000005, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
	{ 0x80000006, "EV_EFI_GPT_EVENT" },
	{ 0x80000007, "EV_EFI_ACTION" },
	{ 0x80000008, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
	{ 0x80000009, "EV_EFI_HANDOFF_TABLES" },
	{ 0x8000000a, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
	{ 0x8000000b, "EV_EFI_HANDOFF_TABLES2" },
	{ 0x8000000c, "EV_EFI_VARIABLE_BOOT2" },
	{ 0x80000010, "EV_EFI_HCRTM_EVENT" },
	{ 0x800000e0, "EV_EFI_VARIABLE_AUTHORITY" },
	{ 0x800000e1, "EV_EFI_SPDM_FIRMWARE_BLOB" },
	{ 0x800000e2, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *eventlog_type_name(uint32_t type)
{
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (event_types[i].type == type)
			return event_types[i].name;
	return NULL;
}

/* OpenSSL knows the banks by the names the token uses. */
static const EVP_MD *bank_md(uint16_t bank)
{
	const char *name = pcr_bank_name(bank);

	return name ? EVP_get_digestbyname(name) : NULL;
}

int eventlog_hash(uint16_t bank, const void *data, size_t len, uint8_t *out)
{
	const EVP_MD *md = bank_md(bank);

	if (!md)
		return -ENOTSUP;
	return EVP_Digest(data, len, out, NULL, md, NULL) ? 0 : -EIO;
}

int eventlog_bank(const struct eventlog *log, uint16_t bank)
{
	for (unsigned b = 0; b < log->n_banks; b++)
		if (log->banks[b] == bank)
			return (int)b;
	return -ENOENT;
}

/* TCG_EfiSpecIDEventStruct: the banks of a crypto-agile log and their digest sizes. */
static int parse_spec_id(struct eventlog *log, const uint8_t *data, size_t len)
{
	struct cursor c = { data, len };
	const uint8_t *p;
	uint32_t n;

	if (!take(&c, 16 + 4 + 4, &p) || !take_u32(&c, &n)) {
		log_err("The event log's Spec ID header is truncated.");
		return -EINVAL;
	}
	if (n == 0 || n > OYSTER_EVENTLOG_MAX_BANKS) {
		log_err("The event log's Spec ID header lists %u algorithms (1..%u expected).", n,
			OYSTER_EVENTLOG_MAX_BANKS);
		return -EINVAL;
	}
	for (unsigned b = 0; b < n; b++) {
		uint16_t alg, size;

		if (!take_u16(&c, &alg) || !take_u16(&c, &size)) {
			log_err("The event log's Spec ID header is truncated.");
			return -EINVAL;
		}
		/* The size is the log's word; for a bank we know it must be the real one. */
		if (size == 0 || size > OYSTER_MAX_DIGEST ||
		    (pcr_bank_digest_size(alg) && pcr_bank_digest_size(alg) != size)) {
			log_err("The event log's Spec ID header gives algorithm 0x%04x a digest "
				"size of %u.",
				alg, size);
			return -EINVAL;
		}
		for (unsigned i = 0; i < b; i++)
			if (log->banks[i] == alg) {
				log_err("The event log's Spec ID header lists algorithm 0x%04x "
					"twice.",
					alg);
				return -EINVAL;
			}
		log->banks[b] = alg;
		log->sizes[b] = size;
	}
	log->n_banks = n;
	return 0;
}

static bool is_spec_id_03(const uint8_t *data, size_t len)
{
	return len >= sizeof(SPEC_ID_03) && !memcmp(data, SPEC_ID_03, sizeof(SPEC_ID_03));
}

/* Firmware and the kernel may pad the end of the log with zeros: where the records end. */
static const uint8_t *end_of_records(const uint8_t *buf, size_t len)
{
	while (len && !buf[len - 1])
		len--;
	return buf + len;
}

/* Digest storage for one more event; the log's events array grows by doubling. */
static int grow(struct eventlog *log, unsigned *cap)
{
	size_t per = (size_t)log->n_banks * OYSTER_MAX_DIGEST;
	struct eventlog_event *ev;
	uint8_t *dg;
	unsigned n = *cap ? *cap * 2 : 64;

	if (log->n_events < *cap)
		return 0;
	if (log->n_events >= OYSTER_EVENTLOG_MAX_EVENTS) {
		log_err("The event log has more than %u events.", OYSTER_EVENTLOG_MAX_EVENTS);
		return -EFBIG;
	}
	if (n > OYSTER_EVENTLOG_MAX_EVENTS)
		n = OYSTER_EVENTLOG_MAX_EVENTS;
	ev = realloc(log->events, n * sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	log->events = ev;
	dg = realloc(log->digests, n * per);
	if (!dg)
		return -ENOMEM;
	/* Rebase the digest pointers of the events kept so far. */
	for (unsigned i = 0; i < log->n_events; i++)
		for (unsigned b = 0; b < log->n_banks; b++)
			if (log->events[i].digest[b])
				log->events[i].digest[b] = dg + i * per + b * OYSTER_MAX_DIGEST;
	log->digests = dg;
	*cap = n;
	return 0;
}

/* TCG_PCR_EVENT2 digests: a count, then (algorithm, digest) with sizes from the header. */
static int parse_digests(struct eventlog *log, struct cursor *c, struct eventlog_event *ev)
{
	size_t per = (size_t)log->n_banks * OYSTER_MAX_DIGEST;
	uint8_t *slot = log->digests + ev->index * per;
	uint32_t count;
	const uint8_t *p;

	if (!take_u32(c, &count))
		return -ENODATA;
	if (count > log->n_banks) {
		log_err("Event %u of the event log has %u digests, more than the %u algorithms of "
			"its header.",
			ev->index, count, log->n_banks);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint16_t alg;
		int b;

		if (!take_u16(c, &alg))
			return -ENODATA;
		b = eventlog_bank(log, alg);
		if (b < 0) {
			log_err("Event %u of the event log has a digest of algorithm 0x%04x, which "
				"its header does not list.",
				ev->index, alg);
			return -EINVAL;
		}
		if (ev->digest[b]) {
			log_err("Event %u of the event log has two digests of algorithm 0x%04x.",
				ev->index, alg);
			return -EINVAL;
		}
		if (!take(c, log->sizes[b], &p))
			return -ENODATA;
		ev->digest[b] = slot + (size_t)b * OYSTER_MAX_DIGEST;
		memcpy(ev->digest[b], p, log->sizes[b]);
	}
	return 0;
}

/* One record at c; -ENODATA when the bytes end inside it. */
static int parse_event(struct eventlog *log, struct cursor *c, bool agile,
		       struct eventlog_event *ev)
{
	uint32_t len;
	const uint8_t *p;
	int r;

	if (!take_u32(c, &ev->pcr) || !take_u32(c, &ev->type))
		return -ENODATA;
	if (agile) {
		r = parse_digests(log, c, ev);
		if (r < 0)
			return r;
	} else {
		if (!take(c, SHA1_SIZE, &p))
			return -ENODATA;
		ev->digest[0] = log->digests + ev->index * (size_t)log->n_banks * OYSTER_MAX_DIGEST;
		memcpy(ev->digest[0], p, SHA1_SIZE);
	}
	if (!take_u32(c, &len) || !take(c, len, &ev->data))
		return -ENODATA;
	ev->data_len = len;
	if (ev->pcr >= OYSTER_PCR_COUNT) {
		log_err("Event %u of the event log is for PCR %u; a TPM has PCRs 0..23.", ev->index,
			ev->pcr);
		return -EINVAL;
	}
	return 0;
}

static void note_locality(struct eventlog *log, const struct eventlog_event *ev)
{
	if (ev->type == EV_NO_ACTION && ev->pcr == 0 &&
	    ev->data_len == sizeof(STARTUP_LOCALITY) + 1 &&
	    !memcmp(ev->data, STARTUP_LOCALITY, sizeof(STARTUP_LOCALITY)))
		log->startup_locality = ev->data[sizeof(STARTUP_LOCALITY)];
}

/* The first record is always in the SHA-1 format; its data says which format follows. */
static int parse_header(struct eventlog *log, bool *agile)
{
	struct cursor c = { log->buf, 0 };
	const uint8_t *p, *data;
	uint32_t type, len;

	c.left = log->len;
	if (!take(&c, 4, &p) || !take_u32(&c, &type) || !take(&c, SHA1_SIZE, &p) ||
	    !take_u32(&c, &len) || !take(&c, len, &data)) {
		log_err("The event log is truncated at event 0 (it has %zu bytes).", log->len);
		return -EINVAL;
	}
	*agile = type == EV_NO_ACTION && is_spec_id_03(data, len);
	if (*agile)
		return parse_spec_id(log, data, len);
	log->legacy = true;
	log->n_banks = 1;
	log->banks[0] = TPM2_ALG_SHA1;
	log->sizes[0] = SHA1_SIZE;
	return 0;
}

int eventlog_parse(const uint8_t *buf, size_t len, struct eventlog **out)
{
	struct eventlog *log;
	const uint8_t *end;
	struct cursor c;
	unsigned cap = 0;
	bool agile = false;
	int r;

	*out = NULL;
	if (len > OYSTER_EVENTLOG_MAX_SIZE) {
		log_err("The event log is larger than %u MiB.", OYSTER_EVENTLOG_MAX_SIZE >> 20);
		return -EFBIG;
	}
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	r = -ENOMEM;
	log->buf = malloc(len ? len : 1);
	if (!log->buf)
		goto out;
	memcpy(log->buf, buf, len);
	log->len = len;
	r = parse_header(log, &agile);
	if (r < 0)
		goto out;

	c = (struct cursor){ log->buf, len };
	end = end_of_records(log->buf, len);
	while (c.left && (log->n_events == 0 || c.p < end)) {
		struct eventlog_event *ev;

		r = grow(log, &cap);
		if (r < 0)
			goto out;
		ev = &log->events[log->n_events];
		*ev = (struct eventlog_event){ .index = log->n_events };
		r = parse_event(log, &c, agile && log->n_events > 0, ev);
		if (r == -ENODATA) {
			log_err("The event log is truncated at event %u.", log->n_events);
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
		/* The Spec ID header is no measurement; its SHA-1 field is zeros. */
		if (agile && log->n_events == 0)
			ev->digest[0] = NULL;
		note_locality(log, ev);
		log->n_events++;
	}
	*out = log;
	log = NULL;
	r = 0;
out:
	eventlog_free(log);
	return r;
}

void eventlog_free(struct eventlog *log)
{
	if (!log)
		return;
	free(log->events);
	free(log->digests);
	free(log->buf);
	free(log);
}

int eventlog_read(const char *path, struct eventlog **out)
{
	uint8_t *buf;
	size_t len;
	int r;

	*out = NULL;
	r = file_read(path, OYSTER_EVENTLOG_MAX_SIZE, &buf, &len);
	if (r == -EFBIG)
		log_err("The event log %s is larger than %u MiB.", path,
			OYSTER_EVENTLOG_MAX_SIZE >> 20);
	else if (r < 0)
		log_err("Cannot read the event log %s: %s.", path, strerror(-r));
	if (r < 0)
		return r;
	r = eventlog_parse(buf, len, out);
	if (r == -EINVAL)
		log_err("%s is not a usable TCG event log.", path);
	free(buf);
	return r;
}

int eventlog_replay(const struct eventlog *log, uint16_t bank, struct pcr_state *out,
		    uint32_t *measured)
{
	int b = eventlog_bank(log, bank);
	size_t size = pcr_bank_digest_size(bank);
	const EVP_MD *md = bank_md(bank);
	EVP_MD_CTX *ctx;
	int r = 0;

	*measured = 0;
	if (b < 0 || !md || !size) {
		log_err("The event log has no %s digests (it has %u bank%s).",
			pcr_bank_name(bank) ? pcr_bank_name(bank) : "such", log->n_banks,
			log->n_banks == 1 ? "" : "s");
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->value[0][size - 1] = log->startup_locality;
	for (unsigned pcr = 17; pcr <= 22; pcr++)
		memset(out->value[pcr], 0xff, size);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	for (unsigned i = 0; i < log->n_events && r == 0; i++) {
		const struct eventlog_event *ev = &log->events[i];
		uint8_t *v = out->value[ev->pcr];

		if (ev->type == EV_NO_ACTION)
			continue;
		if (!ev->digest[b]) {
			log_err("Event %u of the event log (PCR %u) has no %s digest.", ev->index,
				ev->pcr, pcr_bank_name(bank));
			r = -ENOENT;
			break;
		}
		if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, v, size) ||
		    !EVP_DigestUpdate(ctx, ev->digest[b], size) ||
		    !EVP_DigestFinal_ex(ctx, v, NULL))
			r = -EIO;
		*measured |= 1u << ev->pcr;
	}
	EVP_MD_CTX_free(ctx);
	return r;
}
