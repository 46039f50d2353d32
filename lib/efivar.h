/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_EFIVAR_H
#define OYSTER_EFIVAR_H

#include <stdbool.h>
#include <stdint.h>

#include "eventlog.h"

/*
 * Secure Boot database updates in a predicted boot: the firmware measures
 * PK, KEK, db and dbx into PCR 7 as EV_EFI_VARIABLE_DRIVER_CONFIG events
 * whose data is a UEFI_VARIABLE_DATA (VariableName GUID, UnicodeNameLength,
 * VariableDataLength, UnicodeName, VariableData) and whose digest is the
 * hash of that whole structure (TCG PC Client PFP, 10.4.2 and 3.3.4.2).
 */
#define OYSTER_EFIVARS_DEFAULT "/sys/firmware/efi/efivars"
#define OYSTER_EFI_UPDATES_MAX 8

struct efi_update {
	const char *var;  /* "PK", "KEK", "db" or "dbx" */
	const char *file; /* an EFI_VARIABLE_AUTHENTICATION_2 payload */
	bool append;	  /* EFI_VARIABLE_APPEND_WRITE; else the content is replaced */
};

/*
 * The name of the UEFI variable an event measured ("db", "SbatLevel") when
 * its data is a UEFI_VARIABLE_DATA with a printable ASCII name that fits in
 * size; false otherwise (buf untouched).
 */
bool efivar_event_name(const struct eventlog_event *ev, char *buf, size_t size);

/* 0 for a variable name efivar_apply takes, -EINVAL otherwise. */
int efivar_known(const char *var);

/*
 * Rewrites bank's digest of the PCR 7 event of each updated variable in log
 * with the digest of its new content: the current one (efivars, a directory
 * laid out as efivarfs; NULL: $OYSTER_EFIVARS, else the kernel's) after the
 * updates in their order. The current content must be what the log
 * measured. *changed gets PCR 7 when a digest changed. Refuses, logged in
 * one line: -ENOENT no event for the variable, -ESTALE efivarfs differs from
 * the log, -EMEDIUMTYPE an event not measured as the PFP says, -EINVAL a
 * malformed update, -ENOTSUP an update whose effect on other PCR 7 events
 * (SecureBoot, authority events) cannot be told offline.
 */
int efivar_apply(struct eventlog *log, uint16_t bank, const struct efi_update *u, unsigned n,
		 const char *efivars, uint32_t *changed);
/*
 * With Secure Boot's db authority event in log: 0 when the db entry that
 * verifies the new boot loader (db after the updates u) is the one that
 * verifies current (db now), so PCR 7's authority events stay as they are;
 * -ENOTSUP when another entry (or none) does, -EINVAL when either image has
 * no usable signature, each logged in one line with what to do instead.
 * 0 without a db authority event.
 */
int efivar_check_authority(struct eventlog *log, uint16_t bank, const struct efi_update *u,
			   unsigned n, const char *efivars, const char *loader,
			   const char *current);
/*
 * Rewrites bank's digest of shim's SbatLevel event (PCR 7,
 * EV_EFI_VARIABLE_AUTHORITY) in log with what the shim image at path will
 * measure after it has set SbatLevel (lib/sbat.h), from the content this
 * boot measured, SbatPolicy and Secure Boot's state. *changed gets PCR 7
 * when the digest changed. -ENOENT without exactly one such event or
 * without a .sbatlevel section, -ESTALE when SbatLevelRT differs from the
 * log, -EMEDIUMTYPE, -EINVAL: each logged in one line.
 */
int efivar_apply_shim(struct eventlog *log, uint16_t bank, const char *shim, const char *efivars,
		      uint32_t *changed);
/*
 * How many signatures the Secure Boot database event ev (of log, bank index
 * b) has beyond a content whose event digest began with recorded: the
 * signatures an EDK2 append added since that content was measured (it
 * appends whole lists after what is there). 0 when ev is not such an
 * event, or no list boundary of its content gives that digest.
 */
unsigned efivar_appended(const struct eventlog *log, int b, const struct eventlog_event *ev,
			 const uint8_t *recorded, size_t recorded_len);

#endif
