/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_BOOT_H
#define OYSTER_BOOT_H

#include <stdbool.h>
#include <stddef.h>

/* Between boot.c, boot-crypttab.c (initramfs-tools' crypttab step), boot-systemd.c and status.c. */

#define CRYPTTAB "/etc/crypttab"
#define CRYPTTAB_BACKUP "/etc/crypttab.oyster-backup"

/*
 * The UUID of the LUKS volume a crypttab source or a DEVICE argument names
 * (a crypttab_resolve_fn): UUID= and /dev/disk/by-uuid/ say it; LABEL=,
 * PARTUUID=, paths and the like are looked up and probed with libblkid.
 */
int boot_resolve_uuid(const char *source, char *uuid, size_t size, void *data);
/* A crypttab entry to suggest for the volume. */
void boot_suggest_entry(const char *device, const char *uuid, char *line, size_t size);
/*
 * The volume's crypttab entry needs keyscript=oyster: reported, or added
 * when configure. *todo is the entry as it should read when it lacks it (as
 * it now reads when configure), else NULL; *name the entry's name.
 * -ENOENT (no entry; said on stderr when configure), or another negative
 * errno after saying why.
 */
int boot_setup_crypttab(const char *device, const char *uuid, bool configure, char **todo,
			char *name, size_t name_size);

/*
 * Warns on stderr when the volume's crypttab entry has an option that makes
 * systemd-cryptsetup skip oyster's token (tpm2-measure-pcr=, tpm2-device=).
 */
void boot_warn_systemd_options(const char *device);

#endif
