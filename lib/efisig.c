// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * EFI signature lists and authenticated variable updates. Sizes are all
 * 32-bit little-endian fields chosen by whoever wrote the file, so each is
 * checked in 64-bit arithmetic against the bytes that remain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "efisig.h"
#include "log.h"

#define ESL_HEADER 28u /* SignatureType, SignatureListSize, SignatureHeaderSize, SignatureSize */
#define EFI_TIME_SIZE 16u
#define WIN_CERT_HEADER 8u /* dwLength, wRevision, wCertificateType */
#define WIN_CERT_REVISION 0x0200u
#define WIN_CERT_TYPE_EFI_GUID 0x0EF1u

/* EFI_CERT_TYPE_PKCS7_GUID 4aafd29d-68df-49ee-8aa9-347d375665a7, as stored. */
static const uint8_t pkcs7_guid[16] = { 0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
					0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7 };

/* Signature types with a fixed data size (UEFI 2.x, 32.4.1), as stored. */
static const struct {
	uint8_t guid[16];
	const char *name;
	uint32_t data_size;
} fixed_types[] = {
	/* EFI_CERT_SHA256_GUID c1c41626-504c-4092-aca9-41f936934328 */
	{ { 0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40, 0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93,
	    0x43, 0x28 },
	  "EFI_CERT_SHA256",
	  32 },
	/* EFI_CERT_SHA1_GUID 826ca512-cf10-4ac9-b187-be01496631bd */
	{ { 0x12, 0xa5, 0x6c, 0x82, 0x10, 0xcf, 0xc9, 0x4a, 0xb1, 0x87, 0xbe, 0x01, 0x49, 0x66,
	    0x31, 0xbd },
	  "EFI_CERT_SHA1",
	  20 },
	/* EFI_CERT_RSA2048_GUID 3c5766e8-269c-4e34-aa14-ed776e85b3b6 */
	{ { 0xe8, 0x66, 0x57, 0x3c, 0x9c, 0x26, 0x34, 0x4e, 0xaa, 0x14, 0xed, 0x77, 0x6e, 0x85,
	    0xb3, 0xb6 },
	  "EFI_CERT_RSA2048",
	  256 },
};

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A reason, unless the caller asked for none (what NULL). */
#define list_err(what, ...)                                                                        \
	do {                                                                                       \
		if (what)                                                                          \
			log_err(__VA_ARGS__);                                                      \
	} while (0)

/* The list at buf[off..len); false (reason logged) when it lies about a size. */
static bool read_list(const uint8_t *buf, size_t len, size_t off, unsigned index, const char *what,
		      struct efisig_list *l)
{
	size_t left = len - off;
	uint64_t body;

	if (left < ESL_HEADER) {
		list_err(what,
			 "%s: signature list %u is truncated: %zu bytes where its header needs %u.",
			 what, index, left, ESL_HEADER);
		return false;
	}
	l->type = buf + off;
	l->list_size = get_u32(buf + off + 16);
	l->header_size = get_u32(buf + off + 20);
	l->sig_size = get_u32(buf + off + 24);
	if (l->list_size > left) {
		list_err(what, "%s: signature list %u claims %u bytes, only %zu remain.", what,
			 index, l->list_size, left);
		return false;
	}
	if ((uint64_t)ESL_HEADER + l->header_size > l->list_size) {
		list_err(what, "%s: signature list %u has a %u-byte header in a %u-byte list.",
			 what, index, l->header_size, l->list_size);
		return false;
	}
	if (l->sig_size <= OYSTER_EFISIG_GUID_SIZE) {
		list_err(what,
			 "%s: signature list %u has a signature size of %u (an owner GUID and data "
			 "need more than 16).",
			 what, index, l->sig_size);
		return false;
	}
	for (size_t i = 0; i < sizeof(fixed_types) / sizeof(fixed_types[0]); i++)
		if (!memcmp(l->type, fixed_types[i].guid, 16) &&
		    l->sig_size != OYSTER_EFISIG_GUID_SIZE + fixed_types[i].data_size) {
			list_err(what,
				 "%s: signature list %u of %s signatures has a signature size of "
				 "%u, "
				 "not %u.",
				 what, index, fixed_types[i].name, l->sig_size,
				 OYSTER_EFISIG_GUID_SIZE + fixed_types[i].data_size);
			return false;
		}
	body = l->list_size - ESL_HEADER - (uint64_t)l->header_size;
	if (body == 0 || body % l->sig_size) {
		list_err(what,
			 "%s: signature list %u holds %llu bytes of signatures, not a positive "
			 "multiple of its signature size %u.",
			 what, index, (unsigned long long)body, l->sig_size);
		return false;
	}
	l->sigs = buf + off + ESL_HEADER + l->header_size;
	l->n_sigs = (uint32_t)(body / l->sig_size);
	return true;
}

int efisig_check(const uint8_t *buf, size_t len, const char *what, unsigned *n_sigs)
{
	struct efisig_list l;
	unsigned index = 0, n = 0;

	if (len > OYSTER_EFISIG_MAX_SIZE) {
		list_err(
			what,
			"%s: %zu bytes of signature lists, more than the %u KiB a database can be.",
			what, len, OYSTER_EFISIG_MAX_SIZE >> 10);
		return -EINVAL;
	}
	for (size_t off = 0; off < len; off += l.list_size) {
		if (!read_list(buf, len, off, ++index, what, &l))
			return -EINVAL;
		n += l.n_sigs;
	}
	if (n_sigs)
		*n_sigs = n;
	return 0;
}

bool efisig_next(const uint8_t *buf, size_t len, size_t *off, struct efisig_list *out)
{
	if (*off >= len || !read_list(buf, len, *off, 0, "signature lists", out))
		return false;
	*off += out->list_size;
	return true;
}

int efisig_parse_auth(const uint8_t *buf, size_t len, const char *what, struct efisig_auth *out)
{
	const uint8_t *t = buf, *cert = buf + EFI_TIME_SIZE;
	uint32_t dw;

	memset(out, 0, sizeof(*out));
	if (len < EFI_TIME_SIZE + WIN_CERT_HEADER + 16) {
		log_err("%s: %zu bytes are too few for an EFI_VARIABLE_AUTHENTICATION_2 header; an "
			"authenticated update (sign-efi-sig-list's .auth) is needed.",
			what, len);
		return -EINVAL;
	}
	dw = get_u32(cert);
	if (get_u16(cert + 4) != WIN_CERT_REVISION || get_u16(cert + 6) != WIN_CERT_TYPE_EFI_GUID ||
	    memcmp(cert + WIN_CERT_HEADER, pkcs7_guid, 16)) {
		log_err("%s: no EFI_VARIABLE_AUTHENTICATION_2 header (a WIN_CERTIFICATE_UEFI_GUID "
			"of PKCS#7 type after the time stamp); give the authenticated update "
			"(.auth), not a bare signature list.",
			what);
		return -EINVAL;
	}
	if (dw < WIN_CERT_HEADER + 16 || dw > len - EFI_TIME_SIZE) {
		log_err("%s: the authentication header claims %u bytes, %zu remain.", what, dw,
			len - EFI_TIME_SIZE);
		return -EINVAL;
	}
	/*
	 * Pad1, Nanosecond, TimeZone, Daylight, Pad2: SetVariable refuses anything
	 * but 0. The date is a month 1-12, or all zeros: efitools' appends
	 * (sign-efi-sig-list -a) carry no time, and OVMF takes them.
	 */
	if (t[7] || get_u32(t + 8) || get_u16(t + 12) || t[14] || t[15] || t[2] > 12 ||
	    (!t[2] && (get_u16(t) || t[3] || t[4] || t[5] || t[6]))) {
		log_err("%s: the update's time stamp is not a valid EFI_TIME for an authenticated "
			"variable; the firmware would refuse it.",
			what);
		return -EINVAL;
	}
	out->year = get_u16(t);
	out->month = t[2];
	out->day = t[3];
	out->hour = t[4];
	out->minute = t[5];
	out->second = t[6];
	out->cert_len = dw;
	out->esl = cert + dw;
	out->esl_len = len - EFI_TIME_SIZE - dw;
	return efisig_check(out->esl, out->esl_len, what, NULL);
}

/* Whether cur holds the EFI_SIGNATURE_DATA sig of a list like l. */
static bool holds(const uint8_t *cur, size_t cur_len, const struct efisig_list *l,
		  const uint8_t *sig)
{
	struct efisig_list c;
	size_t off = 0;

	while (efisig_next(cur, cur_len, &off, &c)) {
		if (memcmp(c.type, l->type, 16) || c.sig_size != l->sig_size)
			continue;
		for (uint32_t i = 0; i < c.n_sigs; i++)
			if (!memcmp(c.sigs + (size_t)i * c.sig_size, sig, l->sig_size))
				return true;
	}
	return false;
}

int efisig_append(const uint8_t *cur, size_t cur_len, const uint8_t *update, size_t update_len,
		  uint8_t **out, size_t *out_len, unsigned *added)
{
	struct efisig_list l;
	size_t off = 0, n;
	uint8_t *buf;

	*out = NULL;
	*out_len = 0;
	*added = 0;
	/* The result is at most both inputs together. */
	if (cur_len + update_len > OYSTER_EFISIG_MAX_SIZE) {
		log_err("The appended signature database would exceed %u KiB.",
			OYSTER_EFISIG_MAX_SIZE >> 10);
		return -EFBIG;
	}
	buf = malloc(cur_len + update_len + 1);
	if (!buf)
		return -ENOMEM;
	if (cur_len)
		memcpy(buf, cur, cur_len);
	n = cur_len;
	while (efisig_next(update, update_len, &off, &l)) {
		size_t start = n, head = ESL_HEADER + l.header_size;
		uint32_t kept = 0;

		memcpy(buf + n, l.type, head);
		n += head;
		for (uint32_t i = 0; i < l.n_sigs; i++) {
			const uint8_t *sig = l.sigs + (size_t)i * l.sig_size;

			if (holds(cur, cur_len, &l, sig))
				continue;
			memcpy(buf + n, sig, l.sig_size);
			n += l.sig_size;
			kept++;
		}
		if (!kept) {
			n = start;
			continue;
		}
		put_u32(buf + start + 16, (uint32_t)(n - start));
		*added += kept;
	}
	*out = buf;
	*out_len = n;
	return 0;
}
