/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_EFISIG_H
#define OYSTER_EFISIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * UEFI signature databases (UEFI 2.x, 32.4.1 "Signature Database"): the
 * content of PK, KEK, db and dbx is a sequence of EFI_SIGNATURE_LISTs, and
 * an update of them as SetVariable takes it from the OS is an
 * EFI_VARIABLE_AUTHENTICATION_2 header followed by such a sequence. Both
 * come from files anyone may hand us: every size is checked against the
 * bytes that remain before it is used.
 */
#define OYSTER_EFISIG_GUID_SIZE 16
/* Real databases are tens of KiB (Microsoft's dbx: about 30 KiB). */
#define OYSTER_EFISIG_MAX_SIZE (1u << 20)

/* One EFI_SIGNATURE_LIST, pointing into the checked buffer. */
struct efisig_list {
	const uint8_t *type; /* SignatureType, 16 bytes */
	uint32_t list_size, header_size, sig_size;
	const uint8_t *sigs; /* n_sigs EFI_SIGNATURE_DATA of sig_size bytes: owner GUID, data */
	uint32_t n_sigs;
};

/* An EFI_VARIABLE_AUTHENTICATION_2 payload, pointing into the checked buffer. */
struct efisig_auth {
	uint16_t year;
	uint8_t month, day, hour, minute, second;
	uint32_t cert_len;  /* WIN_CERTIFICATE_UEFI_GUID's dwLength */
	const uint8_t *esl; /* the signature lists that follow */
	size_t esl_len;
};

/*
 * Checks that len bytes are a sequence of well-formed signature lists (none
 * is also one). -EINVAL with a one-line reason logged that starts with what
 * ("db update: signature list 2 claims 900 bytes, 120 remain."), or quietly
 * when what is NULL. *n_sigs (may be NULL) gets the number of signatures.
 */
int efisig_check(const uint8_t *buf, size_t len, const char *what, unsigned *n_sigs);
/*
 * The list at *off of a buffer efisig_check accepted; advances *off. false at
 * the end.
 */
bool efisig_next(const uint8_t *buf, size_t len, size_t *off, struct efisig_list *out);
/*
 * Parses an authenticated update: the EFI_TIME (its pads, nanoseconds, time
 * zone and daylight zero, as SetVariable demands), a WIN_CERTIFICATE_UEFI_GUID
 * of type EFI_CERT_TYPE_PKCS7_GUID whose dwLength fits, then signature lists
 * (efisig_check). -EINVAL with the reason logged, starting with what. The
 * PKCS#7 signature itself is the firmware's to verify, not ours.
 */
int efisig_parse_auth(const uint8_t *buf, size_t len, const char *what, struct efisig_auth *out);
/*
 * What an EFI_VARIABLE_APPEND_WRITE of update (signature lists) makes of a
 * variable holding cur (signature lists): cur, then update's signatures that
 * cur does not already hold (same SignatureType and SignatureSize, and the
 * same EFI_SIGNATURE_DATA bytes: owner and data), each list of update with
 * its kept signatures only, and lists left empty dropped. This is the UEFI
 * specification's rule for SetVariable appends ("the driver shall not
 * perform an append of EFI_SIGNATURE_DATA values that are already part of
 * the existing variable value") as EDK2 (OVMF) implements it. Both inputs
 * must have passed efisig_check. *out is malloc'ed; *added gets the count
 * of signatures appended. -ENOMEM, -EFBIG beyond OYSTER_EFISIG_MAX_SIZE.
 */
int efisig_append(const uint8_t *cur, size_t cur_len, const uint8_t *update, size_t update_len,
		  uint8_t **out, size_t *out_len, unsigned *added);

#endif
