// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The post-boot prune, the one policy that initramfs-tools, dracut and the
 * post-boot service share: which volumes (those the TPM unlocked in this
 * boot, or those of crypttab), which outcome of `oyster reseal --prune
 * --unattended` is fine (narrowed, nothing to prune, or a token the TPM does
 * not unseal now: the passphrase opened its volume, or the fence closed it)
 * and which is said in one line. Each token is pruned by a reseal of its
 * own process, as the scripts did: one TPM connection per operation, and a
 * token that fails leaves the others to go on.
 */
#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ask.h"
#include "bootconf.h"
#include "cmd.h"
#include "fence.h"
#include "list.h"
#include "log.h"
#include "luks.h"
#include "token.h"

extern char **environ;

static const char usage[] =
	"Usage: oyster prune [--boot] [--all | DEVICE...]\n\n"
	"Narrow each oyster token of the volumes to the state this boot measured, as\n"
	"'oyster reseal DEVICE --token N --prune --unattended' does: the states approved for an\n"
	"upgrade, and a --next-boot approval this boot used, are dropped; a token that approves\n"
	"only the state of now is not written to. A token the TPM does not unseal now (the\n"
	"passphrase opened its volume, or the boot fence closed it) is left alone, silently.\n"
	"It never asks. Each token narrowed is one line on stdout, each that could not be one\n"
	"line on stderr. Without DEVICE or --all: the volumes in /etc/crypttab (oyster list).\n\n"
	"  --all       the volumes the TPM unlocked in this boot, as the initramfs noted them in\n"
	"              /run/oyster; once per boot (the initramfs integrations run this)\n"
	"  --boot      as the boot integrations run it, with their settings (oyster-prune(8)):\n"
	"              oyster.prune=0 or OYSTER_PRUNE=no turns it off; oyster.tcti= picks the\n"
	"              TPM, oyster.timeout= bounds each TPM command; OYSTER_DEVICES adds volumes;\n"
	"              without --all, OYSTER_AUTO_REPAIR=yes then approves this boot for each\n"
	"              volume the initramfs recorded as opened without the TPM (reseal\n"
	"              --after-fallback; read the trade-off in oyster-reseal(8))\n"
	"  -h, --help  show this help\n\n"
	"Exit status 0 when every token was narrowed (or approved) or left alone, 1 when one\n"
	"could not be.\n";

struct volumes {
	char **paths;
	size_t n;
};

static void volumes_add(const char *path, void *data)
{
	struct volumes *v = data;
	char **grown;

	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->paths[i], path))
			return;
	grown = realloc(v->paths, (v->n + 1) * sizeof(*grown));
	if (!grown)
		return;
	v->paths = grown;
	v->paths[v->n] = strdup(path);
	if (v->paths[v->n])
		v->n++;
}

static void volumes_free(struct volumes *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->paths[i]);
	free(v->paths);
}

/* The UUID of the LUKS volume at path (libblkid, no header parsing); NULL when it has none. */
static char *volume_uuid(const char *path)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *value;
	char *uuid = NULL;

	if (!pr)
		return NULL;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_UUID);
	if (blkid_do_safeprobe(pr) == 0 && blkid_probe_lookup_value(pr, "UUID", &value, NULL) == 0)
		uuid = strdup(value);
	blkid_free_probe(pr);
	return uuid;
}

/*
 * The volumes the TPM unlocked in this boot: those the initramfs-tools
 * keyscript listed, and those whose UUID the token plugin noted (dracut,
 * systemd-cryptsetup) found among the machine's LUKS volumes.
 */
static void unlocked_volumes(struct volumes *v)
{
	char line[4096], **found = NULL;
	size_t nfound = 0;
	FILE *f;

	f = fopen(OYSTER_RUNDIR "/unsealed-devices", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (*line)
				volumes_add(line, v);
		}
		fclose(f);
	}
	/* No note, no probe of every disk. */
	if (access(OYSTER_RUNDIR "/unlocked", F_OK) < 0 || fence_all_volumes(&found, &nfound) < 0)
		return;
	for (size_t i = 0; i < nfound; i++) {
		char *uuid = volume_uuid(found[i]);

		if (uuid && !strchr(uuid, '/')) {
			snprintf(line, sizeof(line), "%s/unlocked/%s", OYSTER_RUNDIR, uuid);
			if (access(line, F_OK) == 0)
				volumes_add(found[i], v);
		}
		free(uuid);
		free(found[i]);
	}
	free(found);
}

/* The token's JSON as the header holds it now; NULL when it cannot be read. */
static char *token_json(const char *device, int id)
{
	struct crypt_device *cd = NULL;
	const char *json;
	char *copy = NULL;

	if (luks_open(device, &cd) == 0 && crypt_token_json_get(cd, id, &json) >= 0)
		copy = strdup(json);
	crypt_free(cd);
	return copy;
}

/* What a reseal of each token does: the prune, or OYSTER_AUTO_REPAIR's approval of a fallback boot. */
enum reseal_kind { RESEAL_PRUNE, RESEAL_REPAIR };

/*
 * Runs `oyster reseal device --token id --prune --unattended` (or
 * --after-fallback), stdin and stdout on /dev/null; its stderr into err
 * (cut at size). Returns its exit status, or a negative errno when it could
 * not run.
 */
static int run_reseal(const char *device, int id, enum reseal_kind kind, char *err, size_t size)
{
	char token[16];
	char *argv[] = { "oyster",
			 "reseal",
			 (char *)device,
			 "--token",
			 token,
			 kind == RESEAL_PRUNE ? "--prune" : "--after-fallback",
			 kind == RESEAL_PRUNE ? "--unattended" : NULL,
			 NULL };
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	int pipefd[2], status, r;
	pid_t pid;
	ssize_t n;

	snprintf(token, sizeof(token), "%d", id);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
	r = -posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return r;
	}
	while ((n = read(pipefd[0], err + len, size - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		/* Full: keep the last part, where the reason is. */
		if (len == size - 1) {
			memmove(err, err + size / 2, len - size / 2);
			len -= size / 2;
		}
	}
	err[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : OYSTER_EXIT_FAILURE;
}

/* The last non-empty line of text (cut in place), or NULL. */
static const char *last_line(char *text)
{
	char *line = NULL;

	for (char *p = strtok(text, "\n"); p; p = strtok(NULL, "\n"))
		if (p[strspn(p, " \t")])
			line = p;
	return line;
}

/*
 * Reseals every oyster token of device, as kind says; false when one could
 * not be, or when a named device is no LUKS2 volume (luks_open said why).
 * reason: for a repair, why the TPM had not unlocked the volume (the
 * initramfs's record).
 */
static bool reseal_volume(const char *device, bool named, enum reseal_kind kind, const char *reason,
			  bool debug)
{
	struct crypt_device *cd = NULL;
	struct token *tok = calloc(1, sizeof(*tok));
	int ids[32], nids = 0, parse_r;
	bool ok = true;

	if (!tok)
		return false;
	if (luks_open(device, &cd) < 0)
		ok = !named;
	else
		for (int id = 0; nids < 32 && (id = luks_token_next(cd, id, tok, &parse_r)) >= 0;
		     id++)
			ids[nids++] = id;
	crypt_free(cd);
	free(tok);
	for (int i = 0; i < nids; i++) {
		char err[8192];
		char *before = token_json(device, ids[i]), *after = NULL;
		const char *why;
		bool changed;
		int status = run_reseal(device, ids[i], kind, err, sizeof(err));

		if (status < 0)
			snprintf(err, sizeof(err), "cannot run oyster reseal: %s.", strerror(-status));
		if (debug && status >= 0)
			fputs(err, stderr);
		if (status == OYSTER_EXIT_OK)
			after = token_json(device, ids[i]);
		changed = before && after && strcmp(before, after);
		why = status == OYSTER_EXIT_OK ? NULL : last_line(err);
		if (kind == RESEAL_PRUNE && status == OYSTER_EXIT_OK && changed) {
			printf("oyster: narrowed token %d of %s to the state of this boot.\n", ids[i],
			       device);
		} else if (kind == RESEAL_PRUNE && status != OYSTER_EXIT_OK &&
			   status != OYSTER_EXIT_REFUSED) {
			fprintf(stderr,
				"oyster: could not narrow token %d of %s to the state of this boot; it "
				"keeps its older states: %s\n",
				ids[i], device, why ? why : "oyster reseal failed.");
			ok = false;
		} else if (kind == RESEAL_REPAIR && status == OYSTER_EXIT_OK && changed) {
			printf("oyster: approved the state of this boot for token %d of %s "
			       "(OYSTER_AUTO_REPAIR; the TPM had not unlocked it: %s).\n",
			       ids[i], device, reason);
		} else if (kind == RESEAL_REPAIR && status == OYSTER_EXIT_OK) {
			printf("oyster: the state of this boot was approved already for token %d of %s "
			       "(OYSTER_AUTO_REPAIR changed nothing; the TPM had not unlocked it: %s).\n",
			       ids[i], device, reason);
		} else if (kind == RESEAL_REPAIR && status == OYSTER_EXIT_REFUSED) {
			fprintf(stderr,
				"oyster: OYSTER_AUTO_REPAIR: token %d of %s cannot be approved for this "
				"boot without its passphrase (the TPM had not unlocked it: %s); run "
				"oyster reseal %s.\n",
				ids[i], device, reason, device);
			ok = false;
		} else if (kind == RESEAL_REPAIR) {
			fprintf(stderr,
				"oyster: OYSTER_AUTO_REPAIR: could not approve this boot for token %d of "
				"%s: %s\n",
				ids[i], device, why ? why : "oyster reseal failed.");
			ok = false;
		}
		free(before);
		free(after);
	}
	return ok;
}

/*
 * OYSTER_AUTO_REPAIR: each volume that the initramfs recorded in
 * /run/oyster/fallback (the TPM did not open it in this boot; the
 * passphrase or a recovery key did) gets `oyster reseal --after-fallback`,
 * which approves this boot's state only for a volume that is open (see
 * oyster-reseal(8) for the trade-off). False when one could not be approved.
 */
static bool repair_fallbacks(bool debug)
{
	char line[512], device[128];
	bool ok = true;
	FILE *f = fopen(OYSTER_RUNDIR "/fallback", "re");

	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *uuid = strtok_r(line, " \t\n", &save);
		char *reason = strtok_r(NULL, " \t\n", &save);

		/* A UUID, never a path: the record is the initramfs's, not a user's. */
		if (!uuid || strchr(uuid, '/') || strlen(uuid) > 64)
			continue;
		snprintf(device, sizeof(device), "UUID=%s", uuid);
		if (!reseal_volume(device, false, RESEAL_REPAIR, reason ? reason : "unknown", debug))
			ok = false;
	}
	fclose(f);
	return ok;
}

/*
 * In the initramfs: securityfs, where the firmware's event log is, so that
 * the prune records this boot's events in the token and oyster status can
 * later name the event that changed. initramfs-tools and dracut without
 * systemd do not mount it; it moves to the root with /sys.
 */
static void mount_securityfs(void)
{
	static const char dir[] = "/sys/kernel/security";
	struct dirent *e;
	bool empty = true;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	if (empty && mount("securityfs", dir, "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		log_debug("Cannot mount securityfs on %s: %s", dir, strerror(errno));
}

int cmd_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "boot", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct volumes v = { 0 };
	struct bootconf conf = { .prune = true };
	bool all = false, boot = false, repair = false, debug, ok = true;
	char timeout[16];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'b':
			boot = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("prune", "unknown option");
		}
	}
	if (all && optind < argc)
		return usage_error("prune", "give DEVICEs or --all, not both");
	if (boot) {
		bootconf_read(&conf, all);
		/* The repair after a fallback is the post-boot service's (no --all), prune or not. */
		repair = !all && conf.auto_repair;
		if (!conf.prune && !repair)
			return OYSTER_EXIT_OK;
		bootconf_export(&conf);
		snprintf(timeout, sizeof(timeout), "%u", conf.timeout);
		setenv("OYSTER_TPM_TIMEOUT", timeout, 0);
	}
	debug = debug_enabled();
	/* Once per boot in the initramfs; an unwritable mark prunes again rather than never. */
	if (all && bootconf_once("pruned") == -EEXIST)
		return OYSTER_EXIT_OK;
	/* Nothing here asks, and nothing it starts may find a passphrase or PIN. */
	ask_scrub_environment();
	if (boot && all)
		mount_securityfs();

	for (int i = optind; i < argc; i++)
		volumes_add(argv[i], &v);
	if (all)
		unlocked_volumes(&v);
	if (conf.prune && !all && optind == argc) {
		char *save = NULL;

		if (list_crypttab_volumes(volumes_add, &v) < 0)
			ok = false;
		for (char *d = strtok_r(conf.devices, " \t", &save); d;
		     d = strtok_r(NULL, " \t", &save))
			volumes_add(d, &v);
	}
	/* The volumes named first: argv's, then the ones found. */
	for (size_t i = 0; conf.prune && i < v.n; i++)
		if (!reseal_volume(v.paths[i], (int)i < argc - optind, RESEAL_PRUNE, NULL, debug))
			ok = false;
	volumes_free(&v);
	if (repair && !repair_fallbacks(debug))
		ok = false;
	return ok ? OYSTER_EXIT_OK : OYSTER_EXIT_FAILURE;
}
