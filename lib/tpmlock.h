/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_TPMLOCK_H
#define OYSTER_TPMLOCK_H

#include <stdint.h>

/*
 * Without the kernel's resource manager (/dev/tpm0, a simulator) two
 * processes talking to the TPM at once fill its object slots or find the
 * device busy. Each TCTI configuration gets a lock file in /run/oyster (or
 * $XDG_RUNTIME_DIR/oyster); /dev/tpmrm0 needs none. Returns the lock's file
 * descriptor, -1 when there is nothing to lock or nowhere to put the lock
 * (best effort), or -ENODEV after waiting wait_ms for another holder
 * (-EBUSY at once, quietly, when wait_ms is 0).
 */
int tpm_lock_take(const char *tcti_conf, int32_t wait_ms);
void tpm_lock_release(int fd);

#endif
