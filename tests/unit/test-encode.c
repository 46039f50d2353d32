// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Base64 and hex against RFC 4648's vectors, OpenSSL's encoder and the
 * alphabets themselves; every malformed shape must be refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "encode.h"
#include "test.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void fill_random(uint8_t *buf, size_t n)
{
	if (n && getrandom(buf, n, 0) != (ssize_t)n) {
		perror("getrandom");
		exit(99);
	}
}

static void test_rfc4648(void)
{
	/* RFC 4648 section 10; base16 there is upper case. */
	static const struct {
		const char *in, *b64, *b16;
	} v[] = {
		{ "", "", "" },
		{ "f", "Zg==", "66" },
		{ "fo", "Zm8=", "666F" },
		{ "foo", "Zm9v", "666F6F" },
		{ "foob", "Zm9vYg==", "666F6F62" },
		{ "fooba", "Zm9vYmE=", "666F6F6261" },
		{ "foobar", "Zm9vYmFy", "666F6F626172" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in), len = 99;
		char text[64], lower[64];
		uint8_t bin[64];
		int r;

		r = base64_encode((const uint8_t *)v[i].in, n, text, sizeof(text));
		CHECK(r == 0 && !strcmp(text, v[i].b64), "base64(\"%s\") = %d \"%s\"", v[i].in, r,
		      text);
		CHECK(strlen(v[i].b64) == BASE64_LEN(n), "BASE64_LEN(%zu)", n);
		r = base64_decode(v[i].b64, bin, sizeof(bin), &len);
		CHECK(r == 0 && len == n && !memcmp(bin, v[i].in, n), "unbase64(\"%s\") = %d",
		      v[i].b64, r);

		for (size_t k = 0; k <= strlen(v[i].b16); k++)
			lower[k] = (char)tolower((unsigned char)v[i].b16[k]);
		r = hex_encode((const uint8_t *)v[i].in, n, text, sizeof(text));
		CHECK(r == 0 && !strcmp(text, lower), "hex(\"%s\") = %d \"%s\"", v[i].in, r, text);
		len = 99;
		r = hex_decode(v[i].b16, bin, sizeof(bin), &len);
		CHECK(r == 0 && len == n && !memcmp(bin, v[i].in, n), "unhex(\"%s\") = %d",
		      v[i].b16, r);
		len = 99;
		r = hex_decode(lower, bin, sizeof(bin), &len);
		CHECK(r == 0 && len == n && !memcmp(bin, v[i].in, n), "unhex(\"%s\") = %d", lower,
		      r);
	}
}

/* Random data of every length 0..100 against OpenSSL's base64 and printf's hex. */
static void test_round_trips(void)
{
	for (size_t n = 0; n <= 100; n++) {
		uint8_t in[100], back[100];
		char text[BASE64_LEN(100) + 1], ref[BASE64_LEN(100) + 1];
		char hex[2 * 100 + 1], hex_ref[2 * 100 + 1];
		size_t len = 999;
		int r;

		fill_random(in, n);
		r = base64_encode(in, n, text, BASE64_LEN(n) + 1);
		EVP_EncodeBlock((unsigned char *)ref, in, (int)n);
		CHECK(r == 0 && strlen(text) == BASE64_LEN(n) && !strcmp(text, ref),
		      "base64 of %zu random bytes: %d \"%s\", OpenSSL \"%s\"", n, r, text, ref);
		r = base64_decode(text, back, n, &len);
		CHECK(r == 0 && len == n && !memcmp(in, back, n), "base64 round trip of %zu: %d", n,
		      r);

		for (size_t i = 0; i < n; i++)
			snprintf(hex_ref + 2 * i, 3, "%02x", in[i]);
		hex_ref[2 * n] = '\0';
		r = hex_encode(in, n, hex, 2 * n + 1);
		CHECK(r == 0 && !strcmp(hex, hex_ref), "hex of %zu random bytes: %d \"%s\"", n, r,
		      hex);
		len = 999;
		r = hex_decode(hex, back, n, &len);
		CHECK(r == 0 && len == n && !memcmp(in, back, n), "hex round trip of %zu: %d", n,
		      r);
	}
}

static void test_base64_malformed(void)
{
	/*
	 * Bad length or missing padding; '=' where it does not belong; nonzero
	 * bits before the padding (non-canonical); characters outside the
	 * alphabet, whitespace, base64url.
	 */
	static const char *const bad[] = {
		"Z",	  "Zg",	      "Zg=",	 "Zm9vY",   "Zm9vYg",	  "Zm9vYg=",
		"=",	  "==",	      "===",	 "====",    "Z===",	  "=Zg=",
		"==Zg",	  "Zg==Zg==", "Zm=v",	 "Zg=a",    "Zm9v=Zm9",	  "Zm9v====",
		"Zg==\n", "Zh==",     "Zm9=",	 "Zv==",    "Zm/=",	  "Zm9vYh==",
		" Zm9v",  "Zm9v ",    "Zm 9v",	 "Zm9v\n",  "Zm9v\r\n",	  "Zm9-",
		"Zm9_",	  "Zm9.",     "Zm9\x80", "\xffZm9", "Zm9v\tZm9v", "Zm9vYmFy\n"
	};
	uint8_t out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = 99;
		int r = base64_decode(bad[i], out, sizeof(out), &len);

		CHECK(r == -EINVAL, "base64_decode(\"%s\") = %d, want -EINVAL", bad[i], r);
		/* Malformed text is reported as such even when out is also too short. */
		r = base64_decode(bad[i], out, 0, &len);
		CHECK(r == -EINVAL, "base64_decode(\"%s\", size 0) = %d, want -EINVAL", bad[i], r);
	}
}

/* Every byte value in every position of a quad: exactly the alphabet is accepted. */
static void test_base64_alphabet(void)
{
	unsigned canonical2 = 0, canonical1 = 0;
	uint8_t out[8];

	for (unsigned c = 1; c < 256; c++) {
		int in_alphabet = c != '=' && strchr(b64_alphabet, (int)c) != NULL;

		for (unsigned pos = 0; pos < 4; pos++) {
			char text[5] = "Zm9v";
			size_t len;
			int r;

			text[pos] = (char)c;
			r = base64_decode(text, out, sizeof(out), &len);
			/* "Zm9=" is refused too: '9' leaves bits set before the padding. */
			CHECK(in_alphabet ? r == 0 && len == 3 : r == -EINVAL,
			      "base64_decode(\"%s\") = %d", text, r);
		}
	}

	/*
	 * Before padding, the unused low bits must be zero: 4 of the 64 second
	 * characters are canonical before "==", 16 of the 64 third ones before
	 * "=", and the accepted ones re-encode to themselves.
	 */
	for (unsigned i = 0; i < 64; i++) {
		char two[5] = { 'Z', b64_alphabet[i], '=', '=', 0 };
		char three[5] = { 'Z', 'm', b64_alphabet[i], '=', 0 };
		char again[5];
		size_t len;

		if (!base64_decode(two, out, sizeof(out), &len)) {
			canonical2++;
			CHECK(len == 1 && !base64_encode(out, len, again, sizeof(again)) &&
				      !strcmp(again, two),
			      "\"%s\" is not canonical", two);
		}
		if (!base64_decode(three, out, sizeof(out), &len)) {
			canonical1++;
			CHECK(len == 2 && !base64_encode(out, len, again, sizeof(again)) &&
				      !strcmp(again, three),
			      "\"%s\" is not canonical", three);
		}
	}
	CHECK(canonical2 == 4, "%u canonical \"Zx==\", want 4", canonical2);
	CHECK(canonical1 == 16, "%u canonical \"Zmx=\", want 16", canonical1);
}

static void test_hex_malformed(void)
{
	static const char *const bad[] = { "0",	   "abc",   "0g",    "g0", " 00",
					   "00 ",  "0 0",   "-1",    "+1", "0x00",
					   "0X",   "00\n",  "0\x80", "zz", "GG",
					   "0:11", "00112", "ab-cd", "xy", "\xd9\xa1\xd9\xa2",
					   "g" };
	uint8_t out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = 99;
		int r = hex_decode(bad[i], out, sizeof(out), &len);

		CHECK(r == -EINVAL, "hex_decode(\"%s\") = %d, want -EINVAL", bad[i], r);
		r = hex_decode(bad[i], out, 0, &len);
		CHECK(r == -EINVAL, "hex_decode(\"%s\", size 0) = %d, want -EINVAL", bad[i], r);
	}

	for (unsigned c = 1; c < 256; c++) {
		char text[3] = { 'a', (char)c, 0 };
		size_t len;
		int r = hex_decode(text, out, sizeof(out), &len);

		CHECK(isxdigit((int)c) ? r == 0 && len == 1 : r == -EINVAL,
		      "hex_decode(\"a\\x%02x\") = %d", c, r);
		text[0] = (char)c;
		text[1] = 'F';
		r = hex_decode(text, out, sizeof(out), &len);
		CHECK(isxdigit((int)c) ? r == 0 && len == 1 : r == -EINVAL,
		      "hex_decode(\"\\x%02xF\") = %d", c, r);
	}
}

static void test_short_buffers(void)
{
	const uint8_t *in = (const uint8_t *)"foobar";
	char text[16];
	uint8_t out[16];
	size_t len;

	for (size_t n = 0; n <= 6; n++) {
		/* One byte short: no room for the NUL. */
		CHECK(base64_encode(in, n, text, BASE64_LEN(n)) == -ENOBUFS, "base64 of %zu", n);
		CHECK(base64_encode(in, n, text, BASE64_LEN(n) + 1) == 0, "base64 of %zu", n);
		CHECK(hex_encode(in, n, text, 2 * n) == -ENOBUFS, "hex of %zu", n);
		CHECK(hex_encode(in, n, text, 2 * n + 1) == 0, "hex of %zu", n);
	}
	CHECK(base64_encode(in, 1, text, 0) == -ENOBUFS, "base64 into nothing");

	memset(out, 0xaa, sizeof(out));
	CHECK(base64_decode("Zm9vYmFy", out, 5, &len) == -ENOBUFS, "6 bytes into 5");
	CHECK(out[5] == 0xaa, "wrote past out_size");
	CHECK(base64_decode("Zm9vYmE=", out, 4, &len) == -ENOBUFS, "5 bytes into 4");
	CHECK(base64_decode("Zm9vYmE=", out, 5, &len) == 0 && len == 5, "5 bytes into 5");
	CHECK(base64_decode("Zg==", NULL, 0, &len) == -ENOBUFS, "1 byte into nothing");
	CHECK(base64_decode("", NULL, 0, &len) == 0 && len == 0, "nothing into nothing");

	memset(out, 0xaa, sizeof(out));
	CHECK(hex_decode("00112233", out, 3, &len) == -ENOBUFS, "4 bytes into 3");
	CHECK(out[3] == 0xaa, "wrote past out_size");
	CHECK(hex_decode("00112233", out, 4, &len) == 0 && len == 4, "4 bytes into 4");
	CHECK(hex_decode("", NULL, 0, &len) == 0 && len == 0, "nothing into nothing");

	CHECK(base64_decode(NULL, out, sizeof(out), &len) == -EINVAL, "NULL text");
	CHECK(hex_decode(NULL, out, sizeof(out), &len) == -EINVAL, "NULL text");
}

int main(void)
{
	test_rfc4648();
	test_round_trips();
	test_base64_malformed();
	test_base64_alphabet();
	test_hex_malformed();
	test_short_buffers();
	return test_done();
}
