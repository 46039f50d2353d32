#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A literal token (enroll --literal, version 1): its approvals reseal. The
# authorized mode has its own stories (authorized.sh, approve-faults.sh).
#
# Story: upgrades without typing anything. The token still unseals, so
# `oyster reseal` replaces it in place (same id, same keyslot, no passphrase).
# Before a planned upgrade, --add-state approves the predicted PCR 7 value;
# after the "upgrade" the token still unseals, and --prune keeps only the
# state booted with. An unplanned change needs the passphrase: a fresh
# secret in a new keyslot, the old one removed. A wrong passphrase, too many
# states or a bad spec change nothing.
set -eu
. "$TESTDIR/lib.sh"

pass='reseal passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7 --literal
tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT
states() { luks_json "$img" | jq -r --arg id "$1" '.tokens[$id].tpm2_states | length'; }
header() { luks_json "$img" | jq -cS .; }

say "reseal while the token unseals: in place, no passphrase asked"
before=$(header)
PASSWORD= expect_ok "$OYSTER" reseal "$img" </dev/null
grep_out "Resealed token $tok in place \\(keyslot $slot\\)"
[ "$(oyster_token_ids "$img")" = "$tok" ] || fail "the token moved: [$(oyster_token_ids "$img")]"
[ "$(keyslot_ids "$img" | tr '\n' ' ')" = "$(echo "$before" | jq -r '.keyslots | keys[]' | tr '\n' ' ')" ] ||
	fail "the keyslots changed"
[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id].tpm2_private')" != "$(echo "$before" | jq -r --arg id "$tok" '.tokens[$id].tpm2_private')" ] ||
	fail "the sealed object was not replaced"
expect_ok token_open "$img"

say "pre-approve the next boot: PCR 7 after one more extend"
digest=$(printf 'shim-update' | sha256sum | cut -d' ' -f1)
now7=$(pcr_value sha256 7)
next7=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])+bytes.fromhex(sys.argv[2])).hexdigest())' "$now7" "$digest")
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$next7"
[ "$(states "$tok")" -eq 2 ] || fail "expected 2 approved states, found $(states "$tok")"
expect_ok token_open "$img"
tpm2_pcrextend "7:sha256=$digest"
[ "$(pcr_value sha256 7)" = "$next7" ] || setup_error "the predicted PCR 7 value is not what the TPM computed"
say "after the upgrade the token still unseals (PolicyOR), status names state 2"
expect_ok token_open "$img"
run "$OYSTER" status "$img"
grep_out 'would unlock now: yes \(the PCRs match approved state 2\)'

say "--prune keeps only the state booted with"
expect_ok "$OYSTER" reseal "$img" --prune
[ "$(states "$tok")" -eq 1 ] || fail "--prune left $(states "$tok") states"
[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id].tpm2_states[0]["7"]')" = "$next7" ] ||
	fail "--prune kept another state than the one of now"
expect_ok token_open "$img"

say "bad input changes nothing"
before=$(header)
expect_status 2 "$OYSTER" reseal "$img" --add-state "7:sha1=$next7"
expect_status 2 "$OYSTER" reseal "$img" --add-state "9:sha256=$next7"
expect_status 2 "$OYSTER" reseal "$img" --add-state "7:sha256=abc"
expect_status 2 "$OYSTER" reseal "$img" --add-state "7:sha256=$next7" --prune
[ "$(header)" = "$before" ] || fail "a refused reseal changed the header"
for i in 1 2 3 4 5 6 7; do
	v=$(printf 'state %d' "$i" | sha256sum | cut -d' ' -f1)
	expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$v"
done
[ "$(states "$tok")" -eq 8 ] || fail "expected 8 states, found $(states "$tok")"
before=$(header)
run "$OYSTER" reseal "$img" --add-state "7:sha256=$(printf 'ninth' | sha256sum | cut -d' ' -f1)"
[ "$RC" -eq 1 ] || { show_last; fail "a ninth state: exit $RC, expected 1"; }
oyster_messages | grep -q 'at most 8' || { show_last; fail "no 'at most 8' message"; }
[ "$(header)" = "$before" ] || fail "the refused ninth state changed the header"
expect_ok token_open "$img"

say "an unplanned change: the passphrase authorizes a fresh secret, old keyslot removed"
extend_pcr 7 unplanned
expect_fail token_open "$img"
before=$(header)
kf=$(keyfile "wrong passphrase")
run "$OYSTER" reseal "$img" --key-file "$kf"
[ "$RC" -eq 1 ] || { show_last; fail "reseal with a wrong passphrase: exit $RC, expected 1"; }
[ "$(header)" = "$before" ] || fail "a reseal with a wrong passphrase changed the header"
kf=$(keyfile "$pass")
expect_ok "$OYSTER" reseal "$img" --key-file "$kf"
grep_out 'fresh secret'
[ "$(oyster_token_ids "$img" | wc -l)" -eq 1 ] || fail "expected one oyster token, found: $(oyster_token_ids "$img")"
[ "$(keyslot_count "$img")" -eq 2 ] || fail "expected the passphrase keyslot and one TPM keyslot, found $(keyslot_count "$img")"
new=$(oyster_token_ids "$img")
[ "$(states "$new")" -eq 1 ] || fail "the fresh token has $(states "$new") states"
expect_ok token_open "$img"
expect_ok pass_open "$img" "$pass"
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"
say "PASS"
