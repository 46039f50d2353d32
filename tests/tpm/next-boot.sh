#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a firmware update, whose new PCR 0 nobody can predict. Before it,
# `oyster reseal --next-boot` approves exactly the next boot whatever it
# measures, bound to the TPM's reset count. The next boot (new firmware)
# unlocks; `reseal --prune` then binds the token to the new firmware; a boot
# after that with yet another firmware falls back. The approval does not
# work before the reboot, nor on the boot after next.
set -eu
. "$TESTDIR/lib.sh"

pass='next-boot passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
boot() { # boot FIRMWARE: a reboot measuring that firmware into PCR 0, and Secure Boot into PCR 7
	reboot_tpm
	extend_pcr 0 "$1"
	extend_pcr 7 secure-boot
}
approved() { luks_json "$img" | jq -r '.tokens[] | select(.type == "oyster-tpm2") | .tpm2_next_boot_reset // "none"'; }
reset_count() { tpm2_readclock | sed -n 's/.*reset_count: *//p'; }

boot firmware-1
enroll "$img" "$pass" --pcrs 0+7
expect_ok token_open "$img"

say "approve the next boot, whatever it measures"
expect_ok "$OYSTER" reseal "$img" --next-boot
[ "$(approved)" = "$(( $(reset_count) + 1 ))" ] ||
	fail "the token approves reset count $(approved), expected $(( $(reset_count) + 1 ))"
run "$OYSTER" status "$img"
grep_out 'Next boot: approved'
expect_ok token_open "$img"

say "not before the reboot: a changed PCR 0 now is still refused"
extend_pcr 0 tampered
expect_fail token_open "$img"

say "the next boot, with new firmware, unlocks"
boot firmware-2
expect_ok token_open "$img"
run "$OYSTER" status "$img"
grep_out 'would unlock now: yes \(approved for this boot'
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left loaded: $(loaded_sessions)"

say "the post-boot prune binds the token to the new firmware and drops the approval"
expect_ok "$OYSTER" reseal "$img" --prune
[ "$(approved)" = none ] || fail "--prune kept the next-boot approval ($(approved))"
expect_ok token_open "$img"
boot firmware-2
expect_ok token_open "$img"

say "the approval is for one boot only: approve, reboot twice, refused"
expect_ok "$OYSTER" reseal "$img" --next-boot
boot firmware-3
expect_ok token_open "$img"
boot firmware-3
expect_fail token_open "$img"
expect_status 3 "$OYSTER" unseal "$img"
expect_ok pass_open "$img" "$pass"
say "PASS"
