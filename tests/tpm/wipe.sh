#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: two enrollments on one volume; wiping one removes exactly its token
# and its keyslot; --all removes the rest. On a volume whose passphrase
# keyslot is gone (only the TPM keyslot is left), wipe refuses, because the
# user would be locked out, unless --force.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='wipe test passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot

say "two enrollments: one with --key-file, one with \$PASSWORD"
enroll "$img" "$pass" --pcrs 7
tok_a=$ENROLLED_TOKEN slot_a=$ENROLLED_KEYSLOT
PASSWORD=$pass expect_ok "$OYSTER" enroll "$img" --pcrs 7 </dev/null
line=$(grep -oE 'Enrolled token [0-9]+ \(keyslot [0-9]+\)' "$OUT" || true)
[ -n "$line" ] || { show_last; fail "enroll with \$PASSWORD printed no 'Enrolled token' line"; }
tok_b=$(echo "$line" | sed -E 's/Enrolled token ([0-9]+) .*/\1/')
slot_b=$(echo "$line" | sed -E 's/.*keyslot ([0-9]+)\)/\1/')
[ "$tok_a" != "$tok_b" ] || fail "both enrollments claim token $tok_a"
[ "$slot_a" != "$slot_b" ] || fail "both enrollments claim keyslot $slot_a"
[ "$(oyster_token_ids "$img")" = "$(printf '%s\n' "$tok_a" "$tok_b" | sort -n | tr '\n' ' ' | sed 's/ $//')" ] ||
	fail "expected oyster tokens $tok_a and $tok_b, got [$(oyster_token_ids "$img")]"
[ "$(keyslot_count "$img")" -eq 3 ] || fail "expected 3 keyslots, got $(keyslot_count "$img")"
[ "$(token_keyslots "$img" "$tok_b")" = "$slot_b" ] || fail "token $tok_b is not bound to keyslot $slot_b"
expect_ok token_open "$img" --token-id "$tok_a"
expect_ok token_open "$img" --token-id "$tok_b"

say "usage errors"
expect_status 2 "$OYSTER" wipe "$img"
expect_status 2 "$OYSTER" wipe "$img" --token "$tok_a" --all
expect_status 2 "$OYSTER" wipe "$img" --token notanumber
run "$OYSTER" wipe "$img" --token 31
[ "$RC" -ne 0 ] || fail "wipe of a token that does not exist succeeded"
assert_no_crash
[ "$(keyslot_count "$img")" -eq 3 ] || fail "a failed wipe changed the keyslots"

say "wipe --token $tok_a removes token $tok_a and keyslot $slot_a, nothing else"
expect_ok "$OYSTER" wipe "$img" --token "$tok_a"
[ "$(oyster_token_ids "$img")" = "$tok_b" ] || fail "after wipe --token $tok_a: tokens [$(oyster_token_ids "$img")]"
slots=" $(keyslot_ids "$img") "
case "$slots" in *" $slot_a "*) fail "keyslot $slot_a survived wipe --token $tok_a" ;; esac
case "$slots" in *" $slot_b "*) ;; *) fail "keyslot $slot_b of the other token was removed" ;; esac
case "$slots" in *" 0 "*) ;; *) fail "the passphrase keyslot 0 was removed" ;; esac
[ "$(keyslot_count "$img")" -eq 2 ] || fail "expected 2 keyslots after wiping one token, got $(keyslot_count "$img")"
expect_fail token_open "$img" --token-id "$tok_a"
expect_ok token_open "$img"
expect_ok pass_open "$img" "$pass"

say "enroll again, then wipe --all"
enroll "$img" "$pass" --pcrs 7
[ "$(keyslot_count "$img")" -eq 3 ] || fail "expected 3 keyslots, got $(keyslot_count "$img")"
expect_ok "$OYSTER" wipe "$img" --all
[ -z "$(oyster_token_ids "$img")" ] || fail "tokens left after wipe --all: [$(oyster_token_ids "$img")]"
[ "$(keyslot_ids "$img")" = 0 ] || fail "keyslots after wipe --all: [$(keyslot_ids "$img")], expected [0]"
expect_fail token_open "$img"
expect_ok pass_open "$img" "$pass"

say "a foreign token (not oyster's) survives wipe --all"
enroll "$img" "$pass" --pcrs 7
echo '{"type":"someone-else","keyslots":[],"note":"not ours"}' >"$WORKDIR/foreign.json"
expect_ok cryptsetup token import --json-file "$WORKDIR/foreign.json" --token-id 20 "$img"
expect_ok "$OYSTER" wipe "$img" --all
[ "$(luks_json "$img" | jq -r '.tokens["20"].type')" = someone-else ] || fail "wipe --all removed a token that is not oyster's"
[ "$(keyslot_ids "$img")" = 0 ] || fail "keyslots after wipe --all: [$(keyslot_ids "$img")]"

say "the last passphrase keyslot: wipe refuses"
img2=$WORKDIR/tpm-only.img
make_luks "$img2" "$pass"
enroll "$img2" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT
unseal_to "$WORKDIR/tpm.key" "$img2"
# Remove the passphrase keyslot 0, authorised by the TPM passphrase.
expect_ok cryptsetup luksKillSlot --batch-mode --key-file "$WORKDIR/tpm.key" "$img2" 0
[ "$(keyslot_ids "$img2")" = "$slot" ] || setup_error "expected only keyslot $slot left, got [$(keyslot_ids "$img2")]"
expect_fail pass_open "$img2" "$pass"

expect_status 1 "$OYSTER" wipe "$img2" --token "$tok"
[ -n "$(oyster_messages)" ] || fail "wipe refused without saying why"
grep -qiE 'force' "$ERR" || { show_last; fail "the refusal does not mention --force"; }
expect_status 1 "$OYSTER" wipe "$img2" --all
[ "$(keyslot_ids "$img2")" = "$slot" ] || fail "a refused wipe removed keyslot $slot"
[ "$(oyster_token_ids "$img2")" = "$tok" ] || fail "a refused wipe removed token $tok"
expect_ok token_open "$img2"

say "--force removes it"
expect_ok "$OYSTER" wipe "$img2" --token "$tok" --force
[ -z "$(oyster_token_ids "$img2")" ] || fail "token $tok survived wipe --force"
[ "$(keyslot_count "$img2")" -eq 0 ] || fail "keyslot $slot survived wipe --force: [$(keyslot_ids "$img2")]"
expect_fail token_open "$img2"
expect_fail cryptsetup open --test-passphrase --disable-external-tokens --key-file "$WORKDIR/tpm.key" "$img2"
say "PASS"
