#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (4): what a new kernel or initramfs does to the measurements, and the
# fallback and recovery where a PCR sees it. The change here is the
# initramfs (the same mkinitramfs image with one more cpio archive appended,
# as an update that adds a file would make it); the kernel binary stays the
# same, since Debian's mirror holds one build of it. The harness loads both
# with qemu's direct kernel boot (-kernel/-initrd).
#  - SeaBIOS: its linuxboot option ROM loads kernel and initrd from fw_cfg
#    without measuring them. Observed: PCRs 0-9 are the same with either
#    initrd, and a token bound to 0+2+4+7 unlocks both unattended. The test
#    asserts exactly that, so that a SeaBIOS that starts measuring them shows.
#  - OVMF: observed, a different initrd changes PCR 4 (OVMF measures the
#    blobs it loads from fw_cfg) and PCR 9 (the kernel's EFI stub measures
#    the initrd, and the command line too, which differs between this
#    suite's boots: so PCR 9 is not bound here). Enrolled to 4+7 (an
#    authorized token, the default) with a recovery key, the boot with the
#    new initrd falls back naming PCR 4, and then, in the running system
#    (self-repair, #12):
#     - oyster status says the TPM did not unlock the volume in this boot
#       and names PCR 4;
#     - the post-boot service with its defaults leaves the token alone
#       (OYSTER_AUTO_REPAIR is off);
#     - oyster reseal with no passphrase anywhere approves this boot.
#    The next boot with the new initrd is unattended with zero prompts and
#    oyster status reports no fallback. The old initrd, no longer approved,
#    now falls back; the recovery key (typed in upper case, without its
#    dashes) opens root, and the post-boot service with
#    OYSTER_AUTO_REPAIR=yes approves that boot by itself: oyster status then
#    finds the state approved but for the fence.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

need mkinitramfs dracut cpio gzip
vm_need
for f in "$OVMF_CODE" "$OVMF_VARS"; do
	[ -e "$f" ] || unavailable "$f is missing (apt-get install ovmf)"
done
vm_prepare

initrd_b=$WORKDIR/initrd-b.img
mkdir -p "$WORKDIR/extra"
echo "a file the new initramfs adds" >"$WORKDIR/extra/oyster-vm-extra"
(cd "$WORKDIR/extra" && echo oyster-vm-extra | cpio -o -H newc --quiet) | gzip -n >"$WORKDIR/extra.cpio.gz" ||
	setup_error "cannot make the extra cpio archive"
cat "$INITRD_TOOLS" "$WORKDIR/extra.cpio.gz" >"$initrd_b"
cmp -s "$INITRD_TOOLS" "$initrd_b" && setup_error "the second initrd is the same as the first"

# pcrs_line: PCRs 0-9 of the last boot, "N=HEX ..." on one line.
pcrs_line() {
	local p
	for p in 0 1 2 3 4 5 6 7 8 9; do
		printf '%s=%s ' "$p" "$(pcr_in_log $p)"
	done
}

# differing A B: the PCR numbers whose values differ between two pcrs_lines.
differing() {
	local p out=
	for p in 0 1 2 3 4 5 6 7 8 9; do
		[ "$(echo "$1" | grep -oE "(^| )$p=[0-9a-f]*")" = "$(echo "$2" | grep -oE "(^| )$p=[0-9a-f]*")" ] ||
			out="$out $p"
	done
	echo "${out# }"
}

say "SeaBIOS: enroll 0+2+4+7 with the first initrd"
disk=$(new_disk seabios)
vm_boot seabios-enroll "$disk" "$INITRD_TOOLS" "$WORKDIR/tpm-seabios" pcrs,enroll=0+2+4+7 \
	--bios "$SEABIOS_NEW" --answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
sea_a=$(pcrs_line)
say "SeaBIOS, first initrd:  $sea_a"
say "SeaBIOS: the second initrd unlocks unattended; no PCR 0-9 differs"
vm_boot seabios-initrd-b "$disk" "$initrd_b" "$WORKDIR/tpm-seabios" pcrs --bios "$SEABIOS_NEW" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
sea_b=$(pcrs_line)
say "SeaBIOS, second initrd: $sea_b"
[ -z "$(differing "$sea_a" "$sea_b")" ] ||
	fail "under SeaBIOS PCRs $(differing "$sea_a" "$sea_b") now reflect the initrd: update this test's story"
say "observed: under SeaBIOS direct boot no PCR reflects the initramfs"

ovmf=(--ovmf "$OVMF_CODE,$OVMF_VARS")
disk=$(new_disk ovmf)
tpm=$WORKDIR/tpm-ovmf
say "OVMF: enroll 4+7 with the first initrd, and a recovery key"
vm_boot ovmf-enroll "$disk" "$INITRD_TOOLS" "$tpm" pcrs,enroll=4+7,recovery-key "${ovmf[@]}" \
	--answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
step_output enroll | grep -q 'NV index' ||
	fail "enroll in the guest did not make an authorized token, the default (console log: $LOG)"
[ "$(step_exit recovery-key)" = 0 ] || fail "oyster enroll --recovery-key failed in the guest (console log: $LOG)"
# This throwaway volume's key, printed on the console for the harness to type.
rkey=$(step_output recovery-key | grep -oE '^[cbdefghijklnrtuv]{8}(-[cbdefghijklnrtuv]{8}){7}$' | head -n 1)
[ -n "$rkey" ] || fail "no recovery key on the console (console log: $LOG)"
ovmf_a=$(pcrs_line)
say "OVMF, first initrd:  $ovmf_a"
zeros=$(printf '0%.0s' $(seq 64))
[ "$(pcr_in_log 4)" != "$zeros" ] || fail "OVMF measured nothing into PCR 4"

say "OVMF: the same initrd again is unattended"
vm_boot ovmf-unattended "$disk" "$INITRD_TOOLS" "$tpm" "" "${ovmf[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"

say "OVMF: the second initrd falls back naming PCR 4; status says so; reseal with no passphrase"
vm_boot ovmf-initrd-b "$disk" "$initrd_b" "$tpm" pcrs,status,prune-service,approve "${ovmf[@]}" \
	--answer "$VM_PASS" --kind "passphrase after the TPM refused"
ovmf_b=$(pcrs_line)
say "OVMF, second initrd: $ovmf_b"
changed=$(differing "$ovmf_a" "$ovmf_b")
say "observed: under OVMF the second initrd changes PCRs $changed"
echo " $changed " | grep -q ' 4 ' || fail "PCR 4 does not reflect the initrd under OVMF (changed: $changed)"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"the console does not say that the TPM refused because PCR 4 changed"
step_output status | grep -q '^Last boot: the TPM did NOT unlock this volume (the measured boot state (PCRs) changed)' ||
	fail "oyster status in the booted system does not say that the TPM did not unlock it (console log: $LOG)"
step_output status | grep -qE '^  changed since enrollment: PCR 4 \([^)]*\)$' ||
	fail "oyster status does not name PCR 4, alone, as changed (console log: $LOG)"
step_output status | grep -qF '  if this boot is one you trust, approve it: oyster reseal /dev/vda' ||
	fail "oyster status does not say how to approve this boot (console log: $LOG)"
[ "$(step_exit prune-service)" = 0 ] && [ -z "$(step_output prune-service)" ] ||
	fail "the post-boot service with its defaults said something or failed (console log: $LOG)"
[ "$(step_exit approve)" = 0 ] ||
	fail "oyster reseal with no passphrase failed in the guest (console log: $LOG)"
# Not approved before: so neither the prune nor the service approved it.
step_output approve | grep -q '^The state of this boot was not approved before; it is now\.$' ||
	fail "oyster reseal did not approve the state of this boot (console log: $LOG)"

say "OVMF: the second initrd again is unattended, zero prompts; status reports no fallback"
vm_boot ovmf-initrd-b-resealed "$disk" "$initrd_b" "$tpm" status "${ovmf[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
[ "$(step_exit status)" = 0 ] || fail "oyster status failed (console log: $LOG)"
! step_output status | grep -q 'Last boot' || fail "oyster status reports a fallback in a TPM-unlocked boot (console log: $LOG)"

say "OVMF: the first initrd, no longer approved, falls back naming PCR 4; the recovery key;"
say "      OYSTER_AUTO_REPAIR=yes approves the boot"
vm_boot ovmf-initrd-a-again "$disk" "$INITRD_TOOLS" "$tpm" auto-repair,status "${ovmf[@]}" \
	--answer "$(echo "$rkey" | tr -d - | tr '[:lower:]' '[:upper:]')" --kind "recovery key after the TPM refused"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"back on the first initrd the console does not say that PCR 4 changed"
[ "$(step_exit auto-repair)" = 0 ] || fail "the post-boot service failed (console log: $LOG)"
step_output auto-repair | grep -qE "^oyster: approved the state of this boot for token [0-9]+ of UUID=$LUKS_UUID \(OYSTER_AUTO_REPAIR; the TPM had not unlocked it: pcr-changed\)\.$" ||
	fail "OYSTER_AUTO_REPAIR=yes did not approve the recovery-key boot (console log: $LOG)"
# Approved: only the fence's PCR 15 differs from an approved state now.
step_output status | grep -qE '^  would unlock now: no: PCR 15 \([^)]*\) left its reset value' ||
	fail "after OYSTER_AUTO_REPAIR, oyster status does not find this boot approved (console log: $LOG)"
step_output status | grep -q '^  this boot has been approved since (oyster reseal)' ||
	fail "oyster status still asks to approve a fallback boot that has been approved (console log: $LOG)"
say "PASS"
