#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (5): a machine whose volume is enrolled loses its TPM (the VM boots
# without a TPM device). The keyscript waits a bounded time for /dev/tpm0,
# says so in one line, and the passphrase prompt opens root. The wait shows
# in the boot's figures (unlock to root mounted), compared with a TPM boot's.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

need mkinitramfs dracut
vm_need
vm_prepare

disk=$(new_disk no-tpm)
tpm=$WORKDIR/tpm

say "enrolled with a TPM"
vm_boot enroll "$disk" "$INITRD_TOOLS" "$tpm" enroll=0+2+4+7 \
	--bios "$SEABIOS_NEW" --answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"

say "the same disk without a TPM: one line after a bounded wait, then the passphrase"
vm_boot no-tpm "$disk" "$INITRD_TOOLS" none "" \
	--bios "$SEABIOS_NEW" --answer "$VM_PASS" --kind "passphrase after waiting for a TPM"
console_has 'oyster: oyroot: No TPM found \(waited 5s for /dev/tpm0\)\. Asking for the passphrase\.$' \
	"the console does not say that no TPM was found"
[ "$(grep -c 'oyster: oyroot:' "$LOG")" -eq 1 ] || fail "expected one line from the keyscript"
say "PASS"
