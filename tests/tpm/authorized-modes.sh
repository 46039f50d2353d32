#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the edges of the authorized mode.
#   - 64 approved states (two levels of PolicyOR): the first, a middle one
#     and the last each unlock; the command count per unlock is reported;
#     a 65th state is refused and changes nothing.
#   - A foreign NV index at oyster's first handle: enroll takes the next
#     one, and wipe leaves the foreign one alone.
#   - NV space filled beforehand: enroll says why and seals literally;
#     nothing is left defined, no credential is left behind.
#   - An owner password (tpm2_changeauth -c o): the same, literal mode; an
#     authorized token enrolled before says what changed at unlock.
#   - Migration: a version 1 token, enroll --replace moves the volume to the
#     authorized mode; the passphrase keyslot stays.
set -eu
. "$TESTDIR/lib.sh"

pass='modes passphrase'
img=$WORKDIR/disk.img
# 64 states and their origins outgrow the default 16 KiB of LUKS2 metadata.
make_luks "$img" "$pass" --luks2-metadata-size 256k --luks2-keyslots-size 1m
extend_pcr 7 secure-boot
oyster_nv() { tpm2_getcap handles-nv-index | sed -n 's/^- //p' | awk '{ printf "0x%08x\n", $1 }' | sort; }
in_range() { oyster_nv | awk '$1 >= "0x01804f00" && $1 <= "0x01804fff"'; }

say "a foreign NV index at 0x01804f00: enroll takes 0x01804f01"
tpm2_nvdefine 0x01804f00 -C o -s 8 -a "ownerread|ownerwrite" >/dev/null || setup_error "tpm2_nvdefine failed"
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN
grep_out 'NV index 0x01804f01'

say "64 states: each level of the tree unlocks"
# A chain of PCR 7 values: state k is PCR 7 after k more extends.
python3 - "$(pcr_value sha256 7)" >"$WORKDIR/chain" <<'PY'
import hashlib, sys
v = bytes.fromhex(sys.argv[1])
for k in range(1, 64):
    d = hashlib.sha256(b"step %d" % k).digest()
    v = hashlib.sha256(v + d).digest()
    print(d.hex(), v.hex())
PY
while read -r _ value; do
	expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$value"
done <"$WORKDIR/chain"
[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id].tpm2_states | length')" = 64 ] ||
	fail "expected 64 states"
before=$(luks_json "$img" | jq -cS .)
run "$OYSTER" reseal "$img" --add-state "7:sha256=$(printf '%064d' 7)"
[ "$RC" -eq 1 ] || { show_last; fail "a 65th state: exit $RC, expected 1"; }
oyster_messages | grep -q 'at most 64' || { show_last; fail "no 'at most 64' message"; }
[ "$(luks_json "$img" | jq -cS .)" = "$before" ] || fail "the refused 65th state changed the header"
# unlock_in K: reboot, extend the chain to state K, unlock through oyster unseal (captured).
unlock_in() {
	reboot_tpm
	extend_pcr 7 secure-boot
	head -n "$1" "$WORKDIR/chain" | while read -r d _; do tpm2_pcrextend "7:sha256=$d"; done
	rm -f "$WORKDIR/cap.pcap"
	expect_ok env OYSTER_TCTI="pcap:$OYSTER_TCTI" TCTI_PCAP_FILE="$WORKDIR/cap.pcap" "$OYSTER" unseal "$img"
	python3 "$TESTDIR/../../bench/tpm-pcap.py" count "$WORKDIR/cap.pcap" | head -n 1
}
for k in 0 37 63; do
	say "state $((k + 1)) of 64 unlocks: $(unlock_in "$k")"
done

say "NV space filled: enroll falls back to the literal mode, nothing left defined"
img2=$WORKDIR/full.img
make_luks "$img2" "$pass"
fillers=()
for i in $(seq 0 255); do
	h=$(printf '0x015000%02x' "$i")
	tpm2_nvdefine "$h" -C o -s 2048 -a "ownerread|ownerwrite" >/dev/null 2>&1 || break
	fillers+=("$h")
done
# Then small ones, until not even one byte fits.
for i in $(seq 0 255); do
	h=$(printf '0x015001%02x' "$i")
	tpm2_nvdefine "$h" -C o -s 1 -a "ownerread|ownerwrite" >/dev/null 2>&1 || break
	fillers+=("$h")
done
[ "$i" -lt 255 ] || setup_error "NV never filled up"
say "filled NV with ${#fillers[@]} indexes"
nv_before=$(oyster_nv)
creds_before=$(ls "$OYSTER_STATE_DIR")
enroll "$img2" "$pass" --pcrs 7
grep_out 'Literal mode .*: the TPM has no room for another NV index'
[ "$(luks_json "$img2" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].oyster_version')" = 1 ] ||
	fail "the fallback token is not version 1"
[ "$(oyster_nv)" = "$nv_before" ] || fail "the failed attempt left an NV index"
[ "$(ls "$OYSTER_STATE_DIR")" = "$creds_before" ] || fail "the failed attempt left a credential"
expect_ok token_open "$img2"
for h in "${fillers[@]}"; do tpm2_nvundefine "$h" -C o >/dev/null; done

say "an owner password: literal mode; the authorized token says what changed"
img3=$WORKDIR/owner.img
make_luks "$img3" "$pass"
tpm2_changeauth -c o owner-secret >/dev/null || setup_error "tpm2_changeauth -c o failed"
nv_before=$(oyster_nv)
enroll "$img3" "$pass" --pcrs 7
grep_out "Literal mode .*: the TPM's owner hierarchy has a password"
[ "$(oyster_nv)" = "$nv_before" ] || fail "the failed attempt left an NV index"
expect_ok token_open "$img3"
reboot_tpm
extend_pcr 7 secure-boot
expect_status 3 "$OYSTER" unseal "$img"
oyster_messages | grep -q 'owner hierarchy now has a password' || { show_last; fail "no owner password message"; }
run "$OYSTER" status "$img"
grep_out "would unlock now: no: the TPM's owner hierarchy now has a password"
tpm2_changeauth -c o -p owner-secret >/dev/null || setup_error "could not clear the owner password"
expect_ok "$OYSTER" unseal "$img"

say "migration: a version 1 token moves to the authorized mode with enroll --replace"
img4=$WORKDIR/v1.img
make_luks "$img4" "$pass"
enroll "$img4" "$pass" --pcrs 7 --literal
[ "$(luks_json "$img4" | jq -r '.tokens[] | select(.type == "oyster-tpm2") | .oyster_version')" = 1 ] ||
	fail "--literal did not make a version 1 token"
expect_ok token_open "$img4"
enroll "$img4" "$pass" --pcrs 7 --replace
[ "$(luks_json "$img4" | jq -r '[.tokens[] | select(.type == "oyster-tpm2") | .oyster_version] | join(" ")')" = 2 ] ||
	fail "after enroll --replace the volume holds other tokens than one of version 2"
expect_ok token_open "$img4"
expect_ok pass_open "$img4" "$pass"

say "wipe leaves the foreign index alone"
expect_ok "$OYSTER" wipe "$img" --all
oyster_nv | grep -qx 0x01804f00 || fail "wipe removed the foreign NV index"
oyster_nv | grep -qx 0x01804f01 && fail "wipe left the token's NV index"
say "PASS"
