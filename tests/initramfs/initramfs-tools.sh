#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: Debian's initramfs-tools. A machine has three volumes in crypttab,
# all opened in the initramfs: 'oyroot' enrolled in the TPM (keyscript=oyster),
# 'oydata' with keyscript=oyster but no token, 'plain' without keyscript.
# mkinitramfs (the real one, our hook installed in a sandbox) builds an image
# that holds everything the keyscript runs, dlopen'ed TCTI modules included,
# and not the token plugin. Inside the unpacked image (chroot), against the
# swtpm: the keyscript prints a passphrase that opens oyroot; after PCR 7
# changes it says so on the console, naming PCR 7, and asks the passphrase
# through askpass; oydata goes straight to askpass; later tries only ask; a
# missing TPM costs one bounded wait; a PIN is asked through askpass with its
# own prompt, three times at most; a locked-out TPM sends to the passphrase.
# The boot fence closes on every path: an impostor volume without a token
# under an enrolled volume's UUID is measured (and the victim's token then
# refuses), and a TPM that came up after the keyscript gave up waiting is
# waited for again. The post-boot prune runs before the fence and narrows a fenced token
# the TPM unlocked to the state of this boot, writes nothing when there is
# nothing to prune, and fails in one line without holding up the boot.
# Broken setups (a missing TCTI module, a missing oyster) fail the build.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

need mkinitramfs lsinitramfs unmkinitramfs cpio chroot flock unshare busybox tpm2_dictionarylockout
[ -f /usr/share/initramfs-tools/hooks/cryptroot ] ||
	unavailable "cryptsetup-initramfs is not installed (apt-get install cryptsetup-initramfs)"
find_kernel
sandbox_init

pass='initramfs-tools passphrase'
root_img=$WORKDIR/root.img
data_img=$WORKDIR/data.img
plain_img=$WORKDIR/plain.img
make_luks "$root_img" "$pass"
make_luks "$data_img" "$pass"
make_luks "$plain_img" "$pass"
extend_pcr 7 secure-boot-on
enroll "$root_img" "$pass" --pcrs 7
uuid_of() {
	cryptsetup luksUUID "$1"
}

# The initramfs-tools configuration: a private directory (mkinitramfs -d).
conf=$WORKDIR/initramfs-tools
mkdir -p "$conf/conf.d" "$conf/hooks" "$conf/scripts"
cat >"$conf/initramfs.conf" <<EOF
MODULES=list
BUSYBOX=y
KEYMAP=n
COMPRESS=gzip
DEVICE=
NFSROOT=auto
RUNSIZE=10%
FSTYPE=auto
EOF
: >"$conf/modules"
# The swtpm TCTI, for the runs below; device is always in.
echo 'OYSTER_TCTIS="swtpm"' >"$conf/conf.d/oyster"

# 'initramfs' puts an entry into the image without it being the root.
cat >"$(sb_path /etc/crypttab)" <<EOF
# <target> <source> <key> <options>
oyroot UUID=$(uuid_of "$root_img") none luks,initramfs,keyscript=oyster
oydata UUID=$(uuid_of "$data_img") none luks,initramfs,keyscript=oyster
plain UUID=$(uuid_of "$plain_img") none luks,initramfs
EOF

# build IMAGE: mkinitramfs in the sandbox; output in $OUT/$ERR, status in $RC.
build() {
	local t0
	t0=$(date +%s%N)
	run sandbox env TMPDIR="$WORKDIR" mkinitramfs -d "$conf" -o "$1" "$KVER"
	BUILD_MS=$((($(date +%s%N) - t0) / 1000000))
}

say "mkinitramfs with our hook"
image=$WORKDIR/initrd.img
build "$image"
[ "$RC" -eq 0 ] || { show_last; fail "mkinitramfs failed"; }
[ -s "$image" ] || fail "mkinitramfs wrote no image"
say "image: $(du -k "$image" | cut -f1) KiB (gzip), built in $BUILD_MS ms"

list=$WORKDIR/initrd.list
lsinitramfs "$image" >"$list" || fail "lsinitramfs failed"

say "the image holds what the keyscript runs"
in_list "$list" "$(usr_merged "$KEYSCRIPTDIR/oyster")" "$(usr_merged "$SBINDIR/oyster")" \
	usr/lib/cryptsetup/askpass usr/sbin/cryptsetup usr/bin/busybox \
	conf/conf.d/oyster cryptroot/crypttab scripts/local-bottom/oyster scripts/panic/oyster
for lib in $(ldd_closure "$OYSTER" "$TSS2_LIBDIR/libtss2-tcti-device.so.0" "$TSS2_LIBDIR/libtss2-tcti-swtpm.so.0"); do
	in_list "$list" "$(usr_merged "$lib")"
done
say "the dlopen'ed TCTI modules: device always, swtpm because conf.d/oyster asks"
in_list "$list" "$(usr_merged "$TSS2_LIBDIR/libtss2-tcti-device.so.0")" \
	"$(usr_merged "$(readlink -f "$TSS2_LIBDIR/libtss2-tcti-device.so.0")")" \
	"$(usr_merged "$TSS2_LIBDIR/libtss2-tcti-swtpm.so.0")"
not_in_list "$list" 'libtss2-tcti-mssim' 'libtss2-tcti-cmd'
say "no token plugin: cryptsetup must not reach the TPM while the keyscript does"
not_in_list "$list" 'libcryptsetup-token-'
say "the TPM drivers this kernel has as modules"
for m in tpm_tis tpm_crb tpm_tis_spi tpm_i2c_infineon; do
	ko=$(cd "$KMODULES" && find . -name "$m.ko*" | head -n 1)
	if [ -n "$ko" ]; then
		in_list "$list" "usr/lib/modules/$KVER/${ko#./}"
	elif ! grep -q "/$m.ko" "$KMODULES/modules.builtin"; then
		say "(kernel $KVER has no $m)"
	fi
done
unpacked=$WORKDIR/unpacked
rm -rf "$unpacked"
unmkinitramfs "$image" "$unpacked" || fail "unmkinitramfs failed"
root=$unpacked
[ ! -d "$unpacked/main" ] || root=$unpacked/main
grep -qE '^oyroot UUID=[^ ]+ none luks,initramfs,keyscript=oyster$' "$root/cryptroot/crypttab" ||
	{ cat "$root/cryptroot/crypttab" >&2; fail "the image's crypttab lacks oyroot's entry"; }

# ------------------------------------------------------------------------
# The keyscript inside the image.

mkdir -p "$root/work" "$root/proc" "$root/dev"
cp -- "$root_img" "$data_img" "$root/work/"
# A stub askpass: records its prompts, answers a PIN prompt with the next
# line of pin.answers and any other prompt with pass.answer.
mv "$root/usr/lib/cryptsetup/askpass" "$root/usr/lib/cryptsetup/askpass.real"
cat >"$root/usr/lib/cryptsetup/askpass" <<'EOF'
#!/bin/sh
printf '%s\n' "$1" >>/work/askpass.log
case $1 in
"Enter TPM PIN for "*)
	[ -s /work/pin.answers ] || exit 1
	head -n 1 /work/pin.answers | tr -d '\n'
	sed -i 1d /work/pin.answers
	;;
*)
	cat /work/pass.answer
	;;
esac
EOF
chmod 755 "$root/usr/lib/cryptsetup/askpass"
printf '%s' "$pass" >"$root/work/pass.answer"

# in_image SCRIPT [VAR=VALUE...]: sh -c SCRIPT in the image (chroot) with
# only the VARs in its environment, /proc, a minimal /dev (no TPM node) and
# the kernel command line from $WORKDIR/cmdline, in a private mount
# namespace. Output in $OUT/$ERR, status in $RC.
: >"$WORKDIR/cmdline"
in_image() {
	run unshare -m --propagation private -- /bin/sh -c '
		root=$1 cmdline=$2 script=$3
		shift 3
		mount -t proc proc "$root/proc" &&
		mount --bind "$cmdline" "$root/proc/cmdline" &&
		mount -t tmpfs -o mode=755 dev "$root/dev" &&
		mknod -m 666 "$root/dev/null" c 1 3 &&
		mknod -m 666 "$root/dev/zero" c 1 5 &&
		mknod -m 666 "$root/dev/random" c 1 8 &&
		mknod -m 666 "$root/dev/urandom" c 1 9 || exit 99
		exec env -i PATH=/sbin:/usr/sbin:/bin:/usr/bin "$@" chroot "$root" /bin/sh -c "$script"
		' sh "$root" "$WORKDIR/cmdline" "$@"
}

# keyscript NAME IMG TRIED [VAR=VALUE...]: the keyscript as cryptroot runs
# it, its output piped into the image's cryptsetup (--test-passphrase).
# $RC is cryptsetup's status, $ERR the keyscript's stderr (the console),
# $ASKED the prompts askpass was called with, $ELAPSED the seconds it took.
keyscript() {
	local name=$1 img=$2 tried=$3
	shift 3
	rm -f "$root/work/askpass.log" "$root/work/keyscript.err"
	elapsed in_image '/usr/lib/cryptsetup/scripts/oyster none 2>/work/keyscript.err |
		cryptsetup open --test-passphrase --key-file=- "$CRYPTTAB_SOURCE"' \
		CRYPTTAB_NAME="$name" CRYPTTAB_SOURCE="/work/${img##*/}" \
		CRYPTTAB_KEY=none CRYPTTAB_OPTIONS=luks,keyscript=oyster CRYPTTAB_OPTION_luks=yes \
		CRYPTTAB_OPTION_keyscript=/lib/cryptsetup/scripts/oyster CRYPTTAB_TRIED="$tried" \
		rootmnt=/root "$@"
	[ "$RC" -ne 99 ] || { show_last; setup_error "cannot set up the chroot"; }
	cat "$root/work/keyscript.err" >"$ERR" 2>/dev/null || : >"$ERR"
	ASKED=$(cat "$root/work/askpass.log" 2>/dev/null || true)
}

# new_boot: the marks the keyscript leaves in /run for this boot are gone.
new_boot() {
	rm -rf "$root/run/oyster"
}

swtpm_tcti=OYSTER_TCTI=$OYSTER_TCTI

say "the TPM unlocks oyroot: no prompt, no message"
keyscript oyroot "$root_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the keyscript's passphrase does not open oyroot"; }
[ -z "$ASKED" ] || { show_last; fail "askpass was called although the TPM unlocked: $ASKED"; }
[ ! -s "$ERR" ] || { show_last; fail "the keyscript printed something although the TPM unlocked"; }
[ ! -e "$root/run/oyster/fallback" ] || fail "a TPM unlock was recorded as a fallback"
say "TPM unlock in the image took ${ELAPSED}s (rounded up)"

say "a later try (CRYPTTAB_TRIED=1) only asks"
new_boot
keyscript oyroot "$root_img" 1 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase from askpass did not open oyroot"; }
[ "$ASKED" = "Please unlock disk oyroot: " ] || fail "askpass prompts: [$ASKED]"
[ ! -s "$ERR" ] || { show_last; fail "a later try printed a message"; }

say "the TPM is asked once per volume and boot"
new_boot
keyscript oyroot "$root_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ -z "$ASKED" ] || { show_last; fail "first run of the boot did not unlock through the TPM"; }
keyscript oyroot "$root_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oyroot: " ] ||
	{ show_last; fail "a second first try in the same boot did not go to askpass: [$ASKED]"; }

say "a volume without an oyster token goes straight to askpass, without a word"
new_boot
# The TCTI points nowhere: had the keyscript tried the TPM, it would say so.
keyscript oydata "$data_img" 0 "OYSTER_TCTI=swtpm:host=127.0.0.1,port=$(closed_port)"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase did not open oydata"; }
[ "$ASKED" = "Please unlock disk oydata: " ] || fail "askpass prompts for oydata: [$ASKED]"
[ ! -s "$ERR" ] || { show_last; fail "the keyscript said something about a volume without a token"; }

say "PCR 7 changes: one line naming PCR 7, then askpass in the same try"
extend_pcr 7 secure-boot-off
new_boot
keyscript oyroot "$root_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase fallback did not open oyroot"; }
[ "$ASKED" = "Please unlock disk oyroot: " ] || { show_last; fail "askpass prompts: [$ASKED]"; }
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "expected one line on the console"; }
grep -qE '^oyster: oyroot: .*PCR 7([^0-9]|$).*Asking for the passphrase\.$' "$ERR" ||
	{ show_last; fail "the console line does not name PCR 7"; }
say "console: $(cat "$ERR")"
[ "$(cat "$root/run/oyster/fallback")" = "$(uuid_of "$root_img") pcr-changed" ] ||
	fail "the fallback record for the running system: [$(cat "$root/run/oyster/fallback" 2>&1)]"

say "a recovery key at the fallback prompt: with dashes, without, in upper case"
PASSWORD=$pass expect_ok "$OYSTER" enroll "$root/work/root.img" --recovery-key-file "$WORKDIR/recovery.key" </dev/null
rkey=$(cat "$WORKDIR/recovery.key")
plain=${rkey//-/}
for typed in "$rkey" "$plain" "${rkey^^}" "${plain^^}"; do
	printf '%s' "$typed" >"$root/work/pass.answer"
	new_boot
	keyscript oyroot "$root_img" 0 "$swtpm_tcti"
	[ "$RC" -eq 0 ] || { show_last; fail "the recovery key typed as '$typed' did not open oyroot"; }
	[ "$ASKED" = "Please unlock disk oyroot: " ] || { show_last; fail "askpass prompts: [$ASKED]"; }
done
say "a passphrase that is no recovery key passes unchanged"
printf '%s' "$pass" >"$root/work/pass.answer"
new_boot
keyscript oyroot "$root_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase no longer opens oyroot"; }

say "no TPM: a bounded wait (oyster.timeout=2), one line, askpass; the next volume does not wait again"
new_boot
echo "quiet oyster.timeout=2" >"$WORKDIR/cmdline"
keyscript oyroot "$root_img" 0
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oyroot: " ] || { show_last; fail "no-TPM fallback"; }
grep -qE '^oyster: oyroot: No TPM found \(waited 2s for /dev/tpm0\)\. Asking for the passphrase\.$' "$ERR" || { show_last; fail "no-TPM message"; }
[ "$(cat "$root/run/oyster/fallback")" = "$(uuid_of "$root_img") no-tpm" ] ||
	fail "the no-TPM fallback record: [$(cat "$root/run/oyster/fallback" 2>&1)]"
[ "$ELAPSED" -ge 2 ] && [ "$ELAPSED" -le 10 ] || fail "the wait for the TPM took ${ELAPSED}s, expected about 2"
cp -- "$root_img" "$root/work/root2.img"
keyscript oyroot2 "$root/work/root2.img" 0
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oyroot2: " ] || { show_last; fail "no-TPM fallback, second volume"; }
[ "$ELAPSED" -le 2 ] || fail "the second volume waited for the missing TPM again (${ELAPSED}s)"
: >"$WORKDIR/cmdline"

say "oyster.tcti= on the kernel command line picks the TPM"
new_boot
enroll "$root_img" "$pass" --pcrs 7 --replace
cp -- "$root_img" "$root/work/"
echo "oyster.tcti=$OYSTER_TCTI" >"$WORKDIR/cmdline"
keyscript oyroot "$root_img" 0
[ "$RC" -eq 0 ] && [ -z "$ASKED" ] || { show_last; fail "oyster.tcti= was not used"; }
: >"$WORKDIR/cmdline"

# ------------------------------------------------------------------------
say "a token with a PIN"
pin_img=$WORKDIR/pin.img
make_luks "$pin_img" "$pass"
NEWPIN=2468 enroll "$pin_img" "$pass" --pcrs 7 --pin
cp -- "$pin_img" "$root/work/"

say "right PIN: askpass asks for the PIN with its own prompt, the TPM unlocks"
new_boot
echo 2468 >"$root/work/pin.answers"
keyscript oypin "$pin_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the PIN did not unlock"; }
[ "$ASKED" = "Enter TPM PIN for oypin: " ] || { show_last; fail "askpass prompts: [$ASKED]"; }

say "wrong PINs: three PIN prompts, then the passphrase"
tpm2_dictionarylockout --clear-lockout >/dev/null || setup_error "tpm2_dictionarylockout --clear-lockout failed"
at_exit tpm2_dictionarylockout --clear-lockout
tpm2_dictionarylockout --setup-parameters --max-tries=10 --recovery-time=600 --lockout-recovery-time=600 >/dev/null ||
	setup_error "tpm2_dictionarylockout --setup-parameters failed"
new_boot
printf '1111\n2222\n3333\n' >"$root/work/pin.answers"
keyscript oypin "$pin_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase after wrong PINs did not open the volume"; }
expected=$(printf 'Enter TPM PIN for oypin: \nEnter TPM PIN for oypin: \nEnter TPM PIN for oypin: \nPlease unlock disk oypin: ')
[ "$ASKED" = "$expected" ] || { show_last; fail "askpass prompts after wrong PINs: [$ASKED]"; }
grep -q 'Asking for the passphrase' "$ERR" || { show_last; fail "no message before the passphrase prompt"; }
[ "$(grep -c 'oyster: oypin: .*PIN' "$ERR")" -eq 3 ] || { show_last; fail "expected a line about the PIN after each wrong one"; }
say "console: $(cat "$ERR")"
tpm2_dictionarylockout --clear-lockout >/dev/null

say "a locked-out TPM: one line, then the passphrase, no more PIN prompts"
tpm2_dictionarylockout --setup-parameters --max-tries=1 --recovery-time=600 --lockout-recovery-time=600 >/dev/null ||
	setup_error "tpm2_dictionarylockout --setup-parameters failed"
PIN=0000 run "$OYSTER" unseal "$pin_img" # one wrong PIN locks the TPM out now
new_boot
printf '2468\n2468\n' >"$root/work/pin.answers"
keyscript oypin "$pin_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the passphrase did not open the volume in lockout"; }
# oyster unseal asks the TPM before it wants a PIN: exit 6, no PIN prompt.
expected=$(printf 'Please unlock disk oypin: ')
[ "$ASKED" = "$expected" ] || { show_last; fail "askpass prompts in lockout: [$ASKED]"; }
[ "$(wc -l <"$ERR")" -eq 1 ] && grep -q 'locked out' "$ERR" || { show_last; fail "the console line does not say lockout"; }
say "console: $(cat "$ERR")"
tpm2_dictionarylockout --clear-lockout >/dev/null

say "oyster unseal exiting 6 at once: no PIN prompt at all"
oyster_in_image=$root/$(usr_merged "$SBINDIR/oyster")
mv -- "$oyster_in_image" "$oyster_in_image.real"
# A stub for unseal only: the keyscript asks the real oyster which tokens there are.
printf '#!/bin/sh\n[ "$1" = unseal ] || exec "$0.real" "$@"\necho "The TPM is locked out (stub)." >&2\nexit 6\n' >"$oyster_in_image"
chmod 755 "$oyster_in_image"
new_boot
keyscript oypin "$pin_img" 0 "$swtpm_tcti"
mv -- "$oyster_in_image.real" "$oyster_in_image"
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oypin: " ] || { show_last; fail "exit 6: askpass prompts [$ASKED]"; }
grep -qx 'oyster: oypin: The TPM is locked out (stub). Asking for the passphrase.' "$ERR" || { show_last; fail "exit 6: console line"; }

say "oyster missing from the image (the hook refuses to build one, but a hand-made image can): the passphrase, and a fallback record"
mv -- "$oyster_in_image" "$oyster_in_image.real"
new_boot
keyscript oypin "$pin_img" 0 "$swtpm_tcti"
mv -- "$oyster_in_image.real" "$oyster_in_image"
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oypin: " ] || { show_last; fail "no oyster: askpass prompts [$ASKED]"; }
grep -q 'is missing from this system; asking for the passphrase' "$ERR" || { show_last; fail "no oyster: console line"; }
[ "$(cat "$root/run/oyster/fallback")" = "$(uuid_of "$pin_img") no-oyster" ] ||
	fail "no oyster: the fallback record: [$(cat "$root/run/oyster/fallback" 2>&1)]"

# ------------------------------------------------------------------------
say "the boot fence: once the initramfs is done, PCR 15 closes, measuring every volume the keyscript saw"
fence_img=$WORKDIR/fence.img
make_luks "$fence_img" "$pass"
enroll "$fence_img" "$pass" --pcrs 7 --fence
cp -- "$fence_img" "$root/work/"
new_boot
keyscript oyfence "$fence_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ -z "$ASKED" ] || { show_last; fail "the fenced token did not unlock before the fence"; }
keyscript oydata "$data_img" 0 "$swtpm_tcti"
[ "$(cat "$root/run/oyster/fence-devices")" = "$(printf '/work/fence.img\n/work/data.img')" ] ||
	fail "fence list: [$(cat "$root/run/oyster/fence-devices")], expected both volumes, with a token or not"
zeros=$(printf '0%.0s' $(seq 64))
[ "$(pcr_value sha256 15)" = "$zeros" ] || setup_error "PCR 15 is not zero before the fence"
in_image /scripts/local-bottom/oyster
[ "$RC" -eq 0 ] || { show_last; fail "scripts/local-bottom/oyster failed"; }
pcr15=$(pcr_value sha256 15)
[ "$pcr15" != "$zeros" ] || { show_last; fail "the fence did not extend PCR 15"; }
expect_status 3 "$OYSTER" unseal "$fence_img"
say "the panic script after it does not extend again"
in_image /scripts/panic/oyster
[ "$RC" -eq 0 ] && [ "$(pcr_value sha256 15)" = "$pcr15" ] || fail "the fence ran twice in one boot"
say "a passphrase-fallback boot is fenced too (panic path: cryptroot gave up)"
new_boot
keyscript oyfence "$fence_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oyfence: " ] || { show_last; fail "fallback after the fence"; }
in_image /scripts/panic/oyster
[ "$RC" -eq 0 ] && [ "$(pcr_value sha256 15)" != "$pcr15" ] || fail "the panic path did not fence"

say "an impostor: a token-less volume under the fenced volume's UUID, opened with its own passphrase, is fenced"
impostor=$WORKDIR/impostor.img
make_luks "$impostor" 'attacker passphrase' --uuid "$(uuid_of "$fence_img")"
cp -- "$impostor" "$root/work/"
reboot_tpm
extend_pcr 7 secure-boot-on
new_boot
printf '%s' 'attacker passphrase' >"$root/work/pass.answer"
keyscript oyfence "$impostor" 0 "$swtpm_tcti"
printf '%s' "$pass" >"$root/work/pass.answer"
[ "$RC" -eq 0 ] && [ "$ASKED" = "Please unlock disk oyfence: " ] ||
	{ show_last; fail "the impostor was not opened with its passphrase: [$ASKED]"; }
[ "$(cat "$root/run/oyster/fence-devices")" = /work/impostor.img ] ||
	fail "fence list: [$(cat "$root/run/oyster/fence-devices")], expected the impostor"
[ "$(pcr_value sha256 15)" = "$zeros" ] || setup_error "PCR 15 is not zero before the fence"
in_image /scripts/local-bottom/oyster "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "scripts/local-bottom/oyster failed"; }
[ "$(pcr_value sha256 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$zeros" "$impostor")" ] ||
	fail "PCR 15 is not the impostor's measurement: $(pcr_value sha256 15)"
say "the attacker's root cannot unseal the victim's token"
expect_status 3 "$OYSTER" unseal "$fence_img"

say "a TPM that comes up late: the keyscript gave up waiting, the fence waits again"
reboot_tpm
extend_pcr 7 secure-boot-on
new_boot
keyscript oyfence "$fence_img" 0 OYSTER_TCTI=device:/dev/tpm-late OYSTER_TIMEOUT=0
[ "$ASKED" = "Please unlock disk oyfence: " ] || { show_last; fail "no passphrase prompt without a TPM: [$ASKED]"; }
[ -e "$root/run/oyster/no-tpm" ] || { show_last; fail "the keyscript did not record that it found no TPM"; }
late=$(closed_port)
python3 "$TESTDIR/tpm-proxy.py" --target "$SWTPM_PORT" --port "$late" --ready "$WORKDIR/late.ready" \
	--delay 2 >"$WORKDIR/late.log" 2>&1 &
late_pid=$!
at_exit kill "$late_pid"
in_image /scripts/local-bottom/oyster OYSTER_TCTI="swtpm:host=127.0.0.1,port=$late"
kill "$late_pid"
[ "$RC" -eq 0 ] || { show_last; fail "scripts/local-bottom/oyster failed"; }
[ -s "$WORKDIR/late.ready" ] || fail "the fence ran before the late TPM was up"
[ "$(pcr_value sha256 15)" = "$(python3 "$TESTDIR/fence-pcr.py" "$zeros" "$fence_img")" ] ||
	{ show_last; fail "the fence did not wait for the late TPM: PCR 15 $(pcr_value sha256 15)"; }
expect_status 3 "$OYSTER" unseal "$fence_img"

# ------------------------------------------------------------------------
say "the post-boot prune: in the image, before the fence (local-bottom/ORDER)"
in_list "$list" scripts/local-bottom/oyster-prune
order=$(grep -oE '/scripts/local-bottom/oyster(-prune)?( |$)' "$root/scripts/local-bottom/ORDER" | tr -d ' ' | tr '\n' ' ')
[ "$order" = "/scripts/local-bottom/oyster-prune /scripts/local-bottom/oyster " ] ||
	{ cat "$root/scripts/local-bottom/ORDER" >&2; fail "local-bottom order: [$order], the prune must come before the fence"; }
# local_bottom: our two local-bottom scripts, in the image's order.
local_bottom() {
	in_image '/scripts/local-bottom/oyster-prune && /scripts/local-bottom/oyster'
}
prune_states() { luks_json "$root/work/prune.img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }
prune_header() { cryptsetup luksHeaderBackup "$root/work/prune.img" --header-backup-file "$WORKDIR/hdr" >/dev/null && sha256sum <"$WORKDIR/hdr" && rm -f "$WORKDIR/hdr"; }

say "a fenced token with two approved states: the TPM unlocks, the prune keeps only the state of this boot"
reboot_tpm
extend_pcr 7 secure-boot-on
prune_img=$WORKDIR/prune.img
make_luks "$prune_img" "$pass"
enroll "$prune_img" "$pass" --pcrs 7 --fence
expect_ok "$OYSTER" reseal "$prune_img" --add-state "7:sha256=$(printf 'other' | sha256sum | cut -d' ' -f1)"
cp -- "$prune_img" "$root/work/prune.img"
# An authorized token (enroll's default) is narrowed with oyster's NV
# credential, which the prune reads from the mounted root ($rootmnt).
install -d -m 700 "$root/root/var/lib/oyster"
cp -p -- "$OYSTER_STATE_DIR"/nv-* "$root/root/var/lib/oyster/"
[ "$(prune_states)" -eq 2 ] || setup_error "expected 2 states before the boot, found $(prune_states)"
new_boot
keyscript oyprune "$prune_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ -z "$ASKED" ] || { show_last; fail "the TPM did not unlock the two-state token"; }
keyscript oydata "$data_img" 0 "$swtpm_tcti"
[ "$(cat "$root/run/oyster/unsealed-devices")" = /work/prune.img ] ||
	fail "unsealed list: [$(cat "$root/run/oyster/unsealed-devices")], expected only the volume the TPM unlocked"
local_bottom
[ "$RC" -eq 0 ] || { show_last; fail "local-bottom failed"; }
[ ! -s "$ERR" ] || { show_last; fail "the prune or the fence said something on a good boot"; }
[ "$(prune_states)" -eq 1 ] || fail "the prune left $(prune_states) states"
[ "$(pcr_value sha256 15)" != "$zeros" ] || fail "the fence did not run after the prune"
expect_status 3 "$OYSTER" unseal "$root/work/prune.img"
say "the next boot unlocks with the pruned token; nothing left to prune: no header write"
reboot_tpm
extend_pcr 7 secure-boot-on
new_boot
keyscript oyprune "$prune_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] && [ -z "$ASKED" ] || { show_last; fail "the pruned token did not unlock the next boot"; }
before=$(prune_header)
local_bottom
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "local-bottom failed or spoke"; }
[ "$(prune_header)" = "$before" ] || fail "the prune wrote the header with nothing to prune"

say "the prune fails (the TPM is gone): one line, and the boot goes on"
reboot_tpm
extend_pcr 7 secure-boot-on
expect_ok "$OYSTER" reseal "$root/work/prune.img" --add-state "7:sha256=$(printf 'other' | sha256sum | cut -d' ' -f1)"
new_boot
keyscript oyprune "$prune_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the TPM did not unlock"; }
echo "swtpm:host=127.0.0.1,port=$(closed_port)" >"$root/run/oyster/tcti"
before=$(prune_header)
elapsed local_bottom
[ "$RC" -eq 0 ] || { show_last; fail "local-bottom failed"; }
[ "$(grep -c '^oyster: could not narrow token [0-9]* of /work/prune.img to the state of this boot; it keeps its older states: ' "$ERR")" -eq 1 ] ||
	{ show_last; fail "expected one line about the failed prune"; }
[ "$(prune_header)" = "$before" ] || fail "a failed prune changed the header"
[ "$ELAPSED" -le 30 ] || fail "the failed prune took ${ELAPSED}s"
say "console: $(grep -m1 'could not narrow' "$ERR")"

say "OYSTER_PRUNE=no in conf.d/oyster turns it off"
reboot_tpm
extend_pcr 7 secure-boot-on
new_boot
keyscript oyprune "$prune_img" 0 "$swtpm_tcti"
[ "$RC" -eq 0 ] || { show_last; fail "the TPM did not unlock"; }
cp -- "$root/conf/conf.d/oyster" "$WORKDIR/conf.saved"
echo OYSTER_PRUNE=no >>"$root/conf/conf.d/oyster"
local_bottom
cp -- "$WORKDIR/conf.saved" "$root/conf/conf.d/oyster"
[ "$RC" -eq 0 ] || { show_last; fail "local-bottom failed"; }
[ "$(prune_states)" -eq 2 ] || fail "the prune ran although OYSTER_PRUNE=no"

# ------------------------------------------------------------------------
say "no crypttab entry uses keyscript=oyster: the image is built without oyster"
sed -i 's/,keyscript=oyster//' "$(sb_path /etc/crypttab)"
build "$WORKDIR/none.img"
[ "$RC" -eq 0 ] || { show_last; fail "mkinitramfs failed without oyster entries"; }
lsinitramfs "$WORKDIR/none.img" >"$WORKDIR/none.list"
not_in_list "$WORKDIR/none.list" "$(usr_merged "$SBINDIR/oyster")\$" 'libtss2-tcti'
sed -i 's/luks,initramfs$/luks,initramfs,keyscript=oyster/' "$(sb_path /etc/crypttab)"

say "a TCTI module that is not installed fails the build, naming it"
echo 'OYSTER_TCTIS="swtpm nosuch"' >"$conf/conf.d/oyster"
build "$WORKDIR/bad.img"
[ "$RC" -ne 0 ] || fail "mkinitramfs succeeded although a TCTI module is missing"
grep -q 'E: oyster: .*libtss2-tcti-nosuch.so.0 is missing' "$ERR" || { show_last; fail "no message naming the missing TCTI"; }
echo 'OYSTER_TCTIS="swtpm"' >"$conf/conf.d/oyster"

say "a missing oyster tool fails the build"
rm -f -- "$(sb_path "$SBINDIR/oyster")"
build "$WORKDIR/bad2.img"
[ "$RC" -ne 0 ] || fail "mkinitramfs succeeded without the oyster tool"
grep -q "E: oyster: $SBINDIR/oyster is missing" "$ERR" || { show_last; fail "no message naming the missing oyster"; }
say "PASS"
