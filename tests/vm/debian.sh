#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a small real Debian 12 (debian-image.sh: mmdebstrap, LUKS2 root in
# /etc/crypttab, ESP and /boot, oyster installed from its .debs with apt)
# booted through the real chain: OVMF with Secure Boot on and Microsoft's
# keys, shim, Debian's signed GRUB, Debian's signed kernel, initramfs-tools'
# cryptroot. The TPM is a swtpm whose state the test keeps between boots.
# The token binds 0+4+7+9+14: README's choice for shim + GRUB (4, 7, 9, 14)
# and the firmware (0), so that each change below moves a bound PCR.
#  1. First boot: Secure Boot is on (mokutil --sb-state); the passphrase
#     opens root; `oyster enroll --configure-boot` adds keyscript=oyster to
#     crypttab and rebuilds the initramfs, whose post-update.d hook approves
#     the rebuilt initrd (PCR 9). Then a packaged kernel upgrade: `apt
#     install ./linux-image-NEW.deb` (fetched on the host); its postinst
#     runs update-initramfs, update-grub and zzz-oyster, which pre-approves
#     the new kernel (PCRs 4 and 9: the kernel, grub.cfg, the initrd)
#     without the secret (the token is fenced).
#  2. The new kernel: unattended, its PCRs exactly as predicted. An
#     initramfs-only update (a config change, `update-initramfs -u`: the
#     post-update.d hook) and a GRUB reinstall (`grub-install`; the boot
#     loader predicted the same).
#  3. Unattended after both. `oyster reseal --next-boot` before a firmware
#     change.
#  4. A firmware update: OVMF of the other version of Debian's ovmf package
#     on the mirror, the guest's NVRAM kept. PCR 0 changes; unattended, and
#     the prune binds the token to it.
#  5. That firmware again: unattended. An attacker's entry in GRUB's
#     custom.cfg: the new kernel with a root shell on tty9
#     (systemd.debug_shell), made the default there (grubenv untouched).
#  6. That entry: the TPM refuses naming PCR 9 alone (GRUB read custom.cfg),
#     the passphrase opens root. The entry removed, grub-reboot picks the
#     old kernel.
#  7. The old kernel: its approval was pruned, the TPM refuses naming PCR 4,
#     the passphrase opens root.
# Each boot's PCRs (oyster pcrs) and event log are kept; the closing figures
# say which PCRs changed between boots and whether the predictions held.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"
. "$VM_TESTDIR/debian-image.sh"

[ -n "${DEBS:-}" ] ||
	skip "no Debian packages to install into the guest (meson setup -Dpackage_debs=DIR, after tests/package/build-debs.sh DIR; .ci/run does)"
DEB_PKGS=()
for p in oyster oyster-initramfs-tools; do
	f=$(ls "$DEBS"/"${p}"_*_amd64.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || setup_error "no ${p}_*_amd64.deb in $DEBS"
	DEB_PKGS+=("$f")
done
vm_need
debian_need
debian_prepare

disk=$WORKDIR/debian.qcow2
qemu-img create -q -f qcow2 -b "$DEB_IMG" -F raw "$disk" >/dev/null || setup_error "qemu-img create failed"
tpm=$WORKDIR/tpm
DEB_VARS=$WORKDIR/vars.fd
cp -- "$DEB_IMAGE/vars.fd" "$DEB_VARS"
root=/dev/vda3
pcrs=0+4+7+9+14
ev=/sys/kernel/security/tpm0/binary_bios_measurements

# keep_pcrs NAME: the last boot's PCR values (oyster pcrs) into $WORKDIR/pcrs-NAME.
keep_pcrs() {
	local p
	for p in 0 1 2 3 4 5 7 8 9 14; do
		echo "$p $(pcr_in_log $p)"
	done >"$WORKDIR/pcrs-$1"
}

# changed A B: the PCRs whose values differ between boots A and B.
changed() {
	join "$WORKDIR/pcrs-$1" "$WORKDIR/pcrs-$2" | awk '$2 != $3 { printf "%s%s", s, $1; s = " " }'
}

# predicted STEP NAME: whether the bound PCRs of boot NAME are those that
# `oyster predict --pcrs $pcrs` printed in STEP of the boot before.
predicted() {
	local want p got ok=0
	want=$(step_output "$1" | grep -E '^[0-9]+:sha256=' | tail -n 1)
	[ -n "$want" ] || fail "step $1 printed no prediction (console log: $LOG)"
	for p in ${pcrs//+/ }; do
		got="$p:sha256=$(awk -v p="$p" '$1 == p { print $2 }' "$WORKDIR/pcrs-$2")"
		case ",$want," in
		*",$got,"*) ;;
		*)
			say "PCR $p NOT as predicted: booted $got"
			ok=1
			;;
		esac
	done
	return $ok
}

# timed STEP...: each step's time in the guest, for the figures.
timed() {
	local s
	for s in "$@"; do
		say "step $s took $(step_seconds "$s") s"
	done
}

# unattended: the last boot's initramfs said nothing (boot.py failed it on
# any prompt already).
unattended() {
	initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
}

new_deb=/run/oyster-vm/$(basename -- "$NEW_KERNEL_DEB")
say "1. first boot: Secure Boot on, the passphrase, oyster enroll --pcrs $pcrs --configure-boot; apt install ./$(basename -- "$NEW_KERNEL_DEB")"
DEB_FILES=$NEW_KERNEL_DEB debian_steps_disk enroll <<EOF
step sb mokutil --sb-state
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step enroll oyster enroll $root --pcrs $pcrs --configure-boot --key-file /etc/oyster-vm/passphrase
step crypttab cat /etc/crypttab
step apt sh -c 'cp $new_deb /var/tmp/ && apt-get install -y --no-install-recommends /var/tmp/$(basename -- "$NEW_KERNEL_DEB") </dev/null 2>&1; rc=\$?; rm -f /var/tmp/*.deb; exit \$rc'
step predict oyster predict --kernel /boot/vmlinuz-$KVER_NEW --initrd /boot/initrd.img-$KVER_NEW --pcrs $pcrs
step status oyster status $root
EOF
VM_BOOT_TIMEOUT=1500 debian_boot enroll "$disk" "$tpm" --ignore-extend 10 --answer "$VM_PASS" --kind "passphrase, no token yet"
console_has 'SecureBoot enabled' "mokutil --sb-state does not say that Secure Boot is enabled"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
console_has "^ *[0-9.]+ $DEB_NAME UUID=$LUKS_UUID none .*keyscript=oyster" \
	"--configure-boot did not add keyscript=oyster to the guest's crypttab"
console_has "oyster: pre-approved the rebuilt initramfs of kernel $KVER_OLD for $root" \
	"the post-update.d hook did not approve the initramfs that --configure-boot rebuilt"
[ "$(step_exit apt)" = 0 ] || fail "apt-get install of the new kernel failed in the guest (console log: $LOG)"
console_has "oyster: pre-approved kernel $KVER_NEW for $root" "zzz-oyster did not pre-approve the new kernel"
console_lacks "oyster: .*rebuilt initramfs of kernel $KVER_NEW" \
	"the post-update.d hook acted inside the kernel package's postinst (zzz-oyster follows there)"
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-enroll.eventlog" || fail "no event log from the guest"
keep_pcrs enroll
[ "$(awk '$1 == 7 { print $2 }' "$WORKDIR/pcrs-enroll")" != "$(printf '0%.0s' $(seq 64))" ] ||
	fail "PCR 7 is zero: nothing measured Secure Boot"
upgrade_log=$LOG
timed enroll apt

say "2. the new kernel: unattended, as predicted; update-initramfs -u after a config change; grub-install"
debian_steps_disk new-kernel <<EOF
step uname uname -r
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step status oyster status $root
step conf sh -c 'echo RESUME=none >/etc/initramfs-tools/conf.d/resume'
step initramfs update-initramfs -u -k $KVER_NEW
step predict oyster predict --initrd /boot/initrd.img-$KVER_NEW --pcrs $pcrs
cp /boot/efi/EFI/BOOT/grubx64.efi /var/tmp/grubx64.efi.old
step grub-install grub-install --target=x86_64-efi --uefi-secure-boot --force-extra-removable --no-nvram
step predict-loader oyster predict --boot-loader /boot/efi/EFI/BOOT/grubx64.efi --current-boot-loader /var/tmp/grubx64.efi.old --pcrs 4+7
step status-after oyster status $root
EOF
debian_boot new-kernel "$disk" "$tpm" --ignore-extend 10 --kind tpm
unattended
console_has "OYSTER-VM: kernel $KVER_NEW," "the upgraded guest did not boot kernel $KVER_NEW"
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-new-kernel.eventlog" || fail "no event log from the guest"
keep_pcrs new-kernel
say "PCRs that changed with the kernel upgrade: $(changed enroll new-kernel)"
new_kernel_log=$LOG
LOG=$upgrade_log predicted predict new-kernel || fail "the new kernel's PCRs are not those zzz-oyster predicted"
say "the new kernel's PCRs $pcrs are those predicted before its boot"
[ "$(step_exit initramfs)" = 0 ] || fail "update-initramfs -u failed in the guest (console log: $LOG)"
console_has "oyster: pre-approved the rebuilt initramfs of kernel $KVER_NEW for $root" \
	"the post-update.d hook did not pre-approve the rebuilt initramfs"
[ "$(step_exit grub-install)" = 0 ] || fail "grub-install failed in the guest (console log: $LOG)"
[ "$(step_exit predict-loader)" = 0 ] || fail "oyster predict --boot-loader failed (console log: $LOG)"
timed initramfs grub-install

say "3. after the initramfs update and the GRUB reinstall: unattended; oyster reseal --next-boot"
debian_steps_disk updated <<EOF
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step next-boot oyster reseal $root --next-boot --unattended
step status oyster status $root
EOF
debian_boot updated "$disk" "$tpm" --ignore-extend 10 --kind tpm
unattended
keep_pcrs updated
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-updated.eventlog" || fail "no event log from the guest"
say "PCRs that changed with the initramfs update and the GRUB reinstall: $(changed new-kernel updated)"
LOG=$new_kernel_log predicted predict updated || fail "PCR 9 after update-initramfs -u is not what was predicted"
[ "$(step_exit next-boot)" = 0 ] || fail "oyster reseal --next-boot failed (console log: $LOG)"

say "4. a firmware update (OVMF of ovmf $DEB_OVMF_OTHER_VERSION): unattended through --next-boot; the prune binds it"
debian_steps_disk firmware <<EOF
step pcrs oyster pcrs
step status oyster status $root
EOF
DEB_CODE=$DEB_OVMF_CODE_OTHER debian_boot firmware "$disk" "$tpm" --ignore-extend 10 --next-boot \
	--kind "tpm, next-boot approval"
unattended
keep_pcrs firmware
fw_changed=$(changed updated firmware)
say "PCRs that changed with the firmware: $fw_changed"
case " $fw_changed " in
*" 0 "*) ;;
*) fail "the other firmware did not change PCR 0 ($fw_changed): the scenario proves nothing" ;;
esac

say "5. that firmware again: unattended; an attacker's GRUB entry in custom.cfg"
debian_steps_disk firmware-again <<EOF
step status oyster status $root
step attack grub_attack_entry $KVER_NEW systemd.debug_shell
EOF
DEB_CODE=$DEB_OVMF_CODE_OTHER debian_boot firmware-again "$disk" "$tpm" --ignore-extend 10 --kind tpm
unattended
[ "$(step_exit attack)" = 0 ] || fail "the attacker's GRUB entry could not be written (console log: $LOG)"

say "6. the attacker's entry (a root shell on tty9): the TPM refuses naming PCR 9 alone, the passphrase opens root; grub-reboot picks the old kernel"
debian_steps_disk attack <<EOF
step status oyster status $root
rm /boot/grub/custom.cfg
step grub-reboot grub_reboot_kernel $KVER_OLD
EOF
DEB_CODE=$DEB_OVMF_CODE_OTHER debian_boot attack "$disk" "$tpm" --ignore-extend 10 --answer "$VM_PASS" \
	--kind "passphrase after the TPM refused"
console_has "OYSTER-VM: kernel $KVER_NEW, cmdline: .*systemd.debug_shell" "the attacker's entry did not boot"
console_has 'oyster: oyroot: The TPM refused: .*PCR 9 \(' "the console does not name PCR 9"
[ "$(refused_pcrs)" = 9 ] || fail "the attacker's boot was refused naming $(refused_pcrs), expected PCR 9 alone"
[ "$(step_exit grub-reboot)" = 0 ] || fail "grub-reboot failed in the guest (console log: $LOG)"

say "7. the old kernel: its approval was pruned, the TPM refuses naming PCR 4, the passphrase opens root"
debian_steps_disk old-kernel <<EOF
step uname uname -r
step status oyster status $root
EOF
DEB_CODE=$DEB_OVMF_CODE_OTHER debian_boot old-kernel "$disk" "$tpm" --ignore-extend 10 --answer "$VM_PASS" \
	--kind "passphrase after the TPM refused"
console_has "OYSTER-VM: kernel $KVER_OLD," "grub-reboot did not boot kernel $KVER_OLD"
console_has 'oyster: oyroot: The TPM refused: .*PCR 4 \(' "the console does not name PCR 4"
say "the old kernel: PCRs named as changed: $(refused_pcrs)"
say "PASS"
