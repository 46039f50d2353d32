#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the Debian packages on a Debian 12 system, installed the way a user
# installs them. A minimal bookworm root made from Debian's mirror (cached,
# see chroot.sh) gets a private overlay, a kernel's modules and an initramfs
# of that kernel; everything runs in a private mount namespace and chroot,
# the host gets nothing.
#   1. apt-get install ./oyster_V.deb ./oyster-initramfs-tools_V.deb
#      ./oyster-dracut_V.deb, with no TPM anywhere: it succeeds, the
#      initramfs is rebuilt once, dracut (which would remove
#      initramfs-tools) is not pulled in, and dracut-core sees the module;
#   2. the initramfs holds oyster, its keyscript, the fence and the TPM's
#      TCTI module, and not the token plugin;
#   3. enroll against the swtpm and unlock through the INSTALLED plugin
#      (the only one there is: libcryptsetup's directory inside the chroot);
#   4. upgrade to V+1: the initramfs is rebuilt once, the token still unlocks;
#   5. apt-get purge: one line says the volume keeps an oyster token, one
#      that /var/lib/oyster (the authorized mode's credential) stays, the
#      initramfs is rebuilt once, no file of `dpkg -L` is left, nothing the
#      packages created is left (the overlay's upper layer before and after),
#      and the volume opens with its passphrase.
# Neither /etc/crypttab nor the LUKS header changes through any of it.
#
# Environment (meson): DEBS (the directory of build-debs.sh: *.deb, next/*.deb),
# CHROOT_CACHE, KERNEL_CACHE (shared with the initramfs suite).
set -eu
. "$TESTDIR/lib.sh"
# Each step's time, for the figures of the report.
step() {
	say "[$SECONDS s] $*"
}
: "${DEBS:?}" "${CHROOT_CACHE:?}" "${KERNEL_CACHE:?}"
PKGTEST_DIR=$(dirname -- "$(realpath -- "$0")")

if [ -z "${OYSTER_IN_NAMESPACE:-}" ]; then
	# Everything below in a private mount namespace: the overlay, /proc,
	# /dev and the kernel's modules are seen by no other process.
	OYSTER_IN_NAMESPACE=1 exec unshare -m --propagation private -- bash "$0" "$@"
fi

for t in chroot unshare mount flock apt-get dpkg-deb sha256sum; do
	command -v "$t" >/dev/null 2>&1 || setup_error "'$t' is not installed"
done
debs=$(realpath -- "$DEBS")
v1=$(ls "$debs"/oyster_*_amd64.deb 2>/dev/null | head -n 1)
v2=$(ls "$debs"/next/oyster_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$v1" ] && [ -n "$v2" ] ||
	setup_error "no packages in $debs (tests/package/build-debs.sh $debs builds them; .ci/run does)"
ver1=$(dpkg-deb -f "$v1" Version)
ver2=$(dpkg-deb -f "$v2" Version)
dpkg --compare-versions "$ver2" gt "$ver1" || setup_error "$v2 ($ver2) is not newer than $v1 ($ver1)"

# --- the root --------------------------------------------------------------
step "the root and the kernel"
. "$PKGTEST_DIR/chroot.sh"
chroot_base # sets BASE, the cached bookworm root (read-only lower layer)
pkg_kernel  # sets KVER, KROOT (the unpacked kernel package)

R=$WORKDIR/root
UPPER=$WORKDIR/upper
mkdir -p "$R" "$UPPER" "$WORKDIR/overlay-work"
mount -t overlay oyster-pkgtest -o "lowerdir=$BASE,upperdir=$UPPER,workdir=$WORKDIR/overlay-work" "$R" ||
	setup_error "cannot mount an overlay over $BASE"
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t sysfs sysfs "$R/sys"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/usr/lib/modules/$KVER"
mount --bind -o ro "$KROOT/lib/modules/$KVER" "$R/usr/lib/modules/$KVER"

# in_root CMD...: CMD in the chroot, with a clean environment and no TPM.
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
# with_tpm CMD...: CMD in the chroot, with the swtpm.
with_tpm() {
	in_root OYSTER_TCTI="$OYSTER_TCTI" "$@"
}

# The kernel as its package installs it, and a placeholder initrd that the
# first update-initramfs -u replaces (it only updates images that exist).
cp -- "$KROOT/boot/vmlinuz-$KVER" "$KROOT/boot/config-$KVER" "$R/boot/"
: >"$R/boot/initrd.img-$KVER"
# Small, fast images: only the modules hooks ask for, light compression.
sed -i 's/^MODULES=.*/MODULES=list/' "$R/etc/initramfs-tools/initramfs.conf"
echo COMPRESSLEVEL=1 >>"$R/etc/initramfs-tools/initramfs.conf"
# dpkg without an fsync per file: the root is thrown away after the test.
echo force-unsafe-io >"$R/etc/dpkg/dpkg.cfg.d/oyster-test-unsafe-io"
# Counts the images built: a hook that every mkinitramfs run calls.
cat >"$R/etc/initramfs-tools/hooks/zz-count-builds" <<'EOF'
#!/bin/sh
[ "${1:-}" = prereqs ] && exit 0
echo built >>/var/tmp/initramfs-builds
EOF
chmod 755 "$R/etc/initramfs-tools/hooks/zz-count-builds"
builds() {
	if [ -e "$R/var/tmp/initramfs-builds" ]; then
		wc -l <"$R/var/tmp/initramfs-builds"
	else
		echo 0
	fi
}

mkdir -m 755 "$R/tmp/debs" "$R/tmp/debs/next"
cp -- "$debs"/*.deb "$R/tmp/debs/"
cp -- "$debs"/next/*.deb "$R/tmp/debs/next/"
chmod 644 "$R"/tmp/debs/*.deb "$R"/tmp/debs/next/*.deb

# A LUKS2 volume named in crypttab with keyscript=oyster, opened in the initramfs.
pass='package passphrase'
printf '%s' "$pass" >"$R/root/passphrase"
expect_ok in_root truncate -s 32M /root/vol.img
expect_ok in_root cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--batch-mode --key-file /root/passphrase /root/vol.img
echo "oyroot /root/vol.img none luks,initramfs,keyscript=oyster" >>"$R/etc/crypttab"
crypttab_sum=$(sha256sum <"$R/etc/crypttab")

# Files and directories of the root, as the overlay's upper layer records
# them (created or changed), leaving out what apt, dpkg and the test itself
# change by design.
# A directory that the lower layer has is copied up as soon as anything in
# it changes, so only new directories count.
upper_files() {
	(cd "$UPPER" && find . -mindepth 1 \( -type f -o -type l -o -type d \) -printf '%y %p\n') |
		grep -vE ' \./(var/(lib/(dpkg|apt|initramfs-tools|oyster)|log|cache|tmp|backups)|boot|root|tmp|run|etc/ld\.so\.cache)(/|$)' |
		while read -r type path; do
			[ "$type" = d ] && [ -d "$BASE/$path" ] && continue
			echo "$type $path"
		done | sort
}
# The authorized mode's state (issue #11): a credential that a token on
# some volume may still need. Purge must leave it and say so.
mkdir -p -m 700 "$R/var/lib/oyster"
echo 'test credential' >"$R/var/lib/oyster/credential"
upper_files >"$WORKDIR/upper.before"
step "root ready"

# --- 1. install, no TPM ------------------------------------------------------
step "apt-get install ./oyster_$ver1 ./oyster-initramfs-tools_$ver1 ./oyster-dracut_$ver1, with no TPM"
n0=$(builds)
expect_ok in_root apt-get install -y --no-install-recommends "./tmp/debs/oyster_${ver1}_amd64.deb" \
	"./tmp/debs/oyster-initramfs-tools_${ver1}_amd64.deb" "./tmp/debs/oyster-dracut_${ver1}_amd64.deb"
cp -- "$OUT" "$WORKDIR/install.log"
[ "$(builds)" -eq $((n0 + 1)) ] ||
	fail "installing rebuilt the initramfs $(($(builds) - n0)) times, not once (log: $WORKDIR/install.log)"
for p in oyster-initramfs-tools oyster-dracut initramfs-tools; do
	[ "$(in_root dpkg-query -W -f '${Status}' "$p")" = "install ok installed" ] || fail "$p is not installed"
done
[ "$(in_root dpkg-query -W -f '${Status}' dracut 2>/dev/null)" != "install ok installed" ] ||
	fail "the packages pulled in dracut, which removes initramfs-tools"
in_root dracut --list-modules --no-hostonly --no-kernel 2>/dev/null | grep -qx oyster ||
	fail "dracut --list-modules does not list oyster's module"
for f in /usr/sbin/oyster /lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-oyster-tpm2.so \
	/usr/lib/cryptsetup/scripts/oyster /etc/default/oyster /usr/share/man/man8/oyster.8.gz \
	/usr/share/bash-completion/completions/oyster; do
	[ -e "$R$f" ] || fail "the packages did not install $f"
done
[ "$(in_root oyster --version)" = "oyster ${ver1%%+*}" ] ||
	fail "the installed oyster --version says '$(in_root oyster --version)', not 'oyster ${ver1%%+*}'"

# --- 2. the initramfs -------------------------------------------------------
step "the initramfs holds oyster's files"
in_root lsinitramfs "/boot/initrd.img-$KVER" >"$WORKDIR/initrd.list" || fail "lsinitramfs failed"
for p in usr/sbin/oyster usr/lib/cryptsetup/scripts/oyster scripts/local-bottom/oyster \
	scripts/panic/oyster scripts/local-bottom/oyster-prune usr/lib/cryptsetup/askpass \
	usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0 cryptroot/crypttab etc/default/oyster; do
	grep -qxF "$p" "$WORKDIR/initrd.list" || fail "the initramfs lacks $p (listing: $WORKDIR/initrd.list)"
done
! grep -q 'libcryptsetup-token-' "$WORKDIR/initrd.list" ||
	fail "the initramfs-tools image holds a token plugin (it would race the keyscript for the TPM)"

# --- 3. enroll and unlock through the installed plugin ------------------------
step "enroll against the swtpm, unlock through the installed plugin"
extend_pcr 7 package-secure-boot
plugin=/lib/x86_64-linux-gnu/cryptsetup/libcryptsetup-token-oyster-tpm2.so
[ "$(in_root dpkg -S "$plugin" | cut -d: -f1)" = oyster ] || fail "$plugin does not belong to the package oyster"
expect_ok with_tpm oyster enroll /root/vol.img --key-file /root/passphrase --pcrs 7
grep -qE 'Enrolled token [0-9]+' "$OUT" || { show_last; fail "enroll did not say 'Enrolled token N'"; }
# An authorized token keeps its NV credential in /var/lib/oyster (checked after the purge).
nv_credential=$(cd "$R/var/lib/oyster" && ls -d nv-* 2>/dev/null | head -n 1 || true)
token_unlocks() {
	expect_ok with_tpm cryptsetup open --debug --test-passphrase --token-only /root/vol.img
	grep -qF "Trying to load $plugin." "$OUT" ||
		{ show_last; fail "cryptsetup did not load $plugin"; }
	grep -qF "Token handler oyster-tpm2-${ver1%%+*} loaded successfully." "$OUT" ||
		{ show_last; fail "cryptsetup did not report the plugin's version ${ver1%%+*}"; }
}
token_unlocks
header_sum=$(sha256sum <"$R/root/vol.img")

# --- 4. upgrade ---------------------------------------------------------------
step "upgrade to $ver2: one initramfs rebuild, the token still unlocks"
n0=$(builds)
expect_ok in_root apt-get install -y --no-install-recommends "./tmp/debs/next/oyster_${ver2}_amd64.deb" \
	"./tmp/debs/next/oyster-initramfs-tools_${ver2}_amd64.deb" "./tmp/debs/next/oyster-dracut_${ver2}_amd64.deb"
cp -- "$OUT" "$WORKDIR/upgrade.log"
[ "$(builds)" -eq $((n0 + 1)) ] ||
	fail "upgrading rebuilt the initramfs $(($(builds) - n0)) times, not once (log: $WORKDIR/upgrade.log)"
[ "$(in_root dpkg-query -W -f '${Version}' oyster)" = "$ver2" ] || fail "oyster is not at $ver2 after the upgrade"
in_root lsinitramfs "/boot/initrd.img-$KVER" | grep -qxF usr/sbin/oyster || fail "the rebuilt initramfs lacks oyster"
token_unlocks

# --- 5. purge -------------------------------------------------------------------
step "apt-get purge: nothing left, one line about the token, the passphrase opens"
in_root dpkg -L oyster oyster-initramfs-tools oyster-dracut >"$WORKDIR/dpkg-L" || fail "dpkg -L failed"
in_root sh -c 'cat /var/lib/dpkg/info/oyster.conffiles' >>"$WORKDIR/dpkg-L"
n0=$(builds)
expect_ok in_root apt-get purge -y oyster oyster-initramfs-tools oyster-dracut
cp -- "$OUT" "$WORKDIR/purge.log"
cat "$ERR" >>"$WORKDIR/purge.log"
n=$(grep -c "oyster token(s) remain on /etc/crypttab's volumes; without oyster they open with their passphrases" \
	"$WORKDIR/purge.log" || true)
[ "$n" -eq 1 ] || fail "removal said $n times (not once) that oyster tokens remain (log: $WORKDIR/purge.log)"
n=$(grep -c "oyster: /etc/crypttab still uses keyscript=oyster for: oyroot;" "$WORKDIR/purge.log" || true)
[ "$n" -eq 1 ] || fail "removal said $n times (not once) that crypttab still uses keyscript=oyster (log: $WORKDIR/purge.log)"
n=$(grep -c "oyster: purge leaves /var/lib/oyster" "$WORKDIR/purge.log" || true)
[ "$n" -eq 1 ] || fail "purge said $n times (not once) that it leaves /var/lib/oyster (log: $WORKDIR/purge.log)"
[ -s "$R/var/lib/oyster/credential" ] || fail "purge removed /var/lib/oyster/credential"
# The enrolled token is authorized (enroll's default): its NV credential stays too.
if [ -n "$nv_credential" ]; then
	[ -s "$R/var/lib/oyster/$nv_credential" ] || fail "purge removed the NV credential /var/lib/oyster/$nv_credential"
fi
[ "$(builds)" -eq $((n0 + 1)) ] ||
	fail "purging rebuilt the initramfs $(($(builds) - n0)) times, not once (log: $WORKDIR/purge.log)"
while read -r p; do
	[ -n "$p" ] && [ "$p" != /. ] || continue
	if [ -d "$R$p" ]; then
		# A directory (or usr-merge's /lib -> usr/lib) stays only while
		# other files are in it.
		[ -n "$(ls -A "$R$p")" ] || fail "purge left the empty directory $p"
	elif [ -e "$R$p" ] || [ -L "$R$p" ]; then
		fail "purge left $p"
	fi
done <"$WORKDIR/dpkg-L"
upper_files >"$WORKDIR/upper.after"
if ! diff "$WORKDIR/upper.before" "$WORKDIR/upper.after" >"$WORKDIR/upper.diff"; then
	cat "$WORKDIR/upper.diff" >&2
	fail "install and purge changed the root beyond dpkg's and apt's own state (above)"
fi
in_root lsinitramfs "/boot/initrd.img-$KVER" | grep -q 'oyster' && fail "the initramfs still holds oyster's files after the purge"
[ "$(sha256sum <"$R/etc/crypttab")" = "$crypttab_sum" ] || fail "the packages changed /etc/crypttab"
[ "$(sha256sum <"$R/root/vol.img")" = "$header_sum" ] || fail "the packages changed the LUKS volume"
expect_ok in_root cryptsetup open --test-passphrase --key-file /root/passphrase /root/vol.img
step "ok: install, initramfs, unlock, upgrade and purge"
