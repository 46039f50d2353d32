#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a kernel package is installed. The kernel hook is installed in the
# sandbox as Debian's /etc/kernel/postinst.d/zzz-oyster and as the
# kernel-install plugin 95-oyster.install, /boot is the sandbox's. run-parts
# orders it after initramfs-tools (which makes the initrd) and after GRUB's
# and systemd-boot's hooks. With nothing enrolled it does nothing and says
# nothing. For an enrolled volume named in crypttab it calls
# `oyster reseal DEV --token N --unattended --predict --kernel K --initrd I`
# with the right files for each calling convention (seen through a wrapper
# around oyster). Every failure (no TPM, an unreadable kernel, a failing
# prediction) warns in two lines that say what failed, that the next boot
# asks for the passphrase and what to run, exits 0 and leaves the volume as
# it was. OYSTER_KERNEL_HOOK=no turns it off. (The success path, which needs
# `oyster predict`, is kernel-hooks-predict.sh.)
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

: "${KERNEL_HOOK:?run through meson}"
need run-parts kernel-install
sandbox_init
sb_install "$KERNEL_HOOK" /etc/kernel/postinst.d/zzz-oyster 755
sb_install "$KERNEL_HOOK" /usr/lib/kernel/install.d/95-oyster.install 755

pass='kernel hook passphrase'
img=$WORKDIR/root.img
plain=$WORKDIR/plain.img
make_luks "$img" "$pass"
make_luks "$plain" "$pass"
extend_pcr 7 secure-boot-on
kver=9.9.9-oyster
boot=$SANDBOX/boot.upper
head -c 4096 /dev/urandom >"$boot/vmlinuz-$kver"
head -c 8192 /dev/urandom >"$boot/initrd.img-$kver"
crypttab=$(sb_path /etc/crypttab)
header_sum() { cryptsetup luksHeaderBackup "$1" --header-backup-file "$WORKDIR/hdr" >/dev/null && sha256sum <"$WORKDIR/hdr" && rm -f "$WORKDIR/hdr"; }
nowhere=swtpm:host=127.0.0.1,port=$(closed_port)

# postinst [VAR=VALUE...]: the hook as the kernel package runs it (run-parts
# with KVER and the image), in the sandbox. Output in $OUT/$ERR.
postinst() {
	run sandbox env "$@" run-parts --report --arg="$kver" --arg="/boot/vmlinuz-$kver" \
		--regex='^zzz-oyster$' /etc/kernel/postinst.d
}

say "run-parts runs it after initramfs-tools, zz-update-grub and zz-systemd-boot"
for h in zz-update-grub zz-systemd-boot; do
	printf '#!/bin/sh\nexit 0\n' >"$(sb_path "/etc/kernel/postinst.d/$h")"
	chmod 755 "$(sb_path "/etc/kernel/postinst.d/$h")"
done
run sandbox run-parts --test /etc/kernel/postinst.d
order=$(sed 's|.*/||' "$OUT" | tr '\n' ' ')
[[ $order == *initramfs-tools*zz-systemd-boot*zz-update-grub*zzz-oyster* ]] ||
	fail "postinst.d order: $order"

say "nothing enrolled: nothing done, nothing said"
cat >"$crypttab" <<EOF
# a volume without a token, one that is not here, and swap
plain $plain none luks
gone UUID=00000000-0000-4000-8000-000000000000 none luks
swap /dev/urandom none swap
EOF
run sandbox "$OYSTER" list
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] || { show_last; fail "oyster list found tokens where there are none"; }
postinst OYSTER_TCTI="$nowhere"
[ "$RC" -eq 0 ] || { show_last; fail "the hook failed with nothing enrolled"; }
[ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "the hook said something with nothing enrolled"; }

say "an enrolled volume in crypttab: oyster list names its token"
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN
echo "root $img none luks,keyscript=oyster" >>"$crypttab"
run sandbox "$OYSTER" list
[ "$RC" -eq 0 ] && [ "$(cat "$OUT")" = "$img $tok" ] || { show_last; fail "oyster list: [$(cat "$OUT")]"; }

# warned WHY: the hook exited 0 with the two lines of a failure for $img.
warned() {
	[ "$RC" -eq 0 ] || { show_last; fail "the hook failed the package installation ($1)"; }
	grep -qF "oyster: could not pre-approve kernel $kver for $img (token $tok): " "$ERR" ||
		{ show_last; fail "no line saying what failed ($1)"; }
	grep -qF "oyster: the first boot of kernel $kver will ask for the passphrase of $img; after it, run: oyster reseal $img --token $tok" "$ERR" ||
		{ show_last; fail "no line saying what happens and what to run ($1)"; }
	[ "$(header_sum "$img")" = "$before" ] || fail "the volume's header changed ($1)"
	say "warning: $(grep -m1 '^oyster: ' "$ERR")"
}

say "no TPM: the package installation goes on, with a warning"
before=$(header_sum "$img")
postinst OYSTER_TCTI="$nowhere"
warned "no TPM"
expect_ok token_open "$img"

say "the prediction fails (a missing event log): a warning, exit 0"
postinst OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$WORKDIR/no-such-log"
warned "no event log"

say "an unreadable kernel image: a warning, exit 0"
run sandbox env OYSTER_TCTI="$OYSTER_TCTI" run-parts --report --arg="$kver" --arg=/boot/vmlinuz-missing \
	--regex='^zzz-oyster$' /etc/kernel/postinst.d
warned "no kernel image"
grep -qF '/boot/vmlinuz-missing is not readable' "$ERR" || { show_last; fail "the warning does not name the missing image"; }

say "OYSTER_KERNEL_HOOK=no in /etc/default/oyster turns it off; the environment wins"
mkdir -p "$(dirname -- "$(sb_path /etc/default/oyster)")"
echo 'OYSTER_KERNEL_HOOK=no' >"$(sb_path /etc/default/oyster)"
postinst OYSTER_TCTI="$nowhere"
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] && [ ! -s "$OUT" ] || { show_last; fail "the hook ran although turned off"; }
postinst OYSTER_TCTI="$nowhere" OYSTER_KERNEL_HOOK=yes
warned "turned on by the environment"
rm -f -- "$(sb_path /etc/default/oyster)"

# ------------------------------------------------------------------------
# What the hook asks oyster for: a wrapper records reseal's arguments and
# answers like a --predict that fails.
real=$(sb_path "$SBINDIR/oyster").real
mv -- "$(sb_path "$SBINDIR/oyster")" "$real"
cat >"$(sb_path "$SBINDIR/oyster")" <<EOF
#!/bin/sh
if [ "\$1" = reseal ]; then
	printf '%s\n' "\$*" >>"$WORKDIR/reseal.args"
	env | grep -E '^(PASSWORD|PIN|NEWPIN)=' >>"$WORKDIR/reseal.secrets"
	echo "The event log does not reproduce the TPM's PCR 4 (stub)." >&2
	exit 1
fi
exec "$SBINDIR/oyster.real" "\$@"
EOF
chmod 755 "$(sb_path "$SBINDIR/oyster")"
args() { cat "$WORKDIR/reseal.args" 2>/dev/null; rm -f "$WORKDIR/reseal.args"; }
want_common="reseal $img --token $tok --unattended --predict --kernel"

say "postinst.d: the image given and /boot/initrd.img-KVER; a secret in the environment is not passed on"
postinst PASSWORD=from-apt PIN=1234 NEWPIN=5678
[ "$(args)" = "$want_common /boot/vmlinuz-$kver --initrd /boot/initrd.img-$kver" ] || fail "reseal called as: $(args)"
[ ! -s "$WORKDIR/reseal.secrets" ] || fail "oyster reseal inherited: $(cat "$WORKDIR/reseal.secrets")"
grep -qF "(token $tok): The event log does not reproduce the TPM's PCR 4 (stub)." "$ERR" ||
	{ show_last; fail "the warning does not carry oyster's reason"; }

say "kernel-install add: its image and initrd, through the real kernel-install"
kernel_install() {
	run sandbox env KERNEL_INSTALL_PLUGINS=/usr/lib/kernel/install.d/95-oyster.install \
		KERNEL_INSTALL_LAYOUT=other KERNEL_INSTALL_MACHINE_ID=0123456789abcdef0123456789abcdef \
		BOOT_ROOT=/boot "$@"
}
kernel_install kernel-install add "$kver" "/boot/vmlinuz-$kver" "/boot/initrd.img-$kver"
[ "$RC" -eq 0 ] || { show_last; fail "kernel-install add failed"; }
[ "$(args)" = "$want_common /boot/vmlinuz-$kver --initrd /boot/initrd.img-$kver" ] || fail "reseal called as: $(args)"
grep -qF "oyster: could not pre-approve kernel $kver for $img (token $tok)" "$ERR" || { show_last; fail "no warning from kernel-install's run"; }

say "kernel-install without an initrd: the one an earlier plugin left in the staging area"
staging=$WORKDIR/staging
mkdir -p "$staging"
echo initrd >"$staging/initrd"
kernel_install KERNEL_INSTALL_STAGING_AREA="$staging" /usr/lib/kernel/install.d/95-oyster.install \
	add "$kver" "/boot/entry" "/boot/vmlinuz-$kver"
[ "$RC" -eq 0 ] || { show_last; fail "the plugin failed"; }
[ "$(args)" = "$want_common /boot/vmlinuz-$kver --initrd $staging/initrd" ] || fail "reseal called as: $(args)"

say "kernel-install remove: nothing to do"
kernel_install kernel-install remove "$kver"
[ "$RC" -eq 0 ] || { show_last; fail "kernel-install remove failed"; }
[ -z "$(args)" ] || fail "remove called oyster reseal"
say "PASS"
