// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * oyster boot-setup, and the boot report of oyster enroll: which initramfs
 * system builds this machine's initramfs, what it still needs to unlock the
 * volume with the TPM, and (with --configure-boot) doing it.
 */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ask.h"
#include "boot.h"
#include "cmd.h"
#include "crypttab.h"
#include "file.h"
#include "log.h"
#include "luks.h"

/* Install paths of the integrations, from meson ("" when not built). */
#ifndef OYSTER_INITRAMFS_TOOLS_HOOK
#define OYSTER_INITRAMFS_TOOLS_HOOK ""
#endif
#ifndef OYSTER_INITRAMFS_TOOLS_KEYSCRIPT
#define OYSTER_INITRAMFS_TOOLS_KEYSCRIPT ""
#endif
#ifndef OYSTER_DRACUT_MODULE
#define OYSTER_DRACUT_MODULE ""
#endif
#ifndef OYSTER_MKINITCPIO_HOOK
#define OYSTER_MKINITCPIO_HOOK ""
#endif
#ifndef OYSTER_PLUGIN_PATH
#define OYSTER_PLUGIN_PATH ""
#endif

#define MKINITCPIO_CONF "/etc/mkinitcpio.conf"

static const char usage[] =
	"Usage: oyster boot-setup DEVICE [--configure-boot]\n\n"
	"Tell which initramfs system builds this machine's initramfs (initramfs-tools, dracut,\n"
	"mkinitcpio) and what remains to do so that it unlocks DEVICE with the TPM at boot.\n"
	"For initramfs-tools, that is keyscript=oyster in DEVICE's /etc/crypttab entry (found\n"
	"by UUID), then a new initramfs.\n\n"
	"  --configure-boot  do it: edit /etc/crypttab (atomically, keeping the previous file\n"
	"                    as " CRYPTTAB_BACKUP ") and regenerate the initramfs\n"
	"  -h, --help        show this help\n";

enum boot_system { BOOT_UNKNOWN, BOOT_INITRAMFS_TOOLS, BOOT_DRACUT, BOOT_MKINITCPIO };

static const struct {
	const char *name;
	const char *installed; /* oyster's integration, as installed */
	char *const regenerate[5];
} systems[] = {
	[BOOT_UNKNOWN] = { "unknown", "", { NULL } },
	[BOOT_INITRAMFS_TOOLS] = { "initramfs-tools",
				   OYSTER_INITRAMFS_TOOLS_HOOK,
				   { "update-initramfs", "-u", "-k", "all", NULL } },
	[BOOT_DRACUT] = { "dracut",
			  OYSTER_DRACUT_MODULE,
			  { "dracut", "--regenerate-all", "--force", NULL } },
	[BOOT_MKINITCPIO] = { "mkinitcpio", OYSTER_MKINITCPIO_HOOK, { "mkinitcpio", "-P", NULL } },
};

static bool exists(const char *path)
{
	return path[0] && access(path, F_OK) == 0;
}

/*
 * What builds the initramfs when a kernel is installed decides: Debian's
 * kernel hooks, then kernel-install plugins, then the tools themselves.
 * *why is the file that told.
 */
static enum boot_system detect(const char **why)
{
	static const struct {
		const char *path;
		enum boot_system sys;
	} signs[] = {
		{ "/etc/kernel/postinst.d/initramfs-tools", BOOT_INITRAMFS_TOOLS },
		{ "/etc/kernel/postinst.d/dracut", BOOT_DRACUT },
		{ "/usr/lib/kernel/install.d/50-dracut.install", BOOT_DRACUT },
		{ "/usr/lib/kernel/install.d/50-mkinitcpio.install", BOOT_MKINITCPIO },
		{ "/usr/bin/mkinitcpio", BOOT_MKINITCPIO },
		{ "/usr/sbin/update-initramfs", BOOT_INITRAMFS_TOOLS },
		{ "/usr/bin/dracut", BOOT_DRACUT },
		{ "/usr/sbin/dracut", BOOT_DRACUT },
	};

	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++)
		if (exists(signs[i].path)) {
			*why = signs[i].path;
			return signs[i].sys;
		}
	*why = NULL;
	return BOOT_UNKNOWN;
}

static time_t mtime(const char *path)
{
	struct stat st;

	return path[0] && stat(path, &st) == 0 ? st.st_mtime : 0;
}

/* Whether the running kernel's initramfs was built after every input changed. */
static bool image_up_to_date(const char *const inputs[])
{
	static const char *const names[][2] = { { "/boot/initrd.img-", "" },
						{ "/boot/initramfs-", ".img" } };
	struct utsname u;
	time_t image = 0;

	if (uname(&u) < 0)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !image; i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s%s%s", names[i][0], u.release, names[i][1]);
		image = mtime(path);
	}
	if (!image)
		return false;
	for (size_t i = 0; inputs[i]; i++)
		if (mtime(inputs[i]) >= image)
			return false;
	return true;
}

static int regenerate(enum boot_system sys)
{
	char *const *argv = systems[sys].regenerate;
	int status;
	pid_t pid;

	printf("Regenerating the initramfs:");
	for (size_t i = 0; argv[i]; i++)
		printf(" %s", argv[i]);
	printf("\n");
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* update-initramfs runs every hook script on the machine: none gets the passphrase. */
		ask_scrub_environment();
		execvp(argv[0], argv);
		fprintf(stderr, "Cannot run %s: %s.\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_err("%s failed (%s %d); the boot configuration is in place, but the initramfs was not "
		"rebuilt: fix the error above and run it again.",
		argv[0], WIFEXITED(status) ? "exit status" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -EIO;
}

static void print_regenerate_step(unsigned step, enum boot_system sys)
{
	printf("  %u. Regenerate the initramfs:", step);
	for (size_t i = 0; systems[sys].regenerate[i]; i++)
		printf(" %s", systems[sys].regenerate[i]);
	printf("\n");
}

/* Whether the (last) HOOKS= line of mkinitcpio's configuration names oyster. */
static bool mkinitcpio_has_hook(void)
{
	char *text = NULL, *save_line = NULL;
	bool found = false;

	if (file_read_text(MKINITCPIO_CONF, OYSTER_CONFIG_MAX_SIZE, &text) < 0)
		return false;
	for (char *line = strtok_r(text, "\n", &save_line); line;
	     line = strtok_r(NULL, "\n", &save_line)) {
		char *save_word = NULL;

		line += strspn(line, " \t");
		if (strncmp(line, "HOOKS=", 6))
			continue;
		found = false;
		for (char *w = strtok_r(line + 6, " \t()\"'", &save_word); w;
		     w = strtok_r(NULL, " \t()\"'", &save_word))
			if (!strcmp(w, "oyster"))
				found = true;
	}
	free(text);
	return found;
}

static int has_token(const char *device)
{
	struct crypt_device *cd = NULL;
	struct token *tok = calloc(1, sizeof(*tok));
	int parse_r, r = -ENOMEM;

	if (tok) {
		r = luks_open(device, &cd);
		if (r == 0)
			r = luks_token_next(cd, 0, tok, &parse_r) >= 0;
	}
	crypt_free(cd);
	free(tok);
	return r;
}

int boot_setup(const char *device, bool configure)
{
	const char *why, *plugin_inputs[] = { OYSTER_PLUGIN_PATH, OYSTER_DRACUT_MODULE,
					      OYSTER_MKINITCPIO_HOOK, MKINITCPIO_CONF, NULL };
	const char *tools_inputs[] = { CRYPTTAB, OYSTER_INITRAMFS_TOOLS_HOOK,
				       OYSTER_INITRAMFS_TOOLS_KEYSCRIPT, NULL };
	enum boot_system sys = detect(&why);
	char uuid[OYSTER_UUID_MAX], name[256] = "", *todo = NULL;
	bool regen = configure;
	unsigned step = 1;
	int r;

	/* Its lines in order with the error lines of stderr. */
	fflush(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);

	r = boot_resolve_uuid(device, uuid, sizeof(uuid), NULL);
	if (r < 0) {
		log_err("%s is not a LUKS volume (libblkid finds no LUKS header with a UUID on "
			"it).",
			device);
		return r;
	}
	r = has_token(device);
	if (r < 0)
		return r;
	if (r == 0)
		printf("Note: %s has no oyster token yet; enroll it with oyster enroll.\n", device);
	boot_warn_systemd_options(device);

	if (sys == BOOT_UNKNOWN) {
		printf("Boot: no initramfs system found (initramfs-tools, dracut or mkinitcpio).\n"
		       "Volumes opened after the root file system need nothing more: "
		       "systemd-cryptsetup and cryptsetup open try the token by themselves.\n");
		if (!configure)
			return 0;
		log_err("Cannot configure the boot of %s: no initramfs system found.", device);
		return -EOPNOTSUPP;
	}
	printf("Boot: %s (found %s).\n", systems[sys].name, why);
	if (!exists(systems[sys].installed)) {
		log_err("oyster's %s integration is not installed (%s); install oyster built with "
			"-D%s=enabled, then run this command again.",
			systems[sys].name,
			systems[sys].installed[0] ? systems[sys].installed : "not built",
			sys == BOOT_INITRAMFS_TOOLS ? "initramfs_tools" : systems[sys].name);
		return configure ? -ENOENT : 0;
	}

	if (sys != BOOT_INITRAMFS_TOOLS && !exists(OYSTER_PLUGIN_PATH)) {
		log_err("oyster's token plugin is not installed (%s); install oyster, then run "
			"this command again.",
			OYSTER_PLUGIN_PATH[0] ? OYSTER_PLUGIN_PATH : "unknown path");
		return configure ? -ENOENT : 0;
	}

	switch (sys) {
	case BOOT_INITRAMFS_TOOLS:
		if (!exists(OYSTER_INITRAMFS_TOOLS_KEYSCRIPT)) {
			log_err("oyster's keyscript is not installed (%s); reinstall oyster.",
				OYSTER_INITRAMFS_TOOLS_KEYSCRIPT);
			return -ENOENT;
		}
		r = boot_setup_crypttab(device, uuid, configure, &todo, name, sizeof(name));
		if (r == -ENOENT && !configure) {
			char line[512];

			boot_suggest_entry(device, uuid, line, sizeof(line));
			printf("%s has no entry for this volume (UUID=%s).\n"
			       "What remains to do, if the initramfs opens it (the root file "
			       "system, or crypttab's option initramfs):\n"
			       "  %u. Add an entry for it to %s, for example:\n"
			       "       %s\n",
			       CRYPTTAB, uuid, step++, CRYPTTAB, line);
			print_regenerate_step(step, sys);
			return 0;
		}
		/* Without --configure-boot, a problem is reported, not a failure. */
		if (r < 0)
			return configure ? r : 0;
		if (configure && todo)
			printf("    %s\n", todo);
		regen = configure || todo || !image_up_to_date(tools_inputs);
		if (!configure && todo)
			printf("What remains to do:\n"
			       "  %u. Add keyscript=oyster to the options of that entry in %s, so "
			       "that it reads:\n"
			       "       %s\n",
			       step++, CRYPTTAB, todo);
		free(todo);
		break;
	case BOOT_DRACUT:
		printf("Nothing to change in %s: dracut's cryptsetup and systemd-cryptsetup try "
		       "the volume's\ntokens first, with the plugin that oyster's dracut module "
		       "puts into the initramfs.\n",
		       CRYPTTAB);
		regen = configure || !image_up_to_date(plugin_inputs);
		break;
	case BOOT_MKINITCPIO:
		if (!mkinitcpio_has_hook()) {
			if (configure) {
				log_err("HOOKS in %s has no 'oyster'; add it before 'encrypt' (or "
					"'sd-encrypt') and run this command again.",
					MKINITCPIO_CONF);
				return -ENOENT;
			}
			printf("What remains to do:\n"
			       "  %u. Add 'oyster' before 'encrypt' (or 'sd-encrypt') in HOOKS of "
			       "%s.\n",
			       step++, MKINITCPIO_CONF);
			regen = true;
		} else {
			printf("%s: HOOKS has oyster.\n", MKINITCPIO_CONF);
			regen = configure || !image_up_to_date(plugin_inputs);
		}
		break;
	default:
		break;
	}

	if (configure) {
		r = regenerate(sys);
		if (r < 0)
			return r;
		if (sys == BOOT_INITRAMFS_TOOLS)
			printf("Done: from the next boot on, the initramfs unlocks '%s' with the "
			       "TPM.\n",
			       name);
		else
			printf("Done: from the next boot on, the initramfs unlocks %s with the "
			       "TPM.\n",
			       device);
		return 0;
	}
	if (regen) {
		if (step == 1)
			printf("What remains to do:\n");
		print_regenerate_step(step++, sys);
	}
	if (step == 1)
		printf("Nothing remains to do: the initramfs of the running kernel is newer than "
		       "its configuration.\n");
	else
		printf("oyster boot-setup %s --configure-boot does %s.\n", device,
		       step > 2 ? "both" : "it");
	return 0;
}

int cmd_boot_setup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "configure-boot", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool configure = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			configure = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("boot-setup", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("boot-setup", "expected exactly one DEVICE");
	return boot_setup(argv[optind], configure) < 0 ? OYSTER_EXIT_FAILURE : OYSTER_EXIT_OK;
}

int boot_after_enroll(const char *device, bool configure)
{
	struct stat st;

	/* An image file is no boot volume, unless asked. */
	if (!configure && strncasecmp(device, "UUID=", 5) &&
	    (stat(device, &st) < 0 || !S_ISBLK(st.st_mode)))
		return 0;
	printf("\n");
	return boot_setup(device, configure);
}
