/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_JSONKEYS_H
#define OYSTER_JSONKEYS_H

#include <stddef.h>

/*
 * What json-c cannot tell: whether an object in the raw text repeats a key
 * (json-c keeps the last value). Keys are compared after unescaping, so
 * "type" and "\u0074ype" are the same key. 0 when no object repeats a key,
 * -EEXIST when one does, -EINVAL when the text is not JSON this scanner
 * understands, -ENOMEM.
 */
int json_keys_unique(const char *text, size_t len);

/*
 * The raw text of the value at "tokens" -> "<id>" in a LUKS2 header's JSON
 * area (the last occurrence of each, as json-c reads it): *start and *span.
 * -ENOENT when there is no such token, -EEXIST when the area names the
 * token twice, -EINVAL when the area does not scan.
 */
int json_find_token(const char *area, size_t len, int id, const char **start, size_t *span);

#endif
