// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The event log parser, replay and substitutions, and the Authenticode
 * digest. Fixtures (tests/fixtures/): logs harvested from qemu boots
 * (SeaBIOS, OVMF) with the PCR values the guest kernel read from the TPM,
 * and hand-written edge cases whose PCR values tcglog.py computed (another
 * implementation); PE images whose digests pesign printed.
 */
#include <errno.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "authenticode.h"
#include "encode.h"
#include "eventlog.h"
#include "explain.h"
#include "log.h"
#include "substitute.h"
#include "test.h"

static const char *dir;
static uint8_t *slurp(const char *name, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return test_slurp(path, len);
}

static struct eventlog *parse_fixture(const char *name)
{
	struct eventlog *log = NULL;
	size_t len = 0;
	uint8_t *buf = slurp(name, &len);
	int r;

	CHECK(buf, "fixture %s/%s is missing", dir, name);
	if (!buf)
		return NULL;
	r = eventlog_parse(buf, len, &log);
	CHECK(r == 0, "%s: parse returned %d (%s)", name, r, test_last_error);
	free(buf);
	return log;
}

/* Every "BANK PCR HEX" line of pcrs whose PCR the log measures must match its replay. */
static void check_replay(const char *log_name, const char *pcrs_name, unsigned want_checked)
{
	struct eventlog *log = parse_fixture(log_name);
	char path[1024], bank_name[16], hex[2 * OYSTER_MAX_DIGEST + 1], got[sizeof(hex)];
	unsigned pcr, checked = 0;
	FILE *f;

	if (!log)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, pcrs_name);
	f = fopen(path, "r");
	CHECK(f, "cannot open %s", path);
	while (f && fscanf(f, "%15s %u %128s", bank_name, &pcr, hex) == 3) {
		uint16_t bank = pcr_bank_from_name(bank_name);
		struct pcr_state state;
		uint32_t measured;

		CHECK(bank && pcr < OYSTER_PCR_COUNT, "%s: bad line", pcrs_name);
		if (!bank || pcr >= OYSTER_PCR_COUNT ||
		    eventlog_replay(log, bank, &state, &measured) < 0)
			continue;
		if (!(measured & (1u << pcr)))
			continue;
		hex_encode(state.value[pcr], pcr_bank_digest_size(bank), got, sizeof(got));
		CHECK(!strcmp(got, hex), "%s: %s PCR %u replays to %s, the TPM had %s", log_name,
		      bank_name, pcr, got, hex);
		checked++;
	}
	if (f)
		fclose(f);
	CHECK(checked == want_checked, "%s: %u PCR values checked, expected %u", log_name, checked,
	      want_checked);
	eventlog_free(log);
}

static void test_replays(void)
{
	struct eventlog *log;

	/* SeaBIOS and OVMF measure PCRs 0..7 (OVMF also 9, the kernel's initrd and options). */
	check_replay("eventlog/seabios.bin", "eventlog/seabios.pcrs", 16);
	check_replay("eventlog/ovmf.bin", "eventlog/ovmf.pcrs", 18);
	check_replay("eventlog/banks.bin", "eventlog/banks.pcrs", 20);
	check_replay("eventlog/padded.bin", "eventlog/banks.pcrs", 20);
	check_replay("eventlog/sha256.bin", "eventlog/sha256.pcrs", 5);
	check_replay("eventlog/legacy-sha1.bin", "eventlog/legacy-sha1.pcrs", 5);

	log = parse_fixture("eventlog/seabios.bin");
	if (log) {
		CHECK(!log->legacy && log->n_banks == 4, "seabios: %u banks", log->n_banks);
		CHECK(eventlog_bank(log, TPM2_ALG_SHA256) >= 0, "seabios: no sha256 bank");
		CHECK(log->events[0].type == EV_NO_ACTION, "seabios: header is not EV_NO_ACTION");
	}
	eventlog_free(log);
	log = parse_fixture("eventlog/banks.bin");
	if (log)
		CHECK(log->startup_locality == 3, "StartupLocality %u, expected 3",
		      log->startup_locality);
	eventlog_free(log);
	log = parse_fixture("eventlog/legacy-sha1.bin");
	if (log) {
		struct pcr_state s;
		uint32_t m;

		CHECK(log->legacy && log->n_banks == 1, "legacy-sha1 read as crypto-agile");
		CHECK(eventlog_replay(log, TPM2_ALG_SHA256, &s, &m) == -ENOENT,
		      "a SHA-1 log replayed a sha256 bank");
		CHECK(strstr(test_last_error, "no sha256 digests"), "message: %s", test_last_error);
	}
	eventlog_free(log);
}

static void expect_refused(const uint8_t *buf, size_t len, int want, const char *msg)
{
	struct eventlog *log = (struct eventlog *)0x1;
	int r;

	test_last_error[0] = '\0';
	r = eventlog_parse(buf, len, &log);
	CHECK(r == want, "parse returned %d, expected %d", r, want);
	CHECK(log == NULL, "a refused log was returned");
	CHECK(strstr(test_last_error, msg), "message \"%s\" lacks \"%s\"", test_last_error, msg);
	if (r == 0)
		eventlog_free(log);
}

static void test_refused(void)
{
	size_t len = 0, i;
	uint8_t *buf;

	buf = slurp("eventlog/truncated.bin", &len);
	CHECK(buf, "truncated.bin missing");
	if (buf)
		expect_refused(buf, len, -EINVAL, "The event log is truncated at event 9.");
	free(buf);
	buf = slurp("eventlog/corrupted.bin", &len);
	CHECK(buf, "corrupted.bin missing");
	if (buf)
		expect_refused(buf, len, -EINVAL,
			       "Event 3 of the event log has a digest of algorithm 0x0012");
	free(buf);
	expect_refused((const uint8_t *)"", 0, -EINVAL, "truncated at event 0");

	/* Every prefix of a real log: whole events parse, the rest is refused, nothing crashes. */
	buf = slurp("eventlog/seabios.bin", &len);
	CHECK(buf, "seabios.bin missing");
	for (i = 0; buf && i < len; i++) {
		struct eventlog *log = NULL;
		int r = eventlog_parse(buf, i, &log);

		CHECK(r == 0 || r == -EINVAL, "prefix %zu: %d", i, r);
		CHECK((r == 0) == (log != NULL), "prefix %zu: result and log disagree", i);
		eventlog_free(log);
	}
	/* A PCR index beyond 23 (event 1's, in the SeaBIOS log). */
	if (buf && len > 0x200) {
		struct eventlog *log = NULL;
		size_t at = 0x20 + 45; /* after the 45-byte Spec ID header record */

		buf[at] = 24;
		test_last_error[0] = '\0';
		CHECK(eventlog_parse(buf, len, &log) == -EINVAL, "PCR 24 accepted");
		CHECK(strstr(test_last_error, "Event 1 of the event log is for PCR 24"),
		      "message: %s", test_last_error);
		eventlog_free(log);
	}
	free(buf);
}

static void sha256(const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, a, na);
	if (b)
		EVP_DigestUpdate(ctx, b, nb);
	EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
}

/* GRUB's PCR 8: "grub_cmd: linux PATH ARGS" and "kernel_cmdline: BOOT_IMAGE=PATH ARGS". */
static void test_cmdline(void)
{
	static const char *const measured[] = { "linux /boot/vmlinuz-1 root=/dev/vda2",
						"BOOT_IMAGE=/boot/vmlinuz-1 root=/dev/vda2" };
	struct eventlog *log = parse_fixture("eventlog/sha256.bin");
	struct substitutions o = { .cmdline = "root=/dev/vda2" };
	uint8_t want[32] = { 0 }, d[32];
	struct pcr_state s;
	uint32_t changed = 0, m;

	if (!log)
		return;
	for (unsigned i = 0; i < 2; i++) {
		sha256(measured[i], strlen(measured[i]), NULL, 0, d);
		sha256(want, 32, d, 32, want);
	}
	CHECK(substitute_apply(log, TPM2_ALG_SHA256, &o, &changed) == 0, "cmdline: %s",
	      test_last_error);
	CHECK(changed == 1u << 8, "cmdline changed 0x%x", changed);
	CHECK(eventlog_replay(log, TPM2_ALG_SHA256, &s, &m) == 0 && !memcmp(s.value[8], want, 32),
	      "PCR 8 after --cmdline is not GRUB's");
	eventlog_free(log);

	log = parse_fixture("eventlog/seabios.bin");
	if (log) {
		test_last_error[0] = '\0';
		CHECK(substitute_apply(log, TPM2_ALG_SHA256, &o, &changed) == -ENOENT,
		      "--cmdline matched a log without GRUB");
		CHECK(strstr(test_last_error, "--cmdline: the event log has no GRUB"),
		      "message: %s", test_last_error);
	}
	eventlog_free(log);
}

static char lines[8][256];
static unsigned n_lines;

static void keep_line(const char *text, void *data)
{
	(void)data;
	if (n_lines < 8)
		snprintf(lines[n_lines], sizeof(lines[0]), "%s", text);
	n_lines++;
}

static bool has_line(const char *want)
{
	for (unsigned i = 0; i < n_lines && i < 8; i++)
		if (!strcmp(lines[i], want))
			return true;
	return false;
}

/* tpm2_events: recorded from a log, compared with a changed one. */
static void test_explain(void)
{
	struct eventlog *log = parse_fixture("eventlog/sha256.bin");
	struct token *tok = calloc(1, sizeof(*tok));
	struct pcr_state now, changed_now;
	uint32_t measured;
	int b;

	if (!log || !tok)
		goto out;
	tok->bank = TPM2_ALG_SHA256;
	tok->pcr_mask = (1u << 0) | (1u << 4) | (1u << 7) | (1u << 8) | (1u << 18);
	CHECK(eventlog_replay(log, TPM2_ALG_SHA256, &now, &measured) == 0, "replay");
	explain_record(log, &now, 1u << 0, tok);
	/* PCR 0 skipped (as the fence is); 4: 4 events, 7: 2, 8: 2, 18: 1. */
	CHECK(tok->n_events == 9, "%u events recorded", tok->n_events);
	n_lines = 0;
	CHECK(explain_diff(tok, log, &now, tok->pcr_mask, keep_line, NULL) == 4 &&
		      has_line("PCR 4: the same events as recorded"),
	      "the same log: %u lines", n_lines);

	/* The boot loader's second application (PCR 4's 4th event) changes. */
	b = eventlog_bank(log, TPM2_ALG_SHA256);
	for (unsigned i = 0, k = 0; b >= 0 && i < log->n_events; i++)
		if (log->events[i].pcr == 4 && ++k == 4)
			log->events[i].digest[b][0] ^= 1;
	CHECK(eventlog_replay(log, TPM2_ALG_SHA256, &changed_now, &measured) == 0, "replay");
	/*
	 * Recorded: PCR 4 at 0..3, 7 at 4..5, 8 at 6..7, 18 at 8. PCR 18's is
	 * forgotten; PCR 8's second differs and a third is made up.
	 */
	tok->events[7].digest[0] ^= 1;
	tok->events[8] = (struct token_event){ .pcr = 8, .type = EV_IPL };
	n_lines = 0;
	explain_diff(tok, log, &changed_now, (1u << 4) | (1u << 8) | (1u << 18), keep_line, NULL);
	CHECK(n_lines == 3, "%u lines", n_lines);
	CHECK(has_line("PCR 4: EV_EFI_BOOT_SERVICES_APPLICATION #4 changed"), "%s", lines[0]);
	CHECK(has_line("PCR 8: EV_IPL #2 changed"), "no PCR 8 line");
	CHECK(has_line("PCR 8: EV_IPL #3 removed"), "no removed line");
	/* PCR 18 has no recorded event now: nothing to say about it. */

	/* A log that does not give the TPM's value is not believed. */
	changed_now.value[7][3] ^= 1;
	n_lines = 0;
	explain_diff(tok, log, &changed_now, 1u << 7, keep_line, NULL);
	CHECK(n_lines == 1 && has_line("PCR 7: the event log does not reproduce its value; no "
				       "event to name"),
	      "%s", n_lines ? lines[0] : "no line");
out:
	free(tok);
	eventlog_free(log);
}

static void check_digest(const char *name, const char *want)
{
	char path[1024], hex[65];
	uint8_t d[32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	CHECK(authenticode_file(path, TPM2_ALG_SHA256, d) == 0, "%s: %s", name, test_last_error);
	hex_encode(d, 32, hex, sizeof(hex));
	CHECK(!strcmp(hex, want), "%s: Authenticode %s, pesign says %s", name, hex, want);
}

static void test_authenticode(void)
{
	/* pesign -h -i FILE */
	static const char want[] =
		"bcf5520f7d60f56ae3feb8f21f76ed42e6a2a64196bfb6e5a970b5a157826900";
	size_t len = 0;
	uint8_t *img = slurp("pe/signed.efi", &len), d[32];

	check_digest("pe/small.efi", want);
	check_digest("pe/signed.efi", want);
	CHECK(img, "signed.efi missing");
	if (!img)
		return;
	/* Every prefix: refused or hashed, never read beyond. */
	for (size_t i = 0; i < len; i++) {
		int r = authenticode_digest(img, i, TPM2_ALG_SHA256, d);

		CHECK(r == -EINVAL || r == 0, "prefix %zu: %d", i, r);
	}
	/* The certificate table (its directory entry at 0xe8) beyond the end. */
	img[0xe8 + 4] = 0xff;
	CHECK(authenticode_digest(img, len, TPM2_ALG_SHA256, d) == -EINVAL,
	      "a certificate table beyond the file was accepted");
	CHECK(strstr(test_last_error, "certificate table outside the file"), "message: %s",
	      test_last_error);
	img[0xe8 + 4] = 0;
	/* A section beyond the end (PointerToRawData of the one section). */
	img[0x148 + 20 + 3] = 0x10;
	CHECK(authenticode_digest(img, len, TPM2_ALG_SHA256, d) == -EINVAL,
	      "a section beyond the file was accepted");
	img[0x148 + 20 + 3] = 0;
	/* e_lfanew far away. */
	img[0x3f] = 0x7f;
	CHECK(authenticode_digest(img, len, TPM2_ALG_SHA256, d) == -EINVAL,
	      "an e_lfanew beyond the file was accepted");
	CHECK(strstr(test_last_error, "no PE signature"), "message: %s", test_last_error);
	free(img);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-eventlog FIXTURES-DIR\n");
		return 99;
	}
	dir = argv[1];
	log_set(test_capture_error, NULL);
	test_replays();
	test_refused();
	test_cmdline();
	test_explain();
	test_authenticode();
	return test_done();
}
