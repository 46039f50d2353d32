#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the TPM goes away in the middle of an enrollment and of an unlock.
# tpm-proxy.py sits between oyster and swtpm and, after N commands, either
# loses command N+1 only (glitch: its connection closes before it reaches
# the TPM), or loses it and every later one (close: the TPM is gone), or
# lets it reach the TPM and kills swtpm before the answer comes back (kill).
# For every N from 0 to the number of commands the operation sends:
#   - oyster (or cryptsetup through the plugin) fails within seconds with a
#     message, oyster with exit status 4 (no TPM) or 1, never a crash; or,
#     when the lost command was a last FlushContext, succeeds;
#   - the LUKS2 header is as it was before (or the enrollment is complete);
#   - once swtpm is back (restarted on its state when it was killed), the
#     enrollment, the token unlock and the passphrase all work.
# What oyster had loaded before the fault stays in the TPM: tpm2-tss 3.2.1's
# ESAPI refuses every call, FlushContext included, once a command's
# connection failed (measured: no command reaches the TPM after the fault,
# even after a glitch). The kernel resource manager (/dev/tpmrm0) flushes
# it when oyster exits; here the test flushes it, as a reboot would. The
# runs without a fault check that oyster itself leaves nothing.
# Each enrollment case starts from a fresh TPM, so that the SRK's creation
# and EvictControl are interrupted too. Two parts, two meson tests that run
# side by side (FAULTS_PART):
#   literal     literal enrollments (--literal), then the unlocks of an
#               authorized token (PolicyAuthorizeNV interrupted too);
#   authorized  authorized enrollments, the default (NV_DefineSpace and the
#               NV write interrupted too). An index that a fault leaves
#               defined (the TPM was gone before the enrollment could
#               undefine it) must be gone after the next enrollment, which
#               reclaims it through the record the first one left in the
#               state directory; no NV index that no token names is left.
# approve-faults.sh interrupts the approvals of an authorized token.
set -eu
. "$TESTDIR/lib.sh"

part=${FAULTS_PART:-literal}
case $part in
literal) mode_opt=(--literal) ;;
authorized) mode_opt=() ;;
*) setup_error "FAULTS_PART=$part: literal or authorized" ;;
esac

pass='faults passphrase'
template=$WORKDIR/template.img
make_luks "$template" "$pass"
img=$WORKDIR/disk.img
state=$WORKDIR/tpm-state
tpm_pid='' proxy_pid=''

# start_tpm: swtpm on $state (kept across restarts), PCR 7 as the same
# "firmware" measures it at every boot.
start_tpm() {
	swtpm_start "$state" "$WORKDIR/tpm-log" || setup_error "could not start swtpm"
	tpm_pid=$SWTPM_PID
	export OYSTER_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
	export TPM2TOOLS_TCTI=$OYSTER_TCTI
	extend_pcr 7 secure-boot
}
stop_tpm() {
	swtpm_stop "$tpm_pid"
	tpm_pid=
}
# fresh_tpm: a TPM that never saw oyster (no persistent SRK).
fresh_tpm() {
	stop_tpm
	rm -rf -- "$state"
	start_tpm
}

# start_proxy N MODE: the proxy in front of the TPM, failing at command N+1
# (MODE glitch, close or kill; N -1: never); sets PROXY_TCTI.
start_proxy() {
	local n=$1 mode=$2 ready=$WORKDIR/proxy.port port
	local kill=()
	[ "$mode" != kill ] || kill=(--kill "$tpm_pid")
	[ "$mode" != glitch ] || kill=(--glitch)
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

proxy_commands() {
	grep -c . "$WORKDIR/proxy.log" 2>/dev/null || echo 0
}

header() {
	luks_json "$img" | jq -S '{keyslots, tokens, segments, digests}'
}

# tpm_back: after a kill, swtpm comes back on its state (PCRs reset,
# measured again); otherwise what could not be flushed is flushed (see the top).
stranded=0
tpm_back() {
	if ! kill -0 "$tpm_pid" 2>/dev/null; then
		wait "$tpm_pid" 2>/dev/null || true
		start_tpm
	elif [ -n "$(transient_handles)$(loaded_sessions)" ]; then
		stranded=$((stranded + 1))
		tpm2_flushcontext -t >/dev/null 2>&1 || true
		tpm2_flushcontext -l >/dev/null 2>&1 || true
		tpm2_flushcontext -s >/dev/null 2>&1 || true
	fi
}
no_leftovers() {
	[ -z "$(transient_handles)" ] || fail "$1: transient handles left: $(transient_handles)"
	[ -z "$(loaded_sessions)" ] || fail "$1: sessions left: $(loaded_sessions)"
}

# check_failure WHAT [oyster]: the last command failed cleanly and quickly,
# or succeeded after all when only its last command (a cleanup) was lost.
completed=0
check_failure() {
	[ "$ELAPSED" -le 15 ] || fail "$1: took $ELAPSED s"
	if [ "$RC" -eq 0 ]; then
		local last
		last=$(tail -n 1 "$WORKDIR/proxy.log")
		[[ "$last" == "$enroll_n "*" FAULT" || "$last" == "$unlock_n "*" FAULT" ]] ||
			{ show_last; fail "$1: succeeded although the TPM went away before its last command"; }
		completed=$((completed + 1))
		return 0
	fi
	[ "$RC" -lt 124 ] || { show_last; fail "$1: exit status $RC (crash, signal or hang)"; }
	[ "${2:-}" != oyster ] || [ "$RC" -eq 4 ] || [ "$RC" -eq 1 ] || { show_last; fail "$1: exit status $RC, not 4 or 1"; }
	[ "${2:-}" != oyster ] || [ -n "$(oyster_messages)" ] || { show_last; fail "$1: failed without a message"; }
}

# no_orphans WHAT: every NV index in oyster's range is one a token names,
# and no credential or record is left for another.
reclaimed=0
no_orphans() {
	local named defined h f
	named=$(luks_json "$img" | jq -r '.tokens[] | select(.type == "oyster-tpm2") | .tpm2_nv_index // empty' |
		while read -r h; do printf '0x%08x\n' "$h"; done)
	defined=$(tpm2_getcap handles-nv-index | grep -oiE '0x0?1804f[0-9a-f]{2}' |
		while read -r h; do printf '0x%08x\n' "$h"; done)
	for h in $defined; do
		printf '%s\n' "$named" | grep -qx "$h" || fail "$1: NV index $h is defined, and no token names it"
	done
	for f in "$OYSTER_STATE_DIR"/nv-*; do
		[ -e "$f" ] || continue
		h=0x$(basename -- "$f" | sed -E 's/^nv-([0-9a-f]{8}).*/\1/')
		printf '%s\n' "$named" | grep -qx "$h" || fail "$1: $f is left for an index no token names"
		case $f in *.pending) fail "$1: the record $f is left after a whole enrollment" ;; esac
	done
}

say "calibration: the commands of one enrollment ($part) on a fresh TPM, and of one unlock"
cp --sparse=always "$template" "$img"
fresh_tpm
start_proxy -1 close
kf=$(keyfile "$pass")
expect_ok env OYSTER_TCTI="$PROXY_TCTI" "$OYSTER" enroll "$img" --key-file "$kf" --pcrs 7 "${mode_opt[@]}"
enroll_n=$(proxy_commands)
stop_proxy
no_leftovers "enroll without a fault"
start_proxy -1 close
expect_ok with_plugin env OYSTER_TCTI="$PROXY_TCTI" cryptsetup open --test-passphrase --token-only "$img"
unlock_n=$(proxy_commands)
stop_proxy
no_leftovers "unlock without a fault"
say "enrollment: $enroll_n TPM commands; unlock through the plugin: $unlock_n"
{ [ "$enroll_n" -ge 5 ] && [ "$unlock_n" -ge 3 ]; } || setup_error "too few commands counted: is the proxy in the path?"

for mode in glitch close kill; do
	for n in $(seq 0 $((enroll_n - 1))); do
		what="enroll, $mode at command $((n + 1)) of $enroll_n"
		cp --sparse=always "$template" "$img"
		fresh_tpm
		header >"$WORKDIR/before.json"
		start_proxy "$n" "$mode"
		elapsed env OYSTER_TCTI="$PROXY_TCTI" "$OYSTER" enroll "$img" --key-file "$kf" --pcrs 7 "${mode_opt[@]}"
		stop_proxy
		check_failure "$what" oyster
		header >"$WORKDIR/after.json"
		tpm_back
		if ! cmp -s "$WORKDIR/before.json" "$WORKDIR/after.json"; then
			# Only acceptable if the enrollment is whole: a token whose keyslot opens.
			[ -n "$(oyster_token_ids "$img")" ] ||
				{ diff -u "$WORKDIR/before.json" "$WORKDIR/after.json" >&2 || true; fail "$what: the header changed, and holds no oyster token"; }
			expect_ok token_open "$img"
		else
			enroll "$img" "$pass" --pcrs 7 "${mode_opt[@]}"
			! grep -q '^Removed NV index' "$ERR" || reclaimed=$((reclaimed + 1))
		fi
		expect_ok token_open "$img"
		expect_ok pass_open "$img" "$pass"
		no_leftovers "$what, then an enrollment and an unlock"
		[ "$part" = literal ] || no_orphans "$what, then an enrollment"
	done
done
[ "$part" = literal ] || say "$reclaimed enrollments removed an NV index that the fault before them had left"
if [ "$part" = authorized ]; then
	say "$completed operations completed although their last command (a FlushContext) was lost"
	say "PASS"
	exit 0
fi

say "unlock of an authorized token"
cp --sparse=always "$template" "$img"
fresh_tpm
enroll "$img" "$pass" --pcrs 7
grep_out 'NV index'
start_proxy -1 close
expect_ok with_plugin env OYSTER_TCTI="$PROXY_TCTI" cryptsetup open --test-passphrase --token-only "$img"
unlock_n=$(proxy_commands)
stop_proxy
say "unlock of an authorized token through the plugin: $unlock_n TPM commands"
header >"$WORKDIR/before.json"
for mode in glitch close kill; do
	for n in $(seq 0 $((unlock_n - 1))); do
		what="unlock through the plugin, $mode at command $((n + 1)) of $unlock_n"
		start_proxy "$n" "$mode"
		elapsed with_plugin env OYSTER_TCTI="$PROXY_TCTI" cryptsetup open --test-passphrase --token-only "$img"
		stop_proxy
		check_failure "$what"
		tpm_back

		what="oyster unseal, $mode at command $((n + 1))"
		start_proxy "$n" "$mode"
		elapsed env OYSTER_TCTI="$PROXY_TCTI" "$OYSTER" unseal "$img"
		stop_proxy
		check_failure "$what" oyster
		[ "$RC" -eq 0 ] || [ ! -s "$OUT" ] || fail "$what: printed something on stdout"
		tpm_back

		header >"$WORKDIR/after.json"
		cmp -s "$WORKDIR/before.json" "$WORKDIR/after.json" || fail "$what: the header changed"
		expect_ok token_open "$img"
		expect_ok pass_open "$img" "$pass"
		no_leftovers "$what, then an unlock"
	done
done
say "$completed operations completed although their last command (a FlushContext) was lost"
say "$stranded faults left objects or sessions that could not be flushed (see the top)"
say "PASS"
