#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (6): scenarios 1 and 2 with an image that dracut built with the
# module 90oyster (the token plugin; no crypttab option, no plymouth).
# First boot: the passphrase (cryptsetup's own prompt) opens root and the
# root system enrolls 0+2+4+7 with --fence. Next boot: cryptsetup opens root
# through the token with no prompt, and the pre-pivot hook has fenced PCR 15
# (oyster unseal fails in the booted system). Under the other SeaBIOS build
# cryptsetup prints the plugin's line (the TPM refused, which PCRs changed),
# asks for the passphrase, and root is mounted; PCR 15 is fenced there too.
# Self-repair (#12) in that system: oyster status says that the TPM did not
# unlock the volume in this boot (dracut's oyster-record.sh recorded it) and
# names PCR 0; oyster reseal with no passphrase anywhere approves the boot
# (the token is authorized, the default). The next boot under that firmware
# unlocks through the token with zero prompts.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

need mkinitramfs dracut
vm_need
vm_prepare

disk=$(new_disk dracut)
tpm=$WORKDIR/tpm
zeros=$(printf '0%.0s' $(seq 64))

say "first boot: the passphrase, then oyster enroll --pcrs 0+2+4+7 --fence"
vm_boot enroll "$disk" "$INITRD_DRACUT" "$tpm" pcrs,enroll=0+2+4+7 \
	--bios "$SEABIOS_NEW" --answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
step_output enroll | grep -q 'NV index' ||
	fail "enroll in the guest did not make an authorized token, the default (console log: $LOG)"
pcr0_a=$(pcr_in_log 0)
[ -n "$pcr0_a" ] || fail "no PCR 0 in the guest's oyster pcrs (console log: $LOG)"
# Unlike the keyscript, dracut's hook fences every LUKS volume it sees, token
# or not: PCR 15 is extended already (enroll binds it to its reset value).
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "dracut's pre-pivot hook did not fence PCR 15"

say "unattended boot through the token; the pre-pivot hook fenced it"
vm_boot unattended "$disk" "$INITRD_DRACUT" "$tpm" pcrs,unseal --bios "$SEABIOS_NEW" --kind tpm
initrd_lacks 'The TPM refused' "the plugin refused although the state did not change"
[ "$(step_exit unseal)" = 3 ] ||
	fail "oyster unseal in the booted system exited $(step_exit unseal), expected 3 (the fence closed the token)"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a TPM-unlocked boot"

say "another firmware: cryptsetup says why, the passphrase opens root"
vm_boot firmware-b "$disk" "$INITRD_DRACUT" "$tpm" pcrs,status,approve \
	--bios "$SEABIOS_OLD" --answer "$VM_PASS" --kind "passphrase after the TPM refused"
console_has 'The TPM refused: PCR 0 \([^)]*\).* changed since enrollment' \
	"the console does not say that the TPM refused because PCR 0 changed"
[ "$(pcr_in_log 0)" != "$pcr0_a" ] || fail "PCR 0 is the same under both firmware images"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a passphrase-fallback boot"
step_output status | grep -q '^Last boot: the TPM did NOT unlock this volume (the measured boot state (PCRs) changed)' ||
	fail "oyster status in the booted system does not say that the TPM did not unlock it (console log: $LOG)"
step_output status | grep -qE '^  changed since enrollment: PCR 0 \(' ||
	fail "oyster status does not name PCR 0 as changed (console log: $LOG)"
[ "$(step_exit approve)" = 0 ] || fail "oyster reseal with no passphrase failed in the guest (console log: $LOG)"
step_output approve | grep -q '^The state of this boot was not approved before; it is now\.$' ||
	fail "oyster reseal did not approve the state of this boot (console log: $LOG)"

say "the same firmware again: the token unlocks, zero prompts; status reports no fallback"
vm_boot firmware-b-approved "$disk" "$INITRD_DRACUT" "$tpm" status --bios "$SEABIOS_OLD" --kind tpm
initrd_lacks 'The TPM refused' "the plugin refused although this boot's state was approved"
! step_output status | grep -q 'Last boot' || fail "oyster status reports a fallback in a TPM-unlocked boot (console log: $LOG)"
say "PASS"
