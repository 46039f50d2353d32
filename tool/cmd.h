/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_CMD_H
#define OYSTER_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"

/* Exit statuses, documented in oyster(8). */
enum {
	OYSTER_EXIT_OK = 0,
	OYSTER_EXIT_FAILURE = 1,
	OYSTER_EXIT_USAGE = 2,
	OYSTER_EXIT_REFUSED = 3, /* the TPM refused: the measured state changed */
	OYSTER_EXIT_NO_TPM = 4,
	OYSTER_EXIT_PIN = 5,	 /* a PIN is needed, or the one given is wrong */
	OYSTER_EXIT_LOCKOUT = 6, /* the TPM is in dictionary-attack lockout */
};

int cmd_enroll(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_wipe(int argc, char **argv);
int cmd_unseal(int argc, char **argv);
int cmd_pcrs(int argc, char **argv);
int cmd_fence(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_reseal(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_boot_setup(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_tpm_setup(int argc, char **argv);

/*
 * What the machine's initramfs needs to unlock device with the TPM: printed,
 * or done (crypttab edited, initramfs regenerated) when configure.
 */
int boot_setup(const char *device, bool configure);
/* After enrollment: boot_setup() when configure, or when device is a block device. */
int boot_after_enroll(const char *device, bool configure);

/* The PCR the boot integrations extend once a volume is done with (oyster fence). */
#define OYSTER_FENCE_PCR 15

/* Exit status for a negative errno from the core. */
int exit_status(int r);
/* One-line usage error on stderr; returns OYSTER_EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether OYSTER_DEBUG asks for the TPM details (set, not empty, not "0"); read each time. */
bool debug_enabled(void);
/* Parses a non-negative decimal no larger than max. */
bool parse_uint(const char *s, unsigned max, unsigned *out);

#endif
