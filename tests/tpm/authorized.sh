#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the authorized mode (token version 2). enroll defines an NV index
# in oyster's range and its credential in $OYSTER_STATE_DIR; the token
# unlocks. With the fence closed (the token cannot unseal any more),
# reseal --add-state approves another state without any secret; after a TPM
# restart with PCR 7 at that value, the token unseals. An approval that
# changes nothing writes nothing. A header saved before a prune no longer
# unlocks (revoked everywhere). wipe undefines the index and the credential.
set -eu
. "$TESTDIR/lib.sh"

pass='authorized passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
tokjson() { luks_json "$img" | jq -c --arg id "$1" '.tokens[$id]'; }
nv_written() { tpm2_nvreadpublic 2>/dev/null | grep -c "^0x$1" || true; }

say "enroll: authorized by default, with the fence"
enroll "$img" "$pass" --pcrs 7 --fence
tok=$ENROLLED_TOKEN
grep_out 'Approved states are kept in NV index 0x01804f00'
[ "$(tokjson "$tok" | jq -r .oyster_version)" = 2 ] || fail "not a version 2 token"
[ "$(tokjson "$tok" | jq -r .tpm2_nv_index)" = $((0x01804f00)) ] || fail "unexpected NV index"
[ "$(tokjson "$tok" | jq -r '.tpm2_state_origins[0].kind')" = enrolled ] || fail "origin not recorded"
cred=$OYSTER_STATE_DIR/nv-01804f00
[ -f "$cred" ] || fail "no credential file"
[ "$(stat -c %a "$cred")" = 600 ] || fail "credential mode $(stat -c %a "$cred")"
[ "$(stat -c %a "$OYSTER_STATE_DIR")" = 700 ] || fail "state directory mode"
expect_ok token_open "$img"
run "$OYSTER" status "$img"
grep_out 'enrolled'

say "the fence closes: the token no longer unseals"
extend_pcr 15 fence
expect_fail token_open "$img"

say "approve another PCR 7 without any secret"
digest=$(printf 'kernel-update' | sha256sum | cut -d' ' -f1)
now7=$(pcr_value sha256 7)
next7=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])+bytes.fromhex(sys.argv[2])).hexdigest())' "$now7" "$digest")
before_slots=$(keyslot_ids "$img")
before_private=$(tokjson "$tok" | jq -r .tpm2_private)
env -u PASSWORD -u PIN "$OYSTER" reseal "$img" --add-state "7:sha256=$next7" </dev/null >"$OUT" 2>"$ERR" ||
	{ show_last; fail "reseal --add-state failed without a secret"; }
[ "$(tokjson "$tok" | jq -r '.tpm2_states | length')" = 2 ] || fail "expected 2 states"
[ "$(tokjson "$tok" | jq -r '.tpm2_state_origins[1].kind')" = added ] || fail "origin of the added state"
[ "$(tokjson "$tok" | jq -r .tpm2_private)" = "$before_private" ] || fail "the sealed object changed"
[ "$(keyslot_ids "$img")" = "$before_slots" ] || fail "the keyslots changed"
[ "$(tokjson "$tok" | jq 'has("tpm2_previous")')" = false ] || fail "tpm2_previous left behind"

say "the same approval again writes nothing"
before=$(luks_json "$img" | jq -cS .)
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$next7"
grep_out 'nothing to write'
[ "$(luks_json "$img" | jq -cS .)" = "$before" ] || fail "a no-op approval changed the header"

say "TPM restart; PCR 7 at the approved value: the token unseals"
reboot_tpm
extend_pcr 7 secure-boot
tpm2_pcrextend "7:sha256=$digest"
[ "$(pcr_value sha256 7)" = "$next7" ] || setup_error "predicted PCR 7 differs"
expect_ok token_open "$img"

say "a boot the token did not approve: --prune and --unattended change nothing"
reboot_tpm
extend_pcr 7 unapproved-boot
before=$(luks_json "$img" | jq -cS .)
expect_status 3 "$OYSTER" reseal "$img" --prune --unattended
oyster_messages | grep -q 'does not approve the state of this boot' || { show_last; fail "no message"; }
expect_status 3 "$OYSTER" reseal "$img" --add-state "7:sha256=$next7" --unattended
[ "$(luks_json "$img" | jq -cS .)" = "$before" ] || fail "an unattended approval in an unapproved boot changed the header"
reboot_tpm
extend_pcr 7 secure-boot
tpm2_pcrextend "7:sha256=$digest"

say "revocation: a header saved now stops working once its state is pruned"
cryptsetup luksHeaderBackup --header-backup-file "$WORKDIR/old-header" "$img"
expect_ok "$OYSTER" reseal "$img" --prune
[ "$(tokjson "$tok" | jq -r '.tpm2_states | length')" = 1 ] || fail "prune left more than one state"
expect_ok token_open "$img"
extend_pcr 7 other-boot
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$next7"
expect_ok "$OYSTER" reseal "$img" --prune
cp "$img" "$WORKDIR/restored.img"
cryptsetup luksHeaderRestore --batch-mode --header-backup-file "$WORKDIR/old-header" "$WORKDIR/restored.img"
reboot_tpm
extend_pcr 7 secure-boot
tpm2_pcrextend "7:sha256=$digest"
expect_fail token_open "$WORKDIR/restored.img"
expect_status 3 "$OYSTER" unseal "$WORKDIR/restored.img"
oyster_messages | grep -q 'replaced since this header was written' || { show_last; fail "no revocation message"; }
run "$OYSTER" status "$WORKDIR/restored.img"
grep_out 'revoked'
expect_fail token_open "$img"
extend_pcr 7 other-boot
expect_ok token_open "$img"
expect_ok pass_open "$WORKDIR/restored.img" "$pass"

say "a PIN token: approvals need no PIN; the unlock does (PolicyAuthValue after PolicyAuthorizeNV)"
pin_img=$WORKDIR/pin.img
make_luks "$pin_img" "$pass"
NEWPIN=2468 enroll "$pin_img" "$pass" --pcrs 7 --pin
pin_nv=$(luks_json "$pin_img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_nv_index')
[ "$pin_nv" != $((0x01804f00)) ] || fail "the second token shares the first one's NV index"
run env -u PIN "$OYSTER" reseal "$pin_img" --add-state "7:sha256=$next7" --unattended </dev/null
[ "$RC" -eq 0 ] || { show_last; fail "an approval asked for the PIN"; }
expect_status 5 env -u PIN "$OYSTER" unseal "$pin_img" </dev/null
PIN=2468 expect_ok "$OYSTER" unseal "$pin_img"
expect_status 5 env PIN=1111 "$OYSTER" unseal "$pin_img"

say "another machine's token naming the same index, on an attached volume, does not keep this TPM's index"
# NV names do not depend on the TPM: the first index of any TPM has the same
# handle and name. Only the SRK tells the two apart.
start_other_tpm other
other_img=$WORKDIR/other.img
make_luks "$other_img" "$pass"
mkdir -m 0700 "$WORKDIR/other-oyster"
OYSTER_TCTI=$OTHER_TCTI OYSTER_STATE_DIR=$WORKDIR/other-oyster enroll "$other_img" "$pass" --pcrs 7
[ "$(luks_json "$other_img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_nv_index')" = $((0x01804f00)) ] ||
	setup_error "the other TPM's first token did not get index 0x01804f00: $(luks_json "$other_img" | jq -c .tokens)"
if other_loop=$(losetup --find --show -- "$other_img" 2>/dev/null); then
	at_exit losetup -d "$other_loop"
else
	say "NOT CHECKED: no loop device (losetup --find failed), so the other machine's volume is not attached"
fi

say "wipe undefines the index and removes the credential"
expect_ok "$OYSTER" wipe "$img" --all
tpm2_nvreadpublic 2>/dev/null | grep -q '^0x1804f00:' && fail "NV index still defined"
[ ! -e "$cred" ] || fail "credential left behind"
tpm2_nvreadpublic 2>/dev/null | grep -q "^$(printf '0x%x' "$pin_nv"):" || fail "wipe removed another token's NV index"
expect_ok pass_open "$img" "$pass"
