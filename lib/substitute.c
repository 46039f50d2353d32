// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Event substitutions for a predicted boot. Only digests are rewritten:
 * they are all a PCR sees. GRUB's string events are matched by their text
 * (the event data), which GRUB writes as "kind: string" and hashes without
 * the prefix; GRUB 2.06 measures each grub.cfg command ("grub_cmd: linux
 * PATH ARGS") and the kernel's command line ("kernel_cmdline: BOOT_IMAGE=PATH
 * ARGS"; Debian's EFI build writes "kernel_cmdline: PATH ARGS", as the real
 * boot chain of tests/vm/debian.sh showed) into PCR 8 and each file it reads
 * into PCR 9 (data: the path).
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "authenticode.h"
#include "file.h"
#include "log.h"
#include "substitute.h"

#define GRUB_STRING_PCR 8
#define GRUB_FILE_PCR 9
#define BOOT_APP_PCR 4
/* The Linux EFI stub's EV_EVENT_TAG for its command line ("LOADED_IMAGE::LoadOptions"). */
#define STUB_TAG_LOAD_OPTIONS 0x8F3B22EDu
/* GRUB's command lines are at most a few KiB; bounded so a hostile log costs nothing. */
#define GRUB_TEXT_MAX 16384

/* The file's plain hash with bank's algorithm: what GRUB and the kernel's stub measure. */
static int file_hash(const char *path, uint16_t bank, uint8_t *out)
{
	void *map;
	size_t len;
	int r;

	r = file_map(path, SIZE_MAX, &map, &len);
	if (r < 0) {
		log_err("Cannot read %s: %s.", path, r == -EINVAL ? "not a file" : strerror(-r));
		return r;
	}
	r = eventlog_hash(bank, map ? map : "", len, out);
	file_unmap(map, len);
	return r;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Replaces every event of pcr (of type, or any type when 0) whose digest is old. */
static unsigned replace_digest(struct eventlog *log, int b, unsigned pcr, uint32_t type,
			       const uint8_t *old, const uint8_t *new)
{
	unsigned n = 0;

	for (unsigned i = 0; i < log->n_events; i++) {
		struct eventlog_event *ev = &log->events[i];

		if (ev->pcr != pcr || ev->type == EV_NO_ACTION || (type && ev->type != type) ||
		    !ev->digest[b] || memcmp(ev->digest[b], old, log->sizes[b]))
			continue;
		memcpy(ev->digest[b], new, log->sizes[b]);
		n++;
	}
	return n;
}

/* An image the firmware measured into PCR 4 (its Authenticode digest). */
static int substitute_image(struct eventlog *log, int b, const char *new_path, const char *old_path,
			    unsigned *n_app)
{
	uint16_t bank = log->banks[b];
	uint8_t old_pe[OYSTER_MAX_DIGEST], new_pe[OYSTER_MAX_DIGEST];
	int r;

	r = authenticode_file(old_path, bank, old_pe);
	if (r == 0)
		r = authenticode_file(new_path, bank, new_pe);
	if (r < 0)
		return r;
	*n_app = replace_digest(log, b, BOOT_APP_PCR, EV_EFI_BOOT_SERVICES_APPLICATION, old_pe,
				new_pe);
	return 0;
}

/*
 * The path of a file GRUB read (PCR 9, EV_IPL, the path as GRUB opened it
 * and its NUL) without its "(hd0,gpt2)" device, in buf; NULL for any other
 * event.
 */
static const char *grub_file_path(const struct eventlog_event *ev, char *buf, size_t size)
{
	char *path;

	if (ev->pcr != GRUB_FILE_PCR || ev->type != EV_IPL || ev->data_len < 2 ||
	    ev->data_len > size)
		return NULL;
	memcpy(buf, ev->data, ev->data_len);
	if (buf[ev->data_len - 1] != '\0' || strlen(buf) != ev->data_len - 1)
		return NULL;
	path = buf;
	if (*path == '(') {
		path = strchr(path, ')');
		if (!path)
			return NULL;
		path++;
	}
	return *path == '/' ? path : NULL;
}

/*
 * Where the running system has the file GRUB opened as path: below the
 * mount point of the file system GRUB read it from, which the event does
 * not name, so every place a boot file system is mounted is tried. Of two
 * candidates the one that still holds what GRUB read wins; otherwise the
 * file is ambiguous. *now gets the file's hash.
 */
static int grub_locate(const char *path, uint16_t bank, const uint8_t *old, size_t size,
		       uint8_t *now)
{
	static const char *const mounts[] = { "/boot/efi", "/efi", "/boot", "" };
	const char *root = getenv("OYSTER_BOOT_ROOT");
	uint8_t hash[OYSTER_MAX_DIGEST];
	char file[PATH_MAX];
	unsigned found = 0;
	int r;

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		struct stat st;
		int n = snprintf(file, sizeof(file), "%s%s%s", root ? root : "", mounts[i], path);

		if (n < 0 || (size_t)n >= sizeof(file) || stat(file, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		r = file_hash(file, bank, hash);
		if (r < 0)
			return r;
		if (!memcmp(hash, old, size)) {
			memcpy(now, hash, size);
			return 0;
		}
		if (!found++)
			memcpy(now, hash, size);
	}
	if (!found) {
		log_err("GRUB read %s at boot, and no such file is below /boot/efi, /efi, /boot "
			"or /: mount the file system it is on, or PCR 9 cannot be predicted.",
			path);
		return -ENOENT;
	}
	if (found > 1) {
		log_err("GRUB read %s at boot, and more than one file system mounted here has "
			"such a file, each changed since: PCR 9 cannot be predicted.",
			path);
		return -ENOTUNIQ;
	}
	return 0;
}

/*
 * GRUB's PCR 9 file events: the next boot reads the same files. The kernel
 * and the initrd of the substitutions are found by name (the file GRUB
 * read as /vmlinuz-OLD is NEW next time) or, under another name, by what
 * GRUB read; with o->pcr9 every other file (grub.cfg after
 * update-grub, an initrd that update-initramfs rebuilt, grubenv) is read
 * again as it is now.
 */
static int substitute_grub_files(struct eventlog *log, int b, const struct substitutions *o,
				 unsigned *n_kernel, unsigned *n_initrd, uint32_t *changed)
{
	uint16_t bank = log->banks[b];
	size_t size = log->sizes[b];
	uint8_t old_kernel[OYSTER_MAX_DIGEST], old_initrd[OYSTER_MAX_DIGEST];
	uint8_t now[OYSTER_MAX_DIGEST];
	char *buf;
	int r = 0;

	*n_kernel = *n_initrd = 0;
	if (o->kernel)
		r = file_hash(o->current_kernel, bank, old_kernel);
	if (r == 0 && o->initrd)
		r = file_hash(o->current_initrd, bank, old_initrd);
	if (r < 0)
		return r;
	buf = malloc(GRUB_TEXT_MAX);
	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < log->n_events && r == 0; i++) {
		struct eventlog_event *ev = &log->events[i];
		const char *path = ev->digest[b] ? grub_file_path(ev, buf, GRUB_TEXT_MAX) : NULL;
		const char *base;

		if (!path)
			continue;
		base = base_name(path);
		if (o->kernel && (!strcmp(base, base_name(o->current_kernel)) ||
				  !memcmp(ev->digest[b], old_kernel, size))) {
			r = file_hash(o->kernel, bank, now);
			(*n_kernel)++;
		} else if (o->initrd && (!strcmp(base, base_name(o->current_initrd)) ||
					 !memcmp(ev->digest[b], old_initrd, size))) {
			r = file_hash(o->initrd, bank, now);
			(*n_initrd)++;
		} else if (o->pcr9) {
			r = grub_locate(path, bank, ev->digest[b], size, now);
		} else {
			continue;
		}
		if (r == 0 && memcmp(ev->digest[b], now, size)) {
			memcpy(ev->digest[b], now, size);
			*changed |= 1u << GRUB_FILE_PCR;
		}
	}
	free(buf);
	return r;
}

/* "linux /boot/vmlinuz-1 root=x ro" with the path's last part and the arguments replaced. */
static int grub_rewrite(const char *text, size_t skip, const struct substitutions *o, char *out,
			size_t size)
{
	const char *path = text + skip, *end = path + strcspn(path, " ");
	const char *args = *end ? end + 1 : NULL, *base = path;
	const char *name;
	int n;

	for (const char *p = path; p < end; p++)
		if (*p == '/')
			base = p + 1;
	name = o->kernel && o->current_kernel &&
			       (size_t)(end - base) == strlen(base_name(o->current_kernel)) &&
			       !strncmp(base, base_name(o->current_kernel), (size_t)(end - base))
		       ? base_name(o->kernel)
		       : NULL;
	if (o->cmdline)
		args = o->cmdline;
	n = snprintf(out, size, "%.*s%.*s%s%s", (int)(base - text), text,
		     (int)(name ? strlen(name) : (size_t)(end - base)), name ? name : base,
		     args && *args ? " " : "", args ? args : "");
	return n < 0 || (size_t)n >= size ? -E2BIG : 0;
}

/* "grub_cmd: initrd /boot/initrd.img-1" with the last part of each path replaced. */
static int grub_rewrite_initrd(const char *text, const struct substitutions *o, char *out,
			       size_t size)
{
	const char *old = base_name(o->current_initrd), *new = base_name(o->initrd);
	size_t len = 0;

	for (const char *p = text; *p;) {
		size_t word = strcspn(p, " ");
		const char *base = p;

		for (const char *q = p; q < p + word; q++)
			if (*q == '/')
				base = q + 1;
		if ((size_t)(p + word - base) == strlen(old) && !strncmp(base, old, strlen(old))) {
			int n = snprintf(out + len, size - len, "%.*s%s", (int)(base - p), p, new);

			if (n < 0 || (size_t)n >= size - len)
				return -E2BIG;
			len += (size_t)n;
		} else {
			if (word >= size - len)
				return -E2BIG;
			memcpy(out + len, p, word);
			len += word;
		}
		p += word;
		if (*p) {
			if (len + 1 >= size)
				return -E2BIG;
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	return 0;
}

/*
 * GRUB's PCR 8 string events that --kernel, --initrd and --cmdline change.
 * *n_cmdline counts the events that carry the kernel's command line.
 */
static int substitute_grub_strings(struct eventlog *log, int b, const struct substitutions *o,
				   unsigned *n_cmdline, uint32_t *changed)
{
	static const char linux_cmd[] = "grub_cmd: linux ";
	static const char kernel_cmdline[] = "kernel_cmdline: BOOT_IMAGE=";
	static const char kernel_cmdline_path[] = "kernel_cmdline: ";
	const size_t path_at = sizeof(kernel_cmdline_path) - 1;
	static const char initrd_cmd[] = "grub_cmd: initrd ";
	char *text = NULL, *out = NULL;
	int r = -ENOMEM;

	*n_cmdline = 0;
	text = malloc(GRUB_TEXT_MAX);
	out = malloc(GRUB_TEXT_MAX);
	if (!text || !out)
		goto done;
	r = 0;
	for (unsigned i = 0; i < log->n_events && r == 0; i++) {
		struct eventlog_event *ev = &log->events[i];
		const char *measured;
		size_t len = ev->data_len;

		if (ev->pcr != GRUB_STRING_PCR || ev->type != EV_IPL || !ev->digest[b] ||
		    len == 0 || len >= GRUB_TEXT_MAX)
			continue;
		/* GRUB's data is the text and its NUL. */
		memcpy(text, ev->data, len);
		text[len] = '\0';
		if (strlen(text) != len - 1)
			continue;
		if (!strncmp(text, linux_cmd, sizeof(linux_cmd) - 1)) {
			r = grub_rewrite(text, sizeof(linux_cmd) - 1, o, out, GRUB_TEXT_MAX);
			(*n_cmdline)++;
		} else if (!strncmp(text, kernel_cmdline, sizeof(kernel_cmdline) - 1)) {
			r = grub_rewrite(text, sizeof(kernel_cmdline) - 1, o, out, GRUB_TEXT_MAX);
			(*n_cmdline)++;
		} else if (!strncmp(text, kernel_cmdline_path, path_at) &&
			   (text[path_at] == '/' || text[path_at] == '(')) {
			r = grub_rewrite(text, path_at, o, out, GRUB_TEXT_MAX);
			(*n_cmdline)++;
		} else if (o->initrd && o->current_initrd &&
			   !strncmp(text, initrd_cmd, sizeof(initrd_cmd) - 1)) {
			r = grub_rewrite_initrd(text, o, out, GRUB_TEXT_MAX);
		} else {
			continue;
		}
		if (r < 0) {
			log_err("Event %u of the event log: the rewritten GRUB command is too "
				"long.",
				ev->index);
			break;
		}
		if (!strcmp(out, text))
			continue;
		/* The digest covers what follows "kind: ". */
		measured = strstr(out, ": ") + 2;
		r = eventlog_hash(log->banks[b], measured, strlen(measured), ev->digest[b]);
		*changed |= 1u << GRUB_STRING_PCR;
	}
done:
	free(text);
	free(out);
	return r;
}

/*
 * Whether PCR 9 may hold an initrd: any event but the kernel EFI stub's
 * command-line tag. A stub that measures the initrd tags it ("Linux
 * initrd", 0x8F3B22EC); Debian 12's stub, given initrd= by the firmware's
 * Shell or a boot manager, measures only the command line. Then a new
 * initrd changes no PCR; anything else in PCR 9 may be the initrd under
 * another digest (the wrong current file), and is refused.
 */
static bool measures_initrds(const struct eventlog *log)
{
	for (unsigned i = 0; i < log->n_events; i++) {
		const struct eventlog_event *ev = &log->events[i];
		uint32_t tag;

		if (ev->pcr != GRUB_FILE_PCR || ev->type == EV_NO_ACTION)
			continue;
		if (ev->type != EV_EVENT_TAG || ev->data_len < 8)
			return true;
		memcpy(&tag, ev->data, sizeof(tag));
		if (le32toh(tag) != STUB_TAG_LOAD_OPTIONS)
			return true;
	}
	return false;
}

static int no_match(const char *option, const char *path, const char *where)
{
	log_err("%s: no event of the event log measures %s (%s); check the current one, or "
		"that this machine boots it.",
		option, path, where);
	return -ENOENT;
}

int substitute_apply(struct eventlog *log, uint16_t bank, const struct substitutions *o,
		     uint32_t *changed)
{
	int b = eventlog_bank(log, bank);
	unsigned n_app = 0, n_kernel = 0, n_initrd = 0, n_cmdline = 0;
	uint8_t old[OYSTER_MAX_DIGEST], new[OYSTER_MAX_DIGEST];
	int r;

	*changed = 0;
	if (b < 0) {
		log_err("The event log has no %s digests.", pcr_bank_name(bank));
		return -ENOENT;
	}
	r = substitute_grub_files(log, b, o, &n_kernel, &n_initrd, changed);
	if (r < 0)
		return r;
	if (o->kernel) {
		r = substitute_image(log, b, o->kernel, o->current_kernel, &n_app);
		if (r < 0)
			return r;
		if (!n_app && !n_kernel)
			return no_match("--kernel", o->current_kernel,
					"not in PCR 4 as an EFI application, not in PCR 9 as a "
					"file GRUB read");
		*changed |= n_app ? 1u << BOOT_APP_PCR : 0;
	}
	if (o->boot_loader) {
		r = substitute_image(log, b, o->boot_loader, o->current_boot_loader, &n_app);
		if (r < 0)
			return r;
		if (!n_app)
			return no_match("--boot-loader", o->current_boot_loader,
					"not in PCR 4 as an EFI application");
		*changed |= 1u << BOOT_APP_PCR;
	}
	if (o->initrd && !n_initrd) {
		r = file_hash(o->current_initrd, bank, old);
		if (r == 0)
			r = file_hash(o->initrd, bank, new);
		if (r < 0)
			return r;
		/* The kernel stub's EV_EVENT_TAG hashes the file too. */
		if (replace_digest(log, b, GRUB_FILE_PCR, EV_EVENT_TAG, old, new))
			*changed |= 1u << GRUB_FILE_PCR;
		else if (measures_initrds(log) && o->pcr9)
			return no_match("--initrd", o->current_initrd, "not in PCR 9");
		else if (measures_initrds(log))
			log_info("--initrd: no event measures %s, and PCR 9 is not predicted here: "
				 "nothing to change.",
				 o->current_initrd);
		else
			log_info("This boot measured no initrd (PCR 9 holds no file GRUB read and "
				 "no initrd of the kernel's EFI stub): --initrd changes no PCR.");
	}
	r = substitute_grub_strings(log, b, o, &n_cmdline, changed);
	if (r < 0)
		return r;
	if (o->cmdline && !n_cmdline) {
		log_err("--cmdline: the event log has no GRUB kernel command line (PCR 8 "
			"\"kernel_cmdline:\" or \"grub_cmd: linux\" event).");
		return -ENOENT;
	}
	return 0;
}
