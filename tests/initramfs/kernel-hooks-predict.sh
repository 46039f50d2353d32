#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a kernel upgrade that is a non-event. The "firmware" is
# tests/fixtures/eventlog/tcglog.py, which writes the TCG event log and
# extends the swtpm with the same digests (boot loader and kernel as EFI
# applications in PCR 4, the initramfs as a file in PCR 9). The running
# kernel is the sandbox's /boot/vmlinuz-$(uname -r). A new kernel package
# runs the postinst.d hook: it pre-approves the new kernel's state (a second
# state in the token), the reboot into it unlocks through the TPM without a
# passphrase, and the post-boot prune leaves only that state. kernel-install
# does the same for the next kernel. A token bound to the boot fence never
# unseals in the booted system: the hook then warns, or, at a terminal,
# asks for the passphrase and pre-approves with it. An authorized token in a
# boot whose state it does not approve (the passphrase opened the volume):
# the hook approves nothing, asks for nothing even at a terminal, says why
# and the command that approves this boot and the kernel together with no
# passphrase; that command works. Under GRUB, which measures the initrd as
# a file it read, `update-initramfs -u` runs initramfs-tools' post-update.d
# hook, which pre-approves the rebuilt initrd (not inside a kernel
# package's postinst: zzz-oyster follows there). Needs `oyster reseal --predict` and
# tcglog.py (both from the predict work); without them it skips, saying so.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

: "${KERNEL_HOOK:?run through meson}" "${FIXTURESDIR:?}"
TCGLOG=$FIXTURESDIR/eventlog/tcglog.py
"$OYSTER" reseal --help | grep -q -- '--predict' ||
	skip "this oyster has no 'reseal --predict' yet (it lands with oyster predict); the kernel hook's success path cannot run"
[ -f "$TCGLOG" ] || skip "$TCGLOG is missing (it lands with oyster predict)"
need run-parts kernel-install
# The hook asks for a passphrase when it has a terminal: only where this
# test gives it one (a developer's meson test may run on a terminal).
export OYSTER_KERNEL_HOOK_ASK=no
sandbox_init
sb_install "$KERNEL_HOOK" /etc/kernel/postinst.d/zzz-oyster 755
sb_install "$KERNEL_HOOK" /usr/lib/kernel/install.d/95-oyster.install 755

pass='kernel upgrade passphrase'
img=$WORKDIR/root.img
log=$WORKDIR/binary_bios_measurements
make_luks "$img" "$pass"
echo "root $img none luks,keyscript=oyster" >"$(sb_path /etc/crypttab)"
states() { luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }

# The running kernel and two new ones, in the sandbox's /boot.
running=$(uname -r) new=9.9.1-oyster newer=9.9.2-oyster newest=9.9.3-oyster
bootdir=$SANDBOX/boot.upper
python3 "$TCGLOG" pe "$WORKDIR/shim" "boot loader" || setup_error "tcglog.py pe"
for v in "$running" "$new" "$newer" "$newest"; do
	python3 "$TCGLOG" pe "$bootdir/vmlinuz-$v" "kernel $v" || setup_error "tcglog.py pe"
	head -c 50000 /dev/urandom >"$bootdir/initrd.img-$v"
done

grub=no
# boot VERSION: a reboot into that kernel and initramfs, its log in $log.
boot() {
	local e
	e=("0:EV_S_CRTM_VERSION:text:test firmware" "0:EV_SEPARATOR:text:sep" "4:EV_SEPARATOR:text:sep"
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$WORKDIR/shim"
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$bootdir/vmlinuz-$1"
		"9:EV_EVENT_TAG:file:$bootdir/initrd.img-$1")
	# GRUB measures the initrd as a file it read, by the path it opened.
	[ "$grub" = no ] || e[5]="9:EV_IPL:grubfile:/initrd.img-$1=$bootdir/initrd.img-$1"
	reboot_tpm
	python3 "$TCGLOG" extend --banks sha256 "${e[@]}" >"$WORKDIR/extends" || setup_error "tcglog.py extend"
	while read -r x; do
		tpm2_pcrextend "$x" || setup_error "tpm2_pcrextend $x"
	done <"$WORKDIR/extends"
	python3 "$TCGLOG" write "$log" --banks sha256 "${e[@]}" >/dev/null || setup_error "tcglog.py write"
}

boot "$running"
enroll "$img" "$pass" --pcrs 0+4+9
expect_ok token_open "$img"

say "the kernel package's postinst.d hook pre-approves the new kernel"
run sandbox env OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
	run-parts --report --arg="$new" --arg="/boot/vmlinuz-$new" --regex='^zzz-oyster$' /etc/kernel/postinst.d
[ "$RC" -eq 0 ] || { show_last; fail "the hook failed"; }
grep -qF "oyster: pre-approved kernel $new for $img (token $ENROLLED_TOKEN)." "$ERR" || { show_last; fail "the hook did not pre-approve"; }
! grep -q 'could not' "$ERR" || { show_last; fail "the hook warned"; }
[ "$(states)" -eq 2 ] || fail "expected 2 approved states, found $(states)"
expect_ok token_open "$img"

say "the reboot into the new kernel unlocks through the TPM; the prune keeps only its state"
boot "$new"
expect_ok token_open "$img"
PASSWORD="" expect_ok "$OYSTER" reseal "$img" --prune --unattended </dev/null
[ "$(states)" -eq 1 ] || fail "the prune left $(states) states"
boot "$new"
expect_ok token_open "$img"

say "kernel-install pre-approves the next kernel the same way"
# The running kernel is now $new: the sandbox's uname -r does not change,
# so the hook's reseal compares with the files of $(uname -r); give it $new's.
cp -- "$bootdir/vmlinuz-$new" "$bootdir/vmlinuz-$running"
cp -- "$bootdir/initrd.img-$new" "$bootdir/initrd.img-$running"
run sandbox env OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
	KERNEL_INSTALL_PLUGINS=/usr/lib/kernel/install.d/95-oyster.install KERNEL_INSTALL_LAYOUT=other \
	KERNEL_INSTALL_MACHINE_ID=0123456789abcdef0123456789abcdef BOOT_ROOT=/boot \
	kernel-install add "$newer" "/boot/vmlinuz-$newer" "/boot/initrd.img-$newer"
[ "$RC" -eq 0 ] || { show_last; fail "kernel-install add failed"; }
grep -qF "oyster: pre-approved kernel $newer for $img" "$ERR" || { show_last; fail "kernel-install did not pre-approve"; }
boot "$newer"
expect_ok token_open "$img"

say "a literal token bound to the boot fence: the hook warns, or asks at a terminal"
cp -- "$bootdir/vmlinuz-$newer" "$bootdir/vmlinuz-$running"
cp -- "$bootdir/initrd.img-$newer" "$bootdir/initrd.img-$running"
fenced=$WORKDIR/fenced.img
make_luks "$fenced" "$pass"
echo "root $fenced none luks,keyscript=oyster" >"$(sb_path /etc/crypttab)"
enroll "$fenced" "$pass" --pcrs 0+4+9 --fence --literal
extend_pcr 15 "the initramfs's fence"
expect_fail token_open "$fenced"
before=$(luks_json "$fenced")
postinst_newest() {
	run sandbox "$@" env OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
		run-parts --report --arg="$newest" --arg="/boot/vmlinuz-$newest" --regex='^zzz-oyster$' /etc/kernel/postinst.d
	[ "$RC" -eq 0 ] || { show_last; fail "the hook failed (exit status $RC)"; }
}
postinst_newest
grep -qF "oyster: could not pre-approve kernel $newest for $fenced" "$ERR" || { show_last; fail "no warning for the fenced token"; }
[ "$(luks_json "$fenced")" = "$before" ] || fail "the hook changed the header although it could not pre-approve"
postinst_newest python3 "$INITRAMFS_TESTDIR/at-terminal.py" "Enter an existing passphrase" "$pass" -- \
	env -u DEBIAN_FRONTEND OYSTER_KERNEL_HOOK_ASK=yes
grep -qF "type its passphrase to pre-approve kernel $newest" "$OUT" || { show_last; fail "the hook did not ask at the terminal"; }
grep -qF "oyster: pre-approved kernel $newest for $fenced" "$OUT" || { show_last; fail "the passphrase typed at the terminal did not pre-approve"; }
! grep -qF "$pass" "$OUT" || fail "the passphrase was echoed on the terminal"
say "the reboot into the pre-approved kernel unlocks the fenced token through the TPM"
boot "$newest"
expect_ok token_open "$fenced"
expect_ok pass_open "$fenced" "$pass"

say "an authorized token bound to the boot fence: pre-approved with no terminal and no passphrase"
cp -- "$bootdir/vmlinuz-$newest" "$bootdir/vmlinuz-$running"
cp -- "$bootdir/initrd.img-$newest" "$bootdir/initrd.img-$running"
authorized=$WORKDIR/authorized.img
make_luks "$authorized" "$pass"
echo "root $authorized none luks,keyscript=oyster" >"$(sb_path /etc/crypttab)"
enroll "$authorized" "$pass" --pcrs 0+4+9 --fence
grep_out 'NV index'
extend_pcr 15 "the initramfs's fence"
expect_fail token_open "$authorized"
run sandbox env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
	run-parts --report --arg="$new" --arg="/boot/vmlinuz-$new" --regex='^zzz-oyster$' /etc/kernel/postinst.d </dev/null
[ "$RC" -eq 0 ] || { show_last; fail "the hook failed (exit status $RC)"; }
grep -qF "oyster: pre-approved kernel $new for $authorized" "$OUT" "$ERR" || { show_last; fail "the hook did not pre-approve the authorized token"; }
! grep -qiE 'passphrase' "$OUT" "$ERR" || { show_last; fail "the hook spoke of a passphrase"; }
[ "$(luks_json "$authorized" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_state_origins[-1] | .kind + " " + .note')" = "predicted vmlinuz-$new" ] ||
	fail "the predicted state does not record the kernel it stands for"
say "the reboot into the pre-approved kernel unlocks it through the TPM, nothing asked"
boot "$new"
expect_ok token_open "$authorized"

say "an authorized token in a boot it does not approve: the hook says why and what to run, asks nothing"
cp -- "$bootdir/vmlinuz-$newer" "$bootdir/vmlinuz-$running"
cp -- "$bootdir/initrd.img-$newer" "$bootdir/initrd.img-$running"
boot "$newer"
expect_fail token_open "$authorized"
tok=$(luks_json "$authorized" | jq -r '[.tokens | to_entries[] | select(.value.type == "oyster-tpm2")][0].key')
before=$(luks_json "$authorized")
postinst_newest env -u PASSWORD -u PIN
grep -qF "oyster: could not pre-approve kernel $newest for $authorized (token $tok): the state of this boot is not approved" "$ERR" ||
	{ show_last; fail "the hook does not say that this boot is not approved"; }
approve="oyster reseal $authorized --token $tok --predict --kernel /boot/vmlinuz-$newest --initrd /boot/initrd.img-$newest"
grep -qF "approve it and kernel $newest, no passphrase needed: $approve" "$ERR" ||
	{ show_last; fail "the hook does not give the command that approves this boot and the kernel"; }
! grep -qE 'type its passphrase|will ask for the passphrase' "$ERR" || { show_last; fail "the hook speaks of typing a passphrase"; }
[ "$(luks_json "$authorized")" = "$before" ] || fail "the hook changed the header of a token that does not approve this boot"
run sandbox python3 "$INITRAMFS_TESTDIR/at-terminal.py" "passphrase:" "$pass" -- \
	env -u DEBIAN_FRONTEND -u PASSWORD -u PIN OYSTER_KERNEL_HOOK_ASK=yes OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
	run-parts --report --arg="$newest" --arg="/boot/vmlinuz-$newest" --regex='^zzz-oyster$' /etc/kernel/postinst.d
[ "$RC" -eq 125 ] || { show_last; fail "at a terminal the hook exited $RC, expected no prompt (125)"; }
grep -qF "no passphrase needed: $approve" "$OUT" || { show_last; fail "at a terminal the hook does not give the command"; }
[ "$(luks_json "$authorized")" = "$before" ] || fail "at a terminal the hook changed the header"
say "... the command it gives approves both with no passphrase; the new kernel's boot unlocks"
run sandbox env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" "$OYSTER" reseal "$authorized" \
	--token "$tok" --predict --kernel "/boot/vmlinuz-$newest" --initrd "/boot/initrd.img-$newest" </dev/null
[ "$RC" -eq 0 ] || { show_last; fail "the command the hook gave failed"; }
boot "$newest"
expect_ok token_open "$authorized"

say "update-initramfs -u under GRUB: initramfs-tools' post-update.d hook pre-approves the rebuilt initrd"
sb_install "$KERNEL_HOOK" /etc/initramfs/post-update.d/oyster 755
cp -- "$bootdir/vmlinuz-$newest" "$bootdir/vmlinuz-$running"
cp -- "$bootdir/initrd.img-$newest" "$bootdir/initrd.img-$running"
grub=yes
boot "$running"
expect_ok token_open "$authorized"
extend_pcr 15 "the initramfs's fence"
head -c 60000 /dev/urandom >"$bootdir/initrd.img-$running"
post_update() {
	run sandbox env -u PASSWORD -u PIN "$@" OYSTER_TCTI="$OYSTER_TCTI" OYSTER_EVENT_LOG="$log" \
		run-parts --report --arg="$running" --arg="/boot/initrd.img-$running" /etc/initramfs/post-update.d </dev/null
	[ "$RC" -eq 0 ] || { show_last; fail "the post-update.d hook failed (exit status $RC)"; }
}
before=$(luks_json "$authorized")
post_update DPKG_MAINTSCRIPT_PACKAGE="linux-image-$running"
[ ! -s "$OUT" ] && [ ! -s "$ERR" ] && [ "$(luks_json "$authorized")" = "$before" ] ||
	{ show_last; fail "inside a kernel package's postinst the post-update.d hook did something (zzz-oyster follows)"; }
post_update
grep -qF "oyster: pre-approved the rebuilt initramfs of kernel $running for $authorized (token $tok)." "$ERR" ||
	{ show_last; fail "the post-update.d hook did not pre-approve the rebuilt initrd"; }
boot "$running"
expect_ok token_open "$authorized"
say "PASS"
