#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: oyster-prune.service after a boot, for tokens without the fence.
# Its script, installed in the sandbox with the unit, finds the volumes in
# crypttab: after a boot into a pre-approved state it narrows the token to
# that state and says so in one line; on the next boot there is nothing to
# prune and the header is not written; after a passphrase boot (the TPM
# refuses) it leaves the token alone, silently; without a TPM it says so in
# one line; it always exits 0 and never asks; OYSTER_PRUNE=no turns it off.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

: "${PRUNE_SCRIPT:?run through meson}"
sandbox_init
unit=$(dirname -- "$PRUNE_SCRIPT")/oyster-prune.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case $exec_start in
/*/oyster-prune) ;;
*) fail "oyster-prune.service runs [$exec_start], not the oyster-prune script" ;;
esac
sb_install "$PRUNE_SCRIPT" "$exec_start" 755
grep -qx 'Type=oneshot' "$unit" || fail "oyster-prune.service is not a oneshot"
grep -qE '^After=.*cryptsetup\.target' "$unit" || fail "oyster-prune.service does not run after cryptsetup.target"

pass='post-boot passphrase'
img=$WORKDIR/data.img
make_luks "$img" "$pass"
echo "data $img none luks" >"$(sb_path /etc/crypttab)"
states() { luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }
header_sum() { cryptsetup luksHeaderBackup "$img" --header-backup-file "$WORKDIR/hdr" >/dev/null && sha256sum <"$WORKDIR/hdr" && rm -f "$WORKDIR/hdr"; }
digest_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
after_extend() { python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])+bytes.fromhex(sys.argv[2])).hexdigest())' "$1" "$2"; }
# service [VAR=VALUE...]: the unit's command in the sandbox, no terminal.
service() {
	run sandbox env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" "$@" setsid "$exec_start" </dev/null
}

extend_pcr 7 shim-1
enroll "$img" "$pass" --pcrs 7
next7=$(after_extend "$(pcr_value sha256 7)" "$(digest_of shim-1.1)")
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$next7"
[ "$(states)" -eq 2 ] || setup_error "expected 2 states"

say "the boot into the pre-approved state: narrowed to it, one line"
reboot_tpm
extend_pcr 7 shim-1
tpm2_pcrextend "7:sha256=$(digest_of shim-1.1)"
service
[ "$RC" -eq 0 ] || { show_last; fail "oyster-prune failed"; }
[ "$(states)" -eq 1 ] || fail "oyster-prune left $(states) states"
[ "$(cat "$OUT")" = "oyster: narrowed token $ENROLLED_TOKEN of $img to the state of this boot." ] || { show_last; fail "unexpected output"; }
[ ! -s "$ERR" ] || { show_last; fail "oyster-prune complained"; }

say "the next boot: nothing to prune, nothing written, nothing said"
before=$(header_sum)
service
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "oyster-prune spoke with nothing to prune"; }
[ "$(header_sum)" = "$before" ] || fail "the header was written with nothing to prune"

say "a passphrase boot (the TPM refuses): left alone, silently, no prompt"
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$(digest_of elsewhere)"
reboot_tpm
extend_pcr 7 shim-2
before=$(header_sum)
service
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "oyster-prune spoke after a passphrase boot"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed after a passphrase boot"

say "no TPM: one line, exit 0"
service OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)"
[ "$RC" -eq 0 ] || { show_last; fail "oyster-prune failed without a TPM"; }
[ "$(wc -l <"$ERR")" -eq 1 ] && grep -q "^oyster: could not narrow token $ENROLLED_TOKEN of $img to the state of this boot; it keeps its older states: " "$ERR" ||
	{ show_last; fail "expected one line about the missing TPM"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed without a TPM"

say "OYSTER_PRUNE=no in /etc/default/oyster turns it off"
reboot_tpm
extend_pcr 7 shim-1
tpm2_pcrextend "7:sha256=$(digest_of shim-1.1)"
mkdir -p "$(dirname -- "$(sb_path /etc/default/oyster)")"
echo OYSTER_PRUNE=no >"$(sb_path /etc/default/oyster)"
service
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "oyster-prune ran although turned off"; }
[ "$(states)" -eq 2 ] || fail "oyster-prune pruned although turned off"
rm -f -- "$(sb_path /etc/default/oyster)"
service
[ "$(states)" -eq 1 ] || { show_last; fail "oyster-prune did not prune once turned on again"; }
say "PASS"
