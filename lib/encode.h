/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_ENCODE_H
#define OYSTER_ENCODE_H

#include <stddef.h>
#include <stdint.h>

/* Length of the base64 text for n bytes, without the NUL. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * All return 0, -EINVAL for malformed text (before -ENOBUFS for a short
 * out), or -ENOBUFS; on error out is wiped and *out_len is 0: these
 * functions carry the secret and its passphrase.
 */

/* Standard alphabet with padding; out gets BASE64_LEN(n) + 1 bytes. */
int base64_encode(const uint8_t *in, size_t n, char *out, size_t out_size);
/* Strict: padding required, no whitespace; -EINVAL on bad text, -ENOBUFS when out is short. */
int base64_decode(const char *in, uint8_t *out, size_t out_size, size_t *out_len);

/* Lower-case hex; out gets 2n + 1 bytes. */
int hex_encode(const uint8_t *in, size_t n, char *out, size_t out_size);
int hex_decode(const char *in, uint8_t *out, size_t out_size, size_t *out_len);

#endif
