# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the vm suite, sourced after tests/tpm/lib.sh and
# tests/initramfs/lib.sh (the test runs through tests/tpm/with-swtpm.sh; its
# TCP swtpm is not used: each boot gets a swtpm of its own from boot.py, on
# a TPM state directory that the test keeps between boots).
#
# What every scenario boots is built once per build directory, in
# $VM_CACHE/images-STAMP (a new one when oyster, an integration file or the
# kernel changes), under a lock, by whichever test comes first:
#   base.img        a LUKS2 disk (raw) holding a tiny root file system: busybox,
#                   oyster and its libraries, and /sbin/init (root-init.sh)
#   initrd-tools.img mkinitramfs with oyster's hook, crypttab keyscript=oyster
#   initrd-dracut.img dracut with the module 90oyster, no plymouth
#   initrd-systemd.img the same with dracut's systemd modules (systemd-cryptsetup)
# Each scenario boots a qcow2 overlay of base.img, so the base stays as built.

: "${VM_CACHE:?run through meson}" "${VM_TESTDIR:?}"

VM_PASS='oyster vm passphrase'
VM_PIN=2468
BOOT_PY=$VM_TESTDIR/boot.py
SEABIOS_OLD=/usr/share/seabios/bios.bin
SEABIOS_NEW=/usr/share/seabios/bios-256k.bin
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
# Secure Boot with Debian's test key in PK, KEK and db (its password: snakeoil).
OVMF_SNAKEOIL_CODE=/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd
OVMF_SNAKEOIL_VARS=/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd
SNAKEOIL_KEY=/usr/share/ovmf/PkKek-1-snakeoil.key
SNAKEOIL_CERT=/usr/share/ovmf/PkKek-1-snakeoil.pem
# The prompts: the keyscript's askpass, and cryptsetup's own under dracut.
PROMPT_TOOLS='Please unlock disk [^ ]+: $'
PROMPT_DRACUT='Enter passphrase for [^ ]+: $'
# Where the unlock begins on the console (for the figures): cryptroot runs
# in local-top; dracut's cryptroot-ask logs its luksOpen.
UNLOCK_START_TOOLS='Running /scripts/local-top'
UNLOCK_START_DRACUT='dracut: luksOpen '
# systemd: its password agent on the console, for the passphrase and for a
# token's PIN; the unlock begins with systemd-cryptsetup's unit (its status
# line, cut to the terminal's width, is shown without `quiet`).
PROMPT_SYSTEMD='Please enter (passphrase for disk|LUKS2 token PIN)[^:]*:'
UNLOCK_START_SYSTEMD='Starting .*systemd-cryptsetu'
BOOT_LOGS=$VM_CACHE/logs

vm_need() {
	local t f
	for t in qemu-system-x86_64 qemu-img swtpm; do
		command -v "$t" >/dev/null 2>&1 ||
			unavailable "'$t' is not installed: the vm suite boots qemu with a swtpm (apt-get install qemu-system-x86 qemu-utils seabios ovmf swtpm)"
	done
	need mke2fs cryptsetup busybox flock python3 "$@"
	for f in "$SEABIOS_OLD" "$SEABIOS_NEW"; do
		[ -e "$f" ] || unavailable "$f is missing (apt-get install seabios)"
	done
	python3 -c 'import select, subprocess' 2>/dev/null || unavailable "python3 cannot run the boot harness"
}

# vm_prepare: the kernel, base.img and both initrds, built once (see the
# top). Sets KERNEL, BASE_IMG, INITRD_TOOLS, INITRD_DRACUT, INITRD_SYSTEMD,
# LUKS_UUID, FS_UUID.
vm_prepare() {
	download_kernel
	KERNEL=$KERNEL_CACHE/root/boot/vmlinuz-$KVER
	[ -r "$KERNEL" ] || setup_error "no kernel image at $KERNEL"
	mkdir -p "$VM_CACHE" "$BOOT_LOGS"
	local stamp
	stamp=$(cat "$OYSTER" "$HOOK" "$KEYSCRIPT" "$FENCE" "$DRACUT_MODULE_SETUP" \
		"$(dirname -- "$DRACUT_MODULE_SETUP")/oyster-fence.sh" \
		"$(dirname -- "$DRACUT_MODULE_SETUP")/oyster-prune.sh" "$PLUGIN" "$PRUNE_SCRIPT" "$KERNEL_HOOK" \
		"$VM_TESTDIR/lib.sh" "$VM_TESTDIR/root-init.sh" "$KERNEL" | sha256sum | cut -d' ' -f1)
	# One directory per set of inputs: a rebuild never changes a base.img
	# that a running test's overlays are built on.
	IMAGES=$VM_CACHE/images-${stamp:0:16}
	exec 8>"$VM_CACHE/.lock"
	flock 8
	if [ ! -e "$IMAGES/ready" ]; then
		find "$VM_CACHE" -maxdepth 1 -name 'images-*' -mmin +120 -exec rm -rf -- {} + || true
		rm -rf -- "$IMAGES"
		mkdir -p "$IMAGES"
		vm_build
		: >"$IMAGES/ready"
	else
		say "reusing the images in $IMAGES"
	fi
	flock -u 8
	exec 8>&-
	BASE_IMG=$IMAGES/base.img
	INITRD_TOOLS=$IMAGES/initrd-tools.img
	INITRD_DRACUT=$IMAGES/initrd-dracut.img
	INITRD_SYSTEMD=$IMAGES/initrd-systemd.img
	read -r LUKS_UUID FS_UUID <"$IMAGES/uuids"
}

# vm_rootfs DIR: the guest's root tree (busybox, oyster and its libraries,
# root-init.sh as /sbin/init, oyster-prune.service's script, the kernel
# hook, the passphrase for the enroll and reseal steps).
vm_rootfs() {
	local rootfs=$1 d applet lib
	rm -rf -- "$rootfs"
	mkdir -p "$rootfs"/usr/bin "$rootfs"/usr/sbin "$rootfs"/usr/lib "$rootfs"/usr/lib64 \
		"$rootfs"/proc "$rootfs"/sys "$rootfs"/dev "$rootfs"/run "$rootfs"/tmp "$rootfs"/etc/oyster-vm \
		"$rootfs"/var/lib
	for d in bin sbin lib lib64; do
		ln -s "usr/$d" "$rootfs/$d"
	done
	cp -- "$(command -v busybox)" "$rootfs/usr/bin/busybox"
	for applet in $(busybox --list); do
		[ -e "$rootfs/usr/bin/$applet" ] || ln -s busybox "$rootfs/usr/bin/$applet"
	done
	# The Secure Boot steps write db and dbx through efivarfs (a module of
	# Debian's kernel), whose files are immutable until chattr -i.
	cp -- "$(command -v chattr)" "$rootfs/usr/bin/chattr"
	mkdir -p "$rootfs/usr/lib/modules"
	cp -- "$KMODULES/kernel/fs/efivarfs/efivarfs.ko" "$rootfs/usr/lib/modules/efivarfs.ko"
	mkdir -p "$rootfs$(dirname -- "$SBINDIR/oyster")"
	cp -- "$OYSTER" "$rootfs$SBINDIR/oyster"
	# The libraries, and the TCTI module that libtss2-tctildr dlopen()s.
	for lib in $(ldd_closure "$OYSTER" "$(command -v busybox)" "$(command -v chattr)" \
		"$TSS2_LIBDIR/libtss2-tcti-device.so.0") \
		"$TSS2_LIBDIR/libtss2-tcti-device.so.0"; do
		mkdir -p "$rootfs$(dirname -- "$lib")"
		cp -L -- "$lib" "$rootfs$lib"
	done
	cp -- "$VM_TESTDIR/root-init.sh" "$rootfs/sbin/init"
	chmod 755 "$rootfs/sbin/init"
	mkdir -p "$rootfs/usr/local/libexec"
	install -m 755 -- "$PRUNE_SCRIPT" "$rootfs/usr/local/libexec/oyster-prune"
	# The kernel hook where Debian's kernel packages run it.
	mkdir -p "$rootfs/etc/kernel/postinst.d"
	install -m 755 -- "$KERNEL_HOOK" "$rootfs/etc/kernel/postinst.d/zzz-oyster"
	# systemd's switch-root refuses a root without os-release.
	printf 'ID=oyster-vm\nNAME="oyster vm root"\n' >"$rootfs/usr/lib/os-release"
	printf '%s' "$VM_PASS" >"$rootfs/etc/oyster-vm/passphrase"
	printf '%s' "$VM_PIN" >"$rootfs/etc/oyster-vm/pin"
	chmod 600 "$rootfs/etc/oyster-vm/passphrase" "$rootfs/etc/oyster-vm/pin"
}

# vm_luks_disk ROOTFS IMG PASS [luksFormat options...]: ROOTFS as ext4 in the
# first 64 MiB of a 96 MiB raw IMG, then encrypted in place: LUKS2 takes
# 32 MiB from the end (the data moves behind the header). The passphrase
# keyslot uses Argon2id with 32 MiB, small enough for a 512 MiB guest under TCG.
# Sets VM_FS_UUID to the file system's UUID (dracut's root=UUID= names it).
vm_luks_disk() {
	local rootfs=$1 img=$2 kf
	kf=$(keyfile "$3")
	shift 3
	rm -f -- "$img"
	truncate -s 96M "$img"
	mke2fs -q -t ext4 -L oyroot -d "$rootfs" "$img" 64M || setup_error "mke2fs -d failed"
	VM_FS_UUID=$(blkid -p -o value -s UUID "$img") || setup_error "no UUID on the root file system"
	cryptsetup reencrypt --encrypt --type luks2 --reduce-device-size 32M --batch-mode \
		--pbkdf argon2id --pbkdf-memory 32768 --pbkdf-force-iterations 4 --pbkdf-parallel 1 \
		--key-file "$kf" "$@" "$img" >"$WORKDIR/reencrypt.log" 2>&1 ||
		{ cat "$WORKDIR/reencrypt.log" >&2; setup_error "cryptsetup reencrypt --encrypt failed"; }
}

vm_build() {
	local t0 fs
	t0=$(date +%s)
	say "building the root file system, its LUKS2 disk and both initrds (once per build)"
	sandbox_init
	vm_rootfs "$WORKDIR/rootfs"
	fs=$WORKDIR/base.img
	vm_luks_disk "$WORKDIR/rootfs" "$fs" "$VM_PASS"
	FS_UUID=$VM_FS_UUID
	LUKS_UUID=$(cryptsetup luksUUID "$fs") || setup_error "no LUKS UUID"
	mv -- "$fs" "$IMAGES/base.img"
	echo "$LUKS_UUID $FS_UUID" >"$IMAGES/uuids"

	vm_build_initramfs_tools
	vm_build_dracut
	vm_build_dracut_systemd
	say "images built in $(($(date +%s) - t0)) s: base.img $(du -k "$IMAGES/base.img" | cut -f1) KiB," \
		"initrd-tools.img $(du -k "$IMAGES/initrd-tools.img" | cut -f1) KiB," \
		"initrd-dracut.img $(du -k "$IMAGES/initrd-dracut.img" | cut -f1) KiB," \
		"initrd-systemd.img $(du -k "$IMAGES/initrd-systemd.img" | cut -f1) KiB"
}

# Modules the guest needs from the initramfs: the virtio disk, dm-crypt with
# the default cipher (aes-xts-plain64; aes is built in), ext4.
VM_MODULES="virtio_pci virtio_blk dm_mod dm_crypt xts ecb ext4"

vm_build_initramfs_tools() {
	local conf=$WORKDIR/initramfs-tools m
	mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
	cat >"$conf/initramfs.conf" <<EOF
MODULES=list
BUSYBOX=y
KEYMAP=n
COMPRESS=gzip
DEVICE=
NFSROOT=auto
RUNSIZE=10%
FSTYPE=ext4
EOF
	for m in $VM_MODULES; do
		echo "$m"
	done >"$conf/modules"
	# As a user's: the root volume with keyscript=oyster ('initramfs' because
	# the sandbox's root is not this volume).
	echo "oyroot UUID=$LUKS_UUID none luks,initramfs,keyscript=oyster" >"$(sb_path /etc/crypttab)"
	run sandbox env TMPDIR="$WORKDIR" mkinitramfs -d "$conf" -o "$IMAGES/initrd-tools.img" "$KVER"
	[ "$RC" -eq 0 ] || { show_last; setup_error "mkinitramfs failed"; }
}

vm_build_dracut() {
	local confdir=$WORKDIR/dracut.conf.d
	mkdir -p "$confdir"
	: >"$(sb_path /etc/crypttab)"
	# No plymouth: its cryptroot-ask would ask for the passphrase before
	# cryptsetup tries the token.
	run sandbox dracut --no-hostonly --kver "$KVER" --conf /dev/null --confdir "$confdir" \
		--tmpdir "$WORKDIR" --no-early-microcode --force --no-compress \
		--modules "base udev-rules crypt oyster" --omit plymouth \
		--add-drivers "$VM_MODULES" "$IMAGES/initrd-dracut.img"
	[ "$RC" -eq 0 ] || { show_last; setup_error "dracut failed"; }
}

# The systemd initrd: dracut's systemd modules, so that systemd-cryptsetup
# (from rd.luks.uuid=) unlocks root through the token plugin, and
# systemd-ask-password asks on the console; the prune and the fence run as
# dracut's pre-pivot hooks (dracut-pre-pivot.service).
vm_build_dracut_systemd() {
	local confdir=$WORKDIR/dracut.conf.d
	mkdir -p "$confdir"
	: >"$(sb_path /etc/crypttab)"
	run sandbox dracut --no-hostonly --kver "$KVER" --conf /dev/null --confdir "$confdir" \
		--tmpdir "$WORKDIR" --no-early-microcode --force --no-compress \
		--modules "base systemd systemd-initrd dracut-systemd systemd-ask-password udev-rules crypt oyster" \
		--omit plymouth --add-drivers "$VM_MODULES" "$IMAGES/initrd-systemd.img"
	[ "$RC" -eq 0 ] || { show_last; setup_error "dracut (systemd) failed"; }
}

# impostor_disk VICTIM NAME: an attacker's raw disk (path in IMPOSTOR) that
# carries the LUKS UUID of the victim's disk VICTIM (a qcow2 overlay) and
# opens with IMPOSTOR_PASS; its root holds a copy of the victim's LUKS2
# header, token included, as /etc/oyster-vm/victim.hdr (step unseal-victim).
IMPOSTOR_PASS='attacker passphrase'
impostor_disk() {
	local raw=$WORKDIR/$2-victim.raw rootfs=$WORKDIR/$2-rootfs
	qemu-img convert -O raw "$1" "$raw" || setup_error "qemu-img convert of the victim's disk failed"
	vm_rootfs "$rootfs"
	cryptsetup luksHeaderBackup "$raw" --header-backup-file "$rootfs/etc/oyster-vm/victim.hdr" ||
		setup_error "cannot back up the victim's LUKS header"
	rm -f -- "$raw"
	IMPOSTOR=$WORKDIR/$2.raw
	vm_luks_disk "$rootfs" "$IMPOSTOR" "$IMPOSTOR_PASS" --uuid "$LUKS_UUID"
	rm -rf -- "$rootfs"
}

# new_disk NAME: a fresh qcow2 overlay of base.img; prints its path.
new_disk() {
	local d=$WORKDIR/$1.qcow2
	qemu-img create -q -f qcow2 -b "$BASE_IMG" -F raw "$d" >/dev/null || setup_error "qemu-img create failed"
	echo "$d"
}

# vm_boot NAME DISK INITRD TPMSTATE|none STEPS [boot.py options...]: one boot
# (see boot.py); the console log is $BOOT_LOGS/$TEST_NAME-NAME.log, in LOG.
# STEPS are the root system's (root-init.sh), comma-separated; VM_APPEND,
# when set, adds words to the kernel command line; VM_BOOT_TIMEOUT (seconds)
# replaces boot.py's timeout. Fails the test when the boot fails, or when a
# path sent more commands to the TPM than its ceiling (boot.py). The TPM's
# commands are in $LOG.tpm.
vm_boot() {
	local name=$1 disk=$2 initrd=$3 tpm=$4 steps=$5 append rc=0
	shift 5
	LOG=$BOOT_LOGS/$TEST_NAME-$name.log
	append="console=ttyS0 printk.time=1 panic=1 rootfstype=ext4 oyster_vm.steps=$steps${VM_APPEND:+ $VM_APPEND}"
	if [ "$initrd" = "$INITRD_DRACUT" ]; then
		append="$append root=UUID=$FS_UUID rd.luks.uuid=$LUKS_UUID rd.shell=0"
		set -- --prompt "$PROMPT_DRACUT" --unlock-start "$UNLOCK_START_DRACUT" \
			--unlock-path "plugin under dracut's cryptroot-ask" "$@"
	elif [ "$initrd" = "$INITRD_SYSTEMD" ]; then
		append="$append root=UUID=$FS_UUID rd.luks.uuid=$LUKS_UUID rd.shell=0"
		set -- --prompt "$PROMPT_SYSTEMD" --unlock-start "$UNLOCK_START_SYSTEMD" \
			--unlock-path "plugin under systemd-cryptsetup" "$@"
	else
		append="$append root=/dev/mapper/oyroot"
		set -- --prompt "$PROMPT_TOOLS" --unlock-start "$UNLOCK_START_TOOLS" \
			--unlock-path "initramfs-tools keyscript" "$@"
	fi
	[ -z "${VM_BOOT_TIMEOUT:-}" ] || set -- --timeout "$VM_BOOT_TIMEOUT" "$@"
	if [ "$tpm" = none ]; then
		set -- --no-tpm "$@"
	else
		set -- --tpm "$tpm" "$@"
	fi
	say "boot $name: steps '$steps'"
	python3 "$BOOT_PY" --name "$TEST_NAME-$name" --log "$LOG" --kernel "$KERNEL" --initrd "$initrd" \
		--disk "$disk" --append "$append" "$@" >"$WORKDIR/figures" || rc=$?
	cat "$WORKDIR/figures" >&2
	case $rc in
	0) ;;
	99) setup_error "boot $name could not start" ;;
	*) fail "boot $name failed (console log: $LOG)" ;;
	esac
}

# console_has REGEX WHAT: the last boot's console shows REGEX (grep -E).
console_has() {
	grep -qE -- "$1" "$LOG" || { tail -n 60 "$LOG" >&2; fail "$2 (console log: $LOG)"; }
}

console_lacks() {
	! grep -qE -- "$1" "$LOG" || { grep -E -- "$1" "$LOG" >&2; fail "$2 (console log: $LOG)"; }
}

# initrd_lacks REGEX WHAT: the last boot's console up to the marker (the
# initramfs's part) does not show REGEX.
initrd_lacks() {
	! sed '/OYSTER-VM: root mounted/q' "$LOG" | grep -qE -- "$1" ||
		{ grep -E -- "$1" "$LOG" >&2; fail "$2 (console log: $LOG)"; }
}

# step_exit STEP: the exit status the root system printed for STEP.
step_exit() {
	sed -n "s/^ *[0-9.]* OYSTER-VM: step $1 exit \([0-9]*\)\$/\1/p" "$LOG" | tail -n 1
}

# step_seconds STEP: how long STEP ran, from its two markers' arrival times.
step_seconds() {
	awk -v s="OYSTER-VM: step $1" '
		index($0, s ": ") { t0 = $1 }
		index($0, s " exit ") { t1 = $1 }
		END { if (t0 != "" && t1 != "") printf "%.0f\n", t1 - t0; else print "?" }' "$LOG"
}

# step_output STEP: what the root system printed for STEP (the console lines
# between its two markers, without their arrival times).
step_output() {
	sed -n "/OYSTER-VM: step $1: /,/OYSTER-VM: step $1 exit /p" "$LOG" | sed '1d;$d' | sed 's/^ *[0-9.]* //'
}

# refused_pcrs: the PCRs the last boot's console named as changed ("0 2 4").
refused_pcrs() {
	grep -oE 'oyster: oyroot: The TPM refused: .* changed since enrollment' "$LOG" | head -n 1 |
		grep -oE 'PCR [0-9]+' | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//'
}

# pcr_in_log N: PCR N's sha256 value as `oyster pcrs` printed it in the last
# boot (lines "N  NAME HEX  DESCRIPTION" behind the log's arrival time).
pcr_in_log() {
	awk -v n="$1" '/OYSTER-VM: step pcrs:/ { on = 1; next } /OYSTER-VM: step pcrs exit/ { on = 0 }
		on && $2 == n { print $4; exit }' "$LOG"
}
