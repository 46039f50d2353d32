#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the plugin's paths under valgrind, inside the real cryptsetup:
# unlock through the token, unlock with --debug, a refusal after a PCR
# changed, a malformed token planted in the header, luksDump and token import
# (dump and validate), and the tool's unseal and status. Each must run with
# no memory error and no definite leak (valgrind.supp holds the justified
# suppressions: none so far). Registered only for builds without sanitizers:
# valgrind cannot run ASan code.
set -eu
. "$TESTDIR/lib.sh"

command -v valgrind >/dev/null || skip "valgrind is not installed (apt-get install valgrind)"
if ldd "$PLUGIN" | grep -q 'libasan\|libubsan'; then
	skip "the plugin is built with a sanitizer; valgrind needs the plain build"
fi

VG_ERR=97 # not an exit status cryptsetup or oyster use
VG=(valgrind --quiet --error-exitcode="$VG_ERR" --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --suppressions="$TESTDIR/valgrind.supp"
	--log-file="$WORKDIR/vg.%p.log")

# under_valgrind WANT CMD...: CMD (whose program runs under "${VG[@]}") exits WANT,
# and valgrind reported nothing.
under_valgrind() {
	local want=$1 f
	shift
	rm -f "$WORKDIR"/vg.*.log
	run "$@"
	for f in "$WORKDIR"/vg.*.log; do
		[ ! -s "$f" ] || { cat "$f" >&2; fail "valgrind found errors or leaks: $*"; }
	done
	[ "$RC" -ne "$VG_ERR" ] || { show_last; fail "valgrind found errors: $*"; }
	if [ "$want" = fail ]; then
		[ "$RC" -ne 0 ] || { show_last; fail "expected a failure: $*"; }
	elif [ "$RC" -ne "$want" ]; then
		show_last
		fail "expected exit status $want, got $RC: $*"
	fi
}

img=$WORKDIR/disk.img
pass='valgrind passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN
expect_ok cryptsetup token export --token-id "$tok" "$img"
cp "$OUT" "$WORKDIR/orig.json"

say "unlock through the token"
under_valgrind 0 with_plugin "${VG[@]}" cryptsetup open --test-passphrase --token-only "$img"
under_valgrind 0 with_plugin "${VG[@]}" cryptsetup open --test-passphrase --token-only --debug "$img"
under_valgrind 0 "${VG[@]}" "$OYSTER" unseal "$img"
check_passphrase "$OUT"

say "dump and validate"
under_valgrind 0 with_plugin "${VG[@]}" cryptsetup luksDump "$img"
grep -q oyster-tpm2 "$OUT" || fail "luksDump shows no oyster-tpm2 token"
expect_ok cryptsetup token remove --token-id "$tok" "$img"
under_valgrind 0 with_plugin "${VG[@]}" cryptsetup token import --json-file "$WORKDIR/orig.json" --token-id "$tok" "$img"
jq -c '.tpm2_pcrs = [99]' "$WORKDIR/orig.json" >"$WORKDIR/bad.json"
expect_ok cryptsetup token remove --token-id "$tok" "$img"
under_valgrind fail with_plugin "${VG[@]}" cryptsetup token import --json-file "$WORKDIR/bad.json" --token-id "$tok" "$img"

say "a malformed token planted in the header"
expect_ok without_plugin cryptsetup token import --json-file "$WORKDIR/bad.json" --token-id "$tok" "$img"
under_valgrind fail with_plugin "${VG[@]}" cryptsetup open --test-passphrase --token-only --debug "$img"
under_valgrind 0 "${VG[@]}" "$OYSTER" status "$img"
expect_ok cryptsetup token remove --token-id "$tok" "$img"
expect_ok with_plugin cryptsetup token import --json-file "$WORKDIR/orig.json" --token-id "$tok" "$img"

say "the TPM refuses after PCR 7 changed"
extend_pcr 7 another-boot
under_valgrind fail with_plugin "${VG[@]}" cryptsetup open --test-passphrase --token-only --debug "$img"
under_valgrind 3 "${VG[@]}" "$OYSTER" unseal "$img"
under_valgrind 0 "${VG[@]}" "$OYSTER" status "$img"
expect_ok pass_open "$img" "$pass"
say "PASS"
