/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_FILE_H
#define OYSTER_FILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The one room for whole-file IO (minisign's helpers.c): a reader, a
 * read-only mapping and an atomic replace, shared by the crypttab, event
 * log, EFI variable, Authenticode and substitution code. None of them logs:
 * callers say what the file was for.
 */

/*
 * The whole file at path, at most max bytes, into *data (malloc'd, with a
 * NUL after the *len bytes). Everything is asked for at once, as efivarfs
 * wants, and read until end of file, as securityfs (whose files have no
 * size) needs. Returns 0; -EFBIG when the file holds more than max bytes;
 * -ENOMEM; or the errno of open or read (-ENOENT when it is missing).
 */
int file_read(const char *path, size_t max, uint8_t **data, size_t *len);

/* file_read for a text file: *text is NUL-terminated; -EINVAL when it holds a NUL byte. */
int file_read_text(const char *path, size_t max, char **text);

/*
 * A private read-only mapping of the regular file at path: 0 with *map and
 * *len (*map NULL for an empty file); -EINVAL when it is not a regular file,
 * -EFBIG when larger than max, or the errno of open, fstat or mmap. Undo
 * with file_unmap.
 */
int file_map(const char *path, size_t max, void **map, size_t *len);
void file_unmap(void *map, size_t len);

/*
 * Replaces the file at path (symlinks followed) with new_text in one
 * rename(), with the same owner and mode, after saving old_text in backup.
 * -ESTALE when the file no longer holds old_text. On any failure the file
 * is left as it was and no temporary file remains.
 */
int file_replace(const char *path, const char *old_text, const char *new_text,
		 const char *backup);

#endif
