/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_AUTHENTICODE_H
#define OYSTER_AUTHENTICODE_H

#include <stddef.h>
#include <stdint.h>

/* Far above any kernel or boot loader. */
#define OYSTER_PE_MAX_SIZE (512u << 20)
/* The PE/COFF specification's limit. */
#define OYSTER_PE_MAX_SECTIONS 96u

/*
 * The Authenticode digest of a PE/COFF image, with the hash of bank
 * (sha256 is what firmware measures into PCR 4 from a SHA-256 bank): the
 * image without its checksum, its certificate table entry and its
 * certificate table; sections in file order; then the data that trails them.
 * -EINVAL (reason logged) for a file that is not a well-formed PE image.
 */
int authenticode_digest(const uint8_t *img, size_t len, uint16_t bank, uint8_t *out);
/*
 * The certificate table (WIN_CERTIFICATEs) of a PE/COFF image: *table
 * points into img, *table_len is 0 for an unsigned image. -EINVAL as above.
 */
int authenticode_cert_table(const uint8_t *img, size_t len, const uint8_t **table,
			    size_t *table_len);
/*
 * The raw data of the section called name (at most 8 characters): -ENOENT
 * when the image has none, -EINVAL as above.
 */
int authenticode_section(const uint8_t *img, size_t len, const char *name, const uint8_t **data,
			 size_t *size);
/* The same for a file; messages name it. */
int authenticode_file(const char *path, uint16_t bank, uint8_t *out);

#endif
