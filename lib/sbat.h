/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_SBAT_H
#define OYSTER_SBAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The SbatPolicy variable's values (shim's include/sbat.h); none read: 0. */
#define SBAT_POLICY_LATEST 1
#define SBAT_POLICY_AUTOMATIC 2
#define SBAT_POLICY_RESET 3

/*
 * The content of SbatLevel after the shim image at path boots once, from
 * cur (cur_len bytes, what this boot measured), with the SbatPolicy value
 * policy (0 for none) and Secure Boot on or off, as shim 15.8 decides it
 * (lib/sbat.c). *out is malloc'ed. -ENOENT when the image has no
 * .sbatlevel section (a shim before 15.7), -EINVAL when that section is
 * malformed, each logged in one line.
 */
int sbat_next_level(const char *shim, const uint8_t *cur, size_t cur_len, int policy, bool secure,
		    uint8_t **out, size_t *out_len);

#endif
