// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * crypttab editing: a table of crypttab files, each with the exact expected
 * result or refusal, then the atomic rewrite (backup, mode, and the
 * original kept on failure).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypttab.h"
#include "file.h"
#include "test.h"

#define UUID "0f5a1e7c-3b2d-4c6e-9a8b-7d1e2f3a4b5c"
#define OTHER "11111111-2222-4333-8444-555555555555"

/* What libblkid would say on a machine with these devices. */
static const struct {
	const char *source, *uuid;
} devices[] = {
	{ "/dev/vda3", UUID },	      { "PARTUUID=6a0b1c2d-01", UUID },
	{ "LABEL=root crypt", UUID }, /* mangled in the file as LABEL=root\040crypt */
	{ "/dev/vdb1", OTHER },	      { "PARTUUID=ffffffff-02", OTHER },
};

static int resolve(const char *source, char *uuid, size_t size, void *data)
{
	int *calls = data;

	(*calls)++;
	if (!strncasecmp(source, "UUID=", 5)) {
		snprintf(uuid, size, "%s", source + 5);
		return 0;
	}
	if (!strncmp(source, "/dev/disk/by-uuid/", 18)) {
		snprintf(uuid, size, "%s", source + 18);
		return 0;
	}
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (!strcmp(source, devices[i].source)) {
			snprintf(uuid, size, "%s", devices[i].uuid);
			return 0;
		}
	return -ENODEV;
}

static const struct {
	const char *what, *in;
	int find_r, add_r; /* add_r only when find_r == 0 */
	unsigned line;
	const char *out; /* expected text when add_r == 0 */
} cases[] = {
	{ "UUID= with options, comments and other entries untouched",
	  "# <target name> <source device> <key file> <options>\n"
	  "\n"
	  "swap  /dev/vdb1  /dev/urandom  swap,cipher=aes-xts-plain64\n"
	  "root_crypt  UUID=" UUID "  none  luks,discard\n"
	  "  # root_crypt UUID=" UUID " none luks (an old line, commented out)\n",
	  0, 0, 4,
	  "# <target name> <source device> <key file> <options>\n"
	  "\n"
	  "swap  /dev/vdb1  /dev/urandom  swap,cipher=aes-xts-plain64\n"
	  "root_crypt  UUID=" UUID "  none  luks,discard,keyscript=oyster\n"
	  "  # root_crypt UUID=" UUID " none luks (an old line, commented out)\n" },
	{ "UUID in upper case, tabs, no newline at the end",
	  "data\tUUID=0F5A1E7C-3B2D-4C6E-9A8B-7D1E2F3A4B5C\tnone\tluks", 0, 0, 1,
	  "data\tUUID=0F5A1E7C-3B2D-4C6E-9A8B-7D1E2F3A4B5C\tnone\tluks,keyscript=oyster" },
	{ "PARTUUID=", "x UUID=" OTHER " none luks\nroot PARTUUID=6a0b1c2d-01 none luks\n", 0, 0, 2,
	  "x UUID=" OTHER " none luks\nroot PARTUUID=6a0b1c2d-01 none luks,keyscript=oyster\n" },
	{ "/dev/disk/by-uuid path", "root /dev/disk/by-uuid/" UUID " none luks,tries=3\n", 0, 0, 1,
	  "root /dev/disk/by-uuid/" UUID " none luks,tries=3,keyscript=oyster\n" },
	{ "plain device path", "root /dev/vda3 none luks\n", 0, 0, 1,
	  "root /dev/vda3 none luks,keyscript=oyster\n" },
	{ "mangled source (\\040 is a space)", "root LABEL=root\\040crypt none luks\n", 0, 0, 1,
	  "root LABEL=root\\040crypt none luks,keyscript=oyster\n" },
	{ "no options field: one is added with the same separator", "root\tUUID=" UUID "\tnone\n",
	  0, 0, 1, "root\tUUID=" UUID "\tnone\tkeyscript=oyster\n" },
	{ "no key field either (systemd allows it; Debian needs 'none')", "root   /dev/vda3\n", 0,
	  0, 1, "root   /dev/vda3   none   keyscript=oyster\n" },
	{ "options '-' stands for none", "root UUID=" UUID " - -\n", 0, 0, 1,
	  "root UUID=" UUID " - keyscript=oyster\n" },
	{ "already keyscript=oyster: unchanged", "root UUID=" UUID " none luks,keyscript=oyster\n",
	  0, 1, 1, NULL },
	{ "already the keyscript's full path: unchanged",
	  "root UUID=" UUID " none luks,keyscript=/lib/cryptsetup/scripts/oyster\n", 0, 1, 1,
	  NULL },
	{ "a foreign keyscript is refused",
	  "root UUID=" UUID " root-key luks,keyscript=decrypt_keyctl\n", 0, -EEXIST, 1, NULL },
	{ "a key file is refused (a keyscript would replace it)",
	  "root UUID=" UUID " /etc/keys/root.key luks\n", 0, -EINVAL, 1, NULL },
	{ "more than four fields is refused", "root UUID=" UUID " none luks discard\n", 0, -EINVAL,
	  1, NULL },
	{ "no entry for the volume", "# nothing here\nswap /dev/vdb1 /dev/urandom swap\n", -ENOENT,
	  0, 0, NULL },
	{ "only a commented-out entry", "#root UUID=" UUID " none luks\n", -ENOENT, 0, 0, NULL },
	{ "an unresolvable source is not a match",
	  "usb PARTUUID=deadbeef-01 none luks\nroot /dev/vda3 none luks\n", 0, 0, 2,
	  "usb PARTUUID=deadbeef-01 none luks\nroot /dev/vda3 none luks,keyscript=oyster\n" },
	{ "two entries for the same volume are refused",
	  "a UUID=" UUID " none luks\nb /dev/vda3 none luks\n", -ENOTUNIQ, 0, 1, NULL },
	{ "empty file", "", -ENOENT, 0, 0, NULL },
	{ "CRLF line ends: the CR is not part of the options, and stays at the line's end",
	  "swap /dev/vdb1 /dev/urandom swap\r\nroot UUID=" UUID " none luks,discard\r\n", 0, 0, 2,
	  "swap /dev/vdb1 /dev/urandom swap\r\nroot UUID=" UUID " none luks,discard,keyscript=oyster\r\n" },
	{ "CRLF and no options field: one is added before the CR",
	  "root UUID=" UUID " none\r\n", 0, 0, 1, "root UUID=" UUID " none keyscript=oyster\r\n" },
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct crypttab_entry e;
		char *out = NULL;
		int calls = 0, r;

		memset(&e, 0, sizeof(e));
		r = crypttab_find(cases[i].in, UUID, resolve, &calls, &e);
		CHECK(r == cases[i].find_r, "%s: find returned %d, expected %d", cases[i].what, r,
		      cases[i].find_r);
		if (r == -ENOTUNIQ)
			CHECK(e.line == 1 && e.other_line == 2, "%s: lines %u and %u",
			      cases[i].what, e.line, e.other_line);
		if (r != 0 || cases[i].find_r != 0)
			continue;
		CHECK(e.line == cases[i].line, "%s: found line %u, expected %u", cases[i].what,
		      e.line, cases[i].line);
		r = crypttab_add_keyscript(cases[i].in, &e, &out);
		CHECK(r == cases[i].add_r, "%s: add returned %d, expected %d", cases[i].what, r,
		      cases[i].add_r);
		if (r == 0 && cases[i].out)
			CHECK(out && !strcmp(out, cases[i].out), "%s: got\n%s\nexpected\n%s",
			      cases[i].what, out ? out : "(null)", cases[i].out);
		else
			CHECK(!out, "%s: output despite status %d", cases[i].what, r);
		free(out);
	}
}

static void test_entry_fields(void)
{
	struct crypttab_entry e;
	int calls = 0;

	CHECK(crypttab_find("cr\\040yp UUID=" UUID " none luks,keyscript=decrypt_keyctl\n", UUID,
			    resolve, &calls, &e) == 0,
	      "find");
	CHECK(!strcmp(e.name, "cr yp"), "name unmangled: '%s'", e.name);
	CHECK(!strcmp(e.source, "UUID=" UUID), "source '%s'", e.source);
	CHECK(!strcmp(e.key, "none"), "key '%s'", e.key);
	CHECK(!strcmp(e.options, "luks,keyscript=decrypt_keyctl"), "options '%s'", e.options);
	CHECK(!strcmp(e.keyscript, "decrypt_keyctl"), "keyscript '%s'", e.keyscript);
	CHECK(calls == 1, "the resolver ran %d times for one entry", calls);
}

/* What oyster list walks: every entry in order, comments, blank and overlong lines skipped. */
static void test_next(void)
{
	static const char text[] = "# comment\n"
				   "\n"
				   "root UUID=" UUID " none luks,header=/boot/h\\040dr.img\n"
				   "   \t# indented comment\n"
				   "swap /dev/sda2 /dev/urandom swap\n"
				   "lonely\n"
				   "data\t/dev/sdb1";
	char value[64], longline[2048];
	struct crypttab_entry e;
	unsigned line = 0;

	CHECK(crypttab_next(text, &line, &e) == 0 && line == 3 && !strcmp(e.name, "root"),
	      "first entry: line %u, name '%s'", line, e.name);
	CHECK(crypttab_option(e.options, "header", value, sizeof(value)) == 1 &&
		      !strcmp(value, "/boot/h dr.img"),
	      "header= unmangled: '%s'", value);
	CHECK(crypttab_option(e.options, "keyscript", value, sizeof(value)) == 0 && !value[0],
	      "an absent option");
	CHECK(crypttab_option("luks,headerx=1,header", "header", value, sizeof(value)) == 0,
	      "neither a longer name nor a bare word is the option");
	CHECK(crypttab_next(text, &line, &e) == 0 && line == 5 && !strcmp(e.source, "/dev/sda2"),
	      "second entry: line %u, source '%s'", line, e.source);
	CHECK(crypttab_next(text, &line, &e) == 0 && line == 7 && !strcmp(e.source, "/dev/sdb1") &&
		      !e.key[0],
	      "last entry without a newline: line %u, source '%s'", line, e.source);
	CHECK(crypttab_next(text, &line, &e) == -ENOENT && line == 7, "past the end: line %u",
	      line);
	line = 0;
	CHECK(crypttab_next("", &line, &e) == -ENOENT, "empty file");

	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "big ", 4);
	{
		char *t = malloc(sizeof(longline) + 32);

		snprintf(t, sizeof(longline) + 32, "%s\nok /dev/sdc1\n", longline);
		line = 0;
		CHECK(t && crypttab_next(t, &line, &e) == 0 && line == 2 && !strcmp(e.name, "ok"),
		      "an entry too long to hold is skipped: line %u", line);
		free(t);
	}
}

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) == EOF || fclose(f)) {
		perror(path);
		exit(99);
	}
	if (chmod(path, mode)) {
		perror(path);
		exit(99);
	}
}

static bool holds(const char *path, const char *text)
{
	char *got = NULL;
	bool same = file_read_text(path, OYSTER_CONFIG_MAX_SIZE, &got) == 0 && !strcmp(got, text);

	free(got);
	return same;
}

/* Files in dir other than the ones named. */
static int stray_files(const char *dir, const char *a, const char *b, const char *c)
{
	struct dirent *d;
	DIR *dp = opendir(dir);
	int n = 0;

	if (!dp)
		return -1;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && strcmp(d->d_name, a) &&
		    strcmp(d->d_name, b) && strcmp(d->d_name, c))
			n++;
	closedir(dp);
	return n;
}

static void test_write(void)
{
	char dir[] = "/tmp/oyster-crypttab.XXXXXX", path[256], backup[256], link_path[256];
	const char *old_text = "# mine\nroot UUID=" UUID " none luks\n";
	const char *new_text = "# mine\nroot UUID=" UUID " none luks,keyscript=oyster\n";
	struct stat st;
	char *text = NULL;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(path, sizeof(path), "%s/crypttab", dir);
	snprintf(backup, sizeof(backup), "%s/crypttab.oyster-backup", dir);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);

	CHECK(file_read_text(path, OYSTER_CONFIG_MAX_SIZE, &text) == -ENOENT && !text, "reading a missing file");

	/* Someone changed the file since it was read: nothing is written. */
	put(path, old_text, 0600);
	CHECK(file_replace(path, "# stale\n", new_text, backup) == -ESTALE, "stale text");
	CHECK(holds(path, old_text), "the file changed although the write was refused");
	CHECK(access(backup, F_OK) && errno == ENOENT, "a backup was left by a refused write");
	CHECK(stray_files(dir, "crypttab", "", "") == 0, "temporary files left behind");

	/* The backup cannot be written (a directory is in the way): original kept. */
	if (mkdir(backup, 0700)) {
		perror(backup);
		exit(99);
	}
	CHECK(file_replace(path, old_text, new_text, backup) < 0, "write over a directory");
	CHECK(holds(path, old_text), "the original changed although the backup failed");
	CHECK(stray_files(dir, "crypttab", "crypttab.oyster-backup", "") == 0,
	      "temporary files left behind after a failure");
	rmdir(backup);

	/* Success through a symlink: the target is rewritten, mode kept, backup made. */
	if (symlink("crypttab", link_path)) {
		perror(link_path);
		exit(99);
	}
	CHECK(file_replace(link_path, old_text, new_text, backup) == 0, "write");
	CHECK(holds(path, new_text), "new text not in place");
	CHECK(holds(backup, old_text), "backup does not hold the old text");
	CHECK(lstat(link_path, &st) == 0 && S_ISLNK(st.st_mode), "the symlink was replaced");
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "mode %o not kept",
	      st.st_mode & 07777);
	CHECK(stat(backup, &st) == 0 && (st.st_mode & 07777) == 0600, "backup mode %o",
	      st.st_mode & 07777);
	CHECK(stray_files(dir, "crypttab", "crypttab.oyster-backup", "link") == 0,
	      "temporary files left behind after success");

	unlink(link_path);
	unlink(backup);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_table();
	test_entry_fields();
	test_next();
	test_write();
	return test_done();
}
