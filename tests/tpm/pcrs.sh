#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a user looks at the PCRs before choosing what to bind to. `oyster
# pcrs` lists all 24 with their well-known names and today's values, and the
# values follow the TPM (checked against tpm2_pcrread and an independent
# computation of the extend); --bank sha1 works; a bad bank is a usage error.
set -eu
. "$TESTDIR/lib.sh"

# parse_pcrs FILE HEXLEN: "index value" lines, one per PCR found. A PCR line
# is one that starts with the index (optionally "PCR") and holds a digest of
# HEXLEN hex digits.
parse_pcrs() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
text, n = open(sys.argv[1]).read(), int(sys.argv[2])
for line in text.splitlines():
    m = re.match(r"\s*(?:PCR\s*)?(\d{1,2})(?![0-9])", line, re.I)
    bare = re.sub(r"0[xX](?=[0-9a-fA-F])", " ", line)
    d = re.search(r"(?<![0-9A-Za-z])([0-9a-fA-F]{%d})(?![0-9A-Za-z])" % n, bare)
    if m and d:
        print(m.group(1), d.group(1).lower())
EOF
}

# line_of FILE IDX: the output line for PCR IDX.
line_of() {
	grep -iE "^\s*(PCR\s*)?$2([^0-9]|$)" "$1" | head -n 1
}

say "oyster pcrs: 24 PCRs of the sha256 bank"
expect_ok "$OYSTER" pcrs
cp "$OUT" "$WORKDIR/pcrs-1"
parse_pcrs "$WORKDIR/pcrs-1" 64 >"$WORKDIR/parsed-1"
[ "$(cut -d' ' -f1 "$WORKDIR/parsed-1" | sort -n | tr '\n' ' ')" = "$(seq 0 23 | tr '\n' ' ')" ] ||
	{ cat "$WORKDIR/pcrs-1" >&2; fail "expected PCRs 0..23, each once, with a 64-digit value"; }

say "every value is what tpm2_pcrread reads"
while read -r idx value; do
	[ "$value" = "$(pcr_value sha256 "$idx")" ] || fail "PCR $idx: oyster says $value, tpm2_pcrread $(pcr_value sha256 "$idx")"
done <"$WORKDIR/parsed-1"

say "well-known names"
for spec in '0:firmware' '1:firmware' '2:option' '4:boot' '5:gpt|partition' '7:secure' '8:grub|command|cmdline' '9:grub|files' '11:uki|unified' '14:shim|mok' '15:identity'; do
	idx=${spec%%:*} pat=${spec#*:}
	line_of "$WORKDIR/pcrs-1" "$idx" | grep -qiE "$pat" ||
		{ cat "$WORKDIR/pcrs-1" >&2; fail "PCR $idx is not named (/$pat/)"; }
done

say "after tpm2_pcrextend, PCR 7 shows the new value, and only PCR 7 changed"
old7=$(pcr_value sha256 7)
old7_sha1=$(pcr_value sha1 7)
digest=$(printf 'oyster pcrs test' | sha256sum | cut -d' ' -f1)
tpm2_pcrextend "7:sha256=$digest" || setup_error "tpm2_pcrextend failed"
expected=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1]) + bytes.fromhex(sys.argv[2])).hexdigest())' "$old7" "$digest")
[ "$(pcr_value sha256 7)" = "$expected" ] || setup_error "tpm2_pcrread disagrees with the extend computation"
expect_ok "$OYSTER" pcrs
cp "$OUT" "$WORKDIR/pcrs-2"
parse_pcrs "$WORKDIR/pcrs-2" 64 >"$WORKDIR/parsed-2"
[ "$(awk '$1 == 7 { print $2 }' "$WORKDIR/parsed-2")" = "$expected" ] ||
	{ cat "$WORKDIR/pcrs-2" >&2; fail "PCR 7 is not the extended value $expected"; }
changed=$(diff "$WORKDIR/parsed-1" "$WORKDIR/parsed-2" | sed -nE 's/^> ([0-9]+) .*/\1/p' | tr '\n' ' ')
[ "$changed" = "7 " ] || fail "after extending PCR 7, the changed PCRs are [$changed]"

say "--bank sha1"
expect_ok "$OYSTER" pcrs --bank sha1
cp "$OUT" "$WORKDIR/pcrs-sha1"
parse_pcrs "$WORKDIR/pcrs-sha1" 40 >"$WORKDIR/parsed-sha1"
[ "$(cut -d' ' -f1 "$WORKDIR/parsed-sha1" | sort -n | tr '\n' ' ')" = "$(seq 0 23 | tr '\n' ' ')" ] ||
	{ cat "$WORKDIR/pcrs-sha1" >&2; fail "--bank sha1: expected PCRs 0..23 with 40-digit values"; }
if grep -qE '\b[0-9a-fA-F]{64}\b' "$WORKDIR/pcrs-sha1"; then
	fail "--bank sha1 prints sha256-sized values"
fi
while read -r idx value; do
	[ "$value" = "$(pcr_value sha1 "$idx")" ] || fail "sha1 PCR $idx: oyster says $value, tpm2_pcrread $(pcr_value sha1 "$idx")"
done <"$WORKDIR/parsed-sha1"
# The sha256-only extend left the sha1 bank alone.
[ "$(awk '$1 == 7 { print $2 }' "$WORKDIR/parsed-sha1")" = "$old7_sha1" ] || fail "sha1 PCR 7 changed with a sha256-only extend"
expect_ok "$OYSTER" pcrs --bank sha256
parse_pcrs "$OUT" 64 | cmp -s - "$WORKDIR/parsed-2" || fail "--bank sha256 differs from the default bank"

say "a bad bank is a usage error"
for b in md5 nosuchbank '' sha257; do
	expect_status 2 "$OYSTER" pcrs --bank "$b"
	[ -s "$ERR" ] || fail "no message for --bank '$b'"
done
expect_status 2 "$OYSTER" pcrs --no-such-option
expect_ok "$OYSTER" pcrs --help
say "PASS"
