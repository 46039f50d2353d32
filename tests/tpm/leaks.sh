#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: a machine unlocks many times, sometimes in a changed state. swtpm has
# no resource manager, like /dev/tpm0 in an initramfs: every object or session
# left loaded stays until the TPM is full. After 52 unlocks (plugin and
# `oyster unseal`, half of them refused because a bound PCR changed), no
# transient object and no session (loaded or saved) is left, and the persistent handles are
# the same as after enrollment.
set -eu
. "$TESTDIR/lib.sh"

pass='leaks passphrase'
extend_pcr 0 firmware
extend_pcr 7 secure-boot
extend_pcr 16 debug

good=$WORKDIR/good.img # bound to 0+7: keeps unlocking
bad=$WORKDIR/bad.img   # bound to 7+16: refused once PCR 16 changes
make_luks "$good" "$pass"
make_luks "$bad" "$pass"
enroll "$good" "$pass" --pcrs 0+7
enroll "$bad" "$pass" --pcrs 7+16

assert_no_leaks() {
	local t l s
	t=$(transient_handles)
	l=$(loaded_sessions)
	s=$(saved_sessions)
	[ -z "$t" ] || fail "$1: transient handles left in the TPM: $t"
	[ -z "$l" ] || fail "$1: loaded sessions left in the TPM: $l"
	# A saved (context-saved, never flushed) session holds a TPM slot too.
	[ -z "$s" ] || fail "$1: saved sessions left in the TPM: $s"
}

assert_no_leaks "after enrollment"
persistent_before=$(tpm2_getcap handles-persistent)

# Both unlock before the change.
expect_ok token_open "$good"
expect_ok token_open "$bad"
extend_pcr 16 debug-changed
expect_fail token_open "$bad"

ok=0 refused=0
for i in $(seq 1 13); do
	expect_ok token_open "$good"
	ok=$((ok + 1))
	expect_fail token_open "$bad"
	refused=$((refused + 1))
	expect_ok "$OYSTER" unseal "$good"
	ok=$((ok + 1))
	expect_status 3 "$OYSTER" unseal "$bad"
	refused=$((refused + 1))
	if [ "$i" -eq 1 ]; then
		assert_no_leaks "after the first round"
	fi
done
say "$ok unlocks succeeded, $refused were refused"
[ $((ok + refused)) -ge 50 ] || fail "only $((ok + refused)) unlocks"

assert_no_leaks "after $((ok + refused)) unlocks"
[ "$(tpm2_getcap handles-persistent)" = "$persistent_before" ] ||
	fail "persistent handles changed: [$persistent_before] -> [$(tpm2_getcap handles-persistent)]"

# Also status, which reads PCRs and may load objects.
expect_ok "$OYSTER" status "$good"
run "$OYSTER" status "$bad"
assert_no_crash
assert_no_leaks "after status"

# The TPM is still healthy: the good volume keeps unlocking.
expect_ok token_open "$good"
assert_no_leaks "at the end"

# Control: the checks above do see a leak when there is one.
tpm2_createprimary -C o -c "$WORKDIR/primary.ctx" >/dev/null || setup_error "tpm2_createprimary failed"
[ -n "$(transient_handles)" ] || setup_error "control: a loaded primary key is not listed by handles-transient"
tpm2_flushcontext -t
# TPM2_StartAuthSession (HMAC, unbound, unsalted) sent raw: stays loaded.
# tpm2_send exits 0 whatever the TPM answers, so its answer is shown and
# the command retried when the TPM did not start the session (seen once
# under a loaded machine).
for attempt in 1 2 3; do
	resp=$(python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' \
		80010000002b000001764000000740000007001000112233445566778899aabbccddeeff0000000010000b |
		tpm2_send | od -An -tx1 | tr -d ' \n') || setup_error "raw TPM2_StartAuthSession failed"
	[ -z "$(loaded_sessions)" ] || break
	echo "control attempt $attempt: TPM answered $resp" >&2
	sleep 1
done
[ -n "$(loaded_sessions)" ] || setup_error "control: a started session is not listed by handles-loaded-session"
tpm2_flushcontext -l
# tpm2-tools context-saves its sessions: a saved one.
tpm2_startauthsession -S "$WORKDIR/session.ctx" || setup_error "tpm2_startauthsession failed"
[ -n "$(saved_sessions)" ] || setup_error "control: a saved session is not listed by handles-saved-session"
tpm2_flushcontext -s
assert_no_leaks "after the control"
say "PASS"
