# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# The Debian 12 root and the kernel of the suite `package`, sourced by
# lifecycle.sh (after tests/tpm/lib.sh).
#
# chroot_base: sets BASE to a minimal bookworm root from Debian's mirror with
# what oyster's packages depend on already installed (so that `apt-get install
# ./oyster_*.deb` needs no download), made once with mmdebstrap and kept in
# $CHROOT_CACHE/bookworm-KEY, KEY a digest of everything that went into it.
# A test never writes into it: it is an overlay's read-only lower layer.
#
# pkg_kernel: sets KVER and KROOT, Debian's current kernel package unpacked
# in $KERNEL_CACHE/root (downloaded once, shared with the initramfs suite).

PKGTEST_SUITE=${OYSTER_PKGTEST_SUITE:-bookworm}
PKGTEST_MIRROR=${OYSTER_PKGTEST_MIRROR:-http://deb.debian.org/debian}
# oyster's Depends (debian/control, as shlibs resolves them on bookworm), the
# integrations' (dracut-core: oyster-dracut installs beside initramfs-tools),
# and the swtpm TCTI for the test's TPM.
PKGTEST_INCLUDE=dracut-core,initramfs-tools,cryptsetup-initramfs,cryptsetup-bin,busybox,zstd,kmod,libtss2-esys-3.0.2-0,libtss2-tctildr0,libtss2-mu0,libtss2-rc0,libtss2-tcti-device0,libtss2-tcti-swtpm0,libjson-c5,libssl3,libcryptsetup12,libblkid1,libqrencode4
# Bump when the recipe below changes in a way the key does not see.
PKGTEST_RECIPE=1

chroot_base() {
	local key tool
	command -v mmdebstrap >/dev/null 2>&1 ||
		setup_error "mmdebstrap is not installed (apt-get install mmdebstrap; .ci/run does)"
	key=$(printf '%s\n' "$PKGTEST_RECIPE" "$PKGTEST_SUITE" "$PKGTEST_MIRROR" "$PKGTEST_INCLUDE" \
		"$(dpkg-query -W -f '${Version}' mmdebstrap)" "$(dpkg --print-architecture)" |
		sha256sum | cut -c1-16)
	BASE=$CHROOT_CACHE/$PKGTEST_SUITE-$key
	mkdir -p -- "$CHROOT_CACHE"
	(
		flock 9
		[ -e "$BASE/.oyster-ready" ] && exit 0
		rm -rf -- "$BASE" "$BASE.tmp"
		say "making the $PKGTEST_SUITE root once with mmdebstrap (cached in $BASE)"
		t0=$(date +%s)
		mmdebstrap --variant=minbase --include="$PKGTEST_INCLUDE" \
			"$PKGTEST_SUITE" "$BASE.tmp" "$PKGTEST_MIRROR" >"$CHROOT_CACHE/mmdebstrap.log" 2>&1 ||
			{ tail -n 20 "$CHROOT_CACHE/mmdebstrap.log" >&2; exit 1; }
		: >"$BASE.tmp/.oyster-ready"
		mv -- "$BASE.tmp" "$BASE"
		say "made in $(($(date +%s) - t0)) s"
		# Older roots of another key are of no more use.
		for tool in "$CHROOT_CACHE/$PKGTEST_SUITE"-*; do
			[ "$tool" = "$BASE" ] || rm -rf -- "$tool"
		done
	) 9>"$CHROOT_CACHE/.lock" ||
		setup_error "mmdebstrap could not make the $PKGTEST_SUITE root from $PKGTEST_MIRROR (log: $CHROOT_CACHE/mmdebstrap.log)"
	say "root: $BASE"
}

pkg_kernel() {
	mkdir -p -- "$KERNEL_CACHE"
	(
		flock 9
		[ -e "$KERNEL_CACHE/ready" ] && exit 0
		pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
		[ -n "$pkg" ] || exit 1
		cd -- "$KERNEL_CACHE" || exit 1
		rm -rf root ./*.deb
		apt-get download -q "$pkg" >download.log 2>&1 || exit 1
		dpkg -x ./*.deb root || exit 1
		depmod -b root "$(ls root/lib/modules)" || exit 1
		rm -f ./*.deb
		: >ready
	) 9>"$KERNEL_CACHE/.lock" ||
		setup_error "could not download and unpack Debian's kernel package into $KERNEL_CACHE"
	KROOT=$KERNEL_CACHE/root
	KVER=$(ls "$KROOT/lib/modules")
	say "kernel: $KVER"
}
