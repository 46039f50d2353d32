// SPDX-License-Identifier: LGPL-2.1-or-later
/* Base64 and hex, for secrets too: every failure wipes the output. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "encode.h"

/*
 * The sealed secret and its base64 passphrase pass through here, so no
 * branch or table lookup depends on the bytes being converted: characters
 * are computed with masks instead (the approach of libsodium's codecs).
 * Only the length and the validity of the text, which are not secret,
 * steer the control flow.
 */

/* All ones when a < b, for a, b < 2^31. */
static unsigned mask_lt(unsigned a, unsigned b)
{
	return 0u - ((a - b) >> 31);
}

static unsigned mask_in(unsigned c, unsigned lo, unsigned hi)
{
	return ~mask_lt(c, lo) & ~mask_lt(hi, c);
}

static unsigned mask_eq(unsigned a, unsigned b)
{
	return mask_lt(a ^ b, 1);
}

static char base64_char(unsigned v)
{
	return (char)((mask_in(v, 0, 25) & (v + 'A')) | (mask_in(v, 26, 51) & (v - 26 + 'a')) |
		      (mask_in(v, 52, 61) & (v - 52 + '0')) | (mask_eq(v, 62) & '+') |
		      (mask_eq(v, 63) & '/'));
}

/* The 6-bit value of c, or a value above 63 when c is not in the alphabet. */
static unsigned base64_value(unsigned char c)
{
	unsigned upper = mask_in(c, 'A', 'Z'), lower = mask_in(c, 'a', 'z');
	unsigned digit = mask_in(c, '0', '9'), plus = mask_eq(c, '+'), slash = mask_eq(c, '/');

	return (upper & (c - 'A')) | (lower & (c - 'a' + 26)) | (digit & (c - '0' + 52)) |
	       (plus & 62) | (slash & 63) | (~(upper | lower | digit | plus | slash) & 0x100);
}

static char hex_char(unsigned v)
{
	return (char)((mask_lt(v, 10) & (v + '0')) | (~mask_lt(v, 10) & (v - 10 + 'a')));
}

static unsigned hex_value(unsigned char c)
{
	unsigned digit = mask_in(c, '0', '9'), lower = mask_in(c, 'a', 'f');
	unsigned upper = mask_in(c, 'A', 'F');

	return (digit & (c - '0')) | (lower & (c - 'a' + 10)) | (upper & (c - 'A' + 10)) |
	       (~(digit | lower | upper) & 0x100);
}

int base64_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
	size_t i, o = 0;

	if ((!in && n) || !out)
		return -EINVAL;
	if (n > (SIZE_MAX - 1) / 4 * 3 - 2 || out_size < BASE64_LEN(n) + 1)
		return -ENOBUFS;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = base64_char(w >> 18);
		out[o++] = base64_char((w >> 12) & 63);
		out[o++] = base64_char((w >> 6) & 63);
		out[o++] = base64_char(w & 63);
	}
	if (n - i == 1) {
		out[o++] = base64_char(in[i] >> 2);
		out[o++] = base64_char((in[i] & 3) << 4);
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = base64_char(w >> 10);
		out[o++] = base64_char((w >> 4) & 63);
		out[o++] = base64_char((w << 2) & 63);
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

/*
 * A decode's one exit: o bytes decoded, of which what fit is in out. A bad
 * character or too small an out wipes what was written.
 */
static int decode_end(unsigned bad, size_t o, uint8_t *out, size_t out_size, size_t *out_len)
{
	if (!bad && o <= out_size) {
		*out_len = o;
		return 0;
	}
	if (out)
		explicit_bzero(out, o < out_size ? o : out_size);
	return bad ? -EINVAL : -ENOBUFS;
}

/*
 * One pass that validates everything and writes only what fits, so that
 * malformed text is -EINVAL whatever the size of out. Nonzero bits before
 * the padding are refused too, so that each value has exactly one text.
 */
int base64_decode(const char *in, uint8_t *out, size_t out_size, size_t *out_len)
{
	size_t len, i, o = 0, pad = 0;
	unsigned bad = 0;

	if (out_len)
		*out_len = 0;
	if (!in || (!out && out_size) || !out_len)
		return -EINVAL;
	len = strlen(in);
	if (len % 4)
		return -EINVAL;
	if (len && in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;

	for (i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		unsigned v[4];
		uint32_t w;

		for (unsigned k = 0; k < 4; k++) {
			if (last && k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			v[k] = base64_value((unsigned char)in[i + k]);
			bad |= v[k];
		}
		w = (uint32_t)(v[0] & 63) << 18 | (v[1] & 63) << 12 | (v[2] & 63) << 6 |
		    (v[3] & 63);
		for (unsigned k = 0; k < 3 - (last ? pad : 0); k++, o++) {
			if (o < out_size)
				out[o] = (uint8_t)(w >> (16 - 8 * k));
		}
		if (last && pad)
			bad |= (unsigned)((w & (pad == 2 ? 0xffff : 0xff)) != 0) << 8;
	}
	return decode_end(bad & ~63u, o, out, out_size, out_len);
}

int hex_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
	if ((!in && n) || !out)
		return -EINVAL;
	if (n > (SIZE_MAX - 1) / 2 || out_size < 2 * n + 1)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_char(in[i] >> 4);
		out[2 * i + 1] = hex_char(in[i] & 15);
	}
	out[2 * n] = '\0';
	return 0;
}

int hex_decode(const char *in, uint8_t *out, size_t out_size, size_t *out_len)
{
	unsigned bad = 0;
	size_t len, o;

	if (out_len)
		*out_len = 0;
	if (!in || (!out && out_size) || !out_len)
		return -EINVAL;
	len = strlen(in);
	if (len % 2)
		return -EINVAL;
	for (o = 0; o < len / 2; o++) {
		unsigned hi = hex_value((unsigned char)in[2 * o]);
		unsigned lo = hex_value((unsigned char)in[2 * o + 1]);

		bad |= hi | lo;
		if (o < out_size)
			out[o] = (uint8_t)((hi & 15) << 4 | (lo & 15));
	}
	return decode_end(bad & ~15u, o, out, out_size, out_len);
}
