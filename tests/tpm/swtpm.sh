# SPDX-License-Identifier: LGPL-2.1-or-later
#
# swtpm_start STATEDIR LOGDIR: starts a software TPM on a free loopback port
# pair (TPM port P, control port P+1), retrying on another random port when
# swtpm cannot bind, and waits until it answers. Sets SWTPM_PORT and
# SWTPM_PID; returns 1 when no swtpm could be started. The caller stops it
# (kill -CONT then -TERM, then wait).
# Sourced by with-swtpm.sh and lib.sh.

_swtpm_port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _swtpm_listens PID PORT: PID holds the socket that listens on
# 127.0.0.1:PORT. A swtpm that lost the race for its port is still alive for
# a moment, while the TPM that answers there is another test's.
_swtpm_listens() {
	local inode
	inode=$(awk -v a="0100007F:$(printf '%04X' "$2")" '$2 == a && $4 == "0A" { print $10; exit }' /proc/net/tcp)
	[ -n "$inode" ] && find "/proc/$1/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q .
}

swtpm_start() {
	local state=$1 logdir=$2 port pid
	mkdir -p "$state" "$logdir"
	for _ in $(seq 1 20); do
		port=$((20000 + (RANDOM % 20000) * 2))
		if _swtpm_port_in_use "$port" || _swtpm_port_in_use $((port + 1)); then
			continue
		fi
		swtpm socket --tpm2 --tpmstate dir="$state" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear \
			--log file="$logdir/swtpm.log" </dev/null >>"$logdir/swtpm.out" 2>&1 &
		pid=$!
		for _ in $(seq 1 50); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break # could not bind: try another port
			fi
			if tpm2_getcap -T "swtpm:host=127.0.0.1,port=$port" properties-fixed >/dev/null 2>&1 &&
				_swtpm_listens "$pid" "$port"; then
				SWTPM_PORT=$port
				SWTPM_PID=$pid
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	cat "$logdir/swtpm.out" >&2 2>/dev/null || true
	return 1
}

swtpm_stop() {
	[ -n "${1:-}" ] || return 0
	kill -CONT "$1" 2>/dev/null || true # a test may have frozen it
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
