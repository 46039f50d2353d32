#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the volume's device turns read-only while oyster changes its
# header (a disk that protects itself after errors, an administrator's
# blockdev --setro). The volume is a loop device; fault-shim.so, preloaded
# into oyster with FAULT_SETRO=1, sets it read-only (BLKROSET) just before
# write number N reaches it, and the kernel refuses that write and every
# later one. For enroll, wipe --token and reseal in place, and every N from 1
# until the command gets through without reaching its fault:
#   - the command fails cleanly with a message that says the device is
#     read-only;
#   - once the device is writable again, the passphrase opens the volume,
#     and so does every token that opened it before and is still there.
set -eu
. "$TESTDIR/lib.sh"

[ -n "${FAULT_SHIM:-}" ] || setup_error "FAULT_SHIM (the path of fault-shim.so) is not set"
[ -f "$FAULT_SHIM" ] || setup_error "fault shim not found at $FAULT_SHIM"
[ "$(id -u)" -eq 0 ] || skip "needs root (loop devices)"
preload=$FAULT_SHIM
libasan=$(ldd "$OYSTER" | awk '$1 ~ /^libasan/ { print $3 }')
[ -z "$libasan" ] || preload="$libasan $FAULT_SHIM"
command -v losetup >/dev/null && command -v blockdev >/dev/null ||
	setup_error "losetup and blockdev (util-linux) are needed"

pass='read-only faults passphrase'
pass_kf=$(keyfile "$pass")
img=$WORKDIR/disk.img
fault_log=$WORKDIR/faults.log
# A keyslot wipe alone is about 45 writes (40 passes over its area, then the header).
max_at=80
extend_pcr 7 secure-boot

loop=''
detach() {
	if [ -n "$loop" ]; then
		blockdev --setrw "$loop" 2>/dev/null || true
		losetup -d "$loop" 2>/dev/null || true
		loop=''
	fi
}
at_exit detach
attach() {
	detach
	loop=$(losetup --find --show -- "$img") ||
		skip "no loop device available (losetup --find failed; a container without /dev/loop*?)"
	[ "$(blockdev --getro "$loop")" = 0 ] || setup_error "$loop is read-only from the start"
}

# ro_loop NAME TEMPLATE CMD...: CMD (@LOOP@ in it: the device) on a loop device
# over a fresh copy of TEMPLATE, the device set read-only at write 1, 2, 3, ...
ro_loop() {
	local name=$1 template=$2 worked id injected=0 done=0 arg cmd
	shift 2
	cp --sparse=always -- "$template" "$img"
	worked=$(open_tokens "$img")
	[ -n "$worked" ] || setup_error "$name: no token opens $template"
	for at in $(seq 1 "$max_at"); do
		cp --sparse=always -- "$template" "$img"
		attach
		cmd=()
		for arg in "$@"; do
			[ "$arg" != @LOOP@ ] || arg=$loop
			cmd+=("$arg")
		done
		rm -f -- "$fault_log"
		run env LD_PRELOAD="$preload" FAULT_PATH="$loop" FAULT_AT="$at" FAULT_SETRO=1 \
			FAULT_LOG="$fault_log" "${cmd[@]}"
		if [ ! -s "$fault_log" ]; then
			[ "$RC" -eq 0 ] || { show_last; fail "$name: failed without reaching write $at"; }
			done=1
			detach
			break
		fi
		injected=$((injected + 1))
		[ "$(blockdev --getro "$loop")" = 1 ] || fail "$name, write $at: the shim did not make $loop read-only"
		if [ "$RC" -eq 0 ] || [ "$RC" -ge 126 ]; then
			show_last
			fail "$name, read-only at write $at: exit status $RC, expected a clean failure"
		fi
		oyster_messages | grep -qi 'read-only' ||
			{ show_last; fail "$name, read-only at write $at: the message does not say the device is read-only"; }
		run "$OYSTER" status "$loop"
		assert_no_crash
		blockdev --setrw "$loop"
		pass_open "$loop" "$pass" >/dev/null 2>&1 ||
			fail "$name, read-only at write $at: the passphrase no longer opens the volume"
		for id in $worked; do
			oyster_token_ids "$loop" | tr ' ' '\n' | grep -qx "$id" || continue
			token_open "$loop" --token-id "$id" >/dev/null 2>&1 ||
				fail "$name, read-only at write $at: token $id opened the volume before and is still there, but no longer opens it"
		done
		detach
	done
	[ "$done" -eq 1 ] || fail "$name: still reaching a fault at write $max_at"
	[ "$injected" -ge 1 ] || fail "$name: the device never turned read-only; the shim does not see the header writes"
	say "$name: read-only at each of writes 1..$injected, then it succeeded at write $at"
}

one=$WORKDIR/one-token.img
make_luks "$one" "$pass"
enroll "$one" "$pass" --pcrs 7 --literal
two=$WORKDIR/two-tokens.img
cp --sparse=always -- "$one" "$two"
enroll "$two" "$pass" --pcrs 7 --literal
tok_b=$ENROLLED_TOKEN

ro_loop "enroll" "$one" "$OYSTER" enroll @LOOP@ --key-file "$pass_kf" --pcrs 7
ro_loop "wipe --token $tok_b" "$two" "$OYSTER" wipe @LOOP@ --token "$tok_b"
ro_loop "reseal in place" "$one" "$OYSTER" reseal @LOOP@

[ -z "$(transient_handles)" ] || fail "transient handles left in the TPM: $(transient_handles)"
say "PASS"
