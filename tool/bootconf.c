// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The boot integrations' settings, read once, here, rather than in each of
 * the shell scripts of initramfs-tools, dracut, mkinitcpio and the post-boot
 * service, which used to disagree on names, defaults and precedence. One
 * vocabulary: OYSTER_NAME=value in /etc/default/oyster (and, read for the
 * images built before, initramfs-tools' conf.d/oyster), oyster.name=value on
 * the kernel command line, which wins: it is what someone at the boot
 * loader's prompt can change.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootconf.h"
#include "cmd.h"
#include "pcr.h"

#define BOOTCONF_DEFAULT_FILE "/etc/default/oyster"
#define BOOTCONF_INITRAMFS_TOOLS_FILE "/conf/conf.d/oyster"
#define BOOTCONF_CMDLINE "/proc/cmdline"

enum bootconf_key {
	KEY_FENCE,
	KEY_FENCE_PCR,
	KEY_TIMEOUT,
	KEY_PRUNE,
	KEY_DEBUG,
	KEY_TCTI,
	KEY_DEVICES,
	KEY_AUTO_REPAIR
};

/* Each setting: its variable in the files and the environment, its kernel command-line word. */
static const struct {
	const char *var;
	const char *arg;
} keys[] = {
	[KEY_FENCE] = { "OYSTER_FENCE", "oyster.fence" },
	[KEY_FENCE_PCR] = { "OYSTER_FENCE_PCR", "oyster.fence_pcr" },
	[KEY_TIMEOUT] = { "OYSTER_TIMEOUT", "oyster.timeout" },
	[KEY_PRUNE] = { "OYSTER_PRUNE", "oyster.prune" },
	[KEY_DEBUG] = { "OYSTER_DEBUG", "oyster.debug" },
	[KEY_TCTI] = { "OYSTER_TCTI", "oyster.tcti" },
	[KEY_DEVICES] = { "OYSTER_DEVICES", NULL },
	/* Not on the command line: who edits a boot entry must not widen what gets approved. */
	[KEY_AUTO_REPAIR] = { "OYSTER_AUTO_REPAIR", NULL },
};

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]))
			return (*out = true);
		if (!strcmp(s, no[i]))
			return !(*out = false);
	}
	return false;
}

static void set(struct bootconf *c, enum bootconf_key k, const char *value, const char *where)
{
	bool ok = true;

	switch (k) {
	case KEY_FENCE:
		ok = parse_bool(value, &c->fence);
		break;
	case KEY_PRUNE:
		ok = parse_bool(value, &c->prune);
		break;
	case KEY_AUTO_REPAIR:
		ok = parse_bool(value, &c->auto_repair);
		break;
	case KEY_DEBUG:
		/* An empty OYSTER_DEBUG is unset, as the tool reads it. */
		if (*value)
			c->debug = strcmp(value, "0") && strcmp(value, "no");
		break;
	case KEY_FENCE_PCR:
		ok = parse_uint(value, OYSTER_PCR_COUNT - 1, &c->fence_pcr);
		break;
	case KEY_TIMEOUT:
		ok = parse_uint(value, 3600, &c->timeout);
		break;
	case KEY_TCTI:
		ok = strlen(value) < sizeof(c->tcti);
		if (ok)
			snprintf(c->tcti, sizeof(c->tcti), "%s", value);
		break;
	case KEY_DEVICES:
		ok = strlen(value) < sizeof(c->devices);
		if (ok)
			snprintf(c->devices, sizeof(c->devices), "%s", value);
		break;
	}
	if (!ok)
		fprintf(stderr, "oyster: ignoring %s=%s (%s): not a valid value.\n",
			strcmp(where, BOOTCONF_CMDLINE) ? keys[k].var : keys[k].arg, value, where);
}

/*
 * One shell assignment, NAME=value, NAME="value" or NAME='value', an
 * optional "export " before it; whatever else the line holds is ignored.
 * Returns the key, or -1 for a line that sets nothing of ours. value is
 * cut out of line in place.
 */
static int parse_assignment(char *line, char **value)
{
	char *p = line + strspn(line, " \t"), *end;
	size_t len;

	if (!strncmp(p, "export ", 7))
		p += 7 + strspn(p + 7, " \t");
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		len = strlen(keys[k].var);
		if (strncmp(p, keys[k].var, len) || p[len] != '=')
			continue;
		p += len + 1;
		if (*p == '"' || *p == '\'') {
			end = strchr(p + 1, *p);
			if (!end)
				return -1;
			p++;
		} else {
			end = p + strcspn(p, " \t;#\n");
		}
		*end = '\0';
		*value = p;
		return (int)k;
	}
	return -1;
}

static void read_file(struct bootconf *c, const char *path)
{
	char line[1200], *value;
	FILE *f = fopen(path, "re");
	int k;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if ((k = parse_assignment(line, &value)) >= 0)
			set(c, (enum bootconf_key)k, value, path);
	fclose(f);
}

static void read_environment(struct bootconf *c)
{
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *value = getenv(keys[k].var);

		/* The services' rule: an empty variable leaves the file's value. */
		if (value && *value)
			set(c, (enum bootconf_key)k, value, "environment");
	}
}

static void read_cmdline(struct bootconf *c)
{
	char line[4096], *save = NULL;
	FILE *f = fopen(BOOTCONF_CMDLINE, "re");

	if (!f)
		return;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	for (char *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t len;

			if (!keys[k].arg)
				continue;
			len = strlen(keys[k].arg);
			if (strncmp(w, keys[k].arg, len))
				continue;
			/* A bare oyster.debug turns it on. */
			if (w[len] == '\0' && k == KEY_DEBUG)
				set(c, KEY_DEBUG, "1", BOOTCONF_CMDLINE);
			else if (w[len] == '=')
				set(c, (enum bootconf_key)k, w + len + 1, BOOTCONF_CMDLINE);
		}
	}
}

void bootconf_read(struct bootconf *c, bool initramfs)
{
	char tcti[sizeof(c->tcti) + 1];
	FILE *f;

	*c = (struct bootconf){
		.fence = true,
		.fence_pcr = OYSTER_FENCE_PCR,
		.timeout = 5,
		.prune = true,
	};
	read_file(c, BOOTCONF_DEFAULT_FILE);
	read_file(c, BOOTCONF_INITRAMFS_TOOLS_FILE);
	read_environment(c);
	read_cmdline(c);
	/* The TPM that answered the keyscript in this boot (initramfs-tools). */
	f = initramfs ? fopen(OYSTER_RUNDIR "/tcti", "re") : NULL;
	if (f) {
		if (fgets(tcti, sizeof(tcti), f)) {
			tcti[strcspn(tcti, "\n")] = '\0';
			if (*tcti)
				set(c, KEY_TCTI, tcti, OYSTER_RUNDIR "/tcti");
		}
		fclose(f);
	}
}

void bootconf_export(const struct bootconf *c)
{
	if (*c->tcti)
		setenv("OYSTER_TCTI", c->tcti, 1);
	if (c->debug)
		setenv("OYSTER_DEBUG", "1", 1);
}

int bootconf_once(const char *name)
{
	char path[128];
	int fd;

	if (mkdir(OYSTER_RUNDIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", OYSTER_RUNDIR, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
