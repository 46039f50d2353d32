// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * EFI signature lists, authenticated updates and the append rule, against
 * payloads efitools made (tests/fixtures/efi/make.sh: cert-to-efi-sig-list,
 * hash-to-efi-sig-list, sign-efi-sig-list with a test KEK), and the same
 * payloads truncated at every length or with each size made to lie.
 */
#include <errno.h>
#include <stdint.h>

#include "efisig.h"
#include "log.h"
#include "test.h"

static const char *dir;
static uint8_t *slurp(const char *name, size_t *len)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/efi/%s", dir, name);
	return test_slurp(path, len);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An exact-size copy, so that ASan sees any read past the end. */
static uint8_t *copy(const uint8_t *buf, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	if (c && len)
		memcpy(c, buf, len);
	return c;
}

/* The error of one refused parse: one line, naming what. */
static bool refused(int r, const char *want)
{
	return r == -EINVAL && !strchr(test_last_error, '\n') &&
	       !strncmp(test_last_error, "upd: ", 5) && (!want || strstr(test_last_error, want));
}

static void test_lists(void)
{
	size_t a_len = 0, off = 0;
	uint8_t *a = slurp("A.esl", &a_len);
	struct efisig_list l;
	unsigned n = 0;

	CHECK(a && a_len == 835, "A.esl: %zu bytes", a_len);
	if (!a)
		return;
	CHECK(efisig_check(a, a_len, "A", &n) == 0 && n == 1, "A.esl: %u signatures", n);
	CHECK(efisig_next(a, a_len, &off, &l) && l.n_sigs == 1 && l.sig_size == 807 &&
		      l.header_size == 0 && l.type[0] == 0xa1 && off == a_len,
	      "A.esl's list");
	CHECK(!efisig_next(a, a_len, &off, &l), "one list only");
	CHECK(efisig_check(a, 0, "none", &n) == 0 && n == 0, "no list is a valid database");
	free(a);
}

static void test_auth(void)
{
	size_t len = 0, e_len = 0;
	uint8_t *buf = slurp("db-AB.auth", &len), *e = slurp("empty.auth", &e_len);
	struct efisig_auth auth;
	unsigned n = 0;

	CHECK(buf && e, "fixtures");
	if (!buf || !e)
		goto out;
	CHECK(efisig_parse_auth(buf, len, "upd", &auth) == 0, "db-AB.auth: %s", test_last_error);
	CHECK(auth.year == 2026 && auth.month == 1 && auth.day == 2 && auth.hour == 3 &&
		      auth.minute == 4 && auth.second == 5,
	      "time stamp %u-%u-%u %u:%u:%u", auth.year, auth.month, auth.day, auth.hour,
	      auth.minute, auth.second);
	CHECK(auth.esl_len == 2 * 835 && 16 + auth.cert_len + auth.esl_len == len,
	      "payload of %zu bytes after a %u-byte certificate", auth.esl_len, auth.cert_len);
	CHECK(efisig_check(auth.esl, auth.esl_len, "AB", &n) == 0 && n == 2, "two certificates");
	CHECK(efisig_parse_auth(e, e_len, "upd", &auth) == 0 && auth.esl_len == 0,
	      "an update without lists (a deletion) parses: %s", test_last_error);
	/* sign-efi-sig-list -a: an append without a time (all zeros), which OVMF takes. */
	memset(buf, 0, 7);
	CHECK(efisig_parse_auth(buf, len, "upd", &auth) == 0 && auth.year == 0 && auth.month == 0,
	      "an undated append parses: %s", test_last_error);
out:
	free(buf);
	free(e);
}

/* append(cur, the payload of auth) must equal want (files concatenated). */
static void check_append(const char *cur_name, const char *auth_name, const char *want1,
			 const char *want2, unsigned want_added)
{
	size_t cur_len = 0, len = 0, w1_len = 0, w2_len = 0, out_len = 0;
	uint8_t *cur = slurp(cur_name, &cur_len), *buf = slurp(auth_name, &len);
	uint8_t *w1 = slurp(want1, &w1_len), *w2 = want2 ? slurp(want2, &w2_len) : NULL, *out;
	struct efisig_auth auth;
	unsigned added = 99;

	CHECK(cur && buf && w1 && (!want2 || w2), "fixtures");
	if (cur && buf && w1 && efisig_parse_auth(buf, len, "upd", &auth) == 0 &&
	    efisig_append(cur, cur_len, auth.esl, auth.esl_len, &out, &out_len, &added) == 0) {
		CHECK(added == want_added, "%s + %s: %u added", cur_name, auth_name, added);
		CHECK(out_len == w1_len + w2_len && !memcmp(out, w1, w1_len) &&
			      (!w2_len || !memcmp(out + w1_len, w2, w2_len)),
		      "%s + %s: %zu bytes", cur_name, auth_name, out_len);
		CHECK(efisig_check(out, out_len, "out", NULL) == 0, "the result is a database");
		free(out);
	} else {
		CHECK(false, "append %s %s: %s", cur_name, auth_name, test_last_error);
	}
	free(cur);
	free(buf);
	free(w1);
	free(w2);
}

static void test_append(void)
{
	size_t len = 0, d_len = 0, out_len = 0;
	uint8_t *buf = slurp("dbx-12.auth", &len), *d = slurp("dbx-1.esl", &d_len), *out;
	struct efisig_auth auth;
	unsigned added = 0;

	/* db holds A; the update brings A and B: only B's list is appended, whole. */
	check_append("A.esl", "db-AB.auth", "A.esl", "B.esl", 1);
	/* dbx holds hash 1; the update's one list holds 1 and 2: a list of 2 alone follows. */
	if (!buf || !d || efisig_parse_auth(buf, len, "upd", &auth) < 0 ||
	    efisig_append(d, d_len, auth.esl, auth.esl_len, &out, &out_len, &added) < 0) {
		CHECK(false, "dbx fixtures: %s", test_last_error);
		goto out;
	}
	CHECK(added == 1 && out_len == d_len + 28 + 48, "dbx: %u added, %zu bytes", added, out_len);
	CHECK(!memcmp(out, d, d_len) && out[d_len + 16] == 76 &&
		      !memcmp(out + d_len + 28, auth.esl + 28 + 48, 48),
	      "dbx: the kept list holds hash 2 with its size rewritten");
	free(out);
	/* Appending the same again adds nothing. */
	CHECK(efisig_append(auth.esl, auth.esl_len, auth.esl, auth.esl_len, &out, &out_len,
			    &added) == 0 &&
		      added == 0 && out_len == auth.esl_len,
	      "a repeated append adds nothing");
	free(out);
	/* Another owner makes another EFI_SIGNATURE_DATA: the spec compares the whole entry. */
	buf[auth.esl - buf + 28] ^= 1;
	CHECK(efisig_append(d, d_len, auth.esl, auth.esl_len, &out, &out_len, &added) == 0 &&
		      added == 2,
	      "the same hash of another owner is appended");
	free(out);
out:
	free(buf);
	free(d);
}

static void test_truncated(void)
{
	size_t len = 0, boundary;
	uint8_t *buf = slurp("db-AB.auth", &len);
	struct efisig_auth auth;
	unsigned bad = 0;

	if (!buf)
		return;
	boundary = len - 835;
	for (size_t n = 0; n < len; n++) {
		uint8_t *c = copy(buf, n);
		int r = efisig_parse_auth(c, n, "upd", &auth);

		if (n == boundary || n == boundary - 835)
			bad += r != 0;
		else
			bad += !refused(r, NULL);
		free(c);
	}
	CHECK(bad == 0, "%u truncations of db-AB.auth not refused as they should: %s", bad,
	      test_last_error);
	free(buf);
}

/* The fixture with the 32-bit field at off set to v must be refused with want. */
static void lie(const char *name, size_t off, uint32_t v, unsigned width, const char *want)
{
	size_t len = 0;
	uint8_t *buf = slurp(name, &len), *c;
	struct efisig_auth auth;

	if (!buf)
		return;
	c = copy(buf, len);
	if (width == 4)
		put_u32(c + off, v);
	else
		c[off] = (uint8_t)v;
	test_last_error[0] = 0;
	CHECK(refused(efisig_parse_auth(c, len, "upd", &auth), want),
	      "%s with %#x at %zu: '%s', wanted '%s'", name, v, off, test_last_error, want);
	free(c);
	free(buf);
}

static void test_lies(void)
{
	size_t len = 0;
	uint8_t *buf = slurp("db-AB.auth", &len);
	uint32_t dw;
	size_t esl;

	if (!buf)
		return;
	dw = (uint32_t)buf[16] | (uint32_t)buf[17] << 8 | (uint32_t)buf[18] << 16 |
	     (uint32_t)buf[19] << 24;
	esl = 16 + dw;
	free(buf);
	lie("db-AB.auth", 16, 0xffffffff, 4, "authentication header claims");
	lie("db-AB.auth", 16, 20, 4, "authentication header claims");
	lie("db-AB.auth", 22, 0x02, 1, "no EFI_VARIABLE_AUTHENTICATION_2");
	lie("db-AB.auth", 24, 0x00, 1, "no EFI_VARIABLE_AUTHENTICATION_2");
	lie("db-AB.auth", 8, 1, 1, "not a valid EFI_TIME");
	lie("db-AB.auth", 12, 0x3c, 1, "not a valid EFI_TIME");
	lie("db-AB.auth", 2, 0, 1, "not a valid EFI_TIME"); /* month 0 of a dated stamp */
	lie("db-AB.auth", 2, 13, 1, "not a valid EFI_TIME");
	lie("db-AB.auth", esl + 16, 0xffffffff, 4, "list 1 claims 4294967295 bytes");
	lie("db-AB.auth", esl + 16, 27, 4, "list 1 has a 0-byte header in a 27-byte list");
	lie("db-AB.auth", esl + 20, 0xfffffff0, 4, "list 1 has a 4294967280-byte header");
	lie("db-AB.auth", esl + 24, 0, 4, "signature size of 0");
	lie("db-AB.auth", esl + 24, 16, 4, "signature size of 16");
	lie("db-AB.auth", esl + 24, 100, 4, "not a positive multiple");
	lie("db-AB.auth", esl + 835 + 16, 836, 4, "list 2 claims 836 bytes, only 835 remain");
	/* A SHA-256 list whose entries are not 16 + 32 bytes. */
	buf = slurp("dbx-12.auth", &len);
	if (buf) {
		dw = (uint32_t)buf[16] | (uint32_t)buf[17] << 8;
		lie("dbx-12.auth", 16 + dw + 24, 62, 4, "EFI_CERT_SHA256 signatures");
		lie("dbx-12.auth", 16 + dw + 16, 28, 4, "holds 0 bytes of signatures");
		free(buf);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test-efisig FIXTURES\n");
		return 2;
	}
	dir = argv[1];
	log_set(test_capture_error, NULL);
	test_lists();
	test_auth();
	test_append();
	test_truncated();
	test_lies();
	return test_done();
}
