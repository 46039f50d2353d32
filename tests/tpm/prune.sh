#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A literal token (enroll --literal, version 1): its approvals reseal. The
# authorized mode has its own stories (authorized.sh, approve-faults.sh).
#
# Story: the post-boot prune, `oyster reseal --prune --unattended` as the
# boot integrations run it. A token with two approved states (an upgrade was
# pre-approved) boots into the new one: the prune keeps only it, and it
# unseals after the next reboot. A token with nothing more than the state of
# now is left alone: no header write. A pending --next-boot approval survives
# a prune in the boot that made it; in the boot it was made for, the prune
# re-seals the token to the new firmware. --unattended never asks: a token
# that does not unseal, or needs a PIN, is left as it is (exit 3, 5).
set -eu
. "$TESTDIR/lib.sh"

pass='prune passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
boot() { # boot FIRMWARE: a reboot measuring FIRMWARE into PCR 0
	reboot_tpm
	extend_pcr 0 "$1"
}
states() { luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }
approved() { luks_json "$img" | jq -r '.tokens[] | select(.type == "oyster-tpm2") | .tpm2_next_boot_reset // "none"'; }
header_sum() { cryptsetup luksHeaderBackup "$img" --header-backup-file "$WORKDIR/hdr" >/dev/null && sha256sum <"$WORKDIR/hdr" && rm -f "$WORKDIR/hdr"; }
prune() { PASSWORD= run "$OYSTER" reseal "$img" --prune --unattended </dev/null; }
digest_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
after_extend() { python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])+bytes.fromhex(sys.argv[2])).hexdigest())' "$1" "$2"; }

boot firmware-1
enroll "$img" "$pass" --pcrs 0 --literal

say "nothing to prune: one state, the one of now: no header write"
before=$(header_sum)
prune
[ "$RC" -eq 0 ] || { show_last; fail "prune of a one-state token failed"; }
grep_out 'nothing to prune'
[ "$(header_sum)" = "$before" ] || fail "the header was written although there was nothing to prune"

say "an upgrade pre-approved: two states; the machine boots into the new one"
next0=$(after_extend "$(pcr_value sha256 0)" "$(digest_of firmware-1.1)")
expect_ok "$OYSTER" reseal "$img" --add-state "0:sha256=$next0"
[ "$(states)" -eq 2 ] || fail "expected 2 states, found $(states)"
boot firmware-1
tpm2_pcrextend "0:sha256=$(digest_of firmware-1.1)"
[ "$(pcr_value sha256 0)" = "$next0" ] || setup_error "PCR 0 is not the predicted value"
expect_ok token_open "$img"
prune
[ "$RC" -eq 0 ] || { show_last; fail "the post-boot prune failed"; }
grep_out 'Resealed token [0-9]+ in place'
[ "$(states)" -eq 1 ] || fail "the prune left $(states) states"
[ "$(luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states[0]["0"]')" = "$next0" ] ||
	fail "the prune kept another state than the one booted with"
say "the next boot of the same firmware unseals; the old firmware no longer does"
boot firmware-1
tpm2_pcrextend "0:sha256=$(digest_of firmware-1.1)"
expect_ok token_open "$img"
boot firmware-1
expect_fail token_open "$img"

say "--unattended: a token that does not unseal now is left as it is, exit 3, no prompt"
before=$(header_sum)
prune
[ "$RC" -eq 3 ] || { show_last; fail "expected exit status 3, got $RC"; }
grep_err 'does not unseal now, and --unattended asks for no passphrase; nothing was changed'
[ "$(header_sum)" = "$before" ] || fail "the header changed although the token did not unseal"
expect_ok pass_open "$img" "$pass"

say "a next-boot approval survives a prune in the boot that made it"
boot firmware-2
enroll "$img" "$pass" --pcrs 0 --replace --literal
expect_ok "$OYSTER" reseal "$img" --next-boot
pending=$(approved)
[ "$pending" != none ] || fail "--next-boot approved nothing"
before=$(header_sum)
prune
[ "$RC" -eq 0 ] || { show_last; fail "prune with a pending approval failed"; }
grep_out 'nothing to prune'
[ "$(approved)" = "$pending" ] || fail "the prune dropped the pending next-boot approval ($(approved))"
[ "$(header_sum)" = "$before" ] || fail "the header was written although there was nothing to prune"

say "the approved boot, with new firmware: the prune re-seals to it and drops the approval"
boot firmware-3
expect_ok token_open "$img"
prune
[ "$RC" -eq 0 ] || { show_last; fail "the prune after the next boot failed"; }
[ "$(approved)" = none ] || fail "the used-up next-boot approval is still there"
[ "$(states)" -eq 1 ] || fail "expected 1 state after the prune, found $(states)"
boot firmware-3
expect_ok token_open "$img"

say "a token with a PIN: --unattended does not prompt; with \$PIN it prunes"
pin_img=$WORKDIR/pin.img
make_luks "$pin_img" "$pass"
NEWPIN=1357 enroll "$pin_img" "$pass" --pcrs 0 --pin --literal
PIN=1357 expect_ok "$OYSTER" reseal "$pin_img" --add-state "0:sha256=$next0"
PIN= run env -u PIN "$OYSTER" reseal "$pin_img" --prune --unattended </dev/null
[ "$RC" -eq 5 ] || { show_last; fail "expected exit status 5 for a PIN token, got $RC"; }
grep_err 'needs its PIN, and --unattended asks for none'
PIN=1357 expect_ok "$OYSTER" reseal "$pin_img" --prune --unattended </dev/null
[ "$(luks_json "$pin_img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length')" -eq 1 ] ||
	fail "the PIN token was not pruned"
say "PASS"
