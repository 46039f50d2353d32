#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: dracut. The real dracut, with oyster's module 90oyster installed in a
# sandbox, builds a no-hostonly image that holds the token plugin with every
# library it loads, the TCTI modules (device, and swtpm because dracut.conf.d
# asks), cryptsetup and the TPM drivers; the default module set picks the
# module up by itself. Inside the unpacked image (chroot), the image's own
# cryptsetup opens an enrolled volume through the token alone, against the
# swtpm; after PCR 7 changes, the same `cryptsetup open` says why (PCR 7) and
# takes the passphrase. At pre-pivot the prune and then the fence find the
# volume themselves with blkid (a loop device in the chroot): the prune
# narrows a two-state token, the fence extends PCR 15 with exactly that
# volume's measurement; with no LUKS volume in sight it still extends, with
# the "no volume" event, and a LUKS1 impostor under the volume's UUID is
# measured as itself, without a false header warning. A missing TCTI
# module or plugin fails the build.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

need dracut lsinitrd cpio chroot flock unshare
find_kernel
sandbox_init

pass='dracut passphrase'
img=$WORKDIR/root.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot-on
enroll "$img" "$pass" --pcrs 7

confdir=$WORKDIR/dracut.conf.d
mkdir -p "$confdir"
echo 'oyster_tctis+=" swtpm "' >"$confdir/oyster.conf"

# dracut_build IMAGE ARGS...: dracut in the sandbox with only our
# configuration; output in $OUT/$ERR, status in $RC.
dracut_build() {
	local image=$1 t0
	shift
	t0=$(date +%s%N)
	run sandbox dracut --no-hostonly --kver "$KVER" --conf /dev/null --confdir "$confdir" \
		--tmpdir "$WORKDIR" --no-early-microcode --force "$@" "$image"
	BUILD_MS=$((($(date +%s%N) - t0) / 1000000))
}

say "dracut --no-hostonly -m 'base crypt oyster'"
image=$WORKDIR/dracut.img
dracut_build "$image" --modules "base crypt oyster" --no-compress
[ "$RC" -eq 0 ] && [ -s "$image" ] || { show_last; fail "dracut failed"; }
say "image: $(du -k "$image" | cut -f1) KiB (uncompressed), built in $BUILD_MS ms"
list=$WORKDIR/dracut.list
# lsinitrd prints ls -l lines; keep the paths (symlinks without their targets).
lsinitrd "$image" | awk '{ p = $9; if (p != "") print p }' >"$list"
[ -s "$list" ] || fail "lsinitrd listed nothing"

say "the plugin, every library it loads, the TCTI modules and cryptsetup"
plugin_path=$TOKENDIR/libcryptsetup-token-oyster-tpm2.so
in_list "$list" "$(usr_merged "$plugin_path")" usr/sbin/cryptsetup
for lib in $(ldd_closure "$PLUGIN" "$TSS2_LIBDIR/libtss2-tcti-device.so.0" "$TSS2_LIBDIR/libtss2-tcti-swtpm.so.0"); do
	in_list "$list" "$(usr_merged "$lib")"
done
in_list "$list" "$(usr_merged "$TSS2_LIBDIR/libtss2-tcti-device.so.0")" \
	"$(usr_merged "$(readlink -f "$TSS2_LIBDIR/libtss2-tcti-device.so.0")")" \
	"$(usr_merged "$TSS2_LIBDIR/libtss2-tcti-swtpm.so.0")"
not_in_list "$list" 'libtss2-tcti-mssim' 'libtss2-tcti-cmd'
say "the TPM drivers this kernel has as modules"
for m in tpm_tis_spi tpm_i2c_infineon tpm_tis_i2c_cr50; do
	ko=$(cd "$KMODULES" && find . -name "$m.ko*" | head -n 1)
	[ -z "$ko" ] || in_list "$list" "usr/lib/modules/$KVER/${ko#./}"
done

say "the image's cryptsetup opens the volume through the token, in a chroot"
root=$WORKDIR/unpacked
mkdir -p "$root"
(cd "$root" && cpio -id --quiet <"$image") || fail "cannot unpack the image"
mkdir -p "$root/work" "$root/proc" "$root/dev"
cp -- "$img" "$root/work/"
# The ASan build's plugin needs the sanitizer runtime first in the process.
preload=
if [ -n "$SANITIZED" ]; then
	preload=$(ldd_closure "$PLUGIN" | grep -m1 '/libasan\.so' || true)
	[ -z "$preload" ] || preload=LD_PRELOAD=$preload
fi
# in_image SCRIPT [VAR=VALUE...]: SCRIPT in the image (chroot), /dev holding
# null, random, urandom and the block device $IMAGE_DEV when set (with /sys).
IMAGE_DEV=
in_image() {
	local major=0 minor=0
	if [ -n "$IMAGE_DEV" ]; then
		major=$((0x$(stat -c %t "$IMAGE_DEV"))) minor=$((0x$(stat -c %T "$IMAGE_DEV")))
	fi
	run unshare -m --propagation private -- /bin/sh -c '
		root=$1 script=$2 dev=$3 major=$4 minor=$5
		shift 5
		mount -t proc proc "$root/proc" &&
		mount -t tmpfs -o mode=755 dev "$root/dev" &&
		mknod -m 666 "$root/dev/null" c 1 3 &&
		mknod -m 666 "$root/dev/urandom" c 1 9 &&
		mknod -m 666 "$root/dev/random" c 1 8 || exit 99
		if [ -n "$dev" ]; then
			# blkid lists block devices from /proc/partitions and sysfs.
			mkdir -p "$root/sys" && mount -t sysfs sysfs "$root/sys" &&
			mknod -m 600 "$root$dev" b "$major" "$minor" || exit 99
		fi
		exec env -i PATH=/sbin:/usr/sbin:/bin:/usr/bin "$@" chroot "$root" /bin/sh -c "$script"
		' sh "$root" "$1" "$IMAGE_DEV" "$major" "$minor" "${@:2}"
	[ "$RC" -ne 99 ] || { show_last; setup_error "cannot set up the chroot"; }
}
in_image 'cryptsetup open --test-passphrase --token-only /work/root.img' \
	OYSTER_TCTI="$OYSTER_TCTI" ${preload:+"$preload"} ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] || { show_last; fail "the token did not open the volume inside the dracut image"; }

say "the boot fence: the hook is in the image, and the image's oyster extends PCR 15"
grep -qE 'hooks/pre-pivot/[0-9]*-?oyster-fence\.sh$' "$list" || fail "no pre-pivot fence hook in the image"
grep -qE 'hooks/emergency/[0-9]*-?oyster-fence\.sh$' "$list" || fail "no emergency fence hook in the image"
in_list "$list" "$(usr_merged "$SBINDIR/oyster")"
before15=$(pcr_value sha256 15)
in_image "$SBINDIR/oyster fence /work/root.img" \
	OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] || { show_last; fail "the image's oyster could not fence the volume"; }
[ "$(pcr_value sha256 15)" != "$before15" ] || fail "the image's oyster fence did not change PCR 15"

say "at pre-pivot the prune, then the fence, find the volume themselves (blkid), on a loop device"
prune_hook=$(grep -E 'hooks/pre-pivot/[0-9]*-?oyster-prune\.sh$' "$list" || true)
fence_hook=$(grep -E 'hooks/pre-pivot/[0-9]*-?oyster-fence\.sh$' "$list" || true)
[ -n "$prune_hook" ] || fail "no pre-pivot prune hook in the image"
[ "$(printf '%s\n%s\n' "$prune_hook" "$fence_hook" | sort)" = "$(printf '%s\n%s\n' "$prune_hook" "$fence_hook")" ] ||
	fail "the pre-pivot prune ($prune_hook) does not run before the fence ($fence_hook)"
need losetup
expect_ok "$OYSTER" reseal "$root/work/root.img" --add-state "7:sha256=$(printf 'other' | sha256sum | cut -d' ' -f1)"
# An authorized token (enroll's default) is narrowed with oyster's NV
# credential, which the prune reads from the mounted root ($NEWROOT, /sysroot).
install -d -m 700 "$root/sysroot/var/lib/oyster"
cp -p -- "$OYSTER_STATE_DIR"/nv-* "$root/sysroot/var/lib/oyster/"
states() { luks_json "$root/work/root.img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }
[ "$(states)" -eq 2 ] || setup_error "expected 2 states, found $(states)"
IMAGE_DEV=$(losetup -f --show "$root/work/root.img") || unavailable "no loop device for the image (losetup -f failed)"
at_exit losetup -d "$IMAGE_DEV"
uuid=$(cryptsetup luksUUID "$root/work/root.img")
before15=$(pcr_value sha256 15)
want15=$(python3 "$TESTDIR/fence-pcr.py" "$before15" "$root/work/root.img")
rm -rf "$root/run/oyster"
in_image "sh /$prune_hook" OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the pre-pivot prune failed or spoke"; }
[ "$(states)" -eq 2 ] || fail "the prune narrowed a token although the TPM did not unlock its volume in this boot"
say "the plugin noted that the TPM unlocked the volume (/run/oyster/unlocked/UUID): now it is pruned"
rm -rf "$root/run/oyster"
mkdir -p "$root/run/oyster/unlocked" && : >"$root/run/oyster/unlocked/$uuid"
in_image "sh /$prune_hook && sh /$fence_hook" \
	OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the pre-pivot hooks failed or spoke"; }
[ "$(states)" -eq 1 ] || fail "the prune did not narrow the token on $IMAGE_DEV ($(states) states)"
[ "$(pcr_value sha256 15)" = "$want15" ] ||
	fail "PCR 15 is not the fence of exactly this volume once: $(pcr_value sha256 15), expected $want15"
say "each once per boot: run again, nothing changes"
in_image "sh /$prune_hook && sh /$fence_hook" OYSTER_TCTI="$OYSTER_TCTI"
[ "$(pcr_value sha256 15)" = "$want15" ] || fail "the fence ran twice in one boot"
IMAGE_DEV=

say "no LUKS volume in sight: the fence hook still closes the fence, with the 'no volume' event"
before15=$(pcr_value sha256 15)
rm -rf "$root/run/oyster"
in_image "sh /$fence_hook" OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the fence hook failed or spoke"; }
[ "$(pcr_value sha256 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$before15" -)" ] ||
	fail "PCR 15 is not the 'no volume' event: $(pcr_value sha256 15)"

say "a LUKS1 impostor under the volume's UUID, alone in sight: measured, no false header warning"
impostor=$WORKDIR/impostor-luks1.img
truncate -s 8M "$impostor"
cryptsetup luksFormat --type luks1 --uuid "$uuid" --pbkdf-force-iterations 1000 --batch-mode \
	--key-file "$(keyfile attacker)" "$impostor" >/dev/null 2>&1 || setup_error "luksFormat --type luks1 failed"
IMAGE_DEV=$(losetup -f --show "$impostor") || unavailable "no loop device for the impostor (losetup -f failed)"
at_exit losetup -d "$IMAGE_DEV"
before15=$(pcr_value sha256 15)
rm -rf "$root/run/oyster"
in_image "sh /$fence_hook" OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the fence hook failed or spoke on a LUKS1 volume"; }
[ "$(pcr_value sha256 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$before15" "$impostor")" ] ||
	fail "PCR 15 is not the LUKS1 impostor's measurement: $(pcr_value sha256 15)"
losetup -d "$IMAGE_DEV"
IMAGE_DEV=

say "PCR 7 changes: the token declines, naming PCR 7, and the passphrase opens it in the same call"
extend_pcr 7 secure-boot-off
printf '%s' "$pass" >"$root/work/pass"
in_image 'cryptsetup open --debug --test-passphrase /work/root.img </work/pass' \
	OYSTER_TCTI="$OYSTER_TCTI" ${preload:+"$preload"} ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase did not open the volume after the token declined"; }
grep -qE 'PCR 7([^0-9]|$)' "$OUT" "$ERR" || { show_last; fail "cryptsetup --debug does not show why (PCR 7)"; }
grep -q 'Key slot 0 unlocked' "$OUT" "$ERR" || { show_last; fail "the passphrase keyslot 0 did not open it"; }

say "the record hook (pre-pivot, before the prune): an open volume the TPM refuses is written to /run/oyster/fallback"
record_hook=$(grep -E 'hooks/pre-pivot/[0-9]*-?oyster-record\.sh$' "$list" || true)
[ -n "$record_hook" ] || fail "no pre-pivot record hook in the image"
[ "$(printf '%s\n%s\n' "$record_hook" "$prune_hook" | sort)" = "$(printf '%s\n%s\n' "$record_hook" "$prune_hook")" ] ||
	fail "the record hook ($record_hook) does not run before the prune ($prune_hook)"
IMAGE_DEV=$(losetup -f --show "$root/work/root.img") || unavailable "no loop device for the image (losetup -f failed)"
at_exit losetup -d "$IMAGE_DEV"
rm -rf "$root/run/oyster"
in_image "sh /$record_hook" OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -e "$root/run/oyster/fallback" ] || { show_last; fail "a volume nobody opened was recorded"; }
# No device-mapper here: a holder in sysfs stands for the opened volume.
rm -rf "$root/run/oyster"
holders=/sys/class/block/${IMAGE_DEV##*/}/holders
in_image "mount -t tmpfs holders $holders && : >$holders/dm-0 && sh /$record_hook" \
	OYSTER_TCTI="$OYSTER_TCTI" ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"}
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the record hook failed or spoke"; }
[ "$(cat "$root/run/oyster/fallback" 2>&1)" = "$uuid pcr-changed" ] ||
	{ show_last; fail "the record: [$(cat "$root/run/oyster/fallback" 2>&1)]"; }
IMAGE_DEV=

say "the default module set includes oyster by itself"
dracut_build "$WORKDIR/default.img" --no-kernel --no-compress
[ "$RC" -eq 0 ] || { show_last; fail "dracut (default modules) failed"; }
grep -q 'Including module: oyster' "$OUT" "$ERR" || { show_last; fail "dracut did not include module oyster by default"; }
lsinitrd "$WORKDIR/default.img" | grep -q 'libcryptsetup-token-oyster-tpm2.so' || fail "no plugin in the default image"

say "a TCTI module that is not installed fails the build, naming it"
echo 'oyster_tctis+=" nosuch "' >>"$confdir/oyster.conf"
dracut_build "$WORKDIR/bad.img" --modules "base crypt oyster" --no-kernel --no-compress
[ "$RC" -ne 0 ] || fail "dracut succeeded although a TCTI module is missing"
grep -q 'oyster: .*libtss2-tcti-nosuch.so.0 is missing' "$OUT" "$ERR" || { show_last; fail "no message naming the missing TCTI"; }
echo 'oyster_tctis+=" swtpm "' >"$confdir/oyster.conf"

say "a missing plugin fails the build"
rm -f -- "$(sb_path "$plugin_path")"
dracut_build "$WORKDIR/bad2.img" --modules "base crypt oyster" --no-kernel --no-compress
[ "$RC" -ne 0 ] || fail "dracut succeeded without the plugin"
grep -q "oyster: $plugin_path is missing" "$OUT" "$ERR" || { show_last; fail "no message naming the missing plugin"; }
say "PASS"
