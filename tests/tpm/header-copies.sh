#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: someone edits the LUKS2 header by hand (luks2-header.py writes the
# JSON area and fixes the checksum, as libcryptsetup never would):
#   - a token whose text repeats a key, which libcryptsetup's json-c hides by
#     keeping the last value: the plugin and oyster refuse it, read from disk;
#   - one copy damaged, or a copy with a higher seqid: libcryptsetup recovers
#     the other copy as it loads, oyster says it did, and everything opens;
#   - copies with the same seqid and different contents, which libcryptsetup
#     does not notice: oyster status reports it with the `cryptsetup repair`
#     hint, and enroll and wipe write nothing until the user repairs;
#   - a token JSON truncated by hand, in both copies or in one.
# Each time: no crash, the passphrase and (where it is intact) the token open.
set -eu
. "$TESTDIR/lib.sh"

HDR=(python3 "$TESTDIR/luks2-header.py")
img=$WORKDIR/disk.img
pass='header copies test passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7 --literal
tok=$ENROLLED_TOKEN
expect_ok token_open "$img"
backup=$WORKDIR/header.bak
expect_ok cryptsetup luksHeaderBackup --header-backup-file "$backup" "$img"

restore() {
	expect_ok cryptsetup luksHeaderRestore --batch-mode --header-backup-file "$backup" "$img"
	copies_agree || fail "the restored header's copies disagree"
}
copies_agree() {
	[ "$("${HDR[@]}" get "$img" primary)" = "$("${HDR[@]}" get "$img" secondary)" ] &&
		[ "$("${HDR[@]}" seqid "$img" primary)" = "$("${HDR[@]}" seqid "$img" secondary)" ]
}
# Both header copies, byte for byte.
header_sum() {
	head -c $((2 * 16384)) "$img" | sha256sum
}
# write_both FILE: FILE's text as both copies' JSON area.
write_both() {
	local seq
	seq=$("${HDR[@]}" seqid "$img" primary)
	"${HDR[@]}" set "$img" primary "$1" "$seq" || setup_error "luks2-header.py set primary"
	"${HDR[@]}" set "$img" secondary "$1" "$seq" || setup_error "luks2-header.py set secondary"
}
# edit_token PYTHON-EXPR: the area's text with the token's raw text t replaced by the
# expression's value (t is the compact token text; the area is rewritten compactly).
edit_area() {
	"${HDR[@]}" get "$img" primary >"$WORKDIR/area.json"
	python3 - "$WORKDIR/area.json" "$tok" "$1" >"$WORKDIR/edited.json" <<'PY' || setup_error "edit_area"
import json, sys
area = json.load(open(sys.argv[1]))
tok = sys.argv[2]
t = json.dumps(area["tokens"][tok], separators=(",", ":"))
new = eval(sys.argv[3])
area["tokens"][tok] = "@@TOKEN@@"
text = json.dumps(area, separators=(",", ":"))
sys.stdout.write(text.replace('"@@TOKEN@@"', new))
PY
}
token_refused() {
	local what=$1
	expect_fail token_open "$img"
	run token_open "$img" --token-id "$tok" --debug
	[ "$RC" -ne 0 ] || fail "$what: the token opened the volume"
	grep -qE "$2" "$OUT" "$ERR" || { show_last; fail "$what: cryptsetup --debug does not say '$2'"; }
	expect_ok pass_open "$img" "$pass"
	expect_ok "$OYSTER" status "$img"
	grep_out "Token $tok: oyster-tpm2, keyslot [0-9]+, MALFORMED"
	grep_out "problem: .*($2)"
	expect_ok "$OYSTER" status "$img" --json
	[ "$(jq -r ".tokens[] | select(.id == $tok) | .valid" "$OUT")" = false ] ||
		fail "$what: status --json calls the token valid"
	expect_fail "$OYSTER" unseal "$img" --token "$tok"
	say "$what: refused by the plugin and by oyster; the passphrase opens"
}

# 1. Repeated keys on disk. cryptsetup token import never stores them (json-c collapses
#    them before the plugin's validate sees anything but the imported text).
edit_area 't[:-1] + ",\"tpm2_pin\":" + json.dumps(json.loads(t)["tpm2_pin"]) + "}"'
write_both "$WORKDIR/edited.json"
copies_agree || setup_error "could not write both copies"
token_refused "a key repeated with the same value" "an object repeats a key"
restore
# The same version again (json-c keeps the last one): only the repeat is wrong.
ver=$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id].oyster_version')
edit_area 't[:-1] + ",\"\\u006fyster_version\":'"$ver"'}"'
write_both "$WORKDIR/edited.json"
token_refused "a key repeated in an escaped spelling" "an object repeats a key"
restore
# The token's id twice in the tokens section: json-c keeps the second.
"${HDR[@]}" get "$img" primary >"$WORKDIR/area.json"
python3 - "$WORKDIR/area.json" "$tok" >"$WORKDIR/edited.json" <<'PY' || setup_error "token twice"
import json, sys
area = json.load(open(sys.argv[1]))
tok = sys.argv[2]
t = json.dumps(area["tokens"][tok], separators=(",", ":"))
text = json.dumps(area, separators=(",", ":"))
sys.stdout.write(text.replace('"%s":%s' % (tok, t), '"%s":%s,"%s":%s' % (tok, t, tok, t), 1))
PY
grep -q "\"$tok\":{.*\"$tok\":{" "$WORKDIR/edited.json" || setup_error "the token is not there twice"
write_both "$WORKDIR/edited.json"
token_refused "the token's id twice" "names this token twice"
restore
expect_ok token_open "$img"

# 2. One copy damaged: libcryptsetup restores it from the other as it loads; oyster says so.
for copy in secondary primary; do
	other=primary
	[ "$copy" = secondary ] || other=secondary
	"${HDR[@]}" break "$img" "$copy"
	copies_agree && setup_error "breaking the $copy copy changed nothing"
	expect_ok "$OYSTER" status "$img"
	grep_err "the $copy copy is damaged.*restored it from the $other copy"
	grep_out "Token $tok: oyster-tpm2, keyslot [0-9]+$"
	copies_agree || fail "the $copy copy is still damaged: libcryptsetup's recovery did not run"
	expect_ok token_open "$img"
	expect_ok pass_open "$img" "$pass"
	say "the $copy copy damaged: libcryptsetup recovered it, oyster said so, both credentials open"
done

# 3. The secondary is newer (a write that reached only it): libcryptsetup takes it.
edit_area '"{\"type\":\"oyster-tpm2\",\"keyslots\":[],\"oyster_version\":1}"'
"${HDR[@]}" set "$img" secondary "$WORKDIR/edited.json" $(($("${HDR[@]}" seqid "$img" primary) + 1))
expect_ok "$OYSTER" status "$img"
grep_err "different sequence numbers.*restored it from the secondary copy"
grep_out "MALFORMED"
copies_agree || fail "the primary was not recovered from the newer secondary"
expect_ok pass_open "$img" "$pass"
restore

# 4. Same seqid, different contents: libcryptsetup does not notice and uses the primary.
edit_area '"{\"type\":\"oyster-tpm2\",\"keyslots\":[],\"oyster_version\":1}"'
"${HDR[@]}" set "$img" secondary "$WORKDIR/edited.json" "$("${HDR[@]}" seqid "$img" primary)"
before=$(header_sum)
expect_ok "$OYSTER" status "$img"
grep_out "LUKS2 header: the two copies DISAGREE: the copies have the same sequence number but different contents; libcryptsetup uses the primary copy"
grep_out "cryptsetup repair $img"
expect_ok "$OYSTER" status "$img" --json
[ "$(jq -r '.header.copies_agree' "$OUT")" = false ] || fail "status --json: copies_agree is not false"
[ "$(jq -r '.header.in_use' "$OUT")" = primary ] || fail "status --json: in_use is not primary"
expect_ok token_open "$img"
expect_ok pass_open "$img" "$pass"
expect_status 1 "$OYSTER" wipe "$img" --token "$tok"
grep_err "disagree.*oyster changes nothing until they agree.*cryptsetup repair"
expect_status 1 "$OYSTER" enroll "$img" --key-file "$(keyfile "$pass")" --pcrs 7
grep_err "disagree.*cryptsetup repair"
expect_status 1 "$OYSTER" reseal "$img" --token "$tok"
grep_err "disagree.*cryptsetup repair"
[ "$(header_sum)" = "$before" ] || fail "a refused command changed the header"
say "copies that disagree silently: reported, nothing written, both credentials open"
restore

# 5. A token truncated by hand: its text cut short (and closed), in both copies.
edit_area 't[:len(t) // 2] + "\"}"'
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORKDIR/edited.json" ||
	setup_error "the area with a truncated token is no JSON"
write_both "$WORKDIR/edited.json"
token_refused "a token truncated by hand" "missing|not base64|not valid"
expect_ok "$OYSTER" wipe "$img" --token "$tok"
expect_ok pass_open "$img" "$pass"
restore
# Cut mid-token without closing: that copy is no JSON at all; libcryptsetup uses the other.
edit_area 't[:len(t) // 2]'
"${HDR[@]}" set "$img" secondary "$WORKDIR/edited.json" "$("${HDR[@]}" seqid "$img" primary)"
expect_ok "$OYSTER" status "$img"
grep_out "Token $tok: oyster-tpm2, keyslot [0-9]+$"
expect_ok token_open "$img"
expect_ok pass_open "$img" "$pass"
say "a token cut by hand: refused with a reason, wiped on request; a cut copy is recovered"

[ -z "$(transient_handles)" ] || fail "transient handles left in the TPM: $(transient_handles)"
say "PASS"
