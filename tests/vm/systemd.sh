#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (7): a systemd initramfs (dracut's systemd modules, rd.luks.uuid=):
# systemd-cryptsetup 252 unlocks root through the token plugin, as on Fedora
# and Arch's sd-encrypt. First boot: systemd's prompt takes the passphrase
# and the root system enrolls 0+2+4+7 with --fence. Next boot: no prompt;
# the plugin used /dev/tpm0 (7 commands at the chip, boot.py counts them),
# the pre-pivot prune narrowed the token (the plugin noted the unlock in
# /run/oyster/unlocked) and the fence extended PCR 15 (oyster unseal fails
# in the root). Under the other SeaBIOS build, with `quiet`: the console
# shows oyster's one line (the TPM refused, PCR 0 changed) before systemd's
# passphrase prompt, the passphrase opens root, the prune leaves the TPM
# alone, and the root enrolls a second token with a PIN. Last boot, same
# firmware, without `quiet`: the first token's reason once more (one line
# per volume and boot), then systemd asks for the PIN; a wrong PIN is asked
# again, the right one unlocks through the TPM. Without a TPM (quiet): one
# line says so, and systemd's prompt takes the passphrase.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

need mkinitramfs dracut
[ -x /lib/systemd/systemd-cryptsetup ] || [ -x /usr/lib/systemd/systemd-cryptsetup ] ||
	unavailable "systemd-cryptsetup is not installed (apt-get install systemd)"
vm_need
vm_prepare

disk=$(new_disk systemd)
tpm=$WORKDIR/tpm
zeros=$(printf '0%.0s' $(seq 64))
REASON='oyster: [^ ]+: The TPM refused: PCR 0 \([^)]*\).* changed since enrollment'

# tpm_count PATH: the last boot's command count for PATH (unlock, prune, fence).
tpm_count() {
	sed -n "s/.*TPM commands at the chip: .*$1[^0-9;]* \([0-9][0-9]*\).*/\1/p" "$WORKDIR/figures" | tail -n 1
}

say "first boot: systemd asks for the passphrase; the root enrolls 0+2+4+7 with --fence"
vm_boot enroll "$disk" "$INITRD_SYSTEMD" "$tpm" pcrs,enroll=0+2+4+7 \
	--bios "$SEABIOS_NEW" --answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
pcr0_a=$(pcr_in_log 0)
[ -n "$pcr0_a" ] || fail "no PCR 0 in the guest's oyster pcrs (console log: $LOG)"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "the fence did not extend PCR 15 under systemd"

say "unattended: systemd-cryptsetup opens root through the token; prune, then fence"
vm_boot unattended "$disk" "$INITRD_SYSTEMD" "$tpm" pcrs,unseal --bios "$SEABIOS_NEW" --kind tpm
console_has 'Finished .*systemd-cryptsetu' "systemd-cryptsetup did not report the unlock"
initrd_lacks 'The TPM refused' "the plugin refused although the state did not change"
[ "$(tpm_count prune)" -gt 0 ] || fail "the prune did not run after the TPM unlocked root"
[ "$(tpm_count fence)" -gt 0 ] || fail "the fence sent nothing to the TPM"
[ "$(step_exit unseal)" = 3 ] ||
	fail "oyster unseal in the root exited $(step_exit unseal), expected 3 (the fence closed the token)"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a TPM-unlocked boot"

say "another firmware, quiet: the reason on the console, then the passphrase; a PIN token"
VM_APPEND=quiet vm_boot refused-quiet "$disk" "$INITRD_SYSTEMD" "$tpm" pcrs,enroll-pin=0+2+4+7 \
	--bios "$SEABIOS_OLD" --answer "$VM_PASS" --kind "passphrase after the TPM refused"
console_has "$REASON" "under quiet, the console does not say that the TPM refused because PCR 0 changed"
[ "$(grep -cE "$REASON" "$LOG")" -eq 1 ] || fail "expected the reason once on the console (console log: $LOG)"
# The line comes before the prompt.
[ "$(grep -nE "$REASON|<prompt>" "$LOG" | head -n 1 | grep -c 'The TPM refused')" -eq 1 ] ||
	fail "the reason came after the passphrase prompt (console log: $LOG)"
[ "$(pcr_in_log 0)" != "$pcr0_a" ] || fail "PCR 0 is the same under both firmware images"
[ "$(tpm_count prune)" -eq 0 ] || fail "the prune asked the TPM although the TPM did not unlock root"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a passphrase-fallback boot"
[ "$(step_exit enroll-pin)" = 0 ] || fail "oyster enroll --pin failed in the guest (console log: $LOG)"

say "same firmware, no quiet: the reason once, then systemd asks for the PIN; a wrong one first"
# (No `oyster unseal` in the root: with a PIN token it would ask at the console.)
vm_boot pin "$disk" "$INITRD_SYSTEMD" "$tpm" pcrs --bios "$SEABIOS_OLD" \
	--answer 1111 --answer "$VM_PIN" --kind "PIN (a wrong one first)"
console_has "$REASON" "without quiet, the console does not say that the first token was refused"
[ "$(grep -cE "$REASON" "$LOG")" -eq 1 ] || fail "the reason was said more than once in one boot (console log: $LOG)"
[ "$(grep -c 'LUKS2 token PIN.*<prompt>' "$LOG")" -eq 2 ] ||
	fail "systemd did not ask for the PIN twice (a wrong one, then the right one) (console log: $LOG)"
[ "$(tpm_count prune)" -gt 0 ] || fail "the prune did not run after the TPM unlocked root with the PIN"
[ "$(tpm_count fence)" -gt 0 ] || fail "the fence sent nothing to the TPM after a PIN boot"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a PIN boot"
say "no TPM at all: the reason on the console, then systemd's passphrase prompt"
VM_APPEND=quiet vm_boot no-tpm "$disk" "$INITRD_SYSTEMD" none "" \
	--bios "$SEABIOS_OLD" --answer "$VM_PASS" --kind "passphrase without a TPM"
console_has 'oyster: [^ ]+: No TPM found' "without a TPM, the console does not say so"
[ "$(grep -c 'oyster: [^ ]*: ' "$LOG")" -eq 1 ] || fail "expected one line from oyster without a TPM (console log: $LOG)"
say "PASS"
