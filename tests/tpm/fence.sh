#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a volume enrolled with --fence. During "the initramfs" the token
# unseals; then the boot integration runs `oyster fence`, and from then on the
# running system cannot unseal it, status says why, and the passphrase still
# works. After a reboot (a TPM reset: PCR 15 back to zeros, the firmware's
# PCR 7 measured again) the token unseals again. Enrolling --fence from the
# fenced running system binds PCR 15 to zeros, not to its current value.
# The fence closes on every path: a device it cannot read, no device, a
# LUKS1 or token-less impostor carrying the victim's UUID (which measures
# differently from the victim), a TPM that comes up late; only no TPM at
# all leaves it open, and says so.
set -eu
. "$TESTDIR/lib.sh"

pass='fence passphrase'
img=$WORKDIR/disk.img
other=$WORKDIR/other.img
make_luks "$img" "$pass"
make_luks "$other" "$pass"

# fence_pcr START VOLUME...: PCR 15 after oyster fence, computed apart from oyster.
fence_pcr() {
	python3 "$TESTDIR/fence-pcr.py" "$@"
}

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

say "a device that is not a readable LUKS volume is fenced as unreadable, and the others too"
boot
zeros=$(printf '0%.0s' {1..64})
run "$OYSTER" fence "$WORKDIR/missing.img" "$img"
[ "$RC" -eq 0 ] || { show_last; fail "fence with a missing device: exit $RC, expected 0 (the PCR was extended)"; }
grep_err 'missing.img is not a LUKS volume oyster can read; fenced as an unreadable volume'
[ "$(pcr_value sha256 15)" = "$(fence_pcr "$zeros" ! "$img")" ] ||
	fail "PCR 15 is not the unreadable event then the volume's: $(pcr_value sha256 15)"
expect_fail token_open "$img"

say "no device at all: the fence still closes, with the 'no volume' event"
boot
expect_ok "$OYSTER" fence
[ "$(pcr_value sha256 15)" = "$(fence_pcr "$zeros" -)" ] || fail "PCR 15 is not the 'no volume' event"
expect_status 3 "$OYSTER" unseal "$img"

say "impostors under the victim's UUID: LUKS1, and LUKS2 without a token, each close the fence"
uuid=$(cryptsetup luksUUID "$img")
luks1=$WORKDIR/impostor-luks1.img
impostor=$WORKDIR/impostor-luks2.img
truncate -s 8M "$luks1"
cryptsetup luksFormat --type luks1 --uuid "$uuid" --pbkdf-force-iterations 1000 --batch-mode \
	--key-file "$(keyfile attacker)" "$luks1" >/dev/null 2>&1 || setup_error "luksFormat --type luks1 failed"
make_luks "$impostor" attacker --uuid "$uuid"
boot
expect_ok "$OYSTER" fence "$luks1"
[ ! -s "$ERR" ] || { show_last; fail "fence of a LUKS1 volume said something (a false header warning?)"; }
[ "$(pcr_value sha256 15)" = "$(fence_pcr "$zeros" "$luks1")" ] || fail "PCR 15 is not the LUKS1 volume's measurement"
expect_status 3 "$OYSTER" unseal "$img"
say "the measurement tells the impostor from the victim: same UUID, another PCR 15"
boot
expect_ok "$OYSTER" fence "$impostor"
impostor15=$(pcr_value sha256 15)
[ "$impostor15" = "$(fence_pcr "$zeros" "$impostor")" ] || fail "PCR 15 is not the impostor's measurement"
expect_status 3 "$OYSTER" unseal "$img"
boot
expect_ok "$OYSTER" fence "$img"
[ "$(pcr_value sha256 15)" = "$(fence_pcr "$zeros" "$img")" ] || fail "PCR 15 is not the victim's measurement"
[ "$(pcr_value sha256 15)" != "$impostor15" ] || fail "the impostor with the victim's UUID measures as the victim"

say "a TPM that comes up late: oyster fence --wait waits for it"
boot
late=$(closed_port)
python3 "$TESTDIR/tpm-proxy.py" --target "$SWTPM_PORT" --port "$late" --ready "$WORKDIR/late.ready" \
	--delay 2 >"$WORKDIR/late.log" 2>&1 &
at_exit kill $!
OYSTER_TCTI="swtpm:host=127.0.0.1,port=$late" run "$OYSTER" fence --wait 30 "$img"
[ "$RC" -eq 0 ] || { show_last; fail "fence --wait did not wait for the late TPM (exit $RC)"; }
[ -s "$WORKDIR/late.ready" ] || fail "the fence succeeded before the late TPM was up"
[ "$(pcr_value sha256 15)" = "$(fence_pcr "$zeros" "$img")" ] || fail "the late fence did not extend PCR 15"
expect_status 3 "$OYSTER" unseal "$img"

say "no TPM at all: exit 4, and one line saying the fence is open"
OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)" run "$OYSTER" fence --wait 1 "$img"
[ "$RC" -eq 4 ] || { show_last; fail "fence without a TPM: exit $RC, expected 4"; }
grep_err 'The boot fence is open'

expect_status 2 "$OYSTER" fence "$img" --pcr 24
expect_status 2 "$OYSTER" fence --all "$img"
expect_status 2 "$OYSTER" fence --wait x "$img"
say "PASS"
