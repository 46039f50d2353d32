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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* An image measured twice: PCR 4 by the firmware (Authenticode), PCR 9 by GRUB (file hash). */
static int substitute_image(struct eventlog *log, int b, const char *new_path, const char *old_path,
			    bool grub_too, unsigned *n_app, unsigned *n_file)
{
	uint16_t bank = log->banks[b];
	uint8_t old_pe[OYSTER_MAX_DIGEST], new_pe[OYSTER_MAX_DIGEST];
	uint8_t old_file[OYSTER_MAX_DIGEST], new_file[OYSTER_MAX_DIGEST];
	int r;

	r = authenticode_file(old_path, bank, old_pe);
	if (r == 0)
		r = authenticode_file(new_path, bank, new_pe);
	if (r < 0)
		return r;
	*n_app = replace_digest(log, b, BOOT_APP_PCR, EV_EFI_BOOT_SERVICES_APPLICATION, old_pe,
				new_pe);
	*n_file = 0;
	if (!grub_too)
		return 0;
	r = file_hash(old_path, bank, old_file);
	if (r == 0)
		r = file_hash(new_path, bank, new_file);
	if (r < 0)
		return r;
	*n_file = replace_digest(log, b, GRUB_FILE_PCR, 0, old_file, new_file);
	return 0;
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
	unsigned n_app = 0, n_file = 0, n_cmdline = 0;
	uint8_t old[OYSTER_MAX_DIGEST], new[OYSTER_MAX_DIGEST];
	int r;

	*changed = 0;
	if (b < 0) {
		log_err("The event log has no %s digests.", pcr_bank_name(bank));
		return -ENOENT;
	}
	if (o->kernel) {
		r = substitute_image(log, b, o->kernel, o->current_kernel, true, &n_app, &n_file);
		if (r < 0)
			return r;
		if (!n_app && !n_file)
			return no_match("--kernel", o->current_kernel,
					"not in PCR 4 as an EFI application, not in PCR 9 as a "
					"file GRUB read");
		*changed |= (n_app ? 1u << BOOT_APP_PCR : 0) | (n_file ? 1u << GRUB_FILE_PCR : 0);
	}
	if (o->boot_loader) {
		r = substitute_image(log, b, o->boot_loader, o->current_boot_loader, false, &n_app,
				     &n_file);
		if (r < 0)
			return r;
		if (!n_app)
			return no_match("--boot-loader", o->current_boot_loader,
					"not in PCR 4 as an EFI application");
		*changed |= 1u << BOOT_APP_PCR;
	}
	if (o->initrd) {
		r = file_hash(o->current_initrd, bank, old);
		if (r == 0)
			r = file_hash(o->initrd, bank, new);
		if (r < 0)
			return r;
		/* GRUB's file event or the kernel stub's EV_EVENT_TAG: both hash the file. */
		if (replace_digest(log, b, GRUB_FILE_PCR, 0, old, new))
			*changed |= 1u << GRUB_FILE_PCR;
		else if (measures_initrds(log))
			return no_match("--initrd", o->current_initrd, "not in PCR 9");
		else
			log_info("This boot measured no initrd (PCR 9 holds no file GRUB read and no "
				 "initrd of the kernel's EFI stub): --initrd changes no PCR.");
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
