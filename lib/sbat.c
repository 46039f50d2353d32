// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * shim's SbatLevel, decided offline as shim's sbat.c decides it at boot.
 * shim (since 15.3) measures the SbatLevel variable into PCR 7 as an
 * EV_EFI_VARIABLE_AUTHORITY event, after it has raised the variable to its
 * own revocation level; since 15.7 that level is readable in the image's
 * .sbatlevel section (format 0: the offsets of the "automatic" and the
 * "latest" level, each a NUL-terminated CSV text, from the word after the
 * format). The variable is kept when it is at least as new as the
 * candidate (a longer or greater version field, else a date stamp not
 * older), and a candidate that would revoke the new shim itself is not
 * applied.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authenticode.h"
#include "file.h"
#include "log.h"
#include "sbat.h"

#define SBAT_SIG "sbat,"
/* The level without revocations; shim's shortest valid one. */
#define SBAT_ORIGINAL "sbat,1,2021030218\n"
#define SBAT_ORIGINAL_LEN 18u
#define SBAT_DATE_LEN 10u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Field n (from 0) of the first line of s (len bytes), and its length. */
static const char *field(const char *s, size_t len, unsigned n, size_t *flen)
{
	size_t i = 0, start;

	for (; n && i < len && s[i] != '\n'; i++)
		if (s[i] == ',')
			n--;
	start = i;
	while (i < len && s[i] != ',' && s[i] != '\n')
		i++;
	*flen = i - start;
	return s + start;
}

/* Whether shim keeps cur (its content, len bytes) against candidate. */
static bool keeps(const uint8_t *cur, size_t len, const char *cand)
{
	size_t cv_len, nv_len, cd_len, nd_len;
	const char *cv, *nv, *cd, *nd;
	char line[128] = { 0 };

	if (len < SBAT_ORIGINAL_LEN || memcmp(cur, SBAT_SIG, strlen(SBAT_SIG)))
		return false;
	/* NUL-terminated, as shim's strncmp reads it. */
	memcpy(line, cur, len < sizeof(line) - 1 ? len : sizeof(line) - 1);
	cv = field(line, strlen(line), 1, &cv_len);
	nv = field(cand, strlen(cand), 1, &nv_len);
	if (cv_len > nv_len || (cv_len == nv_len && strncmp(cv, nv, nv_len) > 0))
		return true;
	cd = field(line, strlen(line), 2, &cd_len);
	nd = field(cand, strlen(cand), 2, &nd_len);
	return strncmp(cd, nd, SBAT_DATE_LEN) >= 0;
}

/* The generation of component in a CSV text (lines "name,generation,..."); 0 when absent. */
static unsigned long generation(const char *csv, size_t len, const char *name, size_t name_len)
{
	const char *line = csv, *end = csv + len;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;

		if ((size_t)(stop - line) > name_len && !memcmp(line, name, name_len) &&
		    line[name_len] == ',')
			return strtoul(line + name_len + 1, NULL, 10);
		line = stop + 1;
	}
	return 0;
}

/* Whether candidate's revocations (after its first line) revoke the image's .sbat entries. */
static bool revokes(const char *cand, const uint8_t *sbat, size_t sbat_len)
{
	const char *line = strchr(cand, '\n');

	while (line && *++line) {
		const char *comma = strchr(line, ','), *nl = strchr(line, '\n');
		unsigned long want, have;

		if (!comma || (nl && comma > nl))
			break;
		want = strtoul(comma + 1, NULL, 10);
		have = generation((const char *)sbat, sbat_len, line, (size_t)(comma - line));
		if (have && have < want)
			return true;
		line = nl;
	}
	return false;
}

int sbat_next_level(const char *shim, const uint8_t *cur, size_t cur_len, int policy, bool secure,
		    uint8_t **out, size_t *out_len)
{
	const uint8_t *level = NULL, *sbat = NULL;
	size_t level_len = 0, sbat_len = 0, len;
	const char *cand;
	bool reset;
	uint32_t off;
	void *img;
	int r;

	*out = NULL;
	r = file_map(shim, OYSTER_PE_MAX_SIZE, &img, &len);
	if (r < 0) {
		log_err("Cannot read %s: %s.", shim, strerror(-r));
		return r;
	}
	r = authenticode_section(img, len, ".sbatlevel", &level, &level_len);
	if (r == -ENOENT)
		log_err("--shim %s has no .sbatlevel section (a shim before 15.7, or no shim), so "
			"the SbatLevel it sets cannot be read; approve the next boot with oyster "
			"reseal --next-boot instead.",
			shim);
	else if (r < 0)
		log_err("--shim %s is not a PE/COFF (EFI) image.", shim);
	if (r < 0)
		goto out;
	r = -EINVAL;
	off = level_len >= 12 ? le32(level + 4 + 4 * (policy == SBAT_POLICY_LATEST)) : 0;
	if (level_len < 12 || le32(level) != 0 || off >= level_len - 4 ||
	    !memchr(level + 4 + off, '\0', level_len - 4 - off)) {
		log_err("--shim %s: its .sbatlevel section is not format 0 with two NUL-terminated "
			"levels.",
			shim);
		goto out;
	}
	cand = (const char *)level + 4 + off;
	if (strncmp(cand, SBAT_SIG, strlen(SBAT_SIG))) {
		log_err("--shim %s: its SbatLevel does not start with \"sbat,\".", shim);
		goto out;
	}
	/* Without Secure Boot shim resets the level, unless told "latest" or "automatic". */
	reset = !secure && policy != SBAT_POLICY_LATEST && policy != SBAT_POLICY_AUTOMATIC;
	if (reset)
		cand = SBAT_ORIGINAL;
	if (authenticode_section(img, len, ".sbat", &sbat, &sbat_len) < 0)
		sbat_len = 0;
	if ((!reset && keeps(cur, cur_len, cand)) || revokes(cand, sbat, sbat_len)) {
		*out_len = cur_len;
		*out = malloc(cur_len + 1);
		if (*out)
			memcpy(*out, cur, cur_len);
	} else {
		*out_len = strlen(cand);
		*out = (uint8_t *)strdup(cand);
	}
	r = *out ? 0 : -ENOMEM;
out:
	file_unmap(img, len);
	return r;
}
