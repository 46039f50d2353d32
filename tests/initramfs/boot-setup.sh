#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: `oyster boot-setup` and `oyster enroll --configure-boot`, in the
# sandbox (its /etc/crypttab, its /etc/kernel, stub regeneration commands
# first on PATH). On this Debian machine it finds initramfs-tools, finds the
# volume's crypttab entry by UUID (libblkid) whatever the entry calls it, and
# says exactly what remains; with --configure-boot it adds keyscript=oyster
# (other lines and comments untouched, backup kept) and runs
# `update-initramfs -u -k all`. It refuses an entry with a foreign keyscript
# and a volume without an entry, changing nothing. With dracut it changes no
# crypttab and runs `dracut --regenerate-all --force`; it says so when it
# finds no initramfs system at all. An entry with tpm2-measure-pcr=yes or
# tpm2-device= (systemd-cryptsetup would pass the token by) draws a warning
# from boot-setup and from status.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

sandbox_init

pass='boot-setup passphrase'
img=$WORKDIR/root.img
other=$WORKDIR/other.img
make_luks "$img" "$pass"
make_luks "$other" "$pass"
enroll "$img" "$pass" --pcrs 7
uuid=$(cryptsetup luksUUID "$img")
other_uuid=$(cryptsetup luksUUID "$other")

# Stub regeneration commands: record their arguments and environment, exit $STUB_STATUS.
stubs=$WORKDIR/bin
mkdir -p "$stubs"
for cmd in update-initramfs dracut mkinitcpio; do
	cat >"$stubs/$cmd" <<EOF
#!/bin/sh
echo "$cmd \$*" >>"$WORKDIR/regenerated"
env >"$WORKDIR/regenerated.env"
exit \${STUB_STATUS:-0}
EOF
	chmod 755 "$stubs/$cmd"
done

# boot_setup ARGS...: oyster boot-setup in the sandbox; $OUT/$ERR/$RC.
boot_setup() {
	rm -f "$WORKDIR/regenerated"
	run sandbox env PATH="$stubs:$PATH" "$OYSTER" boot-setup "$@"
	touch "$WORKDIR/regenerated"
}

crypttab=$(sb_path /etc/crypttab)
# The entry names the image by its path: libblkid reads its UUID.
cat >"$crypttab" <<EOF
# <target name>	<source device>		<key file>	<options>
swap	/dev/disk/by-partuuid/00000000-0000-0000-0000-000000000001	/dev/urandom	swap,cipher=aes-xts-plain64,size=256
other	UUID=$other_uuid	none	luks,discard
oyroot	$img	none	luks,discard
EOF
original=$(cat "$crypttab")
expected=$(sed "s|^oyroot\t$img\tnone\tluks,discard\$|oyroot\t$img\tnone\tluks,discard,keyscript=oyster|" "$crypttab")
[ "$expected" != "$original" ] || setup_error "the expected crypttab is the original"

say "boot-setup tells what remains, and changes nothing"
boot_setup "$img"
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup failed"; }
grep_out '^Boot: initramfs-tools \(found /etc/kernel/postinst.d/initramfs-tools\)\.$'
grep_out "^/etc/crypttab: entry 'oyroot' \(line 4\) opens this volume, without keyscript=oyster\.$"
grep_out "^What remains to do:$"
grep_out "oyroot	$img	none	luks,discard,keyscript=oyster$"
grep_out "Regenerate the initramfs: update-initramfs -u -k all$"
grep_out "--configure-boot does both\.$"
[ "$(cat "$crypttab")" = "$original" ] || fail "boot-setup without --configure-boot changed crypttab"
[ ! -s "$WORKDIR/regenerated" ] || fail "boot-setup without --configure-boot regenerated the initramfs"

say "--configure-boot: keyscript=oyster added, the rest untouched, backup kept, initramfs regenerated"
chmod 600 "$crypttab"
boot_setup "$img" --configure-boot
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup --configure-boot failed"; }
[ "$(cat "$crypttab")" = "$expected" ] || { diff <(echo "$expected") "$crypttab" >&2 || true; fail "crypttab is not as expected"; }
[ "$(stat -c %a "$crypttab")" = 600 ] || fail "crypttab lost its mode 600"
[ "$(cat "$(sb_path /etc/crypttab.oyster-backup)")" = "$original" ] || fail "the backup does not hold the original"
[ "$(cat "$WORKDIR/regenerated")" = "update-initramfs -u -k all" ] || fail "regeneration: [$(cat "$WORKDIR/regenerated")]"
grep_out "^/etc/crypttab: added keyscript=oyster to entry 'oyroot' \(line 4\); the previous file is /etc/crypttab.oyster-backup\.$"
grep_out "^Done: from the next boot on, the initramfs unlocks 'oyroot' with the TPM\.$"

say "again: nothing to change in crypttab; the initramfs is regenerated all the same"
boot_setup "$img" --configure-boot
[ "$RC" -eq 0 ] || { show_last; fail "a second --configure-boot failed"; }
grep_out "entry 'oyroot' \(line 4\) opens this volume with keyscript=oyster\."
[ "$(cat "$crypttab")" = "$expected" ] || fail "a second --configure-boot changed crypttab"
[ "$(cat "$WORKDIR/regenerated")" = "update-initramfs -u -k all" ] || fail "no regeneration the second time"

say "a failing regeneration fails, and says the crypttab change stays"
STUB_STATUS=1 boot_setup "$img" --configure-boot
[ "$RC" -eq 1 ] || { show_last; fail "a failed update-initramfs was not reported (exit $RC)"; }
grep_err 'update-initramfs failed \(exit status 1\)'

say "an entry with a foreign keyscript is refused, nothing changed, nothing regenerated"
printf 'oyroot UUID=%s rootkey luks,keyscript=decrypt_keyctl\n' "$uuid" >"$crypttab"
boot_setup "$img" --configure-boot
[ "$RC" -eq 1 ] || { show_last; fail "a foreign keyscript was not refused (exit $RC)"; }
grep_err "has its own keyscript \(decrypt_keyctl\); oyster does not replace it"
[ "$(cat "$crypttab")" = "oyroot UUID=$uuid rootkey luks,keyscript=decrypt_keyctl" ] || fail "crypttab changed on refusal"
[ ! -s "$WORKDIR/regenerated" ] || fail "the initramfs was regenerated after a refusal"

say "no entry for the volume: refused, with the line to add"
printf '# nothing for us\nother UUID=%s none luks\n' "$other_uuid" >"$crypttab"
boot_setup "$img" --configure-boot
[ "$RC" -eq 1 ] || { show_last; fail "a volume without entry was not refused (exit $RC)"; }
grep_err "/etc/crypttab has no entry for $img \(UUID=$uuid\)"
grep_err "root.img_crypt UUID=$uuid none luks,keyscript=oyster"
[ ! -s "$WORKDIR/regenerated" ] || fail "the initramfs was regenerated without an entry"
boot_setup "$img"
[ "$RC" -eq 0 ] || { show_last; fail "without --configure-boot, a missing entry is a to-do, not a failure (exit $RC)"; }
grep_out "^  1\. Add an entry for it to /etc/crypttab, for example:$"
grep_out "^       root.img_crypt UUID=$uuid none luks,keyscript=oyster$"
grep_out "^  2\. Regenerate the initramfs: update-initramfs -u -k all$"

say "not a LUKS volume: a clear error"
head -c 1M /dev/zero >"$WORKDIR/zero.img"
boot_setup "$WORKDIR/zero.img"
[ "$RC" -eq 1 ] || { show_last; fail "boot-setup accepted a non-LUKS file (exit $RC)"; }
grep_err 'is not a LUKS volume'

say "dracut: nothing to change in crypttab, dracut --regenerate-all --force"
printf 'oyroot UUID=%s none luks\n' "$uuid" >"$crypttab"
sandbox sh -c 'rm /etc/kernel/postinst.d/initramfs-tools && mkdir -p /etc/kernel/postinst.d && touch /etc/kernel/postinst.d/dracut' ||
	setup_error "cannot switch the sandbox to dracut"
boot_setup "$img"
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup (dracut) failed"; }
grep_out '^Boot: dracut \(found /etc/kernel/postinst.d/dracut\)\.$'
grep_out '^Nothing to change in /etc/crypttab'
grep_out "Regenerate the initramfs: dracut --regenerate-all --force$"
boot_setup "$img" --configure-boot
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup --configure-boot (dracut) failed"; }
[ "$(cat "$WORKDIR/regenerated")" = "dracut --regenerate-all --force" ] || fail "regeneration: [$(cat "$WORKDIR/regenerated")]"
[ "$(cat "$crypttab")" = "oyroot UUID=$uuid none luks" ] || fail "crypttab changed under dracut"

say "systemd-cryptsetup options that would pass the token by: boot-setup and status warn"
printf 'oyroot UUID=%s none luks,tpm2-measure-pcr=yes,tpm2-device=auto\n' "$uuid" >"$crypttab"
boot_setup "$img"
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup failed on an entry with systemd's TPM2 options"; }
grep_err "^Warning: /etc/crypttab line 1 \(oyroot\) has tpm2-measure-pcr=yes, .*systemd-cryptsetup 253 and later skip token plugins.*measures the volume into PCR 15 instead\.$"
grep_err "^Warning: /etc/crypttab line 1 \(oyroot\) has tpm2-device=auto, .*remove it"
run sandbox "$OYSTER" status "$img"
grep_err "^Warning: /etc/crypttab line 1 \(oyroot\) has tpm2-measure-pcr=yes"
printf 'oyroot UUID=%s none luks,tpm2-measure-pcr=no\n' "$uuid" >"$crypttab"
boot_setup "$img"
! grep -q '^Warning' "$ERR" || { show_last; fail "boot-setup warned about tpm2-measure-pcr=no"; }
printf 'oyroot UUID=%s none luks\n' "$uuid" >"$crypttab"

say "mkinitcpio is recognised"
sandbox sh -c 'rm /etc/kernel/postinst.d/dracut && touch /usr/bin/mkinitcpio && chmod 755 /usr/bin/mkinitcpio' ||
	setup_error "cannot switch the sandbox to mkinitcpio"
boot_setup "$img"
grep_out '^Boot: mkinitcpio \(found /usr/bin/mkinitcpio\)\.$'

say "no initramfs system at all"
sandbox sh -c 'rm -f /usr/bin/mkinitcpio /usr/sbin/update-initramfs /usr/bin/dracut /usr/sbin/dracut' ||
	setup_error "cannot empty the sandbox of initramfs systems"
boot_setup "$img"
[ "$RC" -eq 0 ] || { show_last; fail "boot-setup without an initramfs system failed"; }
grep_out '^Boot: no initramfs system found'
boot_setup "$img" --configure-boot
[ "$RC" -eq 1 ] || { show_last; fail "--configure-boot without an initramfs system did not fail"; }
grep_err 'no initramfs system found'
sandbox sh -c 'touch /etc/kernel/postinst.d/initramfs-tools' || setup_error "cannot restore initramfs-tools"

say "enroll --configure-boot enrolls, then configures the boot; update-initramfs gets no secret"
fresh=$WORKDIR/fresh.img
make_luks "$fresh" "$pass"
printf '# mine\nfresh\t%s\tnone\tluks\n' "$fresh" >"$crypttab"
rm -f "$WORKDIR/regenerated" "$WORKDIR/regenerated.env"
# The passphrase from $PASSWORD, as a script would give it; a PIN and a new PIN in the air too.
run sandbox env PATH="$stubs:$PATH" PASSWORD="$pass" PIN=pin-in-env NEWPIN=newpin-in-env \
	"$OYSTER" enroll "$fresh" --pcrs 7 --configure-boot
[ "$RC" -eq 0 ] || { show_last; fail "enroll --configure-boot failed"; }
[ -s "$WORKDIR/regenerated.env" ] || fail "the update-initramfs stub recorded no environment"
if grep -E '^(PASSWORD|PIN|NEWPIN)=' "$WORKDIR/regenerated.env" || grep -qF -e "$pass" -e pin-in-env "$WORKDIR/regenerated.env"; then
	fail "update-initramfs inherited a secret from oyster's environment"
fi
grep -q '^PATH=' "$WORKDIR/regenerated.env" || fail "update-initramfs lost the rest of its environment"
grep_out '^Enrolled token [0-9]+ \(keyslot [0-9]+\)'
grep_out "^Done: from the next boot on, the initramfs unlocks 'fresh' with the TPM\.$"
[ "$(cat "$crypttab")" = "$(printf '# mine\nfresh\t%s\tnone\tluks,keyscript=oyster' "$fresh")" ] || fail "crypttab after enroll --configure-boot: $(cat "$crypttab")"
[ "$(cat "$WORKDIR/regenerated")" = "update-initramfs -u -k all" ] || fail "enroll --configure-boot did not regenerate"
expect_ok token_open "$fresh"
# An image file holds no root file system: no boot fence by default.
[ "$(luks_json "$fresh" | jq -c '[.tokens[] | select(.type == "oyster-tpm2") | .tpm2_pcrs] | .[0]')" = "[7]" ] ||
	fail "enroll --configure-boot bound a volume that is not the root file system to the fence"

say "enroll of an image file without --configure-boot prints no boot report"
kf=$(keyfile "$pass")
expect_ok "$OYSTER" enroll "$other" --key-file "$kf" --pcrs 7
if grep -q '^Boot:' "$OUT"; then
	fail "enroll printed a boot report for an image file"
fi
say "PASS"
