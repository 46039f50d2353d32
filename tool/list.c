// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The volumes the hooks work on: one line per oyster token, "DEVICE TOKEN",
 * so that a shell loop can hand each to oyster reseal --token. Volumes come
 * from crypttab, which on Debian names every volume the machine opens; a
 * volume it does not name can be given on the command line.
 */
#include <blkid.h>
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "crypttab.h"
#include "file.h"
#include "log.h"
#include "luks.h"
#include "list.h"

static const char usage[] =
	"Usage: oyster list [DEVICE...]\n\n"
	"Print one line per oyster token: the device (or detached header) that holds it and\n"
	"the token id, separated by a space. Without DEVICE, the volumes named in /etc/crypttab\n"
	"are listed (their header= file when they have one); volumes without an oyster token,\n"
	"and entries that name no volume on this machine, are left out silently. The kernel\n"
	"hooks and the post-boot prune work on exactly these volumes.\n\n"
	"  -h, --help  show this help\n";

#define OYSTER_CRYPTTAB "/etc/crypttab"

static void no_log(int level, const char *msg, void *data)
{
}

/* Prints DEVICE's oyster tokens, malformed ones too (reseal then says what to do). */
static int list_one(const char *device)
{
	struct crypt_device *cd = NULL;
	struct token *tok;
	int id, parse_r, r;

	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return -ENOMEM;
	r = luks_open(device, &cd);
	if (r == 0)
		for (id = 0; (id = luks_token_next(cd, id, tok, &parse_r)) >= 0; id++)
			printf("%s %d\n", device, id);
	crypt_free(cd);
	free(tok);
	return r;
}

/* The device or file an entry's header lives on; NULL when it names nothing here. */
static char *entry_header(const struct crypttab_entry *e)
{
	char header[512];

	if (crypttab_option(e->options, "header", header, sizeof(header)) == 1)
		return blkid_evaluate_spec(header, NULL);
	return blkid_evaluate_spec(e->source, NULL);
}

int list_crypttab_volumes(void (*fn)(const char *path, void *data), void *data)
{
	struct crypttab_entry e;
	unsigned line = 0;
	char *text = NULL;
	int r;

	r = file_read_text(OYSTER_CRYPTTAB, OYSTER_CONFIG_MAX_SIZE, &text);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		fprintf(stderr, "Cannot read %s: %s.\n", OYSTER_CRYPTTAB, strerror(-r));
		return r;
	}
	/* Entries that are not LUKS2 volumes of this machine are no error here. */
	log_set(no_log, NULL);
	while (crypttab_next(text, &line, &e) == 0) {
		char *path = entry_header(&e);

		if (path)
			fn(path, data);
		free(path);
	}
	free(text);
	return 0;
}

static void list_entry(const char *path, void *data)
{
	list_one(path);
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("list", "unknown option");
		}
	}
	if (optind == argc)
		return list_crypttab_volumes(list_entry, NULL) < 0 ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
	/* A named device must be a LUKS2 volume (luks_open says so); a typo is an error. */
	for (int i = optind; i < argc; i++)
		if (list_one(argv[i]) < 0)
			r = -EINVAL;
	return r < 0 ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
}
