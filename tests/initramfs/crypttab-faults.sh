#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the disk fails while `oyster boot-setup --configure-boot` and
# `oyster enroll --configure-boot` rewrite /etc/crypttab (in the sandbox's
# /etc). fault-shim.so, preloaded into oyster with FAULT_DIR=/etc/, fails the
# Nth write, fsync or rename in /etc, with EIO or ENOSPC, for every N until
# a run gets through without reaching its fault. Each time:
#   - the command fails cleanly with one line that says crypttab was left as
#     it was and to run `oyster boot-setup DEVICE --configure-boot`;
#   - crypttab holds exactly the old text (a failed rename never leaves a
#     truncated file), with its mode, and no temporary file is left in /etc;
#   - the passphrase and the token still open the volume;
#   - running boot-setup again without the fault finishes the job.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

[ -n "${FAULT_SHIM:-}" ] || setup_error "FAULT_SHIM (the path of fault-shim.so) is not set"
[ -f "$FAULT_SHIM" ] || setup_error "fault shim not found at $FAULT_SHIM"
preload=$FAULT_SHIM
libasan=$(ldd "$OYSTER" | awk '$1 ~ /^libasan/ { print $3 }')
[ -z "$libasan" ] || preload="$libasan $FAULT_SHIM"

sandbox_init

pass='crypttab faults passphrase'
img=$WORKDIR/root.img
make_luks "$img" "$pass"
enroll "$img" "$pass" --pcrs 7
kf=$(keyfile "$pass")

stubs=$WORKDIR/bin
mkdir -p "$stubs"
printf '#!/bin/sh\necho "update-initramfs $*" >>"%s/regenerated"\n' "$WORKDIR" >"$stubs/update-initramfs"
chmod 755 "$stubs/update-initramfs"

crypttab=$(sb_path /etc/crypttab)
head='# <target name>\t<source device>\t<key file>\t<options>\nother\tUUID=0000\tnone\tluks\n'
# shellcheck disable=SC2059 # the format is ours
original=$(printf "${head}oyroot\t%s\tnone\tluks,discard" "$img")
# shellcheck disable=SC2059
expected=$(printf "${head}oyroot\t%s\tnone\tluks,discard,keyscript=oyster" "$img")
fault_log=$WORKDIR/faults.log

# faulted N ERRNO CMD...: CMD (an oyster command line) in the sandbox, with the
# Nth write/fsync/rename in /etc failing with ERRNO; the fault log says
# whether it was reached.
faulted() {
	local at=$1 err=$2
	shift 2
	: >"$fault_log"
	run sandbox env PATH="$stubs:$PATH" LD_PRELOAD="$preload" FAULT_DIR=/etc/ FAULT_AT="$at" \
		FAULT_FSYNC=1 FAULT_ERRNO="$err" FAULT_LOG="$fault_log" "$@"
}

reset_crypttab() {
	rm -f -- "$SB_ETC"/crypttab*
	printf '%s\n' "$original" >"$crypttab"
	chmod 640 "$crypttab"
}

check_after_fault() {
	local what=$1 left f
	[ "$RC" -eq 1 ] || { show_last; fail "$what: exit status $RC, not 1"; }
	grep_err "^Cannot rewrite /etc/crypttab: .*; it was left as it was\. Fix that, then run: oyster boot-setup $img --configure-boot$"
	[ "$(cat "$crypttab")" = "$original" ] ||
		{ diff <(echo "$original") "$crypttab" >&2 || true; fail "$what: crypttab changed"; }
	[ "$(stat -c %a "$crypttab")" = 640 ] || fail "$what: crypttab lost its mode"
	# Nothing but crypttab and, once its rename went through, the backup of the old text.
	left=''
	for f in "$SB_ETC"/crypttab*; do
		case ${f##*/} in
		crypttab | crypttab.oyster-backup) ;;
		*) left="$left ${f##*/}" ;;
		esac
	done
	[ -z "$left" ] || fail "$what: files left in /etc:$left"
	if [ -e "$SB_ETC/crypttab.oyster-backup" ]; then
		[ "$(cat "$SB_ETC/crypttab.oyster-backup")" = "$original" ] ||
			fail "$what: the backup is not the old crypttab"
	fi
	expect_ok pass_open "$img" "$pass"
	expect_ok token_open "$img"
}

for cmd in boot-setup enroll; do
	for err in 5 28; do # EIO, ENOSPC
		at=1 reached=0
		while :; do
			reset_crypttab
			if [ "$cmd" = boot-setup ]; then
				faulted "$at" "$err" "$OYSTER" boot-setup "$img" --configure-boot
			else
				faulted "$at" "$err" "$OYSTER" enroll "$img" --key-file "$kf" --pcrs 7 --replace --configure-boot
			fi
			assert_no_crash
			if [ ! -s "$fault_log" ]; then
				# No fault reached: the run went through and crypttab is the new one.
				[ "$RC" -eq 0 ] || { show_last; fail "$cmd: failed without a fault (exit $RC)"; }
				[ "$(cat "$crypttab")" = "$expected" ] || fail "$cmd: crypttab after a clean run is wrong"
				break
			fi
			reached=$((reached + 1))
			check_after_fault "$cmd, fault $at ($(cut -d' ' -f2 "$fault_log"), errno $err)"
			# Without the fault, the command the message names finishes the job.
			run sandbox env PATH="$stubs:$PATH" "$OYSTER" boot-setup "$img" --configure-boot
			[ "$RC" -eq 0 ] || { show_last; fail "$cmd, fault $at: boot-setup again failed"; }
			[ "$(cat "$crypttab")" = "$expected" ] || fail "$cmd, fault $at: boot-setup again left crypttab wrong"
			at=$((at + 1))
			[ "$at" -le 20 ] || fail "$cmd: still reaching faults after 20 steps"
		done
		# The backup's write, fsync and rename, then crypttab's: six steps at least.
		[ "$reached" -ge 6 ] || fail "$cmd: only $reached faulted steps (write, fsync and rename of the backup and of crypttab expected)"
		say "$cmd, errno $err: $reached faulted steps; crypttab old and whole each time, both credentials open"
	done
done
# enroll --replace --configure-boot left one token per run: it opens the volume.
for id in $(oyster_token_ids "$img"); do
	expect_ok token_open "$img" --token-id "$id"
done
say "PASS"
