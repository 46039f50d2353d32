#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a user debugging an unlock sets TSS2_LOG=all+TRACE and pastes the
# output into a bug report. tpm2-tss's esys_crypto module logs the decrypted
# Unseal response at trace level (the secret itself), and esys and
# esys_crypto log session and derived keys at debug level (with a PIN, from
# its authValue). oyster holds those two modules at info, says so in one
# line, and leaves every other module's debug output (the TCTI's, here) as
# asked: through `oyster unseal` and through the plugin, with and without a
# PIN, the trace holds no secret, no key and no PIN. A control with the
# modules asked for at trace by name proves the same.
set -eu
. "$TESTDIR/lib.sh"

pass='trace passphrase'
pin='4711-trace'
img=$WORKDIR/disk.img
pinimg=$WORKDIR/pin.img
make_luks "$img" "$pass"
make_luks "$pinimg" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
NEWPIN=$pin enroll "$pinimg" "$pass" --pcrs 7 --pin
at_exit tpm2_dictionarylockout -c

unseal_to "$WORKDIR/tpm.key" "$img"
PIN=$pin unseal_to "$WORKDIR/pin.key" "$pinimg"

# check_trace FILE KEYFILE: FILE holds a usable trace and nothing secret.
check_trace() {
	python3 - "$1" "$2" "$pin" <<'PYEOF'
import base64, re, sys
text = open(sys.argv[1], errors="replace").read()
secret = base64.b64decode(open(sys.argv[2]).read().strip())
pin = sys.argv[3]
fails = []
if not re.search(r"^debug:tcti:", text, re.M):
    fails.append("no debug line of the tcti module: tpm2-tss's own debug output is gone")
# tss2 prints blobs 16 bytes per line in hex: look for every 8-byte window.
hexed = re.sub(r"[^0-9a-f]", "", text.lower())
for i in range(0, len(secret) - 7):
    if secret[i:i + 8].hex() in hexed:
        fails.append("bytes %d-%d of the secret appear in the trace" % (i, i + 7))
        break
for what, needle in (("the passphrase", base64.b64encode(secret).decode()), ("the PIN", pin)):
    if needle in text:
        fails.append("%s appears in the trace" % what)
for m in re.finditer(r"^(debug|trace):(esys|esys_crypto):.*$", text, re.M):
    fails.append("a %s line of %s: %s" % (m.group(1), m.group(2), m.group(0)[:120]))
    break
for f in fails:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if fails else 0)
PYEOF
}

for level in all+TRACE 'all+trace,esys+trace,esys_crypto+debug' all+debug; do
	say "TSS2_LOG=$level: oyster unseal"
	TSS2_LOG=$level run "$OYSTER" unseal "$img"
	[ "$RC" -eq 0 ] || { show_last; fail "unseal with TSS2_LOG=$level failed"; }
	grep -q 'esys and esys_crypto modules held at info' "$ERR" || { show_last; fail "no line saying why the modules are held"; }
	check_trace "$ERR" "$WORKDIR/tpm.key" || fail "the trace of oyster unseal (TSS2_LOG=$level) leaks"

	say "TSS2_LOG=$level: oyster unseal with a PIN"
	PIN=$pin TSS2_LOG=$level run "$OYSTER" unseal "$pinimg"
	[ "$RC" -eq 0 ] || { show_last; fail "unseal with a PIN and TSS2_LOG=$level failed"; }
	check_trace "$ERR" "$WORKDIR/pin.key" || fail "the trace of a PIN unseal (TSS2_LOG=$level) leaks"

	say "TSS2_LOG=$level: cryptsetup through the plugin, with a PIN"
	printf '%s' "$pin" >"$WORKDIR/pin.in"
	TSS2_LOG=$level run token_open "$pinimg" <"$WORKDIR/pin.in"
	[ "$RC" -eq 0 ] || { show_last; fail "cryptsetup with a PIN and TSS2_LOG=$level failed"; }
	check_trace "$ERR" "$WORKDIR/pin.key" || fail "the trace of the plugin (TSS2_LOG=$level) leaks"
done

say "a level that logs no secret is left alone, and nothing is said"
TSS2_LOG=all+info,tcti+debug run "$OYSTER" unseal "$img"
[ "$RC" -eq 0 ] || { show_last; fail "unseal with TSS2_LOG=all+info failed"; }
! grep -q 'held at info' "$ERR" || { show_last; fail "the guard spoke although no module asked for debug"; }
grep -q '^debug:tcti:' "$ERR" || { show_last; fail "tcti+debug was not honoured"; }
say "PASS"
