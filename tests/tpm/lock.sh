#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: no resource manager (swtpm, like /dev/tpm0): several oyster
# processes at once (two volumes unlocked in parallel at boot, a status
# during an unlock). They take turns through a lock instead of filling the
# TPM's object slots ("memory full") or leaking handles. A process that holds
# the lock for too long makes the others give up with a clear message.
set -eu
. "$TESTDIR/lib.sh"

pass='lock passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7

say "12 oyster unseal and 2 cryptsetup token unlocks at once"
pids=()
for i in $(seq 1 12); do
	"$OYSTER" unseal "$img" >"$WORKDIR/out.$i" 2>"$WORKDIR/err.$i" &
	pids+=($!)
done
token_open "$img" >"$WORKDIR/tok.1" 2>&1 &
pids+=($!)
token_open "$img" >"$WORKDIR/tok.2" 2>&1 &
pids+=($!)
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=$((failed + 1))
done
if [ "$failed" -ne 0 ]; then
	cat "$WORKDIR"/err.* "$WORKDIR"/tok.* >&2
	fail "$failed of ${#pids[@]} parallel unlocks failed"
fi
for i in $(seq 1 12); do
	check_passphrase "$WORKDIR/out.$i"
done
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left loaded: $(loaded_sessions)"

say "an enrollment and unlocks at once"
"$OYSTER" unseal "$img" >"$WORKDIR/a" 2>&1 &
a=$!
kf=$(keyfile "$pass")
"$OYSTER" enroll "$img" --key-file "$kf" --pcrs 7 >"$WORKDIR/b" 2>&1 &
b=$!
"$OYSTER" status "$img" >"$WORKDIR/c" 2>&1 &
c=$!
wait "$a" || { cat "$WORKDIR/a" >&2; fail "the unseal beside an enrollment failed"; }
wait "$b" || { cat "$WORKDIR/b" >&2; fail "the enrollment beside an unseal failed"; }
wait "$c" || { cat "$WORKDIR/c" >&2; fail "the status beside an enrollment failed"; }
[ -z "$(transient_handles)" ] || fail "transient handles left: $(transient_handles)"

say "a holder that does not let go: the others give up, saying why"
[ -d /run/oyster ] || setup_error "no /run/oyster after the runs above"
lock=/run/oyster/tpm-$(python3 -c '
import sys
h = 0xcbf29ce484222325
for b in sys.argv[1].encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("%016x" % h)' "$OYSTER_TCTI").lock
[ -e "$lock" ] || setup_error "the lock file $lock is not there"
exec 9<>"$lock"
flock 9 || setup_error "cannot take the lock $lock"
elapsed env OYSTER_TPM_TIMEOUT=1 "$OYSTER" unseal "$img"
[ "$RC" -eq 4 ] || { show_last; fail "unseal behind a held lock: exit $RC, expected 4"; }
[ "$ELAPSED" -lt 15 ] || fail "unseal behind a held lock waited $ELAPSED s"
oyster_messages | grep -q 'Another program' || { show_last; fail "no message about the lock"; }
exec 9>&-
elapsed "$OYSTER" unseal "$img"
[ "$RC" -eq 0 ] || { show_last; fail "unseal after the lock was let go failed"; }
[ "$ELAPSED" -lt 5 ] || fail "unseal after the lock was let go took $ELAPSED s"
say "PASS"
