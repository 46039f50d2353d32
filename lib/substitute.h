/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_SUBSTITUTE_H
#define OYSTER_SUBSTITUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "eventlog.h"
#include "pcr.h"

/*
 * What the next boot changes; NULL for what stays. Each substitution must
 * match at least one event of the log, or the prediction would silently be
 * today's values.
 */
struct substitutions {
	const char *kernel, *current_kernel;
	const char *initrd, *current_initrd;
	const char *cmdline; /* what follows the kernel's path on GRUB's linux line */
	const char *boot_loader, *current_boot_loader;
	/*
	 * PCR 9 is predicted: every other file GRUB measured into it is read
	 * again as it is now, and an --initrd that matches no event is an error.
	 */
	bool pcr9;
};

/*
 * Rewrites the digests of bank in log for the substitutions: PCR 4
 * EV_EFI_BOOT_SERVICES_APPLICATION events whose digest is OLD's Authenticode
 * digest, GRUB's PCR 9 file events of OLD (by name or content) and, with
 * pcr9, of every other file, the kernel stub's PCR 9 initrd tag, and
 * GRUB's PCR 8 command line events. *changed gets
 * the PCRs with a rewritten event. -ENOENT (logged, naming the option) when
 * a substitution matches no event; file errors as read.
 */
int substitute_apply(struct eventlog *log, uint16_t bank, const struct substitutions *o,
		     uint32_t *changed);

#endif
