#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# /sbin/init of the vm suite's root file system (busybox, oyster). Prints the
# marker the harness waits for, with the guest's uptime (kernel start to
# here), runs the steps named on the kernel command line
# (oyster_vm.steps=STEP,STEP...), each framed by "OYSTER-VM: step NAME" lines
# with its exit status, and powers off.
#   pcrs           oyster pcrs
#   enroll=PCRS    oyster enroll /dev/vda --pcrs PCRS --fence (the root volume,
#                  as --configure-boot would enroll it), passphrase from a file
#   enroll-pin=PCRS the same with --pin, the PIN from /etc/oyster-vm/pin
#   reseal         oyster reseal /dev/vda, passphrase from the same file
#   approve        oyster reseal /dev/vda with no passphrase anywhere (no file,
#                  no $PASSWORD, stdin from /dev/null): an authorized token's
#                  approval of this boot
#   recovery-key   oyster enroll /dev/vda --recovery-key, the key printed on
#                  the console (--recovery-key-file -) for the harness to type
#   prune-service  the post-boot service's script (oyster-prune.service) as
#                  installed, with the defaults (OYSTER_AUTO_REPAIR off)
#   auto-repair    the same with OYSTER_AUTO_REPAIR=yes
#   unseal         oyster unseal /dev/vda (the secret goes to /dev/null)
#   unseal-victim  oyster unseal /etc/oyster-vm/victim.hdr: an impostor's root
#                  trying the victim's token, from a copy of its header
#   status, status-NAME  oyster status /dev/vda (NAME tells two apart)
#   kernel-hook    oyster's kernel hook as Debian's kernel packages run it
#                  (/etc/kernel/postinst.d/zzz-oyster KVER IMAGE) for the
#                  kernel that /boot/oyster-vm-next names, /boot being the
#                  second disk (/dev/vdb): no terminal (setsid), no
#                  passphrase anywhere, the root volume in OYSTER_DEVICES
#   eventlog       the firmware's event log, base64, between two markers
#                  (for a person reading the console log)
#   efi-predict=NAME  oyster reseal /dev/vda --unattended --predict
#                  --efi-update VAR=/updates/NAME.auth, VAR being NAME up to its
#                  first '-' (db, dbx); /updates is the second disk (/dev/vdb)
#   efi-apply=NAME the update applied as a tool applies it: /updates/NAME.var
#                  (its attributes, then the .auth) written to VAR in efivarfs
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
# initramfs-tools and dracut move /proc, /sys, /dev and /run over (/run holds
# the initramfs's records, /run/oyster); mount what is not.
[ -e /proc/self ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/null ] || mount -t devtmpfs devtmpfs /dev
grep -q "^[^ ]* /run " /proc/mounts || mount -t tmpfs tmpfs /run
# The firmware's event log, which oyster predict replays.
[ -e /sys/kernel/security/tpm0 ] || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
# As a system's root: writable, so that enroll keeps its NV credential in
# /var/lib/oyster (an authorized token, the default) and reseal finds it.
mount -o remount,rw /
read -r up _ </proc/uptime
echo "OYSTER-VM: root mounted, uptime $up"

pass=/etc/oyster-vm/passphrase
steps=
# shellcheck disable=SC2013 # words of the command line, on purpose
for arg in $(cat /proc/cmdline); do
	case $arg in
	oyster_vm.steps=*) steps=${arg#oyster_vm.steps=} ;;
	esac
done

# efi_ready: the updates disk on /updates and efivarfs mounted, for efi-*.
efi_ready() {
	if ! grep -q " /updates " /proc/mounts; then
		mkdir -p /updates
		mount -o ro /dev/vdb /updates || echo "OYSTER-VM: no updates disk"
	fi
	if ! grep -q " /sys/firmware/efi/efivars " /proc/mounts; then
		insmod /usr/lib/modules/efivarfs.ko 2>/dev/null
		mount -t efivarfs efivarfs /sys/firmware/efi/efivars || echo "OYSTER-VM: no efivarfs"
	fi
}

step() {
	name=$1
	shift
	echo "OYSTER-VM: step $name: $*"
	"$@"
	echo "OYSTER-VM: step $name exit $?"
}

IFS=,
# shellcheck disable=SC2086 # split at the commas, on purpose
set -- $steps
unset IFS
for s in "$@"; do
	case $s in
	pcrs) step pcrs oyster pcrs ;;
	enroll=*) step enroll oyster enroll /dev/vda --pcrs "${s#enroll=}" --fence --key-file "$pass" ;;
	enroll-pin=*)
		NEWPIN=$(cat /etc/oyster-vm/pin) step enroll-pin oyster enroll /dev/vda --pcrs "${s#enroll-pin=}" \
			--fence --pin --key-file "$pass"
		;;
	reseal) step reseal oyster reseal /dev/vda --key-file "$pass" ;;
	approve) step approve env -u PASSWORD oyster reseal /dev/vda </dev/null ;;
	recovery-key)
		step recovery-key oyster enroll /dev/vda --recovery-key --recovery-key-file - --key-file "$pass"
		;;
	prune-service) step prune-service env -u OYSTER_AUTO_REPAIR /usr/local/libexec/oyster-prune </dev/null ;;
	auto-repair) step auto-repair env OYSTER_AUTO_REPAIR=yes /usr/local/libexec/oyster-prune </dev/null ;;
	unseal) step unseal sh -c 'oyster unseal /dev/vda >/dev/null' ;;
	unseal-victim) step unseal-victim sh -c 'oyster unseal /etc/oyster-vm/victim.hdr >/dev/null' ;;
	status | status-*) step "$s" oyster status /dev/vda ;;
	kernel-hook)
		mkdir -p /boot
		mount -o ro /dev/vdb /boot || echo "OYSTER-VM: no /boot disk"
		step kernel-hook env -u PASSWORD OYSTER_DEVICES=/dev/vda \
			setsid /etc/kernel/postinst.d/zzz-oyster "$(cat /boot/oyster-vm-next)" \
			"/boot/vmlinuz-$(cat /boot/oyster-vm-next)" </dev/null
		;;
	efi-predict=*)
		name=${s#efi-predict=}
		efi_ready
		step "efi-predict-$name" env -u PASSWORD oyster reseal /dev/vda --unattended --predict \
			--efi-update "${name%%-*}=/updates/$name.auth" </dev/null
		;;
	efi-apply=*)
		name=${s#efi-apply=}
		# db and dbx: EFI_IMAGE_SECURITY_DATABASE_GUID. One write, as efivarfs wants.
		var=/sys/firmware/efi/efivars/${name%%-*}-d719b2cb-3d3a-4596-a3bc-dad00e67656f
		efi_ready
		step "efi-apply-$name" sh -c "chattr -i $var && dd if=/updates/$name.var of=$var bs=65536 conv=notrunc"
		;;
	eventlog)
		echo "OYSTER-VM: event log begin"
		base64 /sys/kernel/security/tpm0/binary_bios_measurements
		echo "OYSTER-VM: event log end"
		;;
	'') ;;
	*) echo "OYSTER-VM: unknown step $s" ;;
	esac
done
sync
echo "OYSTER-VM: done"
poweroff -f
