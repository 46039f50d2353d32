# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The vm suite's real Debian 12 guest (debian.sh), sourced after
# tests/tpm/lib.sh, tests/initramfs/lib.sh and tests/vm/lib.sh.
#
# debian_prepare builds, once per set of inputs and under a lock, in
# $VM_CACHE/debian:
#   root-KEY1/    mmdebstrap --variant=minbase of bookworm from Debian's
#                 mirror with systemd, linux-image-KVER_OLD (one ABI older
#                 than the newest on the mirror), shim-signed,
#                 grub-efi-amd64-signed, cryptsetup-initramfs and oyster's
#                 run-time libraries. KEY1: the recipe, the package list,
#                 the mirror and mmdebstrap's version.
#   image-KEY2/   disk.img: GPT, an ESP (shim and GRUB as the removable boot
#                 path), /boot (ext4) and a LUKS2 root (ext4, opened through
#                 /etc/crypttab by initramfs-tools' cryptroot), with
#                 oyster's packages ($DEBS) installed with apt; vars.fd:
#                 OVMF_VARS_4M.ms.fd (Microsoft's keys, Secure Boot on) after
#                 the setup boot. The setup boot, the guest's first, runs
#                 grub-install (--uefi-secure-boot) and update-grub as
#                 Debian's installer does. KEY2: KEY1, the .debs, the guest
#                 script and this file.
#   linux-image-KVER_NEW_*.deb   the newest kernel package (apt-get download)
#   ovmf-VERSION/  the other ovmf package's files (debian_other_firmware)
# Sets DEB_IMG, DEB_VARS, KVER_OLD, KVER_NEW, NEW_KERNEL_DEB, LUKS_UUID,
# DEB_OVMF_CODE_OTHER.

DEB_SUITE=bookworm
DEB_MIRROR=${OYSTER_PKGTEST_MIRROR:-http://deb.debian.org/debian}
DEB_SECURITY=${OYSTER_PKGTEST_SECURITY:-http://deb.debian.org/debian-security}
DEB_RECIPE=1
DEB_OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.ms.fd
DEB_OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.ms.fd
DEB_NAME=oyroot
DEB_PROMPT="Please unlock disk $DEB_NAME: \$"
# What the guest needs beyond minbase: an init, the boot chain, the
# initramfs's cryptsetup, and oyster's run-time libraries (so that apt
# installs the .debs without a download).
DEB_INCLUDE=systemd-sysv,udev,kmod,grub-efi-amd64-signed,grub-efi-amd64,shim-signed,mokutil,cryptsetup-initramfs,cryptsetup,busybox,zstd,e2fsprogs,libtss2-esys-3.0.2-0,libtss2-tctildr0,libtss2-mu0,libtss2-rc0,libtss2-tcti-device0,libjson-c5,libssl3,libcryptsetup12,libblkid1,libqrencode4
# The modules initramfs-tools puts into the guest's initramfs (MODULES=list:
# `most` makes an initrd of 30 MiB that GRUB reads and the firmware hashes
# under TCG at every boot).
DEB_MODULES="virtio_pci virtio_blk dm_mod dm_crypt xts ecb ext4 crc32c_generic efivarfs"
# Partitions (MiB): the ESP, /boot, the LUKS2 root (its file system is 32
# MiB smaller: the header).
DEB_ESP_MB=64 DEB_BOOT_MB=256 DEB_ROOT_MB=2560

debian_need() {
	local t
	for t in mmdebstrap sfdisk mkfs.vfat mcopy mmd debugfs apt-get; do
		command -v "$t" >/dev/null 2>&1 ||
			unavailable "'$t' is not installed (apt-get install mmdebstrap fdisk dosfstools mtools e2fsprogs)"
	done
	[ -e "$DEB_OVMF_CODE" ] && [ -e "$DEB_OVMF_VARS" ] ||
		unavailable "$DEB_OVMF_CODE is missing (apt-get install ovmf)"
}

# The newest kernel ABI of bookworm's linux-image-6.1.0-N-amd64 packages that
# apt knows, and the one before it.
debian_kernels() {
	local abis
	abis=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
		sed -n 's/^linux-image-6\.1\.0-\([0-9]*\)-amd64 .*/\1/p' | sort -n | tail -n 2)
	[ "$(echo "$abis" | wc -l)" -eq 2 ] ||
		setup_error "apt knows fewer than two linux-image-6.1.0-N-amd64 packages (apt-get update?)"
	KVER_OLD=6.1.0-$(echo "$abis" | head -n 1)-amd64
	KVER_NEW=6.1.0-$(echo "$abis" | tail -n 1)-amd64
}

debian_prepare() {
	local key1 key2 cache=$VM_CACHE/debian
	debian_kernels
	mkdir -p -- "$cache"
	exec 7>"$cache/.lock"
	flock 7
	key1=$(printf '%s\n' "$DEB_RECIPE" "$DEB_SUITE" "$DEB_MIRROR" "$DEB_SECURITY" "$DEB_INCLUDE" "$KVER_OLD" \
		"$(dpkg-query -W -f '${Version}' mmdebstrap)" | sha256sum | cut -c1-16)
	DEB_ROOT=$cache/root-$key1
	if [ ! -e "$DEB_ROOT/.oyster-ready" ]; then
		find "$cache" -maxdepth 1 -name 'root-*' -exec rm -rf -- {} +
		debian_root
	else
		say "reusing the Debian root $DEB_ROOT"
	fi
	NEW_KERNEL_DEB=$(ls "$cache"/linux-image-"$KVER_NEW"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$NEW_KERNEL_DEB" ]; then
		rm -f -- "$cache"/linux-image-*.deb
		(cd -- "$cache" && apt-get download -q "linux-image-$KVER_NEW" >"$cache/download.log" 2>&1) ||
			{ cat "$cache/download.log" >&2; setup_error "apt-get download linux-image-$KVER_NEW failed"; }
		NEW_KERNEL_DEB=$(ls "$cache"/linux-image-"$KVER_NEW"_*.deb | head -n 1)
	fi
	debian_other_firmware
	key2=$(cat "$DEB_ROOT/.oyster-key" "$VM_TESTDIR/debian-guest.sh" "$VM_TESTDIR/debian-image.sh" \
		"$DEB_OVMF_CODE" "$DEB_OVMF_VARS" "${DEB_PKGS[@]}" | sha256sum | cut -c1-16)
	DEB_IMAGE=$cache/image-$key2
	if [ ! -e "$DEB_IMAGE/ready" ]; then
		find "$cache" -maxdepth 1 -name 'image-*' -mmin +120 -exec rm -rf -- {} + || true
		rm -rf -- "$DEB_IMAGE"
		mkdir -p -- "$DEB_IMAGE"
		debian_image
		: >"$DEB_IMAGE/ready"
	else
		say "reusing the Debian guest image $DEB_IMAGE (built in $(cat "$DEB_IMAGE/build-seconds") s)"
	fi
	flock -u 7
	exec 7>&-
	DEB_IMG=$DEB_IMAGE/disk.img
	read -r LUKS_UUID <"$DEB_IMAGE/uuid"
}

# The firmware update of debian.sh: OVMF's 4 MiB Secure Boot build from the
# other version of the ovmf package that Debian's mirror has (bookworm and
# bookworm-security each carry one), fetched once with apt-get download.
# Sets DEB_OVMF_CODE_OTHER and DEB_OVMF_OTHER_VERSION.
debian_other_firmware() {
	local cache=$VM_CACHE/debian ver installed
	installed=$(dpkg-query -W -f '${Version}' ovmf)
	ver=$(apt-cache madison ovmf 2>/dev/null | awk '{ print $3 }' | grep -vxF "$installed" | head -n 1)
	[ -n "$ver" ] ||
		setup_error "apt knows no version of ovmf but the installed $installed: no other firmware to update to (apt-get update?)"
	DEB_OVMF_OTHER_VERSION=$ver
	DEB_OVMF_CODE_OTHER=$cache/ovmf-$ver/usr/share/OVMF/OVMF_CODE_4M.secboot.fd
	[ ! -e "$DEB_OVMF_CODE_OTHER" ] || return 0
	rm -rf -- "$cache"/ovmf-* "$cache"/ovmf_*.deb
	(cd -- "$cache" && apt-get download -q "ovmf=$ver" >"$cache/download.log" 2>&1) ||
		{ cat "$cache/download.log" >&2; setup_error "apt-get download ovmf=$ver failed"; }
	dpkg-deb -x "$cache"/ovmf_*.deb "$cache/ovmf-$ver" && [ -e "$DEB_OVMF_CODE_OTHER" ] ||
		setup_error "the ovmf $ver package has no OVMF_CODE_4M.secboot.fd"
}

debian_root() {
	local t0 tmp=$DEB_ROOT.tmp
	t0=$(date +%s)
	rm -rf -- "$tmp"
	say "making the Debian guest's root once with mmdebstrap (kernel $KVER_OLD), cached in $DEB_ROOT"
	mmdebstrap --variant=minbase --include="$DEB_INCLUDE,linux-image-$KVER_OLD" "$DEB_SUITE" "$tmp" \
		"deb $DEB_MIRROR $DEB_SUITE main" "deb $DEB_MIRROR $DEB_SUITE-updates main" \
		"deb $DEB_SECURITY $DEB_SUITE-security main" >"$VM_CACHE/debian/mmdebstrap.log" 2>&1 ||
		{ tail -n 30 "$VM_CACHE/debian/mmdebstrap.log" >&2; setup_error "mmdebstrap failed (log: $VM_CACHE/debian/mmdebstrap.log)"; }
	echo "$key1" >"$tmp/.oyster-key"
	echo $(($(date +%s) - t0)) >"$tmp/.oyster-seconds"
	: >"$tmp/.oyster-ready"
	mv -- "$tmp" "$DEB_ROOT"
	say "Debian root made in $(cat "$DEB_ROOT/.oyster-seconds") s"
}

# in_chroot ROOT COMMAND...: COMMAND in ROOT with /proc, /sys and /dev, in a
# mount namespace of its own.
in_chroot() {
	local root=$1
	shift
	unshare -m --propagation private -- /bin/sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" &&
			mount --rbind /dev "$root/dev" && mount -t tmpfs tmpfs "$root/run" &&
			mount -t tmpfs tmpfs "$root/tmp" || exit 99
		exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
			LANG=C.UTF-8 "$@"' in_chroot "$root" "$@"
}

debian_image() {
	local t0 w=$WORKDIR/debian-image root esp_id boot_uuid fs_uuid luks_uuid kf
	t0=$(date +%s)
	say "building the Debian guest's disk (oyster from ${DEB_PKGS[*]##*/})"
	rm -rf -- "$w"
	mkdir -p -- "$w"
	root=$w/root
	cp -a -- "$DEB_ROOT" "$root"
	rm -f -- "$root"/.oyster-*
	esp_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ' | tr a-f A-F)
	boot_uuid=$(cat /proc/sys/kernel/random/uuid)
	fs_uuid=$(cat /proc/sys/kernel/random/uuid)
	luks_uuid=$(cat /proc/sys/kernel/random/uuid)

	# As the installer leaves it: fstab, crypttab (no keyscript yet: oyster
	# enroll --configure-boot adds it), GRUB's defaults.
	cat >"$root/etc/fstab" <<EOF
/dev/mapper/$DEB_NAME / ext4 errors=remount-ro 0 1
UUID=$boot_uuid /boot ext4 defaults 0 2
UUID=${esp_id:0:4}-${esp_id:4:4} /boot/efi vfat umask=0077 0 1
EOF
	# ",initramfs": in the chroot, whose root is not this volume, cryptroot's
	# hook leaves out an entry whose device it cannot resolve unless it has
	# this option (rebuilding the initramfs in the setup boot instead costs
	# minutes under TCG).
	echo "$DEB_NAME UUID=$luks_uuid none luks,discard,initramfs" >"$root/etc/crypttab"
	echo oyster-debian >"$root/etc/hostname"
	# GRUB_DEFAULT=saved: grub-reboot works only so. The console on the
	# serial line, without quiet: the harness reads it.
	sed -i -e 's/^GRUB_DEFAULT=.*/GRUB_DEFAULT=saved/' -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
		-e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
		-e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=ttyS0 printk.time=1 panic=1"/' \
		"$root/etc/default/grub"
	sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
	for m in $DEB_MODULES; do
		echo "$m"
	done >>"$root/etc/initramfs-tools/modules"
	# The test's driver, and what the setup boot and the steps need.
	install -m 755 -- "$VM_TESTDIR/debian-guest.sh" "$root/usr/local/sbin/oyster-vm"
	cat >"$root/etc/systemd/system/oyster-vm.service" <<'EOF'
[Unit]
Description=oyster vm suite: the test's steps
After=local-fs.target oyster-prune.service systemd-user-sessions.service
ConditionPathExists=/usr/local/sbin/oyster-vm

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/oyster-vm
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
EOF
	ln -s /etc/systemd/system/oyster-vm.service "$root/etc/systemd/system/multi-user.target.wants/oyster-vm.service"
	# Under TCG on a busy machine udev's coldplug can take longer than
	# systemd's 90 s for a device: wait as long as the harness does.
	mkdir -p "$root/etc/systemd/system.conf.d"
	printf '[Manager]\nDefaultDeviceTimeoutSec=900s\nDefaultTimeoutStartSec=900s\n' \
		>"$root/etc/systemd/system.conf.d/oyster-vm.conf"
	# Timers the guest's few minutes never need.
	for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
		fstrim.timer dpkg-db-backup.timer; do
		ln -sf /dev/null "$root/etc/systemd/system/$u"
	done
	# dpkg's fsyncs cost minutes of apt under TCG; the disk is a throwaway.
	echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/oyster-vm-unsafe-io"
	# Generators this guest has no use for: each costs seconds of every
	# boot under TCG (systemd-debug-generator stays: the attacker's boot of
	# debian.sh uses systemd.debug_shell).
	mkdir -p "$root/etc/systemd/system-generators"
	for g in gpt-auto hibernate-resume integritysetup veritysetup rc-local run system-update sysv; do
		ln -sf /dev/null "$root/etc/systemd/system-generators/systemd-$g-generator"
	done
	# No login prompt on the console the harness reads.
	ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
	mkdir -p "$root/etc/oyster-vm"
	printf '%s' "$VM_PASS" >"$root/etc/oyster-vm/passphrase"
	chmod 600 "$root/etc/oyster-vm/passphrase"
	echo 'root:oyster' | in_chroot "$root" chpasswd
	# grub-efi-amd64's postinst reinstalls GRUB on upgrades: to the removable
	# path too (the guest's NVRAM has no boot entry of its own).
	printf '%s\n' 'grub-efi-amd64 grub2/force_efi_extra_removable boolean true' \
		'grub-efi-amd64 grub2/update_nvram boolean false' | in_chroot "$root" debconf-set-selections ||
		setup_error "debconf-set-selections failed in the guest's root"

	# oyster as a user installs it.
	mkdir -p "$root/var/tmp/oyster-debs"
	cp -- "${DEB_PKGS[@]}" "$root/var/tmp/oyster-debs/"
	in_chroot "$root" sh -c 'apt-get install -y -q --no-install-recommends /var/tmp/oyster-debs/*.deb' \
		>"$w/apt.log" 2>&1 || { tail -n 30 "$w/apt.log" >&2; setup_error "apt-get install of oyster's packages failed in the guest's root"; }
	rm -rf -- "$root/var/tmp/oyster-debs"
	in_chroot "$root" update-initramfs -u -k all >"$w/initramfs.log" 2>&1 ||
		{ tail -n 30 "$w/initramfs.log" >&2; setup_error "update-initramfs failed in the guest's root"; }

	# The setup boot's GRUB: the removable path (shim, then GRUB beside it),
	# the stub configuration that grub-install would write, and a grub.cfg
	# for the first boot only: the setup boot replaces both.
	mkdir -p "$root/boot/efi" "$root/boot/grub"
	cat >"$root/boot/grub/grub.cfg" <<EOF
set timeout=0
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root $boot_uuid
linux /vmlinuz-$KVER_OLD root=/dev/mapper/$DEB_NAME ro console=ttyS0 printk.time=1 panic=1
initrd /initrd.img-$KVER_OLD
boot
EOF
	printf 'search.fs_uuid %s root\nset prefix=($root)'"'"'/grub'"'"'\nconfigfile $prefix/grub.cfg\n' \
		"$boot_uuid" >"$w/stub.cfg"
	mkfs.vfat -i "$esp_id" -n ESP -C "$w/esp.img" $((DEB_ESP_MB * 1024)) >/dev/null ||
		setup_error "mkfs.vfat failed"
	MTOOLS_SKIP_CHECK=1 mmd -i "$w/esp.img" ::/EFI ::/EFI/BOOT ::/EFI/debian &&
		MTOOLS_SKIP_CHECK=1 mcopy -i "$w/esp.img" "$root/usr/lib/shim/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI &&
		MTOOLS_SKIP_CHECK=1 mcopy -i "$w/esp.img" "$root/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" \
			::/EFI/BOOT/grubx64.efi &&
		MTOOLS_SKIP_CHECK=1 mcopy -i "$w/esp.img" "$w/stub.cfg" ::/EFI/debian/grub.cfg ||
		setup_error "cannot write the ESP"
	truncate -s "${DEB_BOOT_MB}M" "$w/boot.img"
	mke2fs -q -t ext4 -U "$boot_uuid" -L boot -d "$root/boot" "$w/boot.img" "${DEB_BOOT_MB}M" ||
		setup_error "mke2fs of /boot failed"
	find "$root/boot" -mindepth 1 -delete
	mkdir -p "$root/boot"
	kf=$(keyfile "$VM_PASS")
	truncate -s "${DEB_ROOT_MB}M" "$w/root.img"
	mke2fs -q -t ext4 -U "$fs_uuid" -L root -d "$root" "$w/root.img" "$((DEB_ROOT_MB - 32))M" ||
		setup_error "mke2fs of the root failed"
	rm -rf -- "$root"
	cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M --batch-mode --uuid "$luks_uuid" \
		--pbkdf argon2id --pbkdf-memory 32768 --pbkdf-force-iterations 4 --pbkdf-parallel 1 \
		--key-file "$kf" "$w/root.img" >"$w/reencrypt.log" 2>&1 ||
		{ cat "$w/reencrypt.log" >&2; setup_error "cryptsetup reencrypt --encrypt failed"; }

	# GPT: 1 MiB, then the three partitions back to back.
	truncate -s $((1 + DEB_ESP_MB + DEB_BOOT_MB + DEB_ROOT_MB + 1))M "$w/disk.img"
	sfdisk -q --label gpt "$w/disk.img" >"$w/sfdisk.log" 2>&1 <<EOF || { cat "$w/sfdisk.log" >&2; setup_error "sfdisk failed"; }
start=1MiB, size=${DEB_ESP_MB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=ESP
start=$((1 + DEB_ESP_MB))MiB, size=${DEB_BOOT_MB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=boot
start=$((1 + DEB_ESP_MB + DEB_BOOT_MB))MiB, size=${DEB_ROOT_MB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
EOF
	dd if="$w/esp.img" of="$w/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none &&
		dd if="$w/boot.img" of="$w/disk.img" bs=1M seek=$((1 + DEB_ESP_MB)) conv=notrunc,sparse status=none &&
		dd if="$w/root.img" of="$w/disk.img" bs=1M seek=$((1 + DEB_ESP_MB + DEB_BOOT_MB)) conv=notrunc,sparse status=none ||
		setup_error "cannot assemble the disk"
	rm -f -- "$w/esp.img" "$w/boot.img" "$w/root.img"
	mv -- "$w/disk.img" "$DEB_IMAGE/disk.img"
	echo "$luks_uuid" >"$DEB_IMAGE/uuid"
	cp -- "$DEB_OVMF_VARS" "$DEB_IMAGE/vars.fd"
	say "disk assembled in $(($(date +%s) - t0)) s; the setup boot: grub-install, update-grub"

	# The setup boot, as Debian's installer ends: GRUB installed for Secure
	# Boot (shim first) and its configuration generated on the real devices.
	debian_steps_disk setup <<'EOF'
step grub-install grub-install --target=x86_64-efi --uefi-secure-boot --force-extra-removable --no-nvram
step update-grub update-grub
step sb mokutil --sb-state
EOF
	DEB_VARS=$DEB_IMAGE/vars.fd
	debian_boot setup "$DEB_IMAGE/disk.img" "$w/tpm" --disk-format raw --answer "$VM_PASS" \
		--kind "passphrase, setup boot"
	[ "$(step_exit grub-install)" = 0 ] && [ "$(step_exit update-grub)" = 0 ] ||
		setup_error "grub-install or update-grub failed in the setup boot (console log: $LOG)"
	rm -rf -- "$w"
	echo $(($(date +%s) - t0 + $(cat "$DEB_ROOT/.oyster-seconds"))) >"$DEB_IMAGE/build-seconds"
	say "Debian guest image built in $(($(date +%s) - t0)) s (mmdebstrap: $(cat "$DEB_ROOT/.oyster-seconds") s)"
}

# debian_steps_disk NAME <STEPS: the second disk of the next boot, an ext4
# file system with steps.sh (stdin) and the files named in DEB_FILES; its
# path in STEPS_DISK. The guest writes into its out/ (debian_out reads it).
debian_steps_disk() {
	local dir=$WORKDIR/steps-$1 mb
	rm -rf -- "$dir"
	mkdir -p -- "$dir/out"
	cat >"$dir/steps.sh"
	[ -z "${DEB_FILES:-}" ] || cp -- $DEB_FILES "$dir/"
	mb=$(($(du -sm "$dir" | cut -f1) + 32))
	STEPS_DISK=$WORKDIR/steps-$1.img
	rm -f -- "$STEPS_DISK"
	truncate -s "${mb}M" "$STEPS_DISK"
	mke2fs -q -t ext4 -d "$dir" "$STEPS_DISK" "${mb}M" || setup_error "mke2fs of the steps disk failed"
	rm -rf -- "$dir"
}

# debian_out FILE DEST: copies out/FILE of the last boot's steps disk.
debian_out() {
	debugfs -R "dump out/$1 $2" "$STEPS_DISK" >/dev/null 2>&1 && [ -s "$2" ]
}

# debian_boot NAME DISK TPMSTATE [boot.py options...]: one boot of the guest
# through OVMF (DEB_CODE, else the 4 MiB build; Secure Boot on, the NVRAM in
# DEB_VARS), shim, GRUB and the kernel from /boot, with the steps disk
# STEPS_DISK; as vm_boot otherwise.
debian_boot() {
	local name=$1 disk=$2 tpm=$3 rc=0
	shift 3
	LOG=$BOOT_LOGS/$TEST_NAME-$name.log
	mkdir -p -- "$BOOT_LOGS"
	say "boot $name"
	python3 "$BOOT_PY" --name "$TEST_NAME-$name" --log "$LOG" --disk "$disk" \
		--extra-disk "$STEPS_DISK" --secure-boot --ovmf "${DEB_CODE:-$DEB_OVMF_CODE},$DEB_VARS" --keep-vars \
		--memory 1024 --timeout "${VM_BOOT_TIMEOUT:-900}" --tpm "$tpm" \
		--prompt "$DEB_PROMPT" --unlock-start "$UNLOCK_START_TOOLS" \
		--unlock-path "initramfs-tools keyscript" "$@" >"$WORKDIR/figures" || rc=$?
	cat "$WORKDIR/figures" >&2
	case $rc in
	0) ;;
	99) setup_error "boot $name could not start" ;;
	*) fail "boot $name failed (console log: $LOG)" ;;
	esac
}
