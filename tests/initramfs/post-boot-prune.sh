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
# When the initramfs recorded a fallback (/run/oyster/fallback), oyster status
# says so and names the PCR that changed. OYSTER_AUTO_REPAIR=yes makes the
# service run `oyster reseal --after-fallback` for that volume: an
# authorized token is approved for this boot without the passphrase, but
# only while the volume is open (its passphrase or a recovery key opened it
# in this boot; without device-mapper here, a stand-in sysfs entry says so);
# a record of a volume that is not open approves nothing, in one line; a
# literal token that does not unseal says in one line that it needs the
# passphrase; off by default; a boot that nobody recorded is never approved
# by --after-fallback.
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

say "the initramfs recorded the fallback: status says so and names PCR 7"
need losetup
loopdev=$(losetup -f --show "$img") || unavailable "no loop device (losetup -f failed)"
at_exit losetup -d "$loopdev"
uuid=$(cryptsetup luksUUID "$img")
# with_record LINE CMD...: CMD in the sandbox whose /run is a fresh tmpfs
# holding /run/oyster/fallback with LINE (the host's /run is not touched).
with_record() {
	run sandbox /bin/sh -c 'mount -t tmpfs run /run && mkdir -p /run/oyster /run/cryptsetup &&
		printf "%s\n" "$1" >/run/oyster/fallback && shift && exec "$@"' sh "$@"
}
with_record "$uuid pcr-changed" env OYSTER_TCTI="$OYSTER_TCTI" "$OYSTER" status "$img"
[ "$RC" -eq 0 ] || { show_last; fail "status failed"; }
grep -q '^Last boot: the TPM did NOT unlock this volume (the measured boot state (PCRs) changed)' "$OUT" ||
	{ show_last; fail "status does not say that the last boot fell back"; }
grep -qE '^  changed since enrollment: PCR 7([^0-9]|$)' "$OUT" || { show_last; fail "status does not name PCR 7"; }
with_record "$uuid pcr-changed" env OYSTER_TCTI="$OYSTER_TCTI" "$OYSTER" status "$img" --json
jq -e '.last_boot == {"fell_back": true, "reason": "pcr-changed", "changed_pcrs": [7]}' "$OUT" >/dev/null ||
	{ show_last; fail "status --json last_boot"; }
with_record "0000-other-volume pcr-changed" env OYSTER_TCTI="$OYSTER_TCTI" "$OYSTER" status "$img"
grep -q 'Last boot' "$OUT" && { show_last; fail "status reports another volume's fallback"; }

say "OYSTER_AUTO_REPAIR=yes, but the recorded volume is not open: nothing approved, one line"
before=$(header_sum)
with_record "$uuid pcr-changed" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" OYSTER_AUTO_REPAIR=yes \
	setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] || { show_last; fail "oyster-prune failed"; }
[ "$(wc -l <"$ERR")" -eq 1 ] &&
	grep -q "^oyster: OYSTER_AUTO_REPAIR: could not approve this boot for token $ENROLLED_TOKEN of UUID=$uuid: .*is not open" "$ERR" ||
	{ show_last; fail "expected one line saying the volume is not open"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed"
say "... off by default: nothing said, nothing written"
with_record "$uuid pcr-changed" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "the repair ran although off"; }

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

say "OYSTER_AUTO_REPAIR=yes after a boot without a TPM, whose state the token approves already:"
say "   said so, nothing written"
expect_ok "$OYSTER" reseal "$img" --add-state "7:sha256=$(digest_of elsewhere)"
[ "$(states)" -eq 2 ] || setup_error "expected 2 states"
before=$(header_sum)
with_record "$uuid no-tpm" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" OYSTER_PRUNE=no OYSTER_AUTO_REPAIR=yes \
	setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the repair failed"; }
grep -qx "oyster: the state of this boot was approved already for token $ENROLLED_TOKEN of UUID=$uuid (OYSTER_AUTO_REPAIR changed nothing; the TPM had not unlocked it: no-tpm)." "$OUT" ||
	{ show_last; fail "the repair did not say that this boot was approved already"; }
[ "$(header_sum)" = "$before" ] || fail "the repair wrote the header although the state was approved"
expect_ok token_open "$img"

# with_open_record LINE CMD...: with_record, and a stand-in for the
# device-mapper entry that an open volume with this UUID has in sysfs.
with_open_record() {
	run sandbox /bin/sh -c 'mount -t tmpfs run /run && mkdir -p /run/oyster /run/cryptsetup &&
		printf "%s\n" "$1" >/run/oyster/fallback && mount -t tmpfs block /sys/class/block &&
		mkdir -p /sys/class/block/dm-0/dm && printf "%s\n" "$2" >/sys/class/block/dm-0/dm/uuid &&
		shift 2 && exec "$@"' sh "$@"
}
dm_uuid="CRYPT-LUKS2-$(echo "$uuid" | tr -d -)-data"
say "an authorized token, a passphrase boot (PCR 7 changed) of an open volume: off by default"
reboot_tpm
extend_pcr 7 shim-3
expect_fail token_open "$img"
before=$(header_sum)
with_open_record "$uuid pcr-changed" "$dm_uuid" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" \
	setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "the repair ran although off"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed with OYSTER_AUTO_REPAIR off"
say "... reseal --unattended never approves it; --after-fallback without a record neither"
with_open_record "$uuid pcr-changed" "$dm_uuid" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" \
	"$OYSTER" reseal "$img" --unattended </dev/null
[ "$RC" -eq 3 ] || { show_last; fail "reseal --unattended exited $RC in a boot its token did not approve, expected 3"; }
with_open_record "0000-other-volume pcr-changed" "$dm_uuid" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" \
	"$OYSTER" reseal "$img" --after-fallback </dev/null
[ "$RC" -eq 1 ] && grep -q 'recorded no passphrase boot of it' "$ERR" ||
	{ show_last; fail "reseal --after-fallback without a record of this volume: expected exit 1 and why"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed without a record"
expect_status 2 "$OYSTER" reseal "$img" --after-fallback --prune
say "... OYSTER_AUTO_REPAIR=yes adds this boot to the approved states, with no passphrase; the TPM then unseals it"
n=$(states)
with_open_record "$uuid pcr-changed" "$dm_uuid" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" \
	OYSTER_AUTO_REPAIR=yes setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "the repair failed"; }
grep -q "^oyster: approved the state of this boot for token $ENROLLED_TOKEN of UUID=$uuid (OYSTER_AUTO_REPAIR; the TPM had not unlocked it: pcr-changed)" "$OUT" ||
	{ show_last; fail "the repair did not say it approved this boot"; }
[ "$(states)" -eq $((n + 1)) ] || fail "the repair left $(states) states, expected the $n it had and this boot"
expect_ok token_open "$img"
with_record "$uuid pcr-changed" env OYSTER_TCTI="$OYSTER_TCTI" "$OYSTER" status "$img"
grep -q '^  this boot has been approved since (oyster reseal): the next boot unlocks through the TPM$' "$OUT" ||
	{ show_last; fail "status does not say that the fallback boot has been approved since"; }

say "a literal token that does not unseal: OYSTER_AUTO_REPAIR says it needs the passphrase"
expect_ok "$OYSTER" wipe "$img" --token "$ENROLLED_TOKEN"
enroll "$img" "$pass" --pcrs 7 --literal
reboot_tpm
extend_pcr 7 shim-4
before=$(header_sum)
with_open_record "$uuid pcr-changed" "$dm_uuid" env -u PASSWORD -u PIN OYSTER_TCTI="$OYSTER_TCTI" \
	OYSTER_AUTO_REPAIR=yes OYSTER_PRUNE=no setsid "$exec_start" </dev/null
[ "$RC" -eq 0 ] || { show_last; fail "oyster-prune failed"; }
[ "$(wc -l <"$ERR")" -eq 1 ] &&
	grep -q "^oyster: OYSTER_AUTO_REPAIR: token $ENROLLED_TOKEN of UUID=$uuid cannot be approved for this boot without its passphrase (.*pcr-changed)" "$ERR" ||
	{ show_last; fail "expected one line saying the literal token needs the passphrase"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed"
say "PASS"
