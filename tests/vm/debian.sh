#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a small real Debian 12 (debian-image.sh: mmdebstrap, LUKS2 root in
# /etc/crypttab, ESP and /boot, oyster installed from its .debs with apt)
# booted through the real chain: OVMF with Secure Boot on and Microsoft's
# keys, shim, Debian's signed GRUB, Debian's signed kernel, initramfs-tools'
# cryptroot. The TPM is a swtpm whose state the test keeps between boots.
#  1. First boot: Secure Boot is on (mokutil --sb-state); the passphrase
#     opens root; `oyster enroll --pcrs 7+4 --configure-boot` (an authorized
#     token, fenced: the root volume) adds keyscript=oyster to crypttab and
#     rebuilds the initramfs.
#  2. Unattended boot, zero prompts. In it, the packaged kernel upgrade:
#     `apt install ./linux-image-NEW.deb` (fetched on the host), whose
#     postinst runs update-initramfs, update-grub and zzz-oyster, which
#     pre-approves the new kernel without the secret (the token is fenced).
#  3. The new kernel's boot is unattended, and its PCRs are those the hook
#     predicted. The prune narrows the token to it; grub-reboot picks the
#     old kernel for the next boot.
#  4. The old kernel: its approval was pruned, so the TPM refuses, the
#     console names PCR 4, and the passphrase opens root.
# Each boot's PCRs (oyster pcrs) and event log are kept; the closing figures
# say which PCRs changed between boots and whether the prediction held.
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
pcrs=7+4
zeros=$(printf '0%.0s' $(seq 64))
ev=/sys/kernel/security/tpm0/binary_bios_measurements

# keep_pcrs NAME: the last boot's PCR values (oyster pcrs) into $WORKDIR/pcrs-NAME.
keep_pcrs() {
	local p
	for p in 0 1 2 3 4 5 7 8 9 14 15; do
		echo "$p $(pcr_in_log $p)"
	done >"$WORKDIR/pcrs-$1"
}

# changed A B: the PCRs whose values differ between boots A and B.
changed() {
	join "$WORKDIR/pcrs-$1" "$WORKDIR/pcrs-$2" | awk '$2 != $3 { printf "%s%s", s, $1; s = " " }'
}

say "1. first boot: Secure Boot on, the passphrase, oyster enroll --pcrs $pcrs --configure-boot"
debian_steps_disk enroll <<EOF
step sb mokutil --sb-state
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step enroll oyster enroll $root --pcrs $pcrs --configure-boot --key-file /etc/oyster-vm/passphrase
step crypttab cat /etc/crypttab
step status oyster status $root
EOF
debian_boot enroll "$disk" "$tpm" --ignore-extend 10 --answer "$VM_PASS" --kind "passphrase, no token yet"
console_has 'SecureBoot enabled' "mokutil --sb-state does not say that Secure Boot is enabled"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
console_has "^ *[0-9.]+ $DEB_NAME UUID=$LUKS_UUID none .*keyscript=oyster" \
	"--configure-boot did not add keyscript=oyster to the guest's crypttab"
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-enroll.eventlog" || fail "no event log from the guest"
keep_pcrs enroll
[ "$(awk '$1 == 7 { print $2 }' "$WORKDIR/pcrs-enroll")" != "$zeros" ] || fail "PCR 7 is zero: nothing measured Secure Boot"

new_deb=/run/oyster-vm/$(basename -- "$NEW_KERNEL_DEB")
say "2. unattended; in it: apt install ./$(basename -- "$NEW_KERNEL_DEB") (postinst: initramfs, GRUB, zzz-oyster)"
DEB_FILES=$NEW_KERNEL_DEB debian_steps_disk upgrade <<EOF
step pcrs oyster pcrs
step status oyster status $root
step apt sh -c 'cp $new_deb /var/tmp/ && apt-get install -y --no-install-recommends /var/tmp/$(basename -- "$NEW_KERNEL_DEB") </dev/null 2>&1; rc=\$?; rm -f /var/tmp/*.deb; exit \$rc'
step predict oyster predict --kernel /boot/vmlinuz-$KVER_NEW --initrd /boot/initrd.img-$KVER_NEW --pcrs 4+7+8+9
step status-after oyster status $root
step grub-entries grep -E "^\s*(menuentry|submenu) " /boot/grub/grub.cfg
EOF
VM_BOOT_TIMEOUT=1500 debian_boot upgrade "$disk" "$tpm" --ignore-extend 10 --kind tpm
keep_pcrs unattended
[ "$(changed enroll unattended)" = "9 15" ] || [ "$(changed enroll unattended)" = "8 9 15" ] ||
	say "PCRs that changed from the enrollment's boot to the unattended one: $(changed enroll unattended)"
[ "$(step_exit apt)" = 0 ] || fail "apt-get install of the new kernel failed in the guest (console log: $LOG)"
console_has "oyster: pre-approved kernel $KVER_NEW for $root" "zzz-oyster did not pre-approve the new kernel"
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
predicted=$(sed -n 's/^ *[0-9.]* \(4:sha256=[0-9a-f]*.*\)$/\1/p' "$LOG" | head -n 1)
say "predicted for $KVER_NEW: ${predicted:-?}"

say "3. the new kernel: unattended; grub-reboot the old one"
debian_steps_disk new-kernel <<EOF
step uname uname -r
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step status oyster status $root
step grub-reboot grub_reboot_kernel $KVER_OLD
EOF
debian_boot new-kernel "$disk" "$tpm" --ignore-extend 10 --kind tpm
console_has "OYSTER-VM: kernel $KVER_NEW," "the upgraded guest did not boot kernel $KVER_NEW"
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the TPM unlocked"
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-new-kernel.eventlog" || fail "no event log from the guest"
keep_pcrs new-kernel
say "PCRs that changed with the kernel upgrade: $(changed unattended new-kernel)"
for p in 4 7 8 9; do
	got="$p:sha256=$(awk -v p=$p '$1 == p { print $2 }' "$WORKDIR/pcrs-new-kernel")"
	case ",$predicted," in
	*",$got,"*) say "PCR $p predicted exactly" ;;
	*)
		say "PCR $p NOT as predicted: booted $got"
		# 8 and 9 hold grub.cfg and grubenv, which update-grub rewrites.
		[ "$p" = 8 ] || [ "$p" = 9 ] || fail "the new kernel's PCR $p is not the one zzz-oyster predicted"
		;;
	esac
done
[ "$(step_exit grub-reboot)" = 0 ] || fail "grub-reboot failed in the guest (console log: $LOG)"

say "4. the old kernel: its approval was pruned, the TPM refuses naming PCR 4, the passphrase opens root"
debian_steps_disk old-kernel <<EOF
step uname uname -r
cp $ev "\$d/out/eventlog"
step pcrs oyster pcrs
step status oyster status $root
EOF
debian_boot old-kernel "$disk" "$tpm" --ignore-extend 10 --answer "$VM_PASS" --kind "passphrase after the TPM refused"
console_has "OYSTER-VM: kernel $KVER_OLD," "grub-reboot did not boot kernel $KVER_OLD"
keep_pcrs old-kernel
debian_out eventlog "$BOOT_LOGS/$TEST_NAME-old-kernel.eventlog" || fail "no event log from the guest"
console_has 'oyster: oyroot: The TPM refused: PCR 4 \(' "the console does not name PCR 4"
say "PCRs named as changed: $(refused_pcrs)"
say "PASS"
