// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * PCR selection syntax, names, descriptions and banks. The names are
 * systemd's (systemd-pcrlock / systemd-cryptenroll --tpm2-pcrs=); the digest
 * sizes are checked against OpenSSL's, not against the same constants.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcr.h"
#include "test.h"

#define BIT(n) (1u << (n))

static const char *const names[OYSTER_PCR_COUNT] = {
	[0] = "platform-code",
	[1] = "platform-config",
	[2] = "external-code",
	[3] = "external-config",
	[4] = "boot-loader-code",
	[5] = "boot-loader-config",
	[6] = "host-platform",
	[7] = "secure-boot-policy",
	[8] = "grub-commands",
	[9] = "kernel-initrd",
	[10] = "ima",
	[11] = "kernel-boot",
	[12] = "kernel-config",
	[13] = "sysexts",
	[14] = "shim-policy",
	[15] = "system-identity",
	[16] = "debug",
	[23] = "application-support",
};

static void test_good_specs(void)
{
	static const struct {
		const char *spec;
		uint32_t mask;
	} good[] = {
		{ "7", BIT(7) },
		{ "0", BIT(0) },
		{ "23", BIT(23) },
		{ "0+2+4+7", BIT(0) | BIT(2) | BIT(4) | BIT(7) },
		{ "0,2,4,7", BIT(0) | BIT(2) | BIT(4) | BIT(7) },
		{ "7+4+2+0", BIT(0) | BIT(2) | BIT(4) | BIT(7) },
		{ "0,2+4", BIT(0) | BIT(2) | BIT(4) },
		{ "boot-loader-code+7", BIT(4) | BIT(7) },
		{ "secure-boot-policy", BIT(7) },
		{ "platform-code,secure-boot-policy,14", BIT(0) | BIT(7) | BIT(14) },
		{ "kernel-boot+application-support", BIT(11) | BIT(23) },
		/* A set: repeating a PCR, by number or by name, changes nothing. */
		{ "7+7", BIT(7) },
		{ "7+secure-boot-policy", BIT(7) },
		{ "0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20+21+22+23", 0xffffff },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint32_t mask = 0;
		int r = pcr_parse_spec(good[i].spec, &mask);

		CHECK(r == 0 && mask == good[i].mask, "\"%s\": %d 0x%x, want 0x%x", good[i].spec, r,
		      mask, good[i].mask);
	}
}

static void test_bad_specs(void)
{
	static const char *const bad[] = {
		"",
		"+",
		",",
		"+7",
		",7",
		"7+",
		"7,",
		"7++2",
		"7,,2",
		"7+,2",
		"+7+",
		" 7",
		"7 ",
		"7 +2",
		"7+ 2",
		"\t7",
		"7\n",
		"-7",
		"+-7",
		"-0",
		"7-",
		"24",
		"31",
		"32",
		"99",
		"99999999999",
		"4294967303",
		"18446744073709551623",
		"0x7",
		"0x07",
		"0X7",
		"07",
		"00",
		"7a",
		"a",
		"7.0",
		"1e1",
		"7;2",
		"7|2",
		"7 2",
		"0-7",
		"seven",
		"Boot-Loader-Code",
		"boot-loader",
		"boot-loader-code-x",
		"boot_loader_code",
		"boot-loader-code ",
		"boot-loader-code+",
		"pcr7",
		"sha256:7",
		"7\xc2\xa0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t mask = 0xdeadbeef;
		int r = pcr_parse_spec(bad[i], &mask);

		CHECK(r == -EINVAL, "\"%s\" accepted: %d 0x%x", bad[i], r, mask);
		CHECK(mask == 0xdeadbeef, "\"%s\" touched the mask on failure", bad[i]);
	}
	CHECK(pcr_parse_spec(NULL, &(uint32_t){ 0 }) == -EINVAL, "NULL spec");
}

static void test_names(void)
{
	for (unsigned pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
		const char *name = pcr_name(pcr), *desc = pcr_description(pcr);
		char spec[64];
		uint32_t mask = 0;

		CHECK(names[pcr] ? name && !strcmp(name, names[pcr]) : !name,
		      "pcr_name(%u) = %s, want %s", pcr, name ? name : "NULL",
		      names[pcr] ? names[pcr] : "NULL");
		if (name)
			CHECK(!pcr_parse_spec(name, &mask) && mask == BIT(pcr), "\"%s\" gives 0x%x",
			      name, mask);
		snprintf(spec, sizeof(spec), "%u", pcr);
		CHECK(!pcr_parse_spec(spec, &mask) && mask == BIT(pcr), "\"%s\" gives 0x%x", spec,
		      mask);
		CHECK(desc && *desc, "pcr_description(%u) is empty", pcr);
	}
	CHECK(!pcr_name(OYSTER_PCR_COUNT) && !pcr_name(~0u), "names past the last PCR");
	CHECK(pcr_description(OYSTER_PCR_COUNT) && pcr_description(~0u), "descriptions past 23");
	CHECK(strstr(pcr_description(7), "Secure Boot"), "PCR 7: %s", pcr_description(7));
	CHECK(strstr(pcr_description(4), "boot loader"), "PCR 4: %s", pcr_description(4));
}

static void test_format(void)
{
	char buf[128];

	pcr_format_spec(BIT(0) | BIT(2) | BIT(7), buf, sizeof(buf));
	CHECK(!strcmp(buf, "0+2+7"), "format 0x85 = \"%s\"", buf);
	pcr_format_spec(BIT(23), buf, sizeof(buf));
	CHECK(!strcmp(buf, "23"), "format bit 23 = \"%s\"", buf);
	pcr_format_spec(0, buf, sizeof(buf));
	CHECK(!strcmp(buf, ""), "format 0 = \"%s\"", buf);
	pcr_format_spec(0xffffff, buf, sizeof(buf));
	CHECK(!strcmp(buf, "0+1+2+3+4+5+6+7+8+9+10+11+12+13+14+15+16+17+18+19+20+21+22+23"),
	      "format all = \"%s\"", buf);

	/* Exactly enough room, then one byte less: never a cut list, never an overflow. */
	memset(buf, 'x', sizeof(buf));
	pcr_format_spec(BIT(0) | BIT(2) | BIT(7), buf, 6);
	CHECK(!strcmp(buf, "0+2+7"), "format into 6 = \"%s\"", buf);
	memset(buf, 'x', sizeof(buf));
	pcr_format_spec(BIT(0) | BIT(2) | BIT(7), buf, 5);
	CHECK(buf[0] == '\0' && buf[5] == 'x', "format into 5 = \"%.5s\"", buf);
	pcr_format_spec(BIT(7), buf, 0);
	CHECK(buf[0] == '\0', "format into 0 wrote");

	for (unsigned i = 0; i < 1000; i++) {
		uint32_t mask, back = 0;

		if (getrandom(&mask, sizeof(mask), 0) != sizeof(mask))
			exit(99);
		mask &= 0xffffff;
		if (!mask)
			continue;
		pcr_format_spec(mask, buf, sizeof(buf));
		CHECK(!pcr_parse_spec(buf, &back) && back == mask, "0x%x -> \"%s\" -> 0x%x", mask,
		      buf, back);
	}
}

static void test_banks(void)
{
	static const struct {
		const char *name, *openssl;
		uint16_t alg;
	} banks[] = {
		{ "sha1", "SHA1", TPM2_ALG_SHA1 },	 { "sha256", "SHA256", TPM2_ALG_SHA256 },
		{ "sha384", "SHA384", TPM2_ALG_SHA384 }, { "sha512", "SHA512", TPM2_ALG_SHA512 },
		{ "sm3_256", "SM3", TPM2_ALG_SM3_256 },
	};
	static const char *const unknown[] = { "",    "SHA256",	  "sha-256", "sha",  "sha256 ",
					       "sm3", "sha3_256", "md5",     "null", "rsa" };

	for (size_t i = 0; i < sizeof(banks) / sizeof(banks[0]); i++) {
		const EVP_MD *md = EVP_get_digestbyname(banks[i].openssl);
		size_t size = pcr_bank_digest_size(banks[i].alg);
		const char *name = pcr_bank_name(banks[i].alg);

		CHECK(pcr_bank_from_name(banks[i].name) == banks[i].alg, "bank %s", banks[i].name);
		CHECK(name && !strcmp(name, banks[i].name), "name of 0x%x", banks[i].alg);
		CHECK(size > 0 && size <= OYSTER_MAX_DIGEST, "%s: size %zu", banks[i].name, size);
		/* OpenSSL may be built without SM3; then only the bound above is checked. */
		if (md)
			CHECK(size == (size_t)EVP_MD_get_size(md), "%s: size %zu, OpenSSL %d",
			      banks[i].name, size, EVP_MD_get_size(md));
		else
			CHECK(!strcmp(banks[i].openssl, "SM3") && size == 32, "no OpenSSL %s",
			      banks[i].openssl);
	}
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		CHECK(pcr_bank_from_name(unknown[i]) == 0, "bank \"%s\" accepted", unknown[i]);
	CHECK(pcr_bank_from_name(NULL) == 0, "NULL bank");
	CHECK(!pcr_bank_name(TPM2_ALG_NULL) && !pcr_bank_name(TPM2_ALG_RSA) && !pcr_bank_name(0),
	      "names of non-banks");
	CHECK(!pcr_bank_digest_size(TPM2_ALG_NULL) && !pcr_bank_digest_size(TPM2_ALG_SHA3_256),
	      "sizes of non-banks");
}

static void test_trivial(void)
{
	uint8_t v[OYSTER_MAX_DIGEST];

	memset(v, 0, sizeof(v));
	CHECK(pcr_value_is_trivial(v, 32), "zeros");
	memset(v, 0xff, sizeof(v));
	CHECK(pcr_value_is_trivial(v, 20), "ones");
	for (size_t i = 0; i < 32; i++) {
		memset(v, 0, sizeof(v));
		v[i] = 1;
		CHECK(!pcr_value_is_trivial(v, 32), "zeros but byte %zu", i);
		memset(v, 0xff, sizeof(v));
		v[i] = 0xfe;
		CHECK(!pcr_value_is_trivial(v, 32), "ones but byte %zu", i);
	}
	/* Only the first size bytes count. */
	memset(v, 0, sizeof(v));
	v[20] = 1;
	CHECK(pcr_value_is_trivial(v, 20), "byte past the size");
}

int main(void)
{
	test_good_specs();
	test_bad_specs();
	test_names();
	test_format();
	test_banks();
	test_trivial();
	return test_done();
}
