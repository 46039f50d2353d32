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
#    suite's boots: so PCR 9 is not bound here). Enrolled to 4+7, the boot
#    with the new initrd falls back naming PCR 4; oyster reseal in it makes
#    the next boot with the new initrd unattended, and the old initrd now
#    falls back.
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
say "OVMF: enroll 4+7 with the first initrd"
vm_boot ovmf-enroll "$disk" "$INITRD_TOOLS" "$tpm" pcrs,enroll=4+7 "${ovmf[@]}" \
	--answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
ovmf_a=$(pcrs_line)
say "OVMF, first initrd:  $ovmf_a"
zeros=$(printf '0%.0s' $(seq 64))
[ "$(pcr_in_log 4)" != "$zeros" ] || fail "OVMF measured nothing into PCR 4"

say "OVMF: the same initrd again is unattended"
vm_boot ovmf-unattended "$disk" "$INITRD_TOOLS" "$tpm" "" "${ovmf[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"

say "OVMF: the second initrd falls back naming PCR 4; reseal"
vm_boot ovmf-initrd-b "$disk" "$initrd_b" "$tpm" pcrs,reseal "${ovmf[@]}" \
	--answer "$VM_PASS" --kind "passphrase after the TPM refused"
ovmf_b=$(pcrs_line)
say "OVMF, second initrd: $ovmf_b"
changed=$(differing "$ovmf_a" "$ovmf_b")
say "observed: under OVMF the second initrd changes PCRs $changed"
echo " $changed " | grep -q ' 4 ' || fail "PCR 4 does not reflect the initrd under OVMF (changed: $changed)"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"the console does not say that the TPM refused because PCR 4 changed"
[ "$(step_exit reseal)" = 0 ] || fail "oyster reseal failed in the guest (console log: $LOG)"

say "OVMF: the second initrd again is unattended"
vm_boot ovmf-initrd-b-resealed "$disk" "$initrd_b" "$tpm" "" "${ovmf[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"

say "OVMF: the first initrd, no longer approved, now falls back naming PCR 4"
vm_boot ovmf-initrd-a-again "$disk" "$INITRD_TOOLS" "$tpm" "" "${ovmf[@]}" \
	--answer "$VM_PASS" --kind "passphrase after the TPM refused"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"back on the first initrd the console does not say that PCR 4 changed"
say "PASS"
