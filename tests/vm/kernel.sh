#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (4): what a new kernel or initramfs does to the measurements, and the
# fallback and recovery where a PCR sees it.
#  - SeaBIOS, qemu's direct kernel boot (-kernel/-initrd): its linuxboot
#    option ROM loads kernel and initrd from fw_cfg without measuring them.
#    The change is the initramfs (the same mkinitramfs image with one more
#    cpio archive appended, as an update that adds a file would make it).
#    Observed: PCRs 0-9 are the same with either initrd, and a token bound
#    to 0+2+4+7 unlocks both unattended. The test asserts exactly that, so
#    that a SeaBIOS that starts measuring them shows.
#  - OVMF, where the firmware's UEFI Shell starts the kernel from a FAT disk
#    as a boot loader would: PCR 4 measures the kernel file's Authenticode
#    digest. (qemu's -kernel under OVMF measures a copy whose setup header
#    qemu patched with the initrd's size, which no file on /boot predicts;
#    and Debian 12's stub, given initrd=, measures the command line into
#    PCR 9 but no initrd.) The new kernel is the same build with another PE
#    time stamp: another digest, all that PCR 4 sees of a new kernel. The
#    guest's second disk is /boot with both kernels and their initrds.
#    Enrolled to 4+7 with --fence (an authorized token, the default) and a
#    recovery key (#11, #12):
#     - in the next, unattended boot the token is fenced, and oyster's
#       kernel hook, run as Debian's kernel packages run it with no terminal
#       and no passphrase anywhere, pre-approves the new kernel; status
#       lists the predicted state;
#     - the new kernel's boot is unattended with zero prompts, and the prune
#       after it leaves only its own state approved;
#     - the old kernel, whose approval the prune dropped, falls back naming
#       PCR 4; oyster status says so and how to approve the boot; the
#       post-boot service with its defaults leaves the token alone
#       (OYSTER_AUTO_REPAIR is off); the recovery key (typed in upper case,
#       without its dashes) opens root, and the service with
#       OYSTER_AUTO_REPAIR=yes approves that boot by itself: oyster status
#       then finds the state approved but for the fence.
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

# The new kernel: the same build with another PE time stamp, so another
# Authenticode digest, which is all that PCR 4 sees of a new kernel. (Secure
# Boot is off in these variables; Debian's signature no longer matches.)
kernel_next=$WORKDIR/vmlinuz-next
cp -- "$KERNEL" "$kernel_next"
pe=$(od -An -tu4 -j60 -N4 "$KERNEL" | tr -d ' ')
printf oyst | dd of="$kernel_next" bs=1 seek=$((pe + 8)) conv=notrunc status=none ||
	setup_error "cannot make the second kernel"
cmp -s "$KERNEL" "$kernel_next" && setup_error "the second kernel is the same as the first"
# /boot as a Debian system has it after a kernel package's postinst ran
# update-initramfs: the running kernel and its initrd, the new kernel and its.
kver_next=$KVER-oyster-next
mkdir -p "$WORKDIR/boot"
cp -- "$KERNEL" "$WORKDIR/boot/vmlinuz-$KVER"
cp -- "$INITRD_TOOLS" "$WORKDIR/boot/initrd.img-$KVER"
cp -- "$kernel_next" "$WORKDIR/boot/vmlinuz-$kver_next"
cp -- "$INITRD_TOOLS" "$WORKDIR/boot/initrd.img-$kver_next"
echo "$kver_next" >"$WORKDIR/boot/oyster-vm-next"
boot_disk=$WORKDIR/boot.img
truncate -s "$(($(du -sm "$WORKDIR/boot" | cut -f1) + 16))M" "$boot_disk"
mke2fs -q -t ext4 -d "$WORKDIR/boot" "$boot_disk" || setup_error "cannot make the /boot disk"
# Under OVMF the kernel is started the way a boot loader starts it: OVMF's
# UEFI Shell loads it from a FAT disk, and PCR 4 measures the file. Every
# boot has the same disks: each one the firmware tries before the Shell
# adds its own events to PCR 4.
ovmf=(--ovmf "$OVMF_CODE,$OVMF_VARS" --uefi-shell --extra-disk "$boot_disk")

disk=$(new_disk ovmf)
tpm=$WORKDIR/tpm-ovmf
say "OVMF: enroll 4+7 (--fence) with the first kernel, and a recovery key"
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
say "OVMF, first kernel:  $ovmf_a"
zeros=$(printf '0%.0s' $(seq 64))
[ "$(pcr_in_log 4)" != "$zeros" ] || fail "OVMF measured nothing into PCR 4"

say "OVMF: the first kernel again is unattended; the token is fenced in it; the kernel hook,"
say "      with no terminal and no passphrase, pre-approves the second kernel (#11)"
vm_boot ovmf-unattended "$disk" "$INITRD_TOOLS" "$tpm" unseal,kernel-hook,status "${ovmf[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
[ "$(step_exit unseal)" = 3 ] ||
	fail "oyster unseal in the booted system exited $(step_exit unseal), expected 3 (the fence closed the token)"
[ "$(step_exit kernel-hook)" = 0 ] || fail "the kernel hook failed in the guest (console log: $LOG)"
# Its lines, without the kernel's that the console interleaves.
hook_said=$(step_output kernel-hook | grep '^oyster: ' || true)
[ "$hook_said" = "oyster: pre-approved kernel $kver_next for /dev/vda (token 0)." ] ||
	fail "the kernel hook did not pre-approve the new kernel by itself: $hook_said"
step_output status | grep -qE "^  State 2 +predicted .*\(vmlinuz-$kver_next\)$" ||
	fail "oyster status does not list the state predicted for $kver_next (console log: $LOG)"

say "OVMF: the second kernel is unattended, zero prompts; the prune after it drops the first"
vm_boot ovmf-kernel-next "$disk" "$INITRD_TOOLS" "$tpm" pcrs,status "${ovmf[@]}" --kernel "$kernel_next" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the kernel hook pre-approved this boot"
ovmf_b=$(pcrs_line)
say "OVMF, second kernel: $ovmf_b"
changed=$(differing "$ovmf_a" "$ovmf_b")
say "observed: under OVMF the second kernel changes PCRs $changed"
echo " $changed " | grep -q ' 4 ' || fail "PCR 4 does not reflect the kernel under OVMF (changed: $changed)"
! step_output status | grep -q 'Last boot' || fail "oyster status reports a fallback in a TPM-unlocked boot (console log: $LOG)"
step_output status | grep -qE '^  States: +1 approved$' ||
	fail "the prune after the boot left more than this boot's state approved (console log: $LOG)"

say "OVMF: the first kernel, pruned, falls back naming PCR 4; status says so; the post-boot"
say "      service with its defaults leaves it; the recovery key; OYSTER_AUTO_REPAIR=yes approves"
vm_boot ovmf-kernel-first-again "$disk" "$INITRD_TOOLS" "$tpm" status,prune-service,auto-repair,status-repaired \
	"${ovmf[@]}" --answer "$(echo "$rkey" | tr -d - | tr '[:lower:]' '[:upper:]')" \
	--kind "recovery key after the TPM refused"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"back on the first kernel the console does not say that PCR 4 changed"
step_output status | grep -q '^Last boot: the TPM did NOT unlock this volume (the measured boot state (PCRs) changed)' ||
	fail "oyster status in the booted system does not say that the TPM did not unlock it (console log: $LOG)"
step_output status | grep -qE '^  changed since enrollment: PCR 4 \([^)]*\)$' ||
	fail "oyster status does not name PCR 4, alone, as changed (console log: $LOG)"
step_output status | grep -qF '  if this boot is one you trust, approve it: oyster reseal /dev/vda' ||
	fail "oyster status does not say how to approve this boot (console log: $LOG)"
[ "$(step_exit prune-service)" = 0 ] && [ -z "$(step_output prune-service)" ] ||
	fail "the post-boot service with its defaults said something or failed (console log: $LOG)"
[ "$(step_exit auto-repair)" = 0 ] || fail "the post-boot service failed (console log: $LOG)"
step_output auto-repair | grep -qE "^oyster: approved the state of this boot for token [0-9]+ of UUID=$LUKS_UUID \(OYSTER_AUTO_REPAIR; the TPM had not unlocked it: pcr-changed\)\.$" ||
	fail "OYSTER_AUTO_REPAIR=yes did not approve the recovery-key boot (console log: $LOG)"
# Approved: only the fence's PCR 15 differs from an approved state now.
step_output status-repaired | grep -qE '^  would unlock now: no: PCR 15 \([^)]*\) left its reset value' ||
	fail "after OYSTER_AUTO_REPAIR, oyster status does not find this boot approved (console log: $LOG)"
step_output status-repaired | grep -q '^  this boot has been approved since (oyster reseal)' ||
	fail "oyster status still asks to approve a fallback boot that has been approved (console log: $LOG)"
say "PASS"
