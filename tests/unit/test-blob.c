// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * blob_unmarshal(), the unlock path's reading of the sealed object: whole
 * TPM2Bs only. Regression for tests/fuzz/regress/blob/empty-public: tss2
 * 3.2.1 unmarshals a TPM2B_PUBLIC of size 0 into an all-zero publicArea.
 */
#include <errno.h>

#include <tss2/tss2_mu.h>

#include "blob.h"
#include "test.h"

static struct token tok;

/* A sealed-object public area and a made-up private blob of 50 bytes. */
static void make_blobs(void)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { .size = 48 };
	size_t off = 0;

	memset(&tok, 0, sizeof(tok));
	pub.publicArea.type = TPM2_ALG_KEYEDHASH;
	pub.publicArea.nameAlg = TPM2_ALG_SHA256;
	pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	pub.publicArea.authPolicy.size = 32;
	pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, tok.public_blob, sizeof(tok.public_blob), &off))
		exit(99);
	tok.public_len = off;
	off = 0;
	memset(priv.buffer, 0x42, priv.size);
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, tok.private_blob, sizeof(tok.private_blob), &off))
		exit(99);
	tok.private_len = off;
}

static int unmarshal(void)
{
	TPM2B_PRIVATE priv;
	TPM2B_PUBLIC pub;

	return blob_unmarshal(&tok, &priv, &pub);
}

int main(void)
{
	TPM2B_PRIVATE priv;
	TPM2B_PUBLIC pub;

	make_blobs();
	/* Twice: the output structures need not be zeroed by the caller. */
	memset(&priv, 0xff, sizeof(priv));
	memset(&pub, 0xff, sizeof(pub));
	CHECK(blob_unmarshal(&tok, &priv, &pub) == 0, "valid blobs");
	CHECK(blob_unmarshal(&tok, &priv, &pub) == 0, "valid blobs, outputs not zeroed");
	CHECK(priv.size == 48 && pub.publicArea.type == TPM2_ALG_KEYEDHASH, "contents");

	make_blobs();
	tok.public_blob[0] = tok.public_blob[1] = 0;
	tok.public_len = 2;
	CHECK(unmarshal() == -EINVAL, "empty TPM2B_PUBLIC (the fuzzer's find)");

	make_blobs();
	tok.private_len = 2;
	tok.private_blob[0] = tok.private_blob[1] = 0;
	CHECK(unmarshal() == -EINVAL, "empty TPM2B_PRIVATE");

	make_blobs();
	tok.public_blob[1]++;
	CHECK(unmarshal() == -EINVAL, "TPM2B_PUBLIC size field one too long");
	make_blobs();
	tok.public_blob[1]--;
	CHECK(unmarshal() == -EINVAL, "TPM2B_PUBLIC size field one too short");
	make_blobs();
	tok.private_blob[0] = 0xff;
	CHECK(unmarshal() == -EINVAL, "TPM2B_PRIVATE size field of 65 KiB");
	make_blobs();
	tok.private_len--;
	CHECK(unmarshal() == -EINVAL, "TPM2B_PRIVATE cut short");
	make_blobs();
	tok.public_len = 1;
	CHECK(unmarshal() == -EINVAL, "one byte");
	make_blobs();
	tok.public_len = 0;
	CHECK(unmarshal() == -EINVAL, "nothing");
	make_blobs();
	tok.public_len = OYSTER_MAX_PUBLIC + 1;
	CHECK(unmarshal() == -EINVAL, "length beyond the buffer");
	make_blobs();
	/* Size field and length agree, but the public area inside is cut short. */
	tok.public_len -= 4;
	tok.public_blob[0] = (uint8_t)((tok.public_len - 2) >> 8);
	tok.public_blob[1] = (uint8_t)(tok.public_len - 2);
	CHECK(unmarshal() == -EINVAL, "public area shorter than its fields");
	return test_done();
}
