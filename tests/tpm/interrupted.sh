#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: enrollment fails half-way for real. The LUKS2 JSON area is filled so
# that a new keyslot still fits but a keyslot plus an oyster token does not:
# the token write fails after the keyslot could be added. Enrollment must
# fail and leave the header as it found it (same keyslots, same tokens), and
# the passphrase must still work. The test proves its precondition on copies
# of the image before relying on it.
set -eu
. "$TESTDIR/lib.sh"

pass='interrupted passphrase'
extend_pcr 7 secure-boot

say "size of a real oyster token, from an enrollment on a roomy image"
ref=$WORKDIR/ref.img
make_luks "$ref" "$pass"
enroll "$ref" "$pass" --pcrs 7
expect_ok cryptsetup token export --token-id "$ENROLLED_TOKEN" "$ref"
jq -c . "$OUT" >"$WORKDIR/ref-token.json"
token_size=$(wc -c <"$WORKDIR/ref-token.json")
say "an oyster token takes $token_size bytes of JSON"
[ "$token_size" -gt 300 ] || setup_error "oyster token of only $token_size bytes: cannot calibrate"

img=$WORKDIR/disk.img
make_luks "$img" "$pass" --luks2-metadata-size 16k --luks2-keyslots-size 2m
old_kf=$(keyfile "$pass")
new_kf=$(keyfile "$(head -c 32 /dev/urandom | base64)") # like oyster's: 44 characters
probe=$WORKDIR/probe.img
filler_id=10

# add_filler IMG PAD: a dummy token with PAD bytes of padding.
add_filler() {
	python3 -c 'import json, sys; print(json.dumps({"type": "oyster-test-filler", "keyslots": [], "pad": "x" * int(sys.argv[1])}))' "$2" >"$WORKDIR/filler.json"
	cryptsetup token import --json-file "$WORKDIR/filler.json" --token-id "$filler_id" "$1" >/dev/null 2>&1
}

# add_keyslot IMG: a keyslot like oyster's (PBKDF2-SHA512, 1000 iterations).
add_keyslot() {
	cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --hash sha512 \
		--key-file "$old_kf" "$1" "$new_kf" >/dev/null 2>&1
}

# fits PAD: with a filler of PAD bytes, is there still room for one keyslot?
fits() {
	cp --sparse=always "$img" "$probe"
	add_filler "$probe" "$1" && add_keyslot "$probe"
}

say "calibrating the filler"
fits 0 || setup_error "a keyslot does not fit even without filler"
fits 12288 && setup_error "a 12 KiB filler still leaves room in a 16 KiB metadata area"
lo=0 hi=12288 # fits(lo), !fits(hi)
while [ $((hi - lo)) -gt 1 ]; do
	mid=$(((lo + hi) / 2))
	if fits "$mid"; then lo=$mid; else hi=$mid; fi
done
# Leave some room after the keyslot, far less than a token needs: the
# keyslot step succeeds even if oyster's keyslot JSON is a little longer.
margin=$((token_size / 4))
[ "$margin" -le 256 ] || margin=256
pad=$((lo - margin))
say "largest filler leaving room for a keyslot: $lo bytes; using $pad"

say "precondition, on copies: a keyslot fits, a keyslot plus an oyster token does not"
cp --sparse=always "$img" "$probe"
add_filler "$probe" "$pad" || setup_error "the filler does not fit"
add_keyslot "$probe" || setup_error "precondition: a plain keyslot add fails with the filler in place"
new_slot=$(keyslot_ids "$probe" | tr ' ' '\n' | grep -vx 0 | head -n 1)
jq -c --arg s "$new_slot" '.keyslots = [$s]' "$WORKDIR/ref-token.json" >"$WORKDIR/ref-token-probe.json"
if cryptsetup token import --json-file "$WORKDIR/ref-token-probe.json" "$probe" >/dev/null 2>&1; then
	setup_error "precondition: a keyslot plus an oyster token still fit; the test would prove nothing"
fi
# Control: with room for a token more, keyslot plus token do fit: space is the limit.
cp --sparse=always "$img" "$probe"
add_filler "$probe" "$((pad - token_size - 600))" || setup_error "smaller filler does not fit"
add_keyslot "$probe" || setup_error "keyslot does not fit with the smaller filler"
new_slot=$(keyslot_ids "$probe" | tr ' ' '\n' | grep -vx 0 | head -n 1)
jq -c --arg s "$new_slot" '.keyslots = [$s]' "$WORKDIR/ref-token.json" >"$WORKDIR/ref-token-probe.json"
cryptsetup token import --json-file "$WORKDIR/ref-token-probe.json" "$probe" >/dev/null 2>&1 ||
	setup_error "control: a keyslot plus a token do not fit even with room for them"
rm -f "$probe"

say "the real image, nearly full"
add_filler "$img" "$pad" || setup_error "the filler does not fit the image"
snapshot() {
	luks_json "$img" | jq -S '{keyslots, tokens, segments, digests, config}'
}
snapshot >"$WORKDIR/before.json"
epoch() {
	cryptsetup luksDump "$img" | sed -nE 's/^Epoch:[[:space:]]*([0-9]+).*/\1/p'
}
epoch_before=$(epoch)
[ -n "$epoch_before" ] || setup_error "no Epoch in luksDump"
[ "$(keyslot_ids "$img")" = 0 ] || setup_error "unexpected keyslots [$(keyslot_ids "$img")]"

say "enroll fails"
expect_status 1 "$OYSTER" enroll "$img" --key-file "$old_kf" --pcrs 7
[ -n "$(oyster_messages)" ] || fail "enroll failed without a message"

# Every header write bumps the epoch: the keyslot was written and then
# taken back, so the test did exercise the undo, not an early exit.
epoch_after=$(epoch)
[ "$epoch_after" -ge $((epoch_before + 2)) ] ||
	fail "the header epoch went from $epoch_before to $epoch_after: enroll failed before adding its keyslot, so the undo was not exercised"

say "and leaves the header as it was"
snapshot >"$WORKDIR/after.json"
if ! cmp -s "$WORKDIR/before.json" "$WORKDIR/after.json"; then
	diff -u "$WORKDIR/before.json" "$WORKDIR/after.json" >&2 || true
	fail "the failed enrollment changed the header"
fi
[ "$(keyslot_ids "$img")" = 0 ] || fail "keyslots after a failed enroll: [$(keyslot_ids "$img")]"
[ -z "$(oyster_token_ids "$img")" ] || fail "an oyster token was left behind"
expect_ok pass_open "$img" "$pass"
expect_fail token_open "$img"
[ -z "$(transient_handles)" ] || fail "transient handles left in the TPM: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left in the TPM: $(loaded_sessions)"

say "with the filler gone, the same enrollment succeeds"
expect_ok cryptsetup token remove --token-id "$filler_id" "$img"
enroll "$img" "$pass" --pcrs 7
expect_ok token_open "$img"
expect_ok pass_open "$img" "$pass"
say "PASS"
