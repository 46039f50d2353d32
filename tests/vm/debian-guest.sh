#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# /usr/local/sbin/oyster-vm in the vm suite's Debian 12 guest (debian.sh),
# run by oyster-vm.service once the system is up. Prints the marker the
# harness (boot.py) waits for, with the guest's uptime, mounts the second
# disk (/dev/vdb: an ext4 file system the test wrote) on /run/oyster-vm and
# sources its steps.sh, where `step NAME COMMAND...` runs a command framed by
# "OYSTER-VM: step NAME" lines with its exit status (what debian.sh reads
# back), writes what it wants the test to read back into /run/oyster-vm/out,
# then powers off.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
read -r up _ </proc/uptime
echo "OYSTER-VM: root mounted, uptime $up"
echo "OYSTER-VM: kernel $(uname -r), cmdline: $(cat /proc/cmdline)"

step() {
	name=$1
	shift
	echo "OYSTER-VM: step $name: $*"
	"$@"
	echo "OYSTER-VM: step $name exit $?"
}

# grub_reboot_kernel KVER: the next boot (only) starts kernel KVER from the
# "Advanced options" submenu that update-grub writes.
grub_reboot_kernel() {
	sub=$(sed -n "s/^submenu .*\$menuentry_id_option '\([^']*\)'.*/\1/p" /boot/grub/grub.cfg)
	ent=$(grep -E "^[[:space:]]*menuentry .*$1'" /boot/grub/grub.cfg | grep -v recovery |
		sed -n "s/.*\$menuentry_id_option '\([^']*\)'.*/\1/p" | head -n 1)
	[ -n "$sub" ] && [ -n "$ent" ] || {
		echo "no GRUB menu entry for kernel $1"
		return 1
	}
	grub-reboot "$sub>$ent" && grub-editenv list
}

# grub_attack_entry KVER ARG: what anyone who can write /boot can do: an
# entry in custom.cfg (Debian's 41_custom makes grub.cfg read it last) that
# boots kernel KVER with ARG added to this boot's command line, and makes
# itself the default there, so that grubenv stays as it is.
grub_attack_entry() {
	uuid=$(grub-probe --target=fs_uuid /boot) || return 1
	args=$(sed 's/^BOOT_IMAGE=[^ ]* //' /proc/cmdline)
	cat >/boot/grub/custom.cfg <<EOF
menuentry 'Debian GNU/Linux, with a root shell' --id attack {
	insmod part_gpt
	insmod ext2
	search --no-floppy --fs-uuid --set=root $uuid
	linux /vmlinuz-$1 $args $2
	initrd /initrd.img-$1
}
set default=attack
EOF
	cat /boot/grub/custom.cfg
}

d=/run/oyster-vm
mkdir -p "$d"
i=0
while [ ! -b /dev/vdb ] && [ "$i" -lt 30 ]; do
	sleep 1
	i=$((i + 1))
done
if mount -t ext4 /dev/vdb "$d"; then
	mkdir -p "$d/out"
	# shellcheck source=/dev/null
	. "$d/steps.sh"
	sync
	umount "$d"
else
	echo "OYSTER-VM: no steps disk"
fi
sync
echo "OYSTER-VM: done"
systemctl poweroff --force
