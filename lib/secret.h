/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_SECRET_H
#define OYSTER_SECRET_H

#include <stddef.h>
#include <stdint.h>

/*
 * A buffer for key material: its own mapping, locked in RAM, excluded from
 * core dumps, wiped on free. data[] is NUL-terminated at len when used as a
 * passphrase, so it can be handed to libcryptsetup as is.
 */
struct secret {
	size_t len;
	size_t size;
	size_t map_len;
	uint8_t data[];
};

struct secret *secret_new(size_t size);
void secret_free(struct secret *s);
struct secret *secret_from_data(void *data);

#endif
