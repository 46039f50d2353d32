#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: an approval of an authorized token is interrupted at every write.
# The token approves state A; `oyster reseal` in state B approves B alone:
# a header write (both sets), the NV write, a header write (B alone). Each
# run is interrupted once, and afterwards the token must unlock in A (the
# old set) or in B (the new one), the passphrase must open the volume, and
# a second reseal must finish the approval (B unlocks, no tpm2_previous).
#   - the disk: fault-shim.so fails the Nth write to the image (once, or
#     from the Nth on), for every N until the reseal gets through;
#   - the TPM: tpm-proxy.py loses command N+1 (close: the TPM is gone from
#     then on; kill: swtpm dies before it answers), for every N of the
#     reseal's commands, so that the connection also dies between the
#     first header write and the NV write.
set -eu
. "$TESTDIR/lib.sh"

[ -n "${FAULT_SHIM:-}" ] || setup_error "FAULT_SHIM (the path of fault-shim.so) is not set"
preload=$FAULT_SHIM
libasan=$(ldd "$OYSTER" | awk '$1 ~ /^libasan/ { print $3 }')
[ -z "$libasan" ] || preload="$libasan $FAULT_SHIM"

pass='approve faults passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
state=$WORKDIR/tpm-state
tpm_pid='' proxy_pid=''

start_tpm() {
	swtpm_start "$state" "$WORKDIR/tpm-log" || setup_error "could not start swtpm"
	tpm_pid=$SWTPM_PID
	export OYSTER_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
	export TPM2TOOLS_TCTI=$OYSTER_TCTI
}
stop_tpm() {
	swtpm_stop "$tpm_pid"
	tpm_pid=
}
start_proxy() {
	local n=$1 mode=$2 ready=$WORKDIR/proxy.port port
	local kill=()
	[ "$mode" != kill ] || kill=(--kill "$tpm_pid")
	rm -f -- "$ready" "$WORKDIR/proxy.log"
	python3 "$TESTDIR/tpm-proxy.py" --target "${OYSTER_TCTI##*port=}" --ready "$ready" \
		--fault-after "$n" "${kill[@]}" --log "$WORKDIR/proxy.log" &
	proxy_pid=$!
	port=$(proxy_port "$ready") || setup_error "tpm-proxy.py did not start"
	PROXY_TCTI="swtpm:host=127.0.0.1,port=$port"
}
stop_proxy() {
	[ -n "$proxy_pid" ] || return 0
	kill -TERM "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
	proxy_pid=
}
at_exit stop_proxy
at_exit stop_tpm
start_tpm

# boot_a / boot_b: a fresh boot measuring state A, or A then B.
boot_a() {
	if ! kill -0 "$tpm_pid" 2>/dev/null; then
		wait "$tpm_pid" 2>/dev/null || true
		start_tpm
	fi
	reboot_tpm
	extend_pcr 7 state-a
}
boot_b() {
	boot_a
	extend_pcr 7 state-b
}
opens() { "$OYSTER" unseal "$img" >/dev/null 2>&1; }

boot_a
enroll "$img" "$pass" --pcrs 7
grep_out 'NV index'
tok=$ENROLLED_TOKEN

# after_fault WHAT: one of the two sets unlocks, the passphrase opens, and a
# reseal (no fault) finishes the approval of B; then back to the token of A,
# and on to state B for the next fault.
old_ok=0 new_ok=0
after_fault() {
	local what=$1 a=no b=no
	[ "$RC" -lt 124 ] || { show_last; fail "$what: exit status $RC (crash or signal?)"; }
	boot_a
	! opens || a=yes
	extend_pcr 7 state-b
	! opens || b=yes
	[ $a = yes ] || [ $b = yes ] || fail "$what: the token unlocks with neither the old nor the new states"
	[ $a = no ] || old_ok=$((old_ok + 1))
	[ $b = no ] || new_ok=$((new_ok + 1))
	expect_ok pass_open "$img" "$pass"
	expect_ok "$OYSTER" reseal "$img"
	expect_ok "$OYSTER" unseal "$img"
	[ "$(luks_json "$img" | jq --arg id "$tok" '.tokens[$id] | has("tpm2_previous")')" = false ] ||
		fail "$what: the finishing reseal left tpm2_previous"
	boot_a
	expect_ok "$OYSTER" reseal "$img"
	extend_pcr 7 state-b
}

say "calibration: one approval without a fault"
boot_b
start_proxy -1 close
expect_ok env OYSTER_TCTI="$PROXY_TCTI" "$OYSTER" reseal "$img"
approve_n=$(grep -c . "$WORKDIR/proxy.log")
stop_proxy
expect_ok token_open "$img"
say "an approval: $approve_n TPM commands"
[ "$approve_n" -ge 4 ] || setup_error "too few commands counted"
boot_a
expect_ok "$OYSTER" reseal "$img"
extend_pcr 7 state-b

say "the disk fails at each write of the approval"
faults=0
for sticky in 0 1; do
	for at in $(seq 1 12); do
		rm -f "$WORKDIR/faults.log"
		run env LD_PRELOAD="$preload" FAULT_PATH="$img" FAULT_AT="$at" FAULT_STICKY="$sticky" \
			FAULT_LOG="$WORKDIR/faults.log" "$OYSTER" reseal "$img"
		[ -s "$WORKDIR/faults.log" ] || { [ "$RC" -eq 0 ] || { show_last; fail "reseal failed without a fault"; }; boot_a; expect_ok "$OYSTER" reseal "$img"; extend_pcr 7 state-b; break; }
		faults=$((faults + 1))
		[ "$RC" -ne 0 ] || [ "$sticky" = 0 ] || fail "reseal succeeded although the disk died at write $at"
		after_fault "disk write $at (sticky $sticky)"
	done
done
[ "$faults" -ge 4 ] || fail "only $faults disk faults were injected"

say "the TPM goes away at each command of the approval"
for mode in close kill; do
	for n in $(seq 0 $((approve_n - 1))); do
		start_proxy "$n" "$mode"
		run env OYSTER_TCTI="$PROXY_TCTI" "$OYSTER" reseal "$img"
		stop_proxy
		if [ "$mode" = kill ]; then
			# Killed by the proxy (a zombie still answers kill -0): back on its state.
			kill -KILL "$tpm_pid" 2>/dev/null || true
			wait "$tpm_pid" 2>/dev/null || true
			start_tpm
		fi
		after_fault "TPM $mode at command $((n + 1)) of $approve_n"
	done
done
say "after the faults the old set unlocked $old_ok times, the new set $new_ok times"
[ "$old_ok" -gt 0 ] && [ "$new_ok" -gt 0 ] || fail "the faults never left one of the two sets"
say "PASS"
