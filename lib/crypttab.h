/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_CRYPTTAB_H
#define OYSTER_CRYPTTAB_H

#include <stddef.h>

/*
 * crypttab(5) editing for `oyster boot-setup`: find a LUKS volume's entry
 * by UUID and add keyscript=oyster to its options, every other byte of the
 * file left as it was.
 */

#define OYSTER_KEYSCRIPT "oyster"
#define OYSTER_UUID_MAX 64

/*
 * Resolves an (unmangled) crypttab source field to the UUID of the LUKS
 * volume it names: 0, or a negative errno when it names none.
 */
typedef int (*crypttab_resolve_fn)(const char *source, char *uuid, size_t size, void *data);

struct crypttab_entry {
	unsigned line;	     /* 1-based */
	unsigned other_line; /* a second entry for the same volume (-ENOTUNIQ), else 0 */
	char name[256];
	char source[512];
	char key[512];	     /* "" when the field is absent */
	char options[1024];  /* "" when the field is absent */
	char keyscript[512]; /* the keyscript= option's value, "" when none */
};

/*
 * Finds the entry of text whose source resolves to uuid (compared without
 * regard to case). 0 and *e filled; -ENOENT when no entry names the volume;
 * -ENOTUNIQ when two do (*e is the first, e->other_line the second);
 * -E2BIG when a field is too long to hold.
 */
int crypttab_find(const char *text, const char *uuid, crypttab_resolve_fn resolve, void *data,
		  struct crypttab_entry *e);

/*
 * The first entry after line *lineno (0: from the start): 0, *e filled and
 * *lineno set to its line; -ENOENT when none is left. Entries with a field
 * too long to hold are skipped.
 */
int crypttab_next(const char *text, unsigned *lineno, struct crypttab_entry *e);

/* The value of option name= among comma-separated options: 1 and out, 0 when absent. */
int crypttab_option(const char *options, const char *name, char *out, size_t size);

/*
 * *out: a copy of text in which the entry at e->line has keyscript=oyster
 * among its options. Returns 0 (changed); 1 when it already runs oyster's
 * keyscript (*out is NULL); -EEXIST when it has another keyscript; -EINVAL
 * when it reads a key file (a keyscript would replace it) or has more than
 * four fields.
 */
int crypttab_add_keyscript(const char *text, const struct crypttab_entry *e, char **out);

/* The largest crypttab (or other configuration file) the tool reads: file_read_text's max. */
#define OYSTER_CONFIG_MAX_SIZE (1024 * 1024)

#endif
