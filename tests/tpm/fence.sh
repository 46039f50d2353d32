#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a volume enrolled with --fence. During "the initramfs" the token
# unseals; then the boot integration runs `oyster fence`, and from then on the
# running system cannot unseal it, status says why, and the passphrase still
# works. After a reboot (a TPM reset: PCR 15 back to zeros, the firmware's
# PCR 7 measured again) the token unseals again. Enrolling --fence from the
# fenced running system binds PCR 15 to zeros, not to its current value.
set -eu
. "$TESTDIR/lib.sh"

pass='fence passphrase'
img=$WORKDIR/disk.img
other=$WORKDIR/other.img
make_luks "$img" "$pass"
make_luks "$other" "$pass"

# A reboot: what the firmware measures at every boot.
boot() {
	reboot_tpm
	extend_pcr 7 secure-boot
}
boot

say "enroll with the fence (PCR 7 + PCR 15 at zero)"
enroll "$img" "$pass" --pcrs 7 --fence
[ "$(luks_json "$img" | jq -c --arg id "$ENROLLED_TOKEN" '.tokens[$id].tpm2_pcrs')" = "[7,15]" ] ||
	fail "the token is not bound to PCRs 7 and 15"
[ "$(luks_json "$img" | jq -r --arg id "$ENROLLED_TOKEN" '.tokens[$id].tpm2_states[0]["15"]')" = "$(printf '0%.0s' {1..64})" ] ||
	fail "PCR 15 is not bound to its reset value"
expect_ok token_open "$img"

say "the initramfs is done: oyster fence closes the token until the next boot"
before=$(pcr_value sha256 15)
expect_ok "$OYSTER" fence "$img"
[ "$(pcr_value sha256 15)" != "$before" ] || fail "oyster fence did not change PCR 15"
run token_open "$img"
[ "$RC" -ne 0 ] || fail "the token still opens the volume after the fence"
assert_no_crash
expect_status 3 "$OYSTER" unseal "$img"
oyster_messages | grep -qE 'PCR 15([^0-9]|$)' || { show_last; fail "unseal does not name PCR 15"; }
run "$OYSTER" status "$img"
grep_out 'would unlock now: no'
grep_out 'boot fence'
expect_ok pass_open "$img" "$pass"

say "the fence measures the volume: a second volume's fence gives another PCR 15"
boot
expect_ok "$OYSTER" fence "$img"
one=$(pcr_value sha256 15)
boot
expect_ok "$OYSTER" fence "$other"
[ "$(pcr_value sha256 15)" != "$one" ] || fail "two volumes with different UUIDs extend PCR 15 alike"

say "after a reboot the token unseals again"
boot
expect_ok token_open "$img"
unseal_to "$WORKDIR/tpm.key" "$img"
check_passphrase "$WORKDIR/tpm.key"

say "enrolling --fence from the fenced running system binds PCR 15 to zeros"
expect_ok "$OYSTER" fence "$img"
kf=$(keyfile "$pass")
expect_ok "$OYSTER" enroll "$other" --key-file "$kf" --pcrs 7 --fence
grep_out 'next boot'
expect_fail token_open "$other"
boot
expect_ok token_open "$other"

say "reseal from the fenced running system: PCR 15 stays bound to zeros"
boot
expect_ok "$OYSTER" fence "$img"
expect_ok "$OYSTER" reseal "$img" --key-file "$kf"
grep_out 'next boot'
tok=$(oyster_token_ids "$img")
[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id].tpm2_states[0]["15"]')" = "$(printf '0%.0s' {1..64})" ] ||
	fail "reseal bound PCR 15 to its fenced value instead of its reset value"
expect_fail token_open "$img"
boot
expect_ok token_open "$img"

say "fence of a missing device fails, but still fences the others"
boot
run "$OYSTER" fence "$WORKDIR/missing.img" "$img"
[ "$RC" -eq 1 ] || { show_last; fail "fence with a missing device: exit $RC, expected 1"; }
expect_fail token_open "$img"
expect_status 2 "$OYSTER" fence
expect_status 2 "$OYSTER" fence "$img" --pcr 24
say "PASS"
