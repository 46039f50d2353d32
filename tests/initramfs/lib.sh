# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Helpers for the initramfs suite, sourced after tests/tpm/lib.sh (the test
# runs through tests/tpm/with-swtpm.sh, which starts its swtpm). meson passes
# the configured integration files and their install paths in the
# environment: HOOK, KEYSCRIPT, FENCE, PRUNE, KERNEL_HOOK, PRUNE_SCRIPT, SCRIPTSDIR, DRACUT_MODULE_SETUP,
# MKINITCPIO_INSTALL, SBINDIR, HOOKDIR, KEYSCRIPTDIR, DRACUT_MODULEDIR,
# TSS2_LIBDIR, KERNEL_CACHE, SANITIZED.
#
# Nothing is installed on the host. `sandbox CMD` runs CMD in a private mount
# namespace where /usr, /etc and /boot are overlays (writes go to $SANDBOX),
# oyster and its integrations are installed at their real paths, and a
# kernel's modules are at /usr/lib/modules/$KVER for mkinitramfs and dracut.

: "${HOOK:?run through meson}" "${KEYSCRIPT:?}" "${FENCE:?}" "${PRUNE:?}" "${SCRIPTSDIR:?}" "${DRACUT_MODULE_SETUP:?}" "${SBINDIR:?}"
: "${HOOKDIR:?}" "${KEYSCRIPTDIR:?}" "${DRACUT_MODULEDIR:?}" "${KERNEL_CACHE:?}"

SANDBOX=$WORKDIR/sandbox

# unavailable WHY: a tool or a kernel feature is missing. Outside CI the test
# skips, loudly; CI installs everything (.ci/run), so there it fails.
unavailable() {
	if [ -n "${CI:-}" ]; then
		setup_error "$* (CI=$CI: .ci/run should have installed it)"
	fi
	skip "$*"
}

# need TOOL...: every tool is installed (else unavailable).
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			unavailable "'$t' is not installed (apt-get install initramfs-tools cryptsetup-initramfs dracut-core busybox zstd cpio)"
	done
}

# kernel_download: Debian's current kernel package, downloaded once into
# $KERNEL_CACHE and unpacked in $KERNEL_CACHE/root.
kernel_download() {
	local pkg deb v
	mkdir -p "$KERNEL_CACHE"
	(
		flock 9
		if [ ! -e "$KERNEL_CACHE/ready" ]; then
			pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
				sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
			[ -n "$pkg" ] || exit 77
			cd "$KERNEL_CACHE"
			rm -rf root ./*.deb
			# (as root into a root-owned directory apt warns that it
			# downloads unsandboxed; the package is checked all the same)
			apt-get download -q "$pkg" >download.log 2>&1 || exit 77
			deb=$(ls ./*.deb)
			dpkg -x "$deb" root || exit 99
			v=$(ls root/lib/modules)
			depmod -b root "$v" || exit 99
			rm -f -- "$deb"
			: >ready
		fi
	) 9>"$KERNEL_CACHE/.lock" || {
		local rc=$?
		[ "$rc" -ne 77 ] || unavailable "this machine has no kernel modules and no Debian kernel package could be downloaded (apt-get download linux-image-amd64's dependency; see $KERNEL_CACHE/download.log)"
		setup_error "unpacking the kernel package into $KERNEL_CACHE failed"
	}
}

# find_kernel_image: sets KIMAGE, a Debian kernel image (an EFI PE file): the
# host's /boot/vmlinuz-$(uname -r) when readable, else the downloaded one.
find_kernel_image() {
	KIMAGE=/boot/vmlinuz-$(uname -r)
	if [ ! -r "$KIMAGE" ]; then
		kernel_download
		for KIMAGE in "$KERNEL_CACHE"/root/boot/vmlinuz-*; do break; done
	fi
	say "kernel image: $KIMAGE"
}

# The kernel whose modules go into the images: the host's own when it has
# modules, else Debian's current kernel package, downloaded once into
# $KERNEL_CACHE and unpacked there. Sets KVER and KMODULES (the modules dir).
find_kernel() {
	local v
	for v in /lib/modules/*; do
		if [ -e "$v/modules.dep" ]; then
			KVER=${v##*/}
			KMODULES=$v
			say "kernel: the host's $KVER"
			return 0
		fi
	done
	download_kernel
}

# download_kernel: kernel_download, and sets KVER and KMODULES to it (the vm
# suite boots its vmlinuz).
download_kernel() {
	kernel_download
	KVER=$(ls "$KERNEL_CACHE/root/lib/modules")
	KMODULES=$KERNEL_CACHE/root/lib/modules/$KVER
	say "kernel: Debian's $KVER (unpacked in $KERNEL_CACHE)"
}

# The sandbox's upper directories, as /usr and /etc will show them.
SB_USR=$SANDBOX/usr.upper
SB_ETC=$SANDBOX/etc.upper

# sandbox_init: oyster and its integrations installed in the sandbox.
sandbox_init() {
	local d
	[ "$(id -u)" -eq 0 ] || skip "needs root (mount namespaces, overlayfs)"
	for d in usr.upper usr.work etc.upper etc.work boot.upper boot.work; do
		mkdir -p "$SANDBOX/$d"
	done
	sb_install "$OYSTER" "$SBINDIR/oyster" 755
	sb_install "$HOOK" "$HOOKDIR/oyster" 755
	sb_install "$KEYSCRIPT" "$KEYSCRIPTDIR/oyster" 755
	sb_install "$FENCE" "$SCRIPTSDIR/local-bottom/oyster" 755
	sb_install "$FENCE" "$SCRIPTSDIR/panic/oyster" 755
	sb_install "$PRUNE" "$SCRIPTSDIR/local-bottom/oyster-prune" 755
	sb_install "$DRACUT_MODULE_SETUP" "$DRACUT_MODULEDIR/module-setup.sh" 755
	sb_install "$(dirname -- "$DRACUT_MODULE_SETUP")/oyster-fence.sh" "$DRACUT_MODULEDIR/oyster-fence.sh" 755
	sb_install "$(dirname -- "$DRACUT_MODULE_SETUP")/oyster-prune.sh" "$DRACUT_MODULEDIR/oyster-prune.sh" 755
	sb_install "$(dirname -- "$DRACUT_MODULE_SETUP")/oyster-record.sh" "$DRACUT_MODULEDIR/oyster-record.sh" 755
	sb_install "$PLUGIN" "$TOKENDIR/libcryptsetup-token-oyster-tpm2.so" 755
	if [ -n "${KVER:-}" ]; then
		mkdir -p "$SB_USR/lib/modules/$KVER"
		# mkinitramfs reads the kernel's configuration (compression support).
		if [ ! -e "/boot/config-$KVER" ]; then
			cp -- "$KERNEL_CACHE/root/boot/config-$KVER" "$SANDBOX/boot.upper/" ||
				setup_error "no configuration for kernel $KVER"
		fi
	fi
	# The sandbox's crypttab starts empty.
	: >"$SB_ETC/crypttab"
	overlay_probe
}

# sb_install SRC PATH MODE: SRC at PATH (under /usr or /etc) in the sandbox.
sb_install() {
	local dst
	dst=$(sb_path "$2")
	mkdir -p "$(dirname -- "$dst")"
	cp -- "$1" "$dst"
	chmod "$3" "$dst"
}

# sb_path PATH: where a file the sandbox shows at PATH lives on the host (its
# upper layer), to write it before or read it after a sandbox run.
# /bin, /sbin and /lib are /usr's on a usr-merged system.
sb_path() {
	local p=$1
	case $p in
	/bin/* | /sbin/* | /lib/* | /lib64/*)
		[ "$(readlink -f /lib)" = /usr/lib ] || setup_error "$p: the sandbox needs a usr-merged system"
		p=/usr$p
		;;
	esac
	case $p in
	/usr/*) echo "$SB_USR/${p#/usr/}" ;;
	/etc/*) echo "$SB_ETC/${p#/etc/}" ;;
	*) setup_error "$p is not under /usr or /etc: the sandbox overlays only those" ;;
	esac
}

overlay_probe() {
	sandbox true 2>"$WORKDIR/overlay.err" ||
		unavailable "overlayfs mounts in a private mount namespace do not work here: $(cat "$WORKDIR/overlay.err")"
}

# sandbox CMD...: CMD in the sandbox (a fresh private mount namespace).
sandbox() {
	unshare -m --propagation private -- /bin/bash -c '
		set -e
		sb=$1 kver=$2 kmods=$3
		shift 3
		mount -t overlay oyster-usr -o "lowerdir=/usr,upperdir=$sb/usr.upper,workdir=$sb/usr.work" /usr
		mount -t overlay oyster-etc -o "lowerdir=/etc,upperdir=$sb/etc.upper,workdir=$sb/etc.work" /etc
		mount -t overlay oyster-boot -o "lowerdir=/boot,upperdir=$sb/boot.upper,workdir=$sb/boot.work" /boot
		if [ -n "$kver" ]; then
			mount --bind "$kmods" "/usr/lib/modules/$kver"
		fi
		exec "$@"' sandbox "$SANDBOX" "${KVER:-}" "${KMODULES:-}" "$@"
}

# in_list FILE PATH...: each PATH (no leading slash, as lsinitramfs/lsinitrd
# print them, usr-merged) is in the listing FILE; fails naming the first missing.
in_list() {
	local list=$1 p
	shift
	for p in "$@"; do
		p=${p#/}
		grep -qxF -- "$p" "$list" || fail "the image lacks $p (listing: $list)"
	done
}

not_in_list() {
	local list=$1 p
	shift
	for p in "$@"; do
		p=${p#/}
		! grep -qE -- "$p" "$list" || fail "the image has $(grep -E -- "$p" "$list" | head -n 1), which it must not"
	done
}

# usr_merged PATH: PATH as it lies in a usr-merged image (/lib/x -> usr/lib/x).
usr_merged() {
	case $1 in
	/bin/* | /sbin/* | /lib/* | /lib64/*) echo "usr$1" ;;
	*) echo "${1#/}" ;;
	esac
}

# ldd_closure FILE...: every library FILE... load (resolved on the host), one a line.
ldd_closure() {
	local f
	for f in "$@"; do
		env --unset=LD_PRELOAD ldd "$f" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'
	done | sort -u
}
