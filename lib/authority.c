// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Which db entry verifies a boot loader. EDK2's image verification walks
 * db's X.509 entries in order and takes the first one that anchors the
 * image's Authenticode signature, wherever it stands in the signer's chain;
 * that EFI_SIGNATURE_DATA is what PCR 7's EV_EFI_VARIABLE_AUTHORITY event
 * measures. Offline we can tell which entry anchors the chain of
 * certificates the signature carries (X.509 path validation with that entry
 * as the only trust anchor, no time check, as EDK2 does), not whether the
 * firmware will accept the signature over the image: a loader it refuses
 * does not boot at all.
 */
#include <errno.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "authenticode.h"
#include "authority.h"
#include "efisig.h"
#include "file.h"
#include "log.h"

#define WIN_CERT_TYPE_PKCS_SIGNED_DATA 0x0002u

/* EFI_CERT_X509_GUID a5c059a1-94e4-4aa7-87b5-ab155c2bf072, as stored. */
static const uint8_t x509_guid[16] = { 0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
				       0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72 };

/* The image's first Authenticode signature, or NULL (the reason logged). */
static PKCS7 *signature(const char *path, const uint8_t *img, size_t len)
{
	const uint8_t *table = NULL;
	const unsigned char *p;
	size_t table_len = 0;
	uint32_t dw;
	PKCS7 *p7;

	if (authenticode_cert_table(img, len, &table, &table_len) < 0) {
		log_err("%s is not a PE/COFF (EFI) image.", path);
		return NULL;
	}
	if (!table_len) {
		log_err("%s is not signed, so no db entry verifies it under Secure Boot; approve "
			"the next boot with oyster reseal --next-boot instead.",
			path);
		return NULL;
	}
	dw = table_len >= 8 ? (uint32_t)table[0] | (uint32_t)table[1] << 8 |
				      (uint32_t)table[2] << 16 | (uint32_t)table[3] << 24
			    : 0;
	if (dw < 8 || dw > table_len ||
	    (table[6] | table[7] << 8) != WIN_CERT_TYPE_PKCS_SIGNED_DATA) {
		log_err("%s: its certificate table holds no Authenticode signature; approve the "
			"next boot with oyster reseal --next-boot instead.",
			path);
		return NULL;
	}
	p = table + 8;
	p7 = d2i_PKCS7(NULL, &p, dw - 8);
	if (!p7 || !PKCS7_type_is_signed(p7) || !p7->d.sign || !p7->d.sign->cert) {
		log_err("%s: its Authenticode signature is not a PKCS#7 SignedData with "
			"certificates; approve the next boot with oyster reseal --next-boot "
			"instead.",
			path);
		PKCS7_free(p7);
		return NULL;
	}
	return p7;
}

/* Whether the DER certificate ca anchors signer's chain through untrusted. */
static bool anchors(const uint8_t *der, size_t der_len, X509 *signer, STACK_OF(X509) *untrusted)
{
	const unsigned char *p = der;
	X509 *ca = d2i_X509(NULL, &p, (long)der_len);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (ca && store && ctx && X509_STORE_add_cert(store, ca) == 1 &&
	    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME) ==
		    1 &&
	    X509_STORE_CTX_init(ctx, store, signer, untrusted) == 1 &&
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) == 1)
		ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	return ok;
}

int authority_anchor(const char *path, const uint8_t *db, size_t db_len, const uint8_t **entry,
		     size_t *entry_len)
{
	STACK_OF(X509) *signers = NULL;
	struct efisig_list l;
	size_t off = 0, len;
	PKCS7 *p7 = NULL;
	void *img = NULL;
	int r;

	*entry = NULL;
	*entry_len = 0;
	r = file_map(path, OYSTER_PE_MAX_SIZE, &img, &len);
	if (r < 0) {
		log_err("Cannot read %s: %s.", path, strerror(-r));
		return r;
	}
	r = -EINVAL;
	p7 = signature(path, img, len);
	if (!p7)
		goto out;
	signers = PKCS7_get0_signers(p7, p7->d.sign->cert, 0);
	if (!signers || sk_X509_num(signers) < 1) {
		log_err("%s: its Authenticode signature names no signer among its certificates; "
			"approve the next boot with oyster reseal --next-boot instead.",
			path);
		goto out;
	}
	r = 0;
	while (!*entry && efisig_next(db, db_len, &off, &l)) {
		if (memcmp(l.type, x509_guid, sizeof(x509_guid)) || l.sig_size <= 16)
			continue;
		for (uint32_t i = 0; i < l.n_sigs && !*entry; i++) {
			const uint8_t *sig = l.sigs + (size_t)i * l.sig_size;

			if (anchors(sig + 16, l.sig_size - 16, sk_X509_value(signers, 0),
				    p7->d.sign->cert)) {
				*entry = sig;
				*entry_len = l.sig_size;
			}
		}
	}
out:
	sk_X509_free(signers);
	PKCS7_free(p7);
	file_unmap(img, len);
	return r;
}

void authority_describe(const uint8_t *entry, size_t entry_len, char *buf, size_t size)
{
	const unsigned char *p = entry ? entry + 16 : NULL;
	X509 *cert = p && entry_len > 16 ? d2i_X509(NULL, &p, (long)(entry_len - 16)) : NULL;
	char name[256];

	if (!entry)
		snprintf(buf, size, "no db entry");
	else if (!cert)
		snprintf(buf, size, "a db entry that is not a certificate");
	else {
		X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof(name));
		snprintf(buf, size, "db's certificate %s", name);
	}
	X509_free(cert);
}
