#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the token in the header gets damaged. A malformed token is refused
# at import when the plugin is loaded (libcryptsetup asks its validate);
# planted anyway (no plugin loaded), it fails at unlock without a crash. A
# well-formed token whose sealed blob has one flipped byte passes validation
# but fails cleanly at unlock. Every time, the passphrase still works, and
# the original token, put back, unlocks again.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='corrupt test passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT

orig=$WORKDIR/orig.json
expect_ok cryptsetup token export --token-id "$tok" "$img"
cp "$OUT" "$orig"
jq -e --arg s "$slot" '.type == "oyster-tpm2" and .keyslots == [$s]' "$orig" >/dev/null ||
	fail "exported token is not an oyster-tpm2 token on keyslot $slot: $(cat "$orig")"

# mutate MODE IN OUT: writes a changed copy of the token JSON. Exit 3 when
# the token has nothing the mode applies to.
mutate() {
	python3 - "$@" <<'EOF'
import base64, json, sys
mode, src, dst = sys.argv[1:4]
tok = json.load(open(src))

def private_key():
    keys = [k for k in tok if "private" in k.lower()]
    if not keys:
        keys = [k for k in tok if "blob" in k.lower()]
    if len(keys) != 1:
        sys.exit("cannot find the sealed private blob among the token's fields: %s" % sorted(tok))
    return keys[0]

if mode == "flip":
    k = private_key()
    raw = bytearray(base64.b64decode(tok[k], validate=True))
    # Inside the encrypted sensitive area of the TPM2B_PRIVATE (after its size
    # and integrity HMAC): decodes fine, but the TPM's integrity check fails.
    i = 40 if len(raw) > 60 else len(raw) - 1
    raw[i] ^= 0x01
    tok[k] = base64.b64encode(bytes(raw)).decode()
elif mode == "truncate":
    k = private_key()
    raw = base64.b64decode(tok[k], validate=True)
    tok[k] = base64.b64encode(raw[: len(raw) // 2]).decode()
elif mode == "badb64":
    tok[private_key()] = "@@ not base64 @@"
elif mode == "missing":
    del tok[private_key()]
elif mode == "wrongtype":
    tok[private_key()] = 12345
elif mode == "huge":
    tok[private_key()] = base64.b64encode(b"\x00" * 2000).decode()
elif mode == "twoslots":
    tok["keyslots"] = tok["keyslots"] + ["0"]
elif mode == "noslot":
    tok["keyslots"] = []
elif mode == "version":
    keys = [k for k in tok if k.lower() in ("version", "format_version", "oyster_version", "format-version")]
    if not keys:
        sys.exit(3)
    tok[keys[0]] = 999
else:
    sys.exit("unknown mode " + mode)
json.dump(tok, open(dst, "w"))
EOF
}

remove_token() {
	expect_ok cryptsetup token remove --token-id "$tok" "$img"
	[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id] // "none"')" = none ] ||
		setup_error "token $tok still present after token remove"
}

restore_original() {
	remove_token
	expect_ok with_plugin cryptsetup token import --json-file "$orig" --token-id "$tok" "$img"
}

# The token fails at unlock, cleanly and quickly, and nothing else is harmed.
assert_fails_cleanly() {
	local what=$1
	elapsed token_open "$img" --token-id "$tok"
	[ "$RC" -ne 0 ] || fail "$what: the token still opens the volume"
	assert_no_crash
	[ "$ELAPSED" -lt 30 ] || fail "$what: a failing unlock took $ELAPSED s"
	run token_open "$img" --debug
	[ "$RC" -ne 0 ] || fail "$what: the token opens the volume under --debug"
	assert_no_crash

	expect_status 1 "$OYSTER" unseal "$img" --token "$tok"
	[ ! -s "$OUT" ] || fail "$what: oyster unseal printed something on stdout"
	[ -n "$(oyster_messages)" ] || fail "$what: oyster unseal failed without a message"

	run "$OYSTER" status "$img"
	assert_no_crash
	run "$OYSTER" status "$img" --json
	assert_no_crash

	expect_ok pass_open "$img" "$pass"
	[ -z "$(transient_handles)" ] || fail "$what: transient handles left in the TPM: $(transient_handles)"
	[ -z "$(loaded_sessions)" ] || fail "$what: sessions left in the TPM: $(loaded_sessions)"
}

say "the original token survives a remove and import through the plugin's validate"
restore_original
expect_ok token_open "$img"

say "malformed tokens are refused at import when the plugin is loaded"
for mode in badb64 missing wrongtype huge twoslots noslot version; do
	bad=$WORKDIR/bad-$mode.json
	mrc=0
	mutate "$mode" "$orig" "$bad" || mrc=$?
	if [ "$mrc" -eq 3 ]; then
		say "NOTE: the token has no version field; skipping the '$mode' variant"
		continue
	fi
	[ "$mrc" -eq 0 ] || setup_error "could not make the '$mode' variant"
	say "variant $mode"
	remove_token
	expect_fail with_plugin cryptsetup token import --json-file "$bad" --token-id "$tok" "$img"
	[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id] // "none"')" = none ] ||
		fail "$mode: the plugin's validate let a malformed token into the header"

	# Planted without the plugin (no validation), it must still fail cleanly.
	expect_ok without_plugin cryptsetup token import --json-file "$bad" --token-id "$tok" "$img"
	assert_fails_cleanly "$mode"
	restore_original
	expect_ok token_open "$img"
done

say "a malformed token can still be wiped"
mutate badb64 "$orig" "$WORKDIR/bad-wipe.json"
remove_token
expect_ok without_plugin cryptsetup token import --json-file "$WORKDIR/bad-wipe.json" --token-id "$tok" "$img"
expect_ok "$OYSTER" wipe "$img" --token "$tok"
[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id] // "none"')" = none ] ||
	fail "wipe left the malformed token $tok in place"
expect_ok pass_open "$img" "$pass"
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT
expect_ok cryptsetup token export --token-id "$tok" "$img"
cp "$OUT" "$orig"

say "a well-formed token with one flipped byte in the sealed blob"
flip=$WORKDIR/flipped.json
mutate flip "$orig" "$flip"
cmp -s "$orig" "$flip" && setup_error "the flip changed nothing"
remove_token
# Well-formed: the plugin's validate has no reason to refuse it.
expect_ok with_plugin cryptsetup token import --json-file "$flip" --token-id "$tok" "$img"
assert_fails_cleanly "flipped byte"
# A damaged blob is not a PCR change: exit 3 would send the user on a false trail.
expect_status 1 "$OYSTER" unseal "$img"

say "a truncated sealed blob"
mutate truncate "$orig" "$WORKDIR/truncated.json"
remove_token
expect_ok without_plugin cryptsetup token import --json-file "$WORKDIR/truncated.json" --token-id "$tok" "$img"
assert_fails_cleanly "truncated blob"

say "the original token, put back, unlocks again"
restore_original
expect_ok token_open "$img"
unseal_to "$WORKDIR/tpm.key" "$img"
check_passphrase "$WORKDIR/tpm.key"
say "PASS"
