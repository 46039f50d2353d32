#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: someone sniffs the TPM bus during enrollment and unlocks. The
# capture (tpm2-tss's pcap TCTI) shows the Create and Unseal commands, yet
# neither the secret nor its base64 passphrase: parameter encryption works.
# A control proves that the search would find a value sent in clear.
set -eu
. "$TESTDIR/lib.sh"

[ -e /usr/lib/x86_64-linux-gnu/libtss2-tcti-pcap.so.0 ] || ldconfig -p | grep -q libtss2-tcti-pcap ||
	skip "libtss2-tcti-pcap0 is not installed (apt-get install libtss2-tcti-pcap0)"

pass='pcap passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot

cap=$WORKDIR/capture.pcap
export TCTI_PCAP_FILE=$cap
export OYSTER_TCTI="pcap:swtpm:host=127.0.0.1,port=$SWTPM_PORT"

say "enroll, unseal and a plugin unlock, all captured"
enroll "$img" "$pass" --pcrs 7
[ -s "$cap" ] || fail "the enrollment left no capture: is OYSTER_TCTI honoured?"
unseal_to "$WORKDIR/tpm.key" "$img"
check_passphrase "$WORKDIR/tpm.key"
expect_ok token_open "$img"
# The captured secret is the real one.
expect_ok cryptsetup open --test-passphrase --disable-external-tokens --key-file "$WORKDIR/tpm.key" "$img"

say "control: a value sent in clear is found by the same search"
control=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
TPM2TOOLS_TCTI=$OYSTER_TCTI tpm2_pcrextend "16:sha256=$control" || setup_error "tpm2_pcrextend through the pcap TCTI failed"

passphrase=$(tr -d '\n' <"$WORKDIR/tpm.key")
python3 - "$cap" "$passphrase" "$control" <<'EOF'
import base64, re, sys
cap, passphrase, control = sys.argv[1], sys.argv[2].encode(), bytes.fromhex(sys.argv[3])
data = open(cap, "rb").read()
secret = base64.b64decode(passphrase, validate=True)
fails = []

def command(cc):
    # A TPM command header: tag (sessions or not), size, command code.
    return re.compile(rb"[\x80][\x01\x02].{4}" + re.escape(cc.to_bytes(4, "big")), re.S)

print("# capture: %d bytes" % len(data))
if len(data) < 1000:
    fails.append("the capture is nearly empty")
if not command(0x153).search(data):
    fails.append("no TPM2_CC_Create (0x153) command in the capture")
if not command(0x15E).search(data):
    fails.append("no TPM2_CC_Unseal (0x15e) command in the capture")
if control not in data:
    fails.append("the control value sent in clear is not found: the search is blind")
if len(secret) != 32:
    fails.append("the passphrase does not decode to 32 bytes")

leaks = {
    "the raw secret": secret,
    "the base64 passphrase": passphrase,
    "the base64 passphrase without padding": passphrase.rstrip(b"="),
    "the secret in hex": secret.hex().encode(),
    "the secret in HEX": secret.hex().upper().encode(),
    "the first half of the secret": secret[:16],
    "the second half of the secret": secret[16:],
}
for what, needle in leaks.items():
    if needle in data:
        fails.append("%s appears in the capture at offset %d" % (what, data.index(needle)))

for f in fails:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if fails else 0)
EOF
say "PASS"
