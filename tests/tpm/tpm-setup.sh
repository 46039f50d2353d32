#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the TPM's lockout authorization. A fresh TPM's is empty:
# tpm-setup says so, and enroll --pin recommends setting it. tpm-setup
# --lockout-auth sets a random one, kept 0600 in the state directory; the
# dictionary-attack parameters change with it; after wrong PINs oyster resets
# the counter with its credential, while tpm2_dictionarylockout with an empty
# authorization fails (and locks the lockout hierarchy, which oyster then
# reports). A lockout authorization someone else set is left untouched. An
# interrupted --lockout-auth (the pending file) is settled by the TPM's flag.
set -eu
. "$TESTDIR/lib.sh"
command -v tpm2_dictionarylockout >/dev/null || skip "tpm2_dictionarylockout is not installed (apt-get install tpm2-tools)"
command -v tpm2_changeauth >/dev/null || skip "tpm2_changeauth is not installed (apt-get install tpm2-tools)"

export OYSTER_STATE_DIR=$WORKDIR/state
state=$OYSTER_STATE_DIR

# da_property NAME: a TPM2_PT_* variable property, decimal.
da_property() {
	local v
	v=$(tpm2_getcap properties-variable | awk -v p="$1:" '$1 == p { print $2; exit }')
	echo $((v))
}

say "a fresh TPM: the report"
expect_ok "$OYSTER" tpm-setup
grep -qE '^  Lockout authorization: EMPTY' "$OUT" || { show_last; fail "the report does not say the lockout authorization is empty"; }
grep -qE '^  Owner authorization: +empty' "$OUT" || { show_last; fail "owner authorization"; }
grep -qE '^  TPM2_PolicyAuthorizeNV: implemented' "$OUT" || { show_last; fail "PolicyAuthorizeNV"; }
grep -qE '^  Dictionary attack: +0 of [0-9]+ ' "$OUT" || { show_last; fail "DA parameters"; }
[ ! -e "$state" ] || fail "a report created the state directory"

say "enroll --pin recommends tpm-setup --lockout-auth"
img=$WORKDIR/disk.img
pass='tpm-setup passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
NEWPIN=1234 enroll "$img" "$pass" --pcrs 7 --pin
grep -q 'oyster tpm-setup --lockout-auth' "$OUT" || { show_last; fail "no recommendation after enroll --pin"; }
[ "$(grep -c 'tpm-setup' "$OUT")" -eq 1 ] || { show_last; fail "the recommendation is more than one line"; }

say "--lockout-auth sets it; the credential is 0600 in the state directory"
expect_ok "$OYSTER" tpm-setup --lockout-auth
grep -q 'Set a random lockout authorization' "$OUT" || { show_last; fail "no confirmation"; }
grep -qE '^  Lockout authorization: set by oyster' "$OUT" || { show_last; fail "the report after --lockout-auth"; }
[ "$(stat -c %a "$state")" = 700 ] || fail "state directory mode $(stat -c %a "$state")"
[ "$(stat -c %a "$state/lockout-auth")" = 600 ] || fail "credential mode $(stat -c %a "$state/lockout-auth")"
[ "$(stat -c %s "$state/lockout-auth")" -eq 32 ] || fail "credential size $(stat -c %s "$state/lockout-auth")"
# Besides it, only the enrolled token's NV credential (nv-HANDLE, an authorized token's): no pending file.
[ "$(ls -A "$state" | grep -v '^nv-[0-9a-f]\{8\}$')" = lockout-auth ] ||
	fail "files left in the state directory: $(ls -A "$state" | tr '\n' ' ')"
tpm2_getcap properties-variable | grep -qE 'lockoutAuthSet: +1' || fail "the TPM's lockoutAuthSet is not set"
expect_ok "$OYSTER" tpm-setup --lockout-auth
grep -q "oyster's already" "$OUT" || { show_last; fail "a second --lockout-auth does not say it is set already"; }
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left: $(loaded_sessions)"

say "the dictionary-attack parameters, with oyster's credential"
expect_status 2 "$OYSTER" tpm-setup --da-recovery-time 0
expect_status 2 "$OYSTER" tpm-setup --da-max-tries 0
expect_ok "$OYSTER" tpm-setup --da-max-tries 5 --da-recovery-time 600
[ "$(da_property TPM2_PT_MAX_AUTH_FAIL)" -eq 5 ] || fail "maxTries is $(da_property TPM2_PT_MAX_AUTH_FAIL), not 5"
[ "$(da_property TPM2_PT_LOCKOUT_INTERVAL)" -eq 600 ] || fail "recovery time is $(da_property TPM2_PT_LOCKOUT_INTERVAL), not 600"
grep -qE '^  Dictionary attack: +0 of 5 .*every 600 s' "$OUT" || { show_last; fail "the report after the parameters"; }

say "wrong PINs count; oyster resets the counter with its credential"
PIN=0000 expect_status 5 "$OYSTER" unseal "$img"
PIN=0000 expect_status 5 "$OYSTER" unseal "$img"
[ "$(da_property TPM2_PT_LOCKOUT_COUNTER)" -eq 2 ] || fail "the counter is $(da_property TPM2_PT_LOCKOUT_COUNTER), not 2"
expect_ok "$OYSTER" tpm-setup --reset-lockout
[ "$(da_property TPM2_PT_LOCKOUT_COUNTER)" -eq 0 ] || fail "the counter is $(da_property TPM2_PT_LOCKOUT_COUNTER) after --reset-lockout"
PIN=1234 expect_ok "$OYSTER" unseal "$img"

say "an empty lockout authorization no longer resets it"
PIN=0000 expect_status 5 "$OYSTER" unseal "$img"
expect_fail tpm2_dictionarylockout -c
[ "$(da_property TPM2_PT_LOCKOUT_COUNTER)" -eq 1 ] || fail "the counter was reset with an empty authorization"
say "that wrong try locked the lockout hierarchy: oyster says so"
expect_status 6 "$OYSTER" tpm-setup --reset-lockout
grep -q 'locked out after a wrong one' "$ERR" || { show_last; fail "no lockout message"; }

say "a foreign lockout authorization is left untouched"
start_other_tpm foreign
TPM2TOOLS_TCTI=$OTHER_TCTI tpm2_changeauth -c lockout foreign-secret || setup_error "tpm2_changeauth"
export OYSTER_STATE_DIR=$WORKDIR/state-foreign
OYSTER_TCTI=$OTHER_TCTI expect_ok "$OYSTER" tpm-setup --lockout-auth
grep -q 'set by someone else' "$OUT" || { show_last; fail "no message about the foreign authorization"; }
grep -qE '^  Lockout authorization: set, not by oyster' "$OUT" || { show_last; fail "the report"; }
[ ! -e "$OYSTER_STATE_DIR/lockout-auth" ] || fail "a credential was written for a foreign authorization"
OYSTER_TCTI=$OTHER_TCTI expect_status 1 "$OYSTER" tpm-setup --reset-lockout
TPM2TOOLS_TCTI=$OTHER_TCTI expect_ok tpm2_dictionarylockout -c -p foreign-secret

say "an interrupted --lockout-auth: the TPM took the pending value, tpm-setup finishes"
start_other_tpm crash
export OYSTER_STATE_DIR=$WORKDIR/state-crash
mkdir -m 700 "$OYSTER_STATE_DIR"
head -c 32 /dev/urandom >"$OYSTER_STATE_DIR/lockout-auth.pending"
chmod 600 "$OYSTER_STATE_DIR/lockout-auth.pending"
TPM2TOOLS_TCTI=$OTHER_TCTI tpm2_changeauth -c lockout "hex:$(od -An -tx1 -v "$OYSTER_STATE_DIR/lockout-auth.pending" | tr -d ' \n')" ||
	setup_error "tpm2_changeauth"
OYSTER_TCTI=$OTHER_TCTI expect_ok "$OYSTER" tpm-setup
grep -q 'Finished an interrupted' "$OUT" || { show_last; fail "the pending value was not settled"; }
[ "$(ls -A "$OYSTER_STATE_DIR")" = lockout-auth ] || fail "state after settling: $(ls -A "$OYSTER_STATE_DIR")"
OYSTER_TCTI=$OTHER_TCTI expect_ok "$OYSTER" tpm-setup --reset-lockout
say "... and a pending value the TPM never took is dropped"
start_other_tpm crash2
export OYSTER_STATE_DIR=$WORKDIR/state-crash2
mkdir -m 700 "$OYSTER_STATE_DIR"
head -c 32 /dev/urandom >"$OYSTER_STATE_DIR/lockout-auth.pending"
chmod 600 "$OYSTER_STATE_DIR/lockout-auth.pending"
OYSTER_TCTI=$OTHER_TCTI expect_ok "$OYSTER" tpm-setup
[ -z "$(ls -A "$OYSTER_STATE_DIR")" ] || fail "state after dropping: $(ls -A "$OYSTER_STATE_DIR")"
grep -qE '^  Lockout authorization: EMPTY' "$OUT" || { show_last; fail "the report"; }

say "a state directory others can read is refused"
chmod 755 "$OYSTER_STATE_DIR"
OYSTER_TCTI=$OTHER_TCTI expect_status 1 "$OYSTER" tpm-setup --lockout-auth
grep -q 'mode 0700' "$ERR" || { show_last; fail "no message about the directory's mode"; }
say "the new lockout authorization crosses the bus encrypted (pcap capture)"
[ -e /usr/lib/x86_64-linux-gnu/libtss2-tcti-pcap.so.0 ] || ldconfig -p | grep -q libtss2-tcti-pcap ||
	skip "libtss2-tcti-pcap0 is not installed (apt-get install libtss2-tcti-pcap0); everything else passed"
start_other_tpm bus
export OYSTER_STATE_DIR=$WORKDIR/state-bus
cap=$WORKDIR/lockout.pcap
TCTI_PCAP_FILE=$cap OYSTER_TCTI="pcap:$OTHER_TCTI" expect_ok "$OYSTER" tpm-setup --lockout-auth --reset-lockout
control=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TCTI_PCAP_FILE=$cap TPM2TOOLS_TCTI="pcap:$OTHER_TCTI" tpm2_pcrextend "16:sha256=$control" ||
	setup_error "tpm2_pcrextend through the pcap TCTI failed"
python3 - "$cap" "$OYSTER_STATE_DIR/lockout-auth" "$control" <<'PY' || fail "the capture shows the lockout authorization"
import re, sys
data = open(sys.argv[1], "rb").read()
auth = open(sys.argv[2], "rb").read()
control = bytes.fromhex(sys.argv[3])
fails = []
def command(cc):
    return re.compile(rb"[\x80][\x01\x02].{4}" + re.escape(cc.to_bytes(4, "big")), re.S)
for cc, name in ((0x129, "HierarchyChangeAuth"), (0x139, "DictionaryAttackLockReset")):
    if not command(cc).search(data):
        fails.append("no %s command in the capture" % name)
if control not in data:
    fails.append("the control value sent in clear is not found: the search is blind")
for what, needle in (("the authorization", auth), ("its first half", auth[:16]),
                     ("its second half", auth[16:]), ("its hex", auth.hex().encode())):
    if needle in data:
        fails.append("%s appears in the capture" % what)
for f in fails:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if fails else 0)
PY
say "PASS"
