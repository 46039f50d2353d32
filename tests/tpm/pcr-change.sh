#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the volume is enrolled to PCRs 0+7; something changes the Secure Boot
# state (PCR 7 is extended). The token no longer opens the volume, says why
# (PCR 7) in cryptsetup's debug output, status names PCR 7 and not PCR 0,
# `oyster unseal` exits 3, and the passphrase still works.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='pcr-change passphrase'
make_luks "$img" "$pass"
extend_pcr 0 firmware
extend_pcr 7 secure-boot-on

enroll "$img" "$pass" --pcrs 0+7
tok=$ENROLLED_TOKEN
expect_ok token_open "$img"
expect_ok "$OYSTER" status "$img"
grep_out 'would unlock now: yes'

say "an unrelated PCR changes: still unlocks"
extend_pcr 9 kernel-cmdline
expect_ok token_open "$img"

say "PCR 7 changes"
pcr7_before=$(pcr_value sha256 7)
extend_pcr 7 secure-boot-off
[ "$(pcr_value sha256 7)" != "$pcr7_before" ] || setup_error "tpm2_pcrevent did not change PCR 7"

say "the token no longer opens the volume, quickly and cleanly"
elapsed token_open "$img"
[ "$RC" -ne 0 ] || fail "the token still opens the volume after PCR 7 changed"
assert_no_crash
[ "$ELAPSED" -lt 30 ] || fail "a refused unlock took $ELAPSED s"

say "cryptsetup --debug shows oyster's message naming PCR 7"
run token_open "$img" --debug
[ "$RC" -ne 0 ] || fail "the token opened the volume under --debug"
cat "$OUT" "$ERR" >"$WORKDIR/debug.log"
grep -qE 'PCR 7([^0-9]|$)' "$WORKDIR/debug.log" || { tail -n 40 "$WORKDIR/debug.log" >&2; fail "cryptsetup --debug output does not name PCR 7"; }
# The plugin must say "this token cannot open" (EPERM/ENOENT), not a PIN
# request: cryptsetup would then loop asking for a PIN.
if grep -qiE 'PIN (required|needed)|ENOANO' "$WORKDIR/debug.log"; then
	fail "the refusal was reported as a PIN request"
fi

say "the passphrase still works"
expect_ok pass_open "$img" "$pass"

say "status says no and names PCR 7, not PCR 0"
# (its exit status is not specified for "no"; its words are)
run "$OYSTER" status "$img"
assert_no_crash
grep_out 'would unlock now: no'
grep_out 'PCR 7([^0-9]|$)'
if grep -q 'would unlock now: yes' "$OUT"; then
	fail "status says yes and no at once"
fi
run "$OYSTER" status "$img" --json
assert_no_crash
jq -e --argjson id "$tok" '.tokens | length == 1 and (.[0] | .id == $id and .unlock == false and .changed_pcrs == [7])' "$OUT" >/dev/null ||
	{ show_last; fail "status --json does not say: unlock false, changed_pcrs [7]"; }

say "oyster unseal exits 3 and prints no passphrase"
expect_status 3 "$OYSTER" unseal "$img"
[ ! -s "$OUT" ] || { show_last; fail "oyster unseal printed something on stdout although it failed"; }
oyster_messages | grep -qE 'PCR 7([^0-9]|$)' || { show_last; fail "oyster unseal does not say that PCR 7 changed"; }

say "PCR 0 changes too: both are named"
extend_pcr 0 new-firmware
run "$OYSTER" status "$img" --json
assert_no_crash
jq -e '(.tokens[0].changed_pcrs | sort) == [0, 7] and .tokens[0].unlock == false' "$OUT" >/dev/null ||
	{ show_last; fail "status --json does not name PCRs 0 and 7"; }
expect_status 3 "$OYSTER" unseal "$img"
expect_fail token_open "$img"

say "re-enrolling with --replace binds to today's values again"
enroll "$img" "$pass" --pcrs 0+7 --replace
[ "$(oyster_token_ids "$img")" = "$ENROLLED_TOKEN" ] ||
	fail "--replace left [$(oyster_token_ids "$img")] instead of a single token"
[ "$(keyslot_count "$img")" -eq 2 ] || fail "--replace left $(keyslot_count "$img") keyslots, expected 2 (passphrase + TPM)"
expect_ok token_open "$img"
expect_ok "$OYSTER" status "$img"
grep_out 'would unlock now: yes'
expect_ok pass_open "$img" "$pass"

say "two tokens, one broken by a PCR change: the other still unlocks"
img2=$WORKDIR/two.img
make_luks "$img2" "$pass"
enroll "$img2" "$pass" --pcrs 7
tok7=$ENROLLED_TOKEN
enroll "$img2" "$pass" --pcrs 9
tok9=$ENROLLED_TOKEN
[ "$tok7" -lt "$tok9" ] || setup_error "expected the PCR 7 token first"
extend_pcr 7 another-secure-boot-change
# libcryptsetup tries token $tok7 first; its refusal must let it go on to $tok9.
expect_ok token_open "$img2"
expect_fail token_open "$img2" --token-id "$tok7"
expect_ok token_open "$img2" --token-id "$tok9"
expect_ok "$OYSTER" unseal "$img2"
expect_status 3 "$OYSTER" unseal "$img2" --token "$tok7"
run "$OYSTER" status "$img2" --json
assert_no_crash
jq -e --argjson a "$tok7" --argjson b "$tok9" '
	(.tokens[] | select(.id == $a) | .unlock == false and .changed_pcrs == [7]) and
	(.tokens[] | select(.id == $b) | .unlock == true and .changed_pcrs == [])' "$OUT" >/dev/null ||
	{ show_last; fail "status --json does not tell the broken token from the working one"; }
say "PASS"
