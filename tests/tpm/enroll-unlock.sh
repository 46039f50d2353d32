#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a user enrolls a LUKS2 image to PCRs 0 and 7; the volume then
# unlocks through the token with no passphrase, `oyster unseal` feeds
# cryptsetup like a keyscript does, and status says it would unlock.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='correct horse battery staple'
make_luks "$img" "$pass"

# Realistic PCR state: swtpm starts with all-zero PCRs.
extend_pcr 0 firmware
extend_pcr 7 secure-boot

say "before enrollment the token cannot open anything"
expect_fail token_open "$img"

say "enroll to PCRs 0+7"
before_slots=$(keyslot_count "$img")
enroll "$img" "$pass" --pcrs 0+7
tok=$ENROLLED_TOKEN
slot=$ENROLLED_KEYSLOT
[ "$(keyslot_count "$img")" -eq $((before_slots + 1)) ] || fail "enroll did not add exactly one keyslot"
[ "$(oyster_token_ids "$img")" = "$tok" ] || fail "expected exactly one oyster-tpm2 token ($tok), got [$(oyster_token_ids "$img")]"
if oyster_messages | grep -qiE 'zero'; then
	show_last
	fail "enroll warned about all-zero PCRs although PCRs 0 and 7 were extended"
fi

say "the keyslot is PBKDF2 with 1000 iterations (fast at boot)"
kdf=$(luks_json "$img" | jq -c --arg s "$slot" '.keyslots[$s].kdf | {type, iterations}')
[ "$kdf" = '{"type":"pbkdf2","iterations":1000}' ] || fail "keyslot $slot kdf is $kdf"

say "the token unlocks the volume, no passphrase"
expect_ok token_open "$img"
expect_ok token_open "$img" --token-id "$tok"
# ... and it is the build tree's plugin that does it.
expect_fail without_plugin cryptsetup open --test-passphrase --token-only "$img"

say "luksDump shows the token, and the plugin's dump lines"
expect_ok with_plugin cryptsetup luksDump "$img"
cp "$OUT" "$WORKDIR/dump-plugin"
expect_ok without_plugin cryptsetup luksDump "$img"
cp "$OUT" "$WORKDIR/dump-generic"
tokens_section "$WORKDIR/dump-plugin" >"$WORKDIR/tokens-plugin"
tokens_section "$WORKDIR/dump-generic" >"$WORKDIR/tokens-generic"
grep -qE "^ *$tok: oyster-tpm2" "$WORKDIR/tokens-plugin" || { cat "$WORKDIR/dump-plugin" >&2; fail "luksDump lists no oyster-tpm2 token $tok"; }
grep -qi 'sha256' "$WORKDIR/tokens-plugin" || { cat "$WORKDIR/tokens-plugin" >&2; fail "the plugin's dump does not show the PCR bank"; }
grep -qi 'sha256' "$WORKDIR/tokens-generic" && fail "the generic dump shows the bank: is the plugin loaded outside the namespace?"
[ "$(wc -l <"$WORKDIR/tokens-plugin")" -gt "$(wc -l <"$WORKDIR/tokens-generic")" ] ||
	fail "the plugin's dump adds no lines to luksDump"

say "oyster unseal | cryptsetup --key-file=- (what a keyscript does)"
unseal_to "$WORKDIR/tpm.key" "$img"
check_passphrase "$WORKDIR/tpm.key"
if ! "$OYSTER" unseal "$img" | cryptsetup open --test-passphrase --disable-external-tokens --key-file=- "$img"; then
	fail "cryptsetup does not accept the output of oyster unseal on stdin"
fi
# The TPM passphrase opens exactly the enrolled keyslot.
expect_ok cryptsetup open --test-passphrase --disable-external-tokens --key-slot "$slot" --key-file "$WORKDIR/tpm.key" "$img"
expect_fail cryptsetup open --test-passphrase --disable-external-tokens --key-slot 0 --key-file "$WORKDIR/tpm.key" "$img"
# --token N picks the same secret.
expect_ok "$OYSTER" unseal "$img" --token "$tok"
cmp -s "$OUT" "$WORKDIR/tpm.key" || fail "unseal --token $tok gave another passphrase"
expect_fail "$OYSTER" unseal "$img" --token $((tok + 5))

say "unseal refuses to print the passphrase on a terminal"
tty_pass=$(tr -d '\n' <"$WORKDIR/tpm.key")
run script -qec "'$OYSTER' unseal '$img'" /dev/null
[ "$RC" -ne 0 ] || { show_last; fail "oyster unseal printed to a terminal (exit 0)"; }
assert_no_crash
if grep -qF -- "$tty_pass" "$OUT"; then
	fail "oyster unseal wrote the passphrase to a terminal"
fi
# Control: script(1) really gives a terminal and passes output through.
run script -qec "sh -c 'test -t 1 && echo on-a-tty'" /dev/null
grep -q on-a-tty "$OUT" || { show_last; setup_error "script(1) does not give the command a terminal"; }

say "status says the token would unlock now"
expect_ok "$OYSTER" status "$img"
grep_out 'would unlock now: yes'
expect_ok "$OYSTER" status "$img" --json
jq -e --argjson id "$tok" --argjson ks "$slot" '
	.tokens | length == 1 and
	(.[0] | .id == $id and .keyslot == $ks and .bank == "sha256" and
	        (.pcrs | sort) == [0, 7] and .unlock == true and .changed_pcrs == [] and
	        (.created != null))' "$OUT" >/dev/null ||
	{ show_last; fail "status --json does not describe the token as enrolled"; }

say "DEVICE as UUID=..."
uuid=$(cryptsetup luksUUID "$img")
# Not attached anywhere yet: a clear failure, not a crash.
expect_fail "$OYSTER" status "UUID=$uuid"
if loop=$(losetup --find --show "$img" 2>/dev/null); then
	at_exit losetup -d "$loop"
	udevadm settle >/dev/null 2>&1 || true
	expect_ok "$OYSTER" status "UUID=$uuid"
	grep_out 'would unlock now: yes'
	expect_ok "$OYSTER" unseal "UUID=$uuid"
	cmp -s "$OUT" "$WORKDIR/tpm.key" || fail "unseal UUID=$uuid gave another passphrase"
	expect_ok token_open "$loop"
else
	say "NOTE: no loop device available; UUID=... only checked for a clear failure"
fi
expect_fail "$OYSTER" status "UUID=00000000-0000-0000-0000-000000000000"

say "enrolling a file that is not LUKS fails clearly"
notluks=$WORKDIR/plain.img
truncate -s 8M "$notluks"
expect_status 1 "$OYSTER" enroll "$notluks" --key-file "$(keyfile "$pass")" --pcrs 7
oyster_messages | grep -qi 'luks' || { show_last; fail "the error does not say the device is not LUKS"; }
expect_status 1 "$OYSTER" enroll "$WORKDIR/does-not-exist.img" --key-file "$(keyfile "$pass")" --pcrs 7

say "bad --pcrs specs are usage errors, and change nothing"
slots_now=$(keyslot_ids "$img")
for spec in 24 0-7 foo 7+ '' -1 '0+7+99' '7;0'; do
	expect_status 2 "$OYSTER" enroll "$img" --key-file "$(keyfile "$pass")" --pcrs "$spec"
	[ -s "$ERR" ] || fail "no message for --pcrs '$spec'"
done
expect_status 2 "$OYSTER" enroll "$img" --key-file "$(keyfile "$pass")" --bank nosuchbank
expect_status 2 "$OYSTER" enroll
[ "$(keyslot_ids "$img")" = "$slots_now" ] || fail "a rejected enroll changed the keyslots"

say "a wrong passphrase enrolls nothing"
expect_status 1 "$OYSTER" enroll "$img" --key-file "$(keyfile "wrong $pass")" --pcrs 7
[ "$(keyslot_ids "$img")" = "$slots_now" ] || fail "enroll with a wrong passphrase changed the keyslots"
[ "$(oyster_token_ids "$img")" = "$tok" ] || fail "enroll with a wrong passphrase changed the tokens"

say "a PCR that reads all zeros: enrollment warns, and still enrolls"
img2=$WORKDIR/zero.img
make_luks "$img2" "$pass"
[ "$(pcr_value sha256 14)" = "$(printf '%064d' 0)" ] || setup_error "PCR 14 is not all zeros"
enroll "$img2" "$pass" --pcrs 7+14
grep -qE 'PCR 14([^0-9]|$)' "$ERR" || { show_last; fail "no warning that PCR 14 reads all zeros"; }
grep -qE 'PCR 7([^0-9]|$)' "$ERR" && { show_last; fail "a warning names PCR 7, which was extended"; }
expect_ok token_open "$img2"

say "without --pcrs, enrollment binds to PCR 7"
make_luks "$img2" "$pass"
enroll "$img2" "$pass"
expect_ok "$OYSTER" status "$img2" --json
jq -e '.tokens[0].pcrs == [7]' "$OUT" >/dev/null || { show_last; fail "the default PCR set is not [7]"; }

say "the original passphrase still works"
expect_ok pass_open "$img" "$pass"
say "PASS"
