#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the TPM is not there (a closed port, a missing device node).
# Enrollment fails fast with a message about the TPM and exit 4, adding no
# keyslot and no token; unseal exits 4; the token fails fast at unlock and
# the passphrase works.
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='no-tpm passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN
expect_ok token_open "$img"

fresh=$WORKDIR/fresh.img
make_luks "$fresh" "$pass"

real_tcti=$OYSTER_TCTI
port=$(closed_port)

for tcti in "swtpm:host=127.0.0.1,port=$port" "mssim:host=127.0.0.1,port=$port" "device:/nonexistent"; do
	say "OYSTER_TCTI=$tcti"
	export OYSTER_TCTI=$tcti

	for target in "$img" "$fresh"; do
		slots_before=$(keyslot_ids "$target")
		tokens_before=$(luks_json "$target" | jq -c .tokens)
		elapsed "$OYSTER" enroll "$target" --key-file "$(keyfile "$pass")" --pcrs 7
		[ "$RC" -eq 4 ] || { show_last; fail "enroll without a TPM: exit $RC, expected 4"; }
		[ "$ELAPSED" -lt 10 ] || fail "enroll without a TPM took $ELAPSED s"
		oyster_messages | grep -qi 'tpm' || { show_last; fail "enroll without a TPM does not say the TPM is missing"; }
		[ "$(keyslot_ids "$target")" = "$slots_before" ] || fail "enroll without a TPM changed the keyslots: [$slots_before] -> [$(keyslot_ids "$target")]"
		[ "$(luks_json "$target" | jq -c .tokens)" = "$tokens_before" ] || fail "enroll without a TPM changed the tokens"
	done

	elapsed "$OYSTER" unseal "$img"
	[ "$RC" -eq 4 ] || { show_last; fail "unseal without a TPM: exit $RC, expected 4"; }
	[ "$ELAPSED" -lt 10 ] || fail "unseal without a TPM took $ELAPSED s"
	[ ! -s "$OUT" ] || fail "unseal without a TPM printed something on stdout"
	oyster_messages | grep -qi 'tpm' || { show_last; fail "unseal without a TPM does not say the TPM is missing"; }

	# status still lists the token from the header, without a verdict it cannot know.
	elapsed "$OYSTER" status "$img"
	assert_no_crash
	[ "$ELAPSED" -lt 10 ] || fail "status without a TPM took $ELAPSED s"
	if grep -q 'would unlock now: yes' "$OUT"; then
		show_last
		fail "status claims the volume would unlock without a TPM"
	fi
	run "$OYSTER" status "$img" --json
	assert_no_crash
	if [ "$RC" -eq 0 ]; then
		jq -e --argjson id "$tok" '.tokens | length == 1 and .[0].id == $id and .[0].unlock != true' "$OUT" >/dev/null ||
			{ show_last; fail "status --json without a TPM does not list token $tok as not unlocking"; }
	fi

	elapsed token_open "$img"
	[ "$RC" -ne 0 ] || fail "the token opened the volume without a TPM"
	assert_no_crash
	[ "$ELAPSED" -lt 10 ] || fail "token unlock without a TPM took $ELAPSED s (must fail fast)"

	elapsed pass_open "$img" "$pass"
	[ "$RC" -eq 0 ] || { show_last; fail "the passphrase does not open the volume"; }
done

say "back on the real TPM, everything works again"
export OYSTER_TCTI=$real_tcti
expect_ok token_open "$img"
enroll "$fresh" "$pass" --pcrs 7
expect_ok token_open "$fresh"
say "PASS"
