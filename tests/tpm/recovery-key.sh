#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a recovery key. Asked for on a pipe, it is refused before anything
# changes. At a terminal (a pseudo-terminal), one command enrolls the TPM and
# a recovery key; the key is printed once with a QR code that decodes back to
# it, and it opens the volume. The tool takes it in place of the passphrase in
# any spelling (dashes or not, any case). A second key goes to a file (0600,
# never over an existing one). status lists both; wipe never leaves a volume
# without a keyslot a person can open, and wipe --recovery removes the keys
# and nothing else.
set -eu
. "$TESTDIR/lib.sh"

for tool in zbarimg python3; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install zbar-tools python3)"
done
AT_TERMINAL=$TESTDIR/../initramfs/at-terminal.py
KEY_RE='[cbdefghijklnrtuv]{8}(-[cbdefghijklnrtuv]{8}){7}'

img=$WORKDIR/disk.img
pass='recovery test passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
kf=$(keyfile "$pass")

say "refused on a pipe without --recovery-key-file, before anything changes"
expect_status 2 "$OYSTER" enroll "$img" --recovery-key --key-file "$kf" </dev/null
grep -q -- '--recovery-key-file' "$ERR" || { show_last; fail "the refusal does not name --recovery-key-file"; }
[ "$(keyslot_count "$img")" -eq 1 ] || fail "a refused enrollment changed the keyslots"
[ "$(luks_json "$img" | jq '.tokens | length')" -eq 0 ] || fail "a refused enrollment wrote a token"

say "at a terminal: the TPM and a recovery key in one command"
expect_ok python3 "$AT_TERMINAL" "Enter an existing passphrase" "$pass" -- \
	"$OYSTER" enroll "$img" --recovery-key --tpm
cp -- "$OUT" "$WORKDIR/terminal.txt"
grep -qE 'Enrolled token [0-9]+ \(keyslot [0-9]+\)' "$OUT" || { show_last; fail "no TPM enrollment"; }
key=$(grep -oE "$KEY_RE" "$OUT" | head -n 1 || true)
[ -n "$key" ] || { show_last; fail "no recovery key on the terminal"; }
[ "$(grep -coE "$KEY_RE" "$OUT")" -eq 1 ] || fail "the key was printed more than once"
[ "$(keyslot_count "$img")" -eq 3 ] || fail "expected 3 keyslots, got $(keyslot_count "$img")"
rslot=$(luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-recovery")][0].keyslots[0]')
[ "$rslot" != null ] || fail "no oyster-recovery token marks the keyslot"
luks_json "$img" | jq -e '[.tokens[] | select(.type == "oyster-recovery")][0] |
	(.oyster_version == 1) and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))' >/dev/null ||
	fail "the recovery token lacks its version or creation date"
luks_json "$img" | grep -qi -- "$key" && fail "the recovery key is stored in the header"
expect_ok pass_open "$img" "$key"
expect_ok cryptsetup open --test-passphrase --disable-external-tokens --key-slot "$rslot" \
	--key-file "$(keyfile "$key")" "$img"
expect_ok token_open "$img"

say "the QR code on the terminal decodes back to the key"
expect_ok python3 "$TESTDIR/qr-image.py" "$WORKDIR/terminal.txt" "$WORKDIR/qr.pgm"
qr=$(zbarimg --raw -q "$WORKDIR/qr.pgm" 2>/dev/null) || fail "zbarimg found no QR code in the terminal output"
[ "$qr" = "$key" ] || fail "the QR code reads '$qr', not the key"

say "the tool takes the key for the passphrase: upper case without dashes, a file, \$PASSWORD"
upper=$(printf '%s' "$key" | tr -d - | tr a-z A-Z)
rk2=$WORKDIR/second.key
PASSWORD=$upper expect_ok "$OYSTER" enroll "$img" --recovery-key-file "$rk2" </dev/null
[ "$(stat -c %a "$rk2")" = 600 ] || fail "the key file has mode $(stat -c %a "$rk2"), not 600"
key2=$(grep -oE "^$KEY_RE\$" "$rk2" || true)
[ -n "$key2" ] && [ "$key2" != "$key" ] || fail "the key file does not hold one new key: $(cat "$rk2")"
expect_ok pass_open "$img" "$key2"
say "the file holds the key and its newline; the tool reads it as the passphrase"
expect_ok "$OYSTER" enroll "$img" --recovery-key-file - --key-file "$rk2"
key3=$(grep -oE "^$KEY_RE\$" "$OUT" || true)
[ -n "$key3" ] || { show_last; fail "--recovery-key-file - did not print a key on stdout"; }
PASSWORD=$(printf '%s' "$key3" | tr a-z A-Z) expect_ok "$OYSTER" wipe "$img" --recovery </dev/null
[ "$(keyslot_count "$img")" -eq 2 ] || fail "expected 2 keyslots after wipe --recovery"
say "an existing file is never overwritten"
echo precious >"$WORKDIR/precious"
expect_status 1 "$OYSTER" enroll "$img" --recovery-key-file "$WORKDIR/precious" --key-file "$kf"
[ "$(cat "$WORKDIR/precious")" = precious ] || fail "the existing file was overwritten"
[ "$(keyslot_count "$img")" -eq 2 ] || fail "a refused enrollment changed the keyslots"

say "status lists the recovery keys with keyslot and date"
PASSWORD=$pass expect_ok "$OYSTER" enroll "$img" --recovery-key-file "$WORKDIR/a.key" </dev/null
PASSWORD=$pass expect_ok "$OYSTER" enroll "$img" --recovery-key-file "$WORKDIR/b.key" </dev/null
slots=$(luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-recovery") | .keyslots[0] | tonumber] | sort | map(tostring) | join(" ")')
[ "$(echo "$slots" | wc -w)" -eq 2 ] || fail "expected two recovery tokens, got [$slots]"
expect_ok "$OYSTER" status "$img"
for s in $slots; do
	grep -qE "oyster-recovery \(a recovery key\), keyslot $s\$" "$OUT" || { show_last; fail "status does not list keyslot $s"; }
done
grep -qE '^  Created: +[0-9]{4}-[0-9]{2}-[0-9]{2} ' "$OUT" || { show_last; fail "status shows no creation date"; }
grep -q 'oyster-tpm2, keyslot' "$OUT" || { show_last; fail "status lost the TPM token"; }
expect_ok "$OYSTER" status "$img" --json
[ "$(jq -r '[.recovery_keys[].keyslot] | sort | map(tostring) | join(" ")' "$OUT")" = "$slots" ] ||
	{ show_last; fail "status --json recovery_keys"; }

say "without the passphrase keyslot, the recovery keys are what a person has: wipe keeps them"
a_key=$(cat "$WORKDIR/a.key")
expect_ok cryptsetup luksKillSlot --batch-mode --key-file "$(keyfile "$a_key")" "$img" 0
expect_fail pass_open "$img" "$pass"
tok=$(oyster_token_ids "$img")
# The TPM token may go: recovery keys remain.
expect_ok "$OYSTER" wipe "$img" --token "$tok"
expect_status 1 "$OYSTER" wipe "$img" --recovery
grep -q -- '--force' "$ERR" || { show_last; fail "the refusal does not mention --force"; }
[ "$(echo "$(keyslot_ids "$img")" | wc -w)" -eq 2 ] || fail "a refused wipe removed keyslots: [$(keyslot_ids "$img")]"
expect_ok pass_open "$img" "$a_key"

say "with a passphrase again, wipe --recovery removes the keys and nothing else"
expect_ok cryptsetup luksAddKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file "$(keyfile "$a_key")" "$img" "$kf"
enroll "$img" "$pass" --pcrs 7
before=$(keyslot_ids "$img")
expect_ok "$OYSTER" wipe "$img" --recovery
[ "$(grep -c 'Removed the recovery key' "$OUT")" -eq 2 ] || { show_last; fail "wipe --recovery did not remove two keys"; }
[ -z "$(luks_json "$img" | jq -r '.tokens[] | select(.type == "oyster-recovery") | .type')" ] ||
	fail "a recovery token survived wipe --recovery"
[ "$(echo "$(keyslot_ids "$img")" | wc -w)" -eq 2 ] || fail "keyslots after wipe --recovery: [$(keyslot_ids "$img")] (before: [$before])"
expect_fail pass_open "$img" "$a_key"
expect_ok pass_open "$img" "$pass"
expect_ok token_open "$img"
expect_status 1 "$OYSTER" wipe "$img" --recovery
grep -q 'no recovery key' "$ERR" || { show_last; fail "wipe --recovery without keys says nothing useful"; }
say "PASS"
