#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a laptop enrolled with TPM+PIN. The right PIN unlocks, through
# cryptsetup (the plugin answers -ENOANO until it has a PIN) and through
# `oyster unseal` ($PIN). A wrong PIN is counted by the TPM and the message
# says how many tries remain; past the limit the TPM locks out, which is
# reported as a lockout (exit 6), not as a wrong PIN, and the passphrase
# still works. A bus capture contains neither the secret nor the PIN.
set -eu
. "$TESTDIR/lib.sh"

pass='pin passphrase'
pin='8472-sesame'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot

# Never leave a TPM locked out, whatever happens below.
at_exit tpm2_dictionarylockout -c
tpm2_dictionarylockout -c || setup_error "cannot reset the TPM's dictionary-attack state"
# Three wrong tries, then one forgiven every 5 s (swtpm starts with its own defaults).
tpm2_dictionarylockout -s -n 3 -t 5 -l 5 || setup_error "cannot set the TPM's lockout parameters"

cap=$WORKDIR/capture.pcap
say "enroll with a PIN (from \$NEWPIN), captured on the bus"
NEWPIN=$pin TCTI_PCAP_FILE=$cap OYSTER_TCTI="pcap:swtpm:host=127.0.0.1,port=$SWTPM_PORT" \
	enroll "$img" "$pass" --pcrs 7 --pin
grep_out 'and a PIN'
[ "$(luks_json "$img" | jq -r --arg id "$ENROLLED_TOKEN" '.tokens[$id].tpm2_pin')" = true ] ||
	fail "the token does not record tpm2_pin: true"
attrs=$(luks_json "$img" | jq -r --arg id "$ENROLLED_TOKEN" '.tokens[$id].tpm2_public' | base64 -d | od -An -tx1 -j 6 -N 4 | tr -d ' ')
# objectAttributes, big-endian: noDA (0x400) must be clear so that the TPM counts wrong PINs.
[ $((0x$attrs & 0x400)) -eq 0 ] || fail "the sealed object is noDA (attributes 0x$attrs): wrong PINs would not be counted"

say "no PIN: cryptsetup asks for one (the plugin says -ENOANO), nothing unlocks"
run with_plugin cryptsetup open --test-passphrase --token-only --debug "$img" </dev/null
[ "$RC" -ne 0 ] || fail "the volume opened without a PIN"
assert_no_crash
grep -qiE 'PIN|No usable token|-126|ENOANO' "$OUT" "$ERR" || { show_last; fail "cryptsetup did not report that a PIN is needed"; }
expect_status 5 "$OYSTER" unseal "$img" </dev/null
oyster_messages | grep -q 'needs a PIN' || { show_last; fail "unseal without a PIN does not say that a PIN is needed"; }

say "the right PIN unlocks, through cryptsetup and through oyster unseal"
printf '%s' "$pin" | with_plugin cryptsetup open --test-passphrase --token-only "$img" ||
	fail "cryptsetup with the right PIN did not unlock"
PIN=$pin unseal_to "$WORKDIR/tpm.key" "$img"
check_passphrase "$WORKDIR/tpm.key"
expect_ok cryptsetup open --test-passphrase --disable-external-tokens --key-file "$WORKDIR/tpm.key" "$img"
counter() { tpm2_getcap properties-variable | sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: *//p'; }
[ "$(( $(counter) ))" -eq 0 ] || fail "the lockout counter moved although every PIN so far was right"

say "a wrong PIN: refused, counted, and the message says how many tries remain"
PIN=wrong expect_status 5 "$OYSTER" unseal "$img"
oyster_messages | grep -qE 'Wrong PIN; 2 more' || { show_last; fail "no 'Wrong PIN; 2 more ...' message"; }
[ "$(( $(counter) ))" -eq 1 ] || fail "the TPM did not count the wrong PIN (counter $(counter))"
run with_plugin cryptsetup open --test-passphrase --token-only "$img" < <(printf 'wrong')
[ "$RC" -ne 0 ] || fail "cryptsetup unlocked with a wrong PIN"
assert_no_crash
say "the plugin's message, through cryptsetup, says how many tries remain too"
# (How many depends on how many the TPM forgave meanwhile: one every 5 s.)
grep -qE '^Wrong PIN; [0-9]+ more wrong PINs? lock' "$OUT" "$ERR" ||
	{ show_last; fail "cryptsetup did not show the plugin's 'Wrong PIN; N more ...' message"; }
[ "$(( $(counter) ))" -eq 2 ] || fail "the TPM did not count the wrong PIN given to cryptsetup (counter $(counter))"

say "the third wrong PIN locks the TPM out; then it says lockout, not wrong PIN"
PIN=wrong expect_status 5 "$OYSTER" unseal "$img"
PIN=$pin expect_status 6 "$OYSTER" unseal "$img"
oyster_messages | grep -q 'locked out' || { show_last; fail "the lockout is not reported as a lockout"; }
if oyster_messages | grep -q 'Wrong PIN'; then
	show_last
	fail "a lockout was reported as a wrong PIN"
fi
say "during the lockout oyster unseal does not even ask for a PIN: exit 6"
expect_status 6 "$OYSTER" unseal "$img" </dev/null
oyster_messages | grep -q 'locked out' || { show_last; fail "no lockout message without a PIN"; }
say "during the lockout the plugin sends cryptsetup to the passphrase, not into a PIN loop"
run with_plugin cryptsetup open --test-passphrase --token-only --debug "$img" < <(printf '%s' "$pin")
[ "$RC" -ne 0 ] || fail "the volume opened during a lockout"
assert_no_crash
expect_ok pass_open "$img" "$pass"

say "after the lockout is cleared the right PIN works again"
tpm2_dictionarylockout -c
PIN=$pin expect_ok "$OYSTER" unseal "$img"
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left loaded: $(loaded_sessions)"

say "the capture of enroll and of a PIN unlock holds neither the secret nor the PIN"
PIN=$pin TCTI_PCAP_FILE=$cap OYSTER_TCTI="pcap:swtpm:host=127.0.0.1,port=$SWTPM_PORT" \
	expect_ok "$OYSTER" unseal "$img"
python3 - "$cap" "$(cat "$WORKDIR/tpm.key")" "$pin" <<'PY'
import base64, hashlib, sys
cap, passphrase, pin = sys.argv[1], sys.argv[2].strip().encode(), sys.argv[3].encode()
data = open(cap, "rb").read()
secret = base64.b64decode(passphrase)
needles = {
    "the secret": secret, "the passphrase": passphrase, "the PIN": pin,
    "the PIN in UTF-16": pin.decode().encode("utf-16-le"), "the PIN in hex": pin.hex().encode(),
    "SHA-256 of the PIN": hashlib.sha256(pin).digest(),
}
fails = [w for w, n in needles.items() if n in data]
if len(data) < 1000 or b"\x00\x00\x01\x6b" not in data:  # TPM2_CC_PolicyAuthValue
    fails.append("the capture does not hold the PIN unlock (no PolicyAuthValue)")
for f in fails:
    print("FAIL:", f, "is in the capture" if not f.startswith("the capture") else "", file=sys.stderr)
sys.exit(1 if fails else 0)
PY

say "--replace with a new PIN changes the PIN"
NEWPIN=new-pin-2 enroll "$img" "$pass" --pcrs 7 --pin --replace
PIN=new-pin-2 expect_ok "$OYSTER" unseal "$img"
PIN=$pin expect_status 5 "$OYSTER" unseal "$img"
tpm2_dictionarylockout -c
say "PASS"
