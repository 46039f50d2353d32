/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_FALLBACK_H
#define OYSTER_FALLBACK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * What the initramfs recorded in this boot (/run/oyster, a tmpfs that lives
 * one boot): each volume the TPM did not open, one line "LUKS-UUID REASON"
 * (initramfs-tools' keyscript, dracut's oyster-record.sh).
 */
#define OYSTER_FALLBACK_RECORD "/run/oyster/fallback"

/* The recorded reason the TPM did not open the volume with UUID in this boot, in buf; NULL
 * when none is recorded. */
const char *fallback_reason(const char *uuid, char *buf, size_t size);

/* Whether a dm-crypt mapping of the LUKS volume with UUID is active now (opened in this boot):
 * sysfs' dm uuid "CRYPT-LUKS2-<uuid without dashes>-<name>". */
bool fallback_volume_open(const char *uuid);

#endif
