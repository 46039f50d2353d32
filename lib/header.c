// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * LUKS2 on-disk layout (cryptsetup's docs/on-disk-format-luks2.pdf): a
 * 4096-byte binary header, big-endian, then the JSON area, NUL-padded; the
 * secondary copy follows at hdr_size. The checksum covers both parts with
 * its own field zeroed.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libcryptsetup.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "header.h"
#include "jsonkeys.h"
#include "log.h"
#include "token.h"

#define HDR_BINARY 4096
#define HDR_MIN 0x4000ull
#define HDR_MAX 0x400000ull
#define OFF_VERSION 6
#define OFF_HDR_SIZE 8
#define OFF_SEQID 16
#define OFF_CSUM_ALG 72
#define CSUM_ALG_LEN 32
#define OFF_HDR_OFFSET 256
#define OFF_CSUM 448
#define CSUM_LEN 64

static const char magic[2][6] = { "LUKS\xba\xbe", "SKUL\xba\xbe" };

static uint64_t be64_at(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static bool checksum_ok(uint8_t *hdr, size_t size)
{
	uint8_t want[CSUM_LEN], got[EVP_MAX_MD_SIZE];
	char alg[CSUM_ALG_LEN + 1];
	const EVP_MD *md;
	EVP_MD_CTX *ctx;
	unsigned got_len = 0;
	bool ok = false;

	memcpy(alg, hdr + OFF_CSUM_ALG, CSUM_ALG_LEN);
	alg[CSUM_ALG_LEN] = '\0';
	md = EVP_get_digestbyname(alg);
	if (!md)
		return false;
	memcpy(want, hdr + OFF_CSUM, CSUM_LEN);
	memset(hdr + OFF_CSUM, 0, CSUM_LEN);
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, hdr, size) &&
	    EVP_DigestFinal_ex(ctx, got, &got_len) && got_len <= CSUM_LEN)
		ok = !memcmp(want, got, got_len);
	EVP_MD_CTX_free(ctx);
	memcpy(hdr + OFF_CSUM, want, CSUM_LEN);
	return ok;
}

/* The copy whose binary header says it is at off; *size its hdr_size when found. */
static int read_copy(int fd, int which, uint64_t off, struct header_copy *c, uint64_t *size)
{
	uint8_t bin[HDR_BINARY], *hdr;
	uint64_t hdr_size;
	ssize_t n;

	n = pread(fd, bin, sizeof(bin), (off_t)off);
	if (n < 0)
		return -errno;
	if (n != sizeof(bin) || memcmp(bin, magic[which], sizeof(magic[which])))
		return 0;
	hdr_size = be64_at(bin + OFF_HDR_SIZE);
	if (be64_at(bin + OFF_HDR_OFFSET) != off || hdr_size < HDR_MIN || hdr_size > HDR_MAX ||
	    (hdr_size & (hdr_size - 1)))
		return 0;
	c->found = true;
	c->offset = off;
	c->seqid = be64_at(bin + OFF_SEQID);
	*size = hdr_size;
	if (bin[OFF_VERSION] != 0 || bin[OFF_VERSION + 1] != 2)
		return 0;
	hdr = malloc(hdr_size + 1);
	if (!hdr)
		return -ENOMEM;
	n = pread(fd, hdr, hdr_size, (off_t)off);
	if (n != (ssize_t)hdr_size || memcmp(hdr, bin, sizeof(bin)) ||
	    !checksum_ok(hdr, hdr_size)) {
		free(hdr);
		return n < 0 ? -errno : 0;
	}
	hdr[hdr_size] = '\0';
	c->json_len = strnlen((char *)hdr + HDR_BINARY, hdr_size - HDR_BINARY);
	c->json = malloc(c->json_len + 1);
	if (c->json) {
		memcpy(c->json, hdr + HDR_BINARY, c->json_len);
		c->json[c->json_len] = '\0';
		c->intact = true;
	}
	free(hdr);
	return c->json ? 0 : -ENOMEM;
}

int header_read_path(const char *path, struct header *h)
{
	uint64_t size = 0, off;
	int fd, r;

	memset(h, 0, sizeof(*h));
	h->path = strdup(path);
	if (!h->path)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = read_copy(fd, HEADER_PRIMARY, 0, &h->copy[HEADER_PRIMARY], &size);
	if (r < 0)
		goto out;
	if (h->copy[HEADER_PRIMARY].found) {
		r = read_copy(fd, HEADER_SECONDARY, size, &h->copy[HEADER_SECONDARY], &size);
		goto out;
	}
	/* Without a primary, look where libcryptsetup looks: each possible header size. */
	for (off = HDR_MIN; off <= HDR_MAX && !h->copy[HEADER_SECONDARY].found; off <<= 1) {
		r = read_copy(fd, HEADER_SECONDARY, off, &h->copy[HEADER_SECONDARY], &size);
		if (r < 0)
			goto out;
	}
out:
	close(fd);
	return r;
}

int header_read(struct crypt_device *cd, struct header *h)
{
	const char *path = crypt_get_metadata_device_name(cd);

	return header_read_path(path ? path : crypt_get_device_name(cd), h);
}

void header_free(struct header *h)
{
	free(h->path);
	for (int i = 0; i < 2; i++)
		free(h->copy[i].json);
	memset(h, 0, sizeof(*h));
}

bool header_copies_agree(const struct header *h)
{
	const struct header_copy *p = &h->copy[HEADER_PRIMARY], *s = &h->copy[HEADER_SECONDARY];

	return p->intact && s->intact && p->seqid == s->seqid && p->json_len == s->json_len &&
	       !memcmp(p->json, s->json, p->json_len);
}

int header_in_use(const struct header *h)
{
	const struct header_copy *p = &h->copy[HEADER_PRIMARY], *s = &h->copy[HEADER_SECONDARY];

	if (!p->intact && !s->intact)
		return -1;
	if (!p->intact)
		return HEADER_SECONDARY;
	if (!s->intact)
		return HEADER_PRIMARY;
	return s->seqid > p->seqid ? HEADER_SECONDARY : HEADER_PRIMARY;
}

const char *header_difference(const struct header *h)
{
	const struct header_copy *p = &h->copy[HEADER_PRIMARY], *s = &h->copy[HEADER_SECONDARY];

	if (header_copies_agree(h))
		return "";
	if (!p->intact && !s->intact)
		return "both copies are damaged";
	if (!p->intact)
		return p->found ? "the primary copy is damaged (checksum or version)"
				: "the primary copy is missing";
	if (!s->intact)
		return s->found ? "the secondary copy is damaged (checksum or version)"
				: "the secondary copy is missing";
	if (p->seqid != s->seqid)
		return "the copies have different sequence numbers (one write reached only one "
		       "copy)";
	return "the copies have the same sequence number but different contents";
}

const char *header_copy_name(int which)
{
	return which == HEADER_SECONDARY ? "secondary" : "primary";
}

int header_token_check(const struct header *h, int id, const char **why)
{
	const char *start;
	size_t span;
	int r;

	for (int i = 0; i < 2; i++) {
		const struct header_copy *c = &h->copy[i];

		if (!c->intact)
			continue;
		r = json_find_token(c->json, c->json_len, id, &start, &span);
		if (r == -ENOENT)
			continue;
		if (r == -EEXIST) {
			*why = "the header names this token twice";
			return -EINVAL;
		}
		if (r < 0) {
			*why = "the header's JSON area is not JSON oyster can check";
			return -EINVAL;
		}
		if (span > OYSTER_TOKEN_JSON_MAX) {
			*why = "token: JSON larger than any valid token";
			return -EINVAL;
		}
		r = json_keys_unique(start, span);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			*why = r == -EEXIST ? "token: an object repeats a key"
					    : "token: not valid JSON";
			return -EINVAL;
		}
	}
	return 0;
}

int header_token_strict(struct crypt_device *cd, int id, const char **why)
{
	struct header h;
	int r;

	r = header_read(cd, &h);
	if (r < 0) {
		*why = "cannot read the header to check the token's raw text";
	} else {
		r = header_token_check(&h, id, why);
	}
	header_free(&h);
	return r;
}
