// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Authenticode image digest (Microsoft PE/COFF specification, "Calculating
 * the PE Image Hash"), the digest UEFI firmware measures for each image it
 * starts. Kernels and boot loaders come from package files that anyone with
 * root or a mirror could alter: every offset is checked against the file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authenticode.h"
#include "file.h"
#include "log.h"
#include "pcr.h"

#define PE_SIG_OFFSET 0x3c
#define PE32_MAGIC 0x10b
#define PE32PLUS_MAGIC 0x20b
#define COFF_HEADER_SIZE 20
#define SECTION_HEADER_SIZE 40
#define DIR_SECURITY 4

struct range {
	size_t off, len;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* [off, off + n) lies inside the image. */
static bool inside(size_t len, size_t off, size_t n)
{
	return off <= len && n <= len - off;
}

static int bad(const char *why)
{
	log_err("Not a usable PE/COFF image: %s.", why);
	return -EINVAL;
}

static int by_offset(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

struct pe {
	size_t checksum; /* offset of CheckSum */
	size_t cert_dir; /* offset of the certificate table's directory entry, or 0 */
	size_t headers;	 /* SizeOfHeaders */
	size_t cert_off, cert_len;
	size_t table;	/* offset of the section table */
	size_t strings; /* offset of the COFF string table, or 0 */
	size_t strings_len;
	unsigned n_headers;  /* its entries */
	unsigned n_sections; /* those with data */
	struct range sections[OYSTER_PE_MAX_SECTIONS];
};

static int parse_pe(const uint8_t *img, size_t len, struct pe *pe)
{
	size_t pe_off, opt, dirs, table;
	uint16_t n_sections, opt_size, magic;
	uint32_t n_dirs;

	if (!inside(len, 0, PE_SIG_OFFSET + 4) || img[0] != 'M' || img[1] != 'Z')
		return bad("no MZ header");
	pe_off = le32(img + PE_SIG_OFFSET);
	if (!inside(len, pe_off, 4 + COFF_HEADER_SIZE) || memcmp(img + pe_off, "PE\0\0", 4))
		return bad("no PE signature");
	n_sections = le16(img + pe_off + 6);
	opt_size = le16(img + pe_off + 20);
	opt = pe_off + 4 + COFF_HEADER_SIZE;
	if (n_sections > OYSTER_PE_MAX_SECTIONS)
		return bad("more than 96 sections");
	if (!inside(len, opt, opt_size) || opt_size < 2)
		return bad("optional header truncated");
	magic = le16(img + opt);
	if (magic == PE32_MAGIC)
		dirs = 96;
	else if (magic == PE32PLUS_MAGIC)
		dirs = 112;
	else
		return bad("neither PE32 nor PE32+");
	if (opt_size < dirs)
		return bad("optional header too short");
	pe->checksum = opt + 64;
	pe->headers = le32(img + opt + 60);
	n_dirs = le32(img + opt + dirs - 4);
	pe->cert_dir = 0;
	pe->cert_off = pe->cert_len = 0;
	if (n_dirs > DIR_SECURITY) {
		if ((size_t)opt_size < dirs + 8 * (DIR_SECURITY + 1))
			return bad("data directories truncated");
		pe->cert_dir = opt + dirs + 8 * DIR_SECURITY;
		/* The security directory holds a file offset, not an address. */
		pe->cert_off = le32(img + pe->cert_dir);
		pe->cert_len = le32(img + pe->cert_dir + 4);
		if (pe->cert_len && !inside(len, pe->cert_off, pe->cert_len))
			return bad("certificate table outside the file");
	}
	table = opt + opt_size;
	if (!inside(len, table, (size_t)n_sections * SECTION_HEADER_SIZE))
		return bad("section table truncated");
	pe->table = table;
	pe->n_headers = n_sections;
	/* Long section names ("/26") are offsets into the COFF string table, after the symbols. */
	pe->strings = pe->strings_len = 0;
	if (le32(img + pe_off + 12) && le32(img + pe_off + 16) < len / 18) {
		size_t at = (size_t)le32(img + pe_off + 12) + (size_t)le32(img + pe_off + 16) * 18;

		if (inside(len, at, 4) && le32(img + at) >= 4 && inside(len, at, le32(img + at))) {
			pe->strings = at;
			pe->strings_len = le32(img + at);
		}
	}
	if (!inside(len, 0, pe->headers) ||
	    pe->headers < (pe->cert_dir ? pe->cert_dir + 8 : pe->checksum + 4))
		return bad("SizeOfHeaders out of range");
	pe->n_sections = 0;
	for (unsigned i = 0; i < n_sections; i++) {
		const uint8_t *s = img + table + (size_t)i * SECTION_HEADER_SIZE;
		size_t size = le32(s + 16), off = le32(s + 20);

		if (!size)
			continue;
		if (!inside(len, off, size))
			return bad("a section lies outside the file");
		pe->sections[pe->n_sections++] = (struct range){ off, size };
	}
	qsort(pe->sections, pe->n_sections, sizeof(pe->sections[0]), by_offset);
	return 0;
}

/* parse_pe() into a new struct pe (freed by the caller), or NULL with *r set. */
static struct pe *pe_new(const uint8_t *img, size_t len, int *r)
{
	struct pe *pe = calloc(1, sizeof(*pe));

	*r = pe ? parse_pe(img, len, pe) : -ENOMEM;
	if (*r < 0) {
		free(pe);
		return NULL;
	}
	return pe;
}

int authenticode_digest(const uint8_t *img, size_t len, uint16_t bank, uint8_t *out)
{
	const char *name = pcr_bank_name(bank);
	const EVP_MD *md = name ? EVP_get_digestbyname(name) : NULL;
	EVP_MD_CTX *ctx = NULL;
	struct pe *pe;
	size_t hashed, end;
	bool ok;
	int r;

	if (!md)
		return -ENOTSUP;
	if (len > OYSTER_PE_MAX_SIZE)
		return bad("larger than 512 MiB");
	pe = pe_new(img, len, &r);
	if (!pe)
		return r;
	r = -ENOMEM;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		goto out;
	/* The headers, less the checksum and the certificate table's entry. */
	ok = EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, img, pe->checksum);
	if (pe->cert_dir)
		ok = ok &&
		     EVP_DigestUpdate(ctx, img + pe->checksum + 4,
				      pe->cert_dir - pe->checksum - 4) &&
		     EVP_DigestUpdate(ctx, img + pe->cert_dir + 8, pe->headers - pe->cert_dir - 8);
	else
		ok = ok &&
		     EVP_DigestUpdate(ctx, img + pe->checksum + 4, pe->headers - pe->checksum - 4);
	hashed = pe->headers;
	for (unsigned i = 0; i < pe->n_sections && ok; i++) {
		ok = EVP_DigestUpdate(ctx, img + pe->sections[i].off, pe->sections[i].len);
		hashed += pe->sections[i].len;
	}
	/* What follows the sections, up to the certificate table (which ends the file). */
	end = pe->cert_len ? pe->cert_off : len;
	if (ok && hashed < end && hashed <= len)
		ok = EVP_DigestUpdate(ctx, img + hashed, end - hashed);
	r = ok && EVP_DigestFinal_ex(ctx, out, NULL) ? 0 : -EIO;
out:
	EVP_MD_CTX_free(ctx);
	free(pe);
	return r;
}

int authenticode_cert_table(const uint8_t *img, size_t len, const uint8_t **table,
			    size_t *table_len)
{
	struct pe *pe;
	int r;

	pe = pe_new(img, len, &r);
	if (!pe)
		return r;
	*table = pe->cert_len ? img + pe->cert_off : NULL;
	*table_len = pe->cert_len;
	free(pe);
	return 0;
}

/* Whether the section header s is called name: inline, or "/N" into the string table. */
static bool section_named(const uint8_t *img, const struct pe *pe, const uint8_t *s,
			  const char *name)
{
	size_t n = strlen(name), off = 0;

	if (s[0] != '/')
		return n <= 8 && !memcmp(s, name, n) && (n == 8 || !s[n]);
	for (unsigned i = 1; i < 8 && s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		off = off * 10 + (size_t)(s[i] - '0');
	}
	return pe->strings && off >= 4 && off < pe->strings_len && n < pe->strings_len - off &&
	       !memcmp(img + pe->strings + off, name, n + 1);
}

int authenticode_section(const uint8_t *img, size_t len, const char *name, const uint8_t **data,
			 size_t *size)
{
	struct pe *pe;
	int r;

	pe = pe_new(img, len, &r);
	if (!pe)
		return r;
	for (unsigned i = 0; i < pe->n_headers; i++) {
		const uint8_t *s = img + pe->table + (size_t)i * SECTION_HEADER_SIZE;
		size_t virt = le32(s + 8), raw = le32(s + 16), off = le32(s + 20);

		if (!section_named(img, pe, s, name))
			continue;
		/* The loader maps VirtualSize bytes; past the raw data they are zeros. */
		*size = virt && virt < raw ? virt : raw;
		/* An empty section's offset is not checked by parse_pe(). */
		if (!inside(len, off, *size))
			off = *size = 0;
		*data = img + off;
		free(pe);
		return 0;
	}
	free(pe);
	return -ENOENT;
}

int authenticode_file(const char *path, uint16_t bank, uint8_t *out)
{
	void *map;
	size_t len;
	int r;

	r = file_map(path, OYSTER_PE_MAX_SIZE, &map, &len);
	if (r < 0 && r != -EINVAL && r != -EFBIG) {
		log_err("Cannot read %s: %s.", path, strerror(-r));
		return r;
	}
	if (r < 0 || !len) {
		log_err("%s is not a kernel or boot loader image (a regular file up to 512 MiB).",
			path);
		return -EINVAL;
	}
	r = authenticode_digest(map, len, bank, out);
	if (r == -EINVAL)
		log_err("%s is not a PE/COFF (EFI) image; oyster predict needs an EFI-bootable "
			"kernel or boot loader.",
			path);
	file_unmap(map, len);
	return r;
}
