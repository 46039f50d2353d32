#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the disk fails while oyster changes the LUKS2 header. fault-shim.so,
# preloaded into oyster, fails the Nth write to the image with EIO: once (a
# glitch: oyster's own undo still reaches the disk), or from the Nth on (a
# disk that died: the undo fails too). For enroll, wipe --token N, reseal in
# place and reseal by passphrase, and every N from 1 until the command gets
# through without reaching its fault, on a fresh copy of the same image:
#   - the command fails cleanly (exit 1..125, never a crash) with a message;
#   - the passphrase still opens the volume, and so does every oyster token
#     that opened it before and is still in the header; the tokens the
#     command does not touch are all still there;
#   - oyster status does not crash.
# Each command must have reached at least one fault, or the test proved
# nothing.
set -eu
. "$TESTDIR/lib.sh"

[ -n "${FAULT_SHIM:-}" ] || setup_error "FAULT_SHIM (the path of fault-shim.so) is not set"
[ -f "$FAULT_SHIM" ] || setup_error "fault shim not found at $FAULT_SHIM"
# A sanitizer build of oyster needs its ASan runtime first of all libraries.
preload=$FAULT_SHIM
libasan=$(ldd "$OYSTER" | awk '$1 ~ /^libasan/ { print $3 }')
[ -z "$libasan" ] || preload="$libasan $FAULT_SHIM"

pass='disk faults passphrase'
pass_kf=$(keyfile "$pass")
img=$WORKDIR/disk.img
fault_log=$WORKDIR/faults.log
max_at=40
extend_pcr 7 secure-boot

# header_shape IMG: the keyslots and tokens of IMG's header, one line.
header_shape() {
	cryptsetup luksDump --dump-json-metadata "$1" |
		jq -c '{keyslots: (.keyslots | keys), tokens: (.tokens | keys)}'
}

# faulted CMD...: CMD with the shim preloaded, failing the image's write
# number $at (and every later one when $sticky is 1).
faulted() {
	rm -f -- "$fault_log"
	run env LD_PRELOAD="$preload" FAULT_PATH="$img" FAULT_AT="$at" FAULT_STICKY="$sticky" \
		FAULT_LOG="$fault_log" "$@"
}

# fault_loop NAME TEMPLATE KEEP CMD...: runs CMD (its image: $img) on fresh
# copies of TEMPLATE, with a fault at write 1, 2, 3, ... KEEP: the tokens
# CMD must leave in place. Sets INJECTED to the number of faulted runs.
fault_loop() {
	local name=$1 template=$2 keep=$3 worked id done=0
	shift 3
	cp --sparse=always -- "$template" "$img"
	worked=$(open_tokens "$img")
	expect_ok pass_open "$img" "$pass"
	INJECTED=0
	for at in $(seq 1 "$max_at"); do
		cp --sparse=always -- "$template" "$img"
		faulted "$@"
		if [ ! -s "$fault_log" ]; then
			[ "$RC" -eq 0 ] || { show_last; fail "$name: failed without reaching write $at"; }
			done=1
			break
		fi
		INJECTED=$((INJECTED + 1))
		if [ "$RC" -eq 0 ] || [ "$RC" -ge 126 ]; then
			show_last
			cat "$fault_log" >&2
			fail "$name, fault at write $at (sticky=$sticky): exit status $RC, expected a clean failure"
		fi
		[ -n "$(oyster_messages)" ] || { show_last; fail "$name, fault at write $at: no message"; }
		# A glitch leaves the disk able to take the undo: enroll must then
		# leave the header as it found it.
		if [ "$name" = enroll ] && [ "$sticky" -eq 0 ]; then
			[ "$(header_shape "$img")" = "$(header_shape "$template")" ] ||
				fail "enroll, fault at write $at (once): the header is not as before: $(header_shape "$img"), was $(header_shape "$template")"
		fi
		pass_open "$img" "$pass" >/dev/null 2>&1 ||
			fail "$name, fault at write $at (sticky=$sticky): the passphrase no longer opens the volume"
		for id in $keep; do
			oyster_token_ids "$img" | tr ' ' '\n' | grep -qx "$id" ||
				fail "$name, fault at write $at (sticky=$sticky): token $id, which the command does not touch, is gone"
		done
		for id in $worked; do
			oyster_token_ids "$img" | tr ' ' '\n' | grep -qx "$id" || continue
			token_open "$img" --token-id "$id" >/dev/null 2>&1 ||
				fail "$name, fault at write $at (sticky=$sticky): token $id opened the volume before and is still there, but no longer opens it"
		done
		run "$OYSTER" status "$img"
		assert_no_crash
	done
	[ "$done" -eq 1 ] || fail "$name: still reaching a fault at write $max_at"
	[ "$INJECTED" -ge 1 ] || fail "$name: no fault was injected; the shim does not see the header writes"
	say "$name (sticky=$sticky): $INJECTED faulted runs, then it succeeded at write $at"
}

say "the images: a passphrase and one or two oyster tokens bound to PCR 7"
one=$WORKDIR/one-token.img
make_luks "$one" "$pass"
enroll "$one" "$pass" --pcrs 7 --literal
tok_a=$ENROLLED_TOKEN
two=$WORKDIR/two-tokens.img
cp --sparse=always -- "$one" "$two"
enroll "$two" "$pass" --pcrs 7 --literal
tok_b=$ENROLLED_TOKEN
[ "$(open_tokens "$two")" = "$tok_a $tok_b" ] || setup_error "tokens $tok_a and $tok_b do not both open $two"

say "a control: without a fault the shim changes nothing"
cp --sparse=always -- "$one" "$img"
at=$max_at sticky=0
faulted "$OYSTER" reseal "$img"
[ "$RC" -eq 0 ] || { show_last; fail "reseal with the shim preloaded and no fault reached failed"; }
[ ! -s "$fault_log" ] || fail "the shim injected a fault at write $max_at of an in-place reseal"

summary=()
for sticky in 0 1; do
	fault_loop "enroll" "$one" "$tok_a" "$OYSTER" enroll "$img" --key-file "$pass_kf" --pcrs 7
	summary+=("enroll sticky=$sticky: $INJECTED")
	fault_loop "wipe --token $tok_b" "$two" "$tok_a" "$OYSTER" wipe "$img" --token "$tok_b"
	summary+=("wipe sticky=$sticky: $INJECTED")
	PASSWORD='' fault_loop "reseal in place" "$one" "$tok_a" "$OYSTER" reseal "$img"
	summary+=("reseal-in-place sticky=$sticky: $INJECTED")
done

say "an unplanned PCR 7 change: the token no longer unseals, reseal needs the passphrase"
extend_pcr 7 unplanned
[ -z "$(open_tokens "$one")" ] || setup_error "the token still opens the volume after the PCR change"
for sticky in 0 1; do
	fault_loop "reseal by passphrase" "$one" "" "$OYSTER" reseal "$img" --key-file "$pass_kf"
	summary+=("reseal-by-passphrase sticky=$sticky: $INJECTED")
done

say "faulted runs per command: ${summary[*]}"
[ -z "$(transient_handles)" ] || fail "transient handles left in the TPM: $(transient_handles)"
say "PASS"
