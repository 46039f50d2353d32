/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_ENROLL_PREDICT_ARGS_H
#define OYSTER_ENROLL_PREDICT_ARGS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "predict.h"

/* oyster predict's options, which oyster reseal --predict takes too. */
enum {
	PREDICT_OPT_KERNEL = 0x100,
	PREDICT_OPT_CURRENT_KERNEL,
	PREDICT_OPT_INITRD,
	PREDICT_OPT_CURRENT_INITRD,
	PREDICT_OPT_CMDLINE,
	PREDICT_OPT_BOOT_LOADER,
	PREDICT_OPT_CURRENT_BOOT_LOADER,
	PREDICT_OPT_EVENT_LOG,
	PREDICT_OPT_EFI_UPDATE,
	PREDICT_OPT_EFI_REPLACE,
	PREDICT_OPT_SHIM,
};

#define PREDICT_LONG_OPTIONS                                                                       \
	{ "kernel", required_argument, NULL, PREDICT_OPT_KERNEL },                                 \
		{ "current-kernel", required_argument, NULL, PREDICT_OPT_CURRENT_KERNEL },         \
		{ "initrd", required_argument, NULL, PREDICT_OPT_INITRD },                         \
		{ "current-initrd", required_argument, NULL, PREDICT_OPT_CURRENT_INITRD },         \
		{ "cmdline", required_argument, NULL, PREDICT_OPT_CMDLINE },                       \
		{ "boot-loader", required_argument, NULL, PREDICT_OPT_BOOT_LOADER },               \
		{ "current-boot-loader", required_argument, NULL,                                  \
		  PREDICT_OPT_CURRENT_BOOT_LOADER },                                               \
		{ "efi-update", required_argument, NULL, PREDICT_OPT_EFI_UPDATE },                 \
		{ "efi-replace", required_argument, NULL, PREDICT_OPT_EFI_REPLACE },               \
		{ "shim", required_argument, NULL, PREDICT_OPT_SHIM },                             \
	{                                                                                          \
		"event-log", required_argument, NULL, PREDICT_OPT_EVENT_LOG                        \
	}

#define PREDICT_USAGE                                                                              \
	"  --kernel NEW       the next boot starts the kernel image NEW\n"                         \
	"  --current-kernel OLD  instead of OLD (default /boot/vmlinuz-$(uname -r))\n"             \
	"  --initrd NEW       the next boot loads the initramfs NEW\n"                             \
	"  --current-initrd OLD  instead of OLD (default /boot/initrd.img-$(uname -r))\n"          \
	"  --cmdline STR      GRUB passes the kernel STR (the arguments after its path)\n"         \
	"  --boot-loader NEW --current-boot-loader OLD\n"                                          \
	"                     the firmware starts the EFI boot loader NEW instead of OLD\n"        \
	"  --efi-update VAR=FILE  the authenticated update FILE (.auth) is appended to the\n"      \
	"                     Secure Boot database VAR (db, dbx or KEK), as the firmware\n"        \
	"                     appends: signatures VAR already holds are not added again\n"         \
	"  --efi-replace VAR=FILE  FILE replaces VAR (PK, KEK, db or dbx)\n"                       \
	"  --shim NEW         the next boot runs the shim NEW, which raises SbatLevel to the\n"    \
	"                     level in its .sbatlevel section (shim 15.7 and later)\n"             \
	"  --event-log FILE   the firmware's event log (default $OYSTER_EVENT_LOG, else\n"         \
	"                     " OYSTER_EVENTLOG_DEFAULT ")\n"

/* 1 when c was one of PREDICT_LONG_OPTIONS (stored in p), 0 otherwise. */
int predict_option(int c, const char *arg, struct predict_args *p);
/* After parsing: defaults and combinations; usage errors for cmd. */
int predict_check(const char *cmd, struct predict_args *p);

#endif
