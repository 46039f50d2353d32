#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a machine with a TPM and a LUKS2 root, booted through an
# initramfs-tools image (mkinitramfs, crypttab keyscript=oyster), under
# SeaBIOS, which measures itself and the boot into PCRs 0-7.
#  1. First boot: the passphrase opens root; the root system enrolls the
#     volume bound to PCRs 0+2+4+7 and the boot fence (--fence, what
#     --configure-boot gives the root volume). The next boot is unattended,
#     and in it `oyster unseal` fails: the initramfs fenced PCR 15.
#  2. Another firmware (Debian's 128 KiB SeaBIOS build, bios.bin, instead of
#     qemu's default bios-256k.bin): PCR 0 differs, the console says the TPM
#     refused and names exactly the PCRs whose values differ (PCR 0 among
#     them), the passphrase prompt appears and opens root; PCR 15 is fenced
#     on this path too. (Observed: bios.bin is built without TPM support and
#     measures nothing, so PCRs 0, 2, 4 and 7 all read zero under it, while
#     bios-256k.bin puts only the separator event into PCR 0.)
#  3. In that system, `oyster reseal` (passphrase: the TPM no longer unseals)
#     binds the token to the new firmware: the next boot with it is
#     unattended; a boot with the old firmware now falls back, where
#  7. a wrong passphrase is refused and the right one then opens root.
#  8. (after 1) An attacker's disk: LUKS2 under the victim's UUID, no token,
#     its own passphrase, a root holding a copy of the victim's header. The
#     keyscript asks for the passphrase, the fence measures the impostor
#     (PCR 15 is its measurement, not the victim's), and in the attacker's
#     root `oyster unseal` of the victim's header refuses, naming PCR 15.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

need mkinitramfs dracut
vm_need
vm_prepare

disk=$(new_disk firmware)
tpm=$WORKDIR/tpm
zeros=$(printf '0%.0s' $(seq 64))
fw_a=$SEABIOS_NEW
fw_b=$SEABIOS_OLD

say "1. first boot: the passphrase, then oyster enroll --pcrs 0+2+4+7 --fence in the root system"
vm_boot enroll "$disk" "$INITRD_TOOLS" "$tpm" pcrs,enroll=0+2+4+7,status \
	--bios "$fw_a" --answer "$VM_PASS" --kind "passphrase, no token yet"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
console_has 'Enrolled token [0-9]+ \(keyslot [0-9]+\)' "enroll did not report the token"
nonzero=0
for p in 0 2 4 7; do
	v=$(pcr_in_log $p)
	[ -n "$v" ] || fail "no value for PCR $p in the guest's oyster pcrs (console log: $LOG)"
	say "firmware A: PCR $p = $v"
	echo "firmware A: PCR $p = $v" >>"$WORKDIR/pcrs-a"
	[ "$v" = "$zeros" ] || nonzero=$((nonzero + 1))
done
[ "$nonzero" -gt 0 ] || fail "SeaBIOS measured nothing: PCRs 0, 2, 4 and 7 are all zero"
pcr0_a=$(pcr_in_log 0)
# Every boot is fenced, token or not: PCR 15 is the measurement of the (not
# yet enrolled) root volume, whose header is base.img's.
[ "$(pcr_in_log 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$zeros" "$BASE_IMG")" ] ||
	fail "PCR 15 in a boot without a token is $(pcr_in_log 15), not the fence's measurement of the volume"

say "1. unattended boot; in it the token is fenced"
vm_boot unattended "$disk" "$INITRD_TOOLS" "$tpm" pcrs,unseal --bios "$fw_a" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
[ "$(step_exit unseal)" = 3 ] ||
	fail "oyster unseal in the booted system exited $(step_exit unseal), expected 3 (the fence closed the token)"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a TPM-unlocked boot"

say "8. an impostor disk under the victim's UUID, no token, its own passphrase typed at the prompt:"
say "   the fence measures it (not the victim), and its root cannot unseal the victim's token"
impostor_disk "$disk" impostor
vm_boot impostor "$IMPOSTOR" "$INITRD_TOOLS" "$tpm" pcrs,unseal-victim --disk-format raw \
	--bios "$fw_a" --answer "$IMPOSTOR_PASS" --kind "passphrase, impostor"
[ "$(pcr_in_log 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$zeros" "$IMPOSTOR")" ] ||
	fail "PCR 15 in the impostor's root is $(pcr_in_log 15), not the fence's measurement of the impostor"
[ "$(step_exit unseal-victim)" = 3 ] ||
	fail "the impostor's root unsealed the victim's token: exit $(step_exit unseal-victim), expected 3"
console_has 'PCR 15' "the refusal in the impostor's root does not name PCR 15"

say "2. another firmware: the TPM refuses naming PCR 0, the passphrase opens root; 3. reseal"
vm_boot firmware-b "$disk" "$INITRD_TOOLS" "$tpm" pcrs,reseal \
	--bios "$fw_b" --answer "$VM_PASS" --kind "passphrase after the TPM refused"
console_has 'oyster: oyroot: The TPM refused: PCR 0 \([^)]*\).* changed since enrollment.* Asking for the passphrase\.$' \
	"the console does not say that the TPM refused because PCR 0 changed"
changed=
for p in 0 2 4 7; do
	v=$(pcr_in_log $p)
	say "firmware B: PCR $p = $v"
	[ "$v" = "$(grep "^firmware A: PCR $p = " "$WORKDIR/pcrs-a" | cut -d' ' -f6)" ] || changed="$changed $p"
done
changed=${changed# }
[ -n "$(pcr_in_log 0)" ] && [ "$(pcr_in_log 0)" != "$pcr0_a" ] || fail "PCR 0 is the same under both firmware images"
[ "$(refused_pcrs)" = "$changed" ] ||
	fail "the console names PCRs [$(refused_pcrs)] as changed; the values that changed are those of [$changed]"
[ "$(pcr_in_log 15)" != "$zeros" ] || fail "PCR 15 is not extended after a passphrase-fallback boot"
[ "$(step_exit reseal)" = 0 ] || fail "oyster reseal failed in the guest (console log: $LOG)"

say "3. firmware B again: unattended"
vm_boot firmware-b-resealed "$disk" "$INITRD_TOOLS" "$tpm" unseal --bios "$fw_b" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
[ "$(step_exit unseal)" = 3 ] || fail "oyster unseal after a TPM-unlocked boot exited $(step_exit unseal), expected 3"

say "3. back to firmware A: falls back; 7. a wrong passphrase first, then the right one"
vm_boot firmware-a-again "$disk" "$INITRD_TOOLS" "$tpm" "" \
	--bios "$fw_a" --answer "not the passphrase" --answer "$VM_PASS" --kind "passphrase, second try"
console_has 'oyster: oyroot: The TPM refused: PCR 0 \(' "no refusal naming PCR 0 under firmware A"
[ "$(refused_pcrs)" = "$changed" ] || fail "back under firmware A the console names PCRs [$(refused_pcrs)], expected [$changed]"
console_has 'cryptsetup: ERROR: oyroot: cryptsetup failed, bad password or options' \
	"cryptroot did not reject the wrong passphrase"
[ "$(grep -cE 'Please unlock disk oyroot: ' "$LOG")" -eq 2 ] || fail "expected exactly two passphrase prompts"
say "PASS"
