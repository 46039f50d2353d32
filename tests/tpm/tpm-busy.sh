#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the TPM answers with an error instead of running a command.
# tpm-proxy.py --answer stands in front of swtpm and answers a chosen
# command itself (swtpm 0.7 has no way to be put in these states):
#   - TPM_RC_RETRY, TPM_RC_YIELDED or TPM_RC_TESTING once, on Unseal: the
#     spec says try again; tpm2-tss resubmits, the unlock succeeds;
#   - TPM_RC_RETRY on every Unseal: the resubmissions are bounded (the proxy
#     counts them), oyster fails within seconds saying the TPM stayed busy,
#     and cryptsetup falls back cleanly; the passphrase opens;
#   - TPM_RC_FAILURE on every command (failure mode): oyster says so, in one
#     line, the plugin fails cleanly, the passphrase opens.
# Nothing stays loaded in the TPM after any of them.
set -eu
. "$TESTDIR/lib.sh"

pass='tpm busy passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN
expect_ok token_open "$img"
direct_tcti=$OYSTER_TCTI
proxy_pid=''
CC_UNSEAL=0x15e

# start_proxy ANSWER...: the proxy with these --answer rules; OYSTER_TCTI points at it.
start_proxy() {
	local ready=$WORKDIR/proxy.port port a args=()
	for a in "$@"; do
		args+=(--answer "$a")
	done
	stop_proxy
	rm -f -- "$ready" "$WORKDIR/proxy.log"
	python3 "$TESTDIR/tpm-proxy.py" --target "${direct_tcti##*port=}" --ready "$ready" \
		"${args[@]}" --log "$WORKDIR/proxy.log" &
	proxy_pid=$!
	port=$(proxy_port "$ready") || setup_error "tpm-proxy.py did not start"
	export OYSTER_TCTI="swtpm:host=127.0.0.1,port=$port"
}
stop_proxy() {
	[ -n "$proxy_pid" ] || return 0
	kill -TERM "$proxy_pid" 2>/dev/null || true
	wait "$proxy_pid" 2>/dev/null || true
	proxy_pid=
	export OYSTER_TCTI=$direct_tcti
}
at_exit stop_proxy

# unseal_count: Unseal commands the proxy saw (answered or passed on).
unseal_count() {
	grep -c " 0x0000015e" "$WORKDIR/proxy.log" || true
}
answered_count() {
	grep -c " ANSWERED " "$WORKDIR/proxy.log" || true
}
no_leftovers() {
	[ -z "$(transient_handles)" ] || fail "$1: transient handles left: $(transient_handles)"
	[ -z "$(loaded_sessions)" ] || fail "$1: sessions left: $(loaded_sessions)"
}

for rc in 0x922 0x908 0x90a; do
	start_proxy "$CC_UNSEAL:$rc:1"
	expect_ok "$OYSTER" unseal "$img" --token "$tok"
	[ "$(unseal_count)" = 2 ] || fail "rc $rc once: $(unseal_count) Unseal submissions, expected 2"
	[ "$(answered_count)" = 1 ] || fail "rc $rc once: the proxy answered $(answered_count) times"
	start_proxy "$CC_UNSEAL:$rc:1"
	expect_ok token_open "$img"
	[ "$(answered_count)" = 1 ] || fail "rc $rc once, plugin: the proxy answered $(answered_count) times"
	stop_proxy
	no_leftovers "rc $rc once"
	say "response $rc once on Unseal: resubmitted, unlocked"
done

start_proxy "$CC_UNSEAL:0x922:0"
t0=$(date +%s)
run timeout --kill-after=5 60 "$OYSTER" unseal "$img" --token "$tok"
[ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || { show_last; fail "RETRY always: exit status $RC, expected a clean failure"; }
[ $(($(date +%s) - t0)) -le 10 ] || fail "RETRY always: oyster took more than 10 s"
[ "$(oyster_messages | wc -l)" -ge 1 ] || { show_last; fail "RETRY always: no message"; }
oyster_messages | grep -q "The TPM stayed busy during .*; try again in a moment, or use the passphrase\." ||
	{ show_last; fail "RETRY always: the message does not say the TPM stayed busy"; }
n=$(unseal_count)
[ "$n" -ge 2 ] && [ "$n" -le 10 ] || fail "RETRY always: $n Unseal submissions; expected a few, bounded"
say "RETRY on every Unseal: $n submissions, then: $(oyster_messages | head -n 1)"
run with_plugin timeout --kill-after=5 60 cryptsetup open --test-passphrase --token-only "$img"
[ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || { show_last; fail "RETRY always, plugin: exit status $RC"; }
grep -q "stayed busy" "$ERR" || { show_last; fail "RETRY always: cryptsetup does not show why"; }
expect_ok pass_open "$img" "$pass"
stop_proxy
no_leftovers "RETRY always"

start_proxy "any:0x101:0"
run timeout --kill-after=5 60 "$OYSTER" unseal "$img" --token "$tok"
[ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || { show_last; fail "failure mode: exit status $RC"; }
oyster_messages | grep -q "The TPM is in failure mode (TPM_RC_FAILURE during .*): it runs no command until the machine is powered off and on again; use the passphrase\." ||
	{ show_last; fail "failure mode: the message does not say so"; }
say "failure mode: $(oyster_messages | head -n 1)"
run with_plugin timeout --kill-after=5 60 cryptsetup open --test-passphrase --token-only "$img"
[ "$RC" -ne 0 ] && [ "$RC" -lt 124 ] || { show_last; fail "failure mode, plugin: exit status $RC"; }
grep -q "failure mode" "$ERR" || { show_last; fail "failure mode: cryptsetup does not show why"; }
run timeout --kill-after=5 60 "$OYSTER" status "$img"
assert_no_crash
expect_ok pass_open "$img" "$pass"
stop_proxy
no_leftovers "failure mode"

expect_ok token_open "$img"
say "PASS"
