#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# with-swtpm.sh OYSTER PLUGIN TOKENDIR TEST-SCRIPT
#
# Runs one tpm-suite test against its own software TPM: a private temporary
# directory, a swtpm on a free loopback port, and everything gone again on
# every way out (success, failure, timeout, Ctrl-C). Exit status is the
# test's: 0 pass, 1 fail, 77 skip, 99 setup failure.
set -eu

skip() {
	echo "" >&2
	echo "*** SKIP: $* ***" >&2
	echo "" >&2
	exit 77
}

setup_error() {
	echo "SETUP ERROR: $*" >&2
	exit 99
}

[ $# -eq 4 ] || setup_error "usage: $0 OYSTER PLUGIN TOKENDIR TEST-SCRIPT"
OYSTER=$(realpath -- "$1")
PLUGIN=$(realpath -- "$2")
TOKENDIR=$3
test_script=$(realpath -- "$4")
TESTDIR=$(dirname -- "$(realpath -- "$0")")
. "$TESTDIR/swtpm.sh"

for tool in swtpm tpm2_getcap tpm2_pcrextend tpm2_pcrevent tpm2_pcrread cryptsetup unshare mount jq python3 script; do
	command -v "$tool" >/dev/null 2>&1 ||
		skip "$(basename -- "$test_script"): '$tool' is not installed (apt-get install swtpm tpm2-tools cryptsetup-bin util-linux bsdutils jq python3)"
done
[ "$(id -u)" -eq 0 ] ||
	skip "$(basename -- "$test_script"): needs root (unshare -m and mount --bind load the plugin from the build tree)"
[ -x "$OYSTER" ] || setup_error "oyster tool not found at $OYSTER"
[ -f "$PLUGIN" ] || setup_error "token plugin not found at $PLUGIN"
[ -n "$TOKENDIR" ] || setup_error "empty token directory"

TESTTMP=$(mktemp -d "${TMPDIR:-/tmp}/oyster-tpm.XXXXXX") || setup_error "mktemp failed"
swtpm_pid=
test_pid=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$test_pid" ] && kill -0 "$test_pid" 2>/dev/null; then
		kill -TERM "$test_pid" 2>/dev/null || true
		wait "$test_pid" 2>/dev/null || true
	fi
	swtpm_stop "$swtpm_pid"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -s "$TESTTMP/swtpm.log" ]; then
		echo "--- last lines of the swtpm log ---" >&2
		tail -n 20 "$TESTTMP/swtpm.log" >&2 || true
	fi
	rm -rf -- "$TESTTMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

swtpm_start "$TESTTMP/tpmstate" "$TESTTMP" || setup_error "could not start swtpm on a free port"
swtpm_pid=$SWTPM_PID

export OYSTER PLUGIN TOKENDIR TESTDIR SWTPM_PORT
export SWTPM_PID
export OYSTER_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
export TPM2TOOLS_TCTI=$OYSTER_TCTI
export WORKDIR=$TESTTMP/work
# oyster's credentials (NV index authorization) stay in the test's directory, never /var/lib/oyster.
export OYSTER_STATE_DIR=$TESTTMP/state
mkdir -p "$WORKDIR"
unset PASSWORD TCTI_PCAP_FILE TSS2_LOG
export LC_ALL=C

echo "# $(basename -- "$test_script"): swtpm pid $swtpm_pid on 127.0.0.1:$SWTPM_PORT, work dir $WORKDIR" >&2

# In the background, so that a TERM from meson's timeout reaches the trap at once.
(cd "$WORKDIR" && exec bash "$test_script") &
test_pid=$!
rc=0
wait "$test_pid" || rc=$?
test_pid=
exit "$rc"
