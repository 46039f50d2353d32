/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_BOOTNOTE_H
#define OYSTER_BOOTNOTE_H

/*
 * Best effort, never an error (bootnote.c says where and when):
 * bootnote_unlocked notes /run/oyster/unlocked/UUID, the initramfs's prune
 * reads it; bootnote_refused puts "oyster: DEVICE: REASON" on the console
 * through the kernel log, once per volume and boot.
 */
void bootnote_unlocked(const char *uuid);
void bootnote_refused(const char *uuid, const char *device, const char *reason);

#endif
