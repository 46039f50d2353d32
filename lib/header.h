/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_HEADER_H
#define OYSTER_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct crypt_device;

/*
 * The two copies of a LUKS2 header as they are on disk, read past
 * libcryptsetup: it resolves a disagreement between them silently (and
 * json-c a repeated key), and only the raw text shows either. Read-only:
 * repairing is libcryptsetup's business, at the user's request.
 */
enum { HEADER_PRIMARY, HEADER_SECONDARY };

struct header_copy {
	bool found;  /* its magic is where it should be */
	bool intact; /* found, version 2, its checksum matches */
	uint64_t offset;
	uint64_t seqid;
	char *json; /* the JSON area up to its padding; NULL unless intact */
	size_t json_len;
};

struct header {
	char *path;
	struct header_copy copy[2];
};

/* The metadata device of cd (the detached header, or the device itself). */
int header_read(struct crypt_device *cd, struct header *h);
int header_read_path(const char *path, struct header *h);
void header_free(struct header *h);
/* Both copies intact, with the same seqid and the same JSON text. */
bool header_copies_agree(const struct header *h);
/*
 * The copy libcryptsetup loads, by its rule: the only intact one, else the
 * higher seqid, else the primary; -1 when neither is intact.
 */
int header_in_use(const struct header *h);
/* How the copies differ, in words ("the secondary copy is damaged"); "" when they agree. */
const char *header_difference(const struct header *h);
/* "primary" or "secondary". */
const char *header_copy_name(int which);
/*
 * Token id as written in every intact copy that holds it: -EINVAL with *why
 * when an object in it repeats a key, when the area names the token twice,
 * or when its text cannot be checked; 0 otherwise.
 */
int header_token_check(const struct header *h, int id, const char **why);
/* header_read() then header_token_check(): the plugin's and the tool's one call. */
int header_token_strict(struct crypt_device *cd, int id, const char **why);

#endif
