#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the disk moves to another machine (or someone swaps the TPM), whose
# PCRs read exactly the same. The token was sealed under the first TPM's
# storage root key: on the other TPM it is refused, with a message saying so,
# and status says it belongs to another TPM. A disk enrolled on both machines
# unlocks on each: a foreign token makes libcryptsetup move on to the next.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='other-tpm passphrase'
make_luks "$img" "$pass"

tpm_a=$OYSTER_TCTI
start_other_tpm machine-b
tpm_b=$OTHER_TCTI

# Same measurements on both machines: only the TPM differs.
for tcti in "$tpm_a" "$tpm_b"; do
	printf 'same firmware' | TPM2TOOLS_TCTI=$tcti tpm2_pcrevent 7 >/dev/null
done
[ "$(pcr_value sha256 7)" = "$(TPM2TOOLS_TCTI=$tpm_b pcr_value sha256 7)" ] || setup_error "PCR 7 differs between the two TPMs"

say "enroll on machine A"
enroll "$img" "$pass" --pcrs 7
tok_a=$ENROLLED_TOKEN
expect_ok token_open "$img"

check_refused_on_b() {
	export OYSTER_TCTI=$tpm_b
	run token_open "$img" --debug
	[ "$RC" -ne 0 ] || fail "$1: machine B opens a token sealed on machine A"
	assert_no_crash
	cat "$OUT" "$ERR" >"$WORKDIR/debug-b.log"
	grep -qiE 'another TPM|other TPM|different TPM|storage root key|SRK' "$WORKDIR/debug-b.log" ||
		{ tail -n 30 "$WORKDIR/debug-b.log" >&2; fail "$1: the refusal does not say that this is another TPM"; }

	expect_status 1 "$OYSTER" unseal "$img"
	[ ! -s "$OUT" ] || fail "$1: unseal printed something on machine B"
	oyster_messages | grep -qiE 'another TPM|other TPM|different TPM|storage root key|SRK' ||
		{ show_last; fail "$1: oyster unseal does not say that this is another TPM"; }
	# Not a PCR change: that would send the user looking at the firmware.
	oyster_messages | grep -qE 'PCR 7([^0-9]|$)' && { show_last; fail "$1: another TPM reported as a PCR 7 change"; }

	run "$OYSTER" status "$img" --json
	assert_no_crash
	jq -e '.tokens[0].unlock == false and (.tokens[0].changed_pcrs // []) == []' "$OUT" >/dev/null ||
		{ show_last; fail "$1: status --json on machine B does not say: would not unlock, no PCR changed"; }
	run "$OYSTER" status "$img"
	assert_no_crash
	grep_out 'would unlock now: no'

	expect_ok pass_open "$img" "$pass"
	[ -z "$(TPM2TOOLS_TCTI=$tpm_b transient_handles)" ] || fail "$1: transient handles left on machine B"
	export OYSTER_TCTI=$tpm_a
}

say "machine B, which has no persistent SRK yet"
[ -z "$(TPM2TOOLS_TCTI=$tpm_b tpm2_getcap handles-persistent)" ] || setup_error "machine B already has persistent keys"
check_refused_on_b "B without SRK"

say "machine B with its own persistent SRK (after enrolling another disk there)"
other=$WORKDIR/other.img
make_luks "$other" "$pass"
OYSTER_TCTI=$tpm_b enroll "$other" "$pass" --pcrs 7
[ -n "$(TPM2TOOLS_TCTI=$tpm_b tpm2_getcap handles-persistent)" ] || fail "enrollment on machine B made no persistent SRK"
check_refused_on_b "B with its SRK"

say "enrolled on both machines: each unlocks, trying past the other's token"
OYSTER_TCTI=$tpm_b enroll "$img" "$pass" --pcrs 7
tok_b=$ENROLLED_TOKEN
[ "$tok_a" -lt "$tok_b" ] || setup_error "expected A's token ($tok_a) before B's ($tok_b)"
expect_ok token_open "$img"
OYSTER_TCTI=$tpm_b expect_ok token_open "$img"
OYSTER_TCTI=$tpm_b expect_ok "$OYSTER" unseal "$img"
cp "$OUT" "$WORKDIR/b.key"
expect_ok "$OYSTER" unseal "$img"
cmp -s "$OUT" "$WORKDIR/b.key" && fail "the two machines' tokens unseal the same passphrase"
OYSTER_TCTI=$tpm_b expect_ok "$OYSTER" status "$img" --json
jq -e --argjson a "$tok_a" --argjson b "$tok_b" '
	(.tokens[] | select(.id == $a) | .unlock == false) and
	(.tokens[] | select(.id == $b) | .unlock == true)' "$OUT" >/dev/null ||
	{ show_last; fail "status on machine B does not tell its token from A's"; }

say "back on machine A, everything works"
expect_ok token_open "$img" --token-id "$tok_a"
expect_ok "$OYSTER" status "$img"
grep_out 'would unlock now: yes'
say "PASS"
