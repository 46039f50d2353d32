# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Helpers for the tpm suite, sourced by every test after with-swtpm.sh has
# started the TPM and exported OYSTER, PLUGIN, TOKENDIR, WORKDIR, SWTPM_PORT,
# SWTPM_PID, OYSTER_TCTI and TPM2TOOLS_TCTI.
#
# Exit codes: 0 pass, 1 fail, 77 skip, 99 setup failure.

set -eu

: "${OYSTER:?run through with-swtpm.sh}" "${PLUGIN:?}" "${TOKENDIR:?}" "${WORKDIR:?}" "${SWTPM_PORT:?}"

TEST_NAME=$(basename -- "$0" .sh)
PLUGIN_NAME=libcryptsetup-token-oyster-tpm2.so

fail() {
	echo "FAIL [$TEST_NAME]: $*" >&2
	exit 1
}

skip() {
	echo "" >&2
	echo "*** SKIP [$TEST_NAME]: $* ***" >&2
	echo "" >&2
	exit 77
}

setup_error() {
	echo "SETUP ERROR [$TEST_NAME]: $*" >&2
	exit 99
}

say() {
	echo "# $*" >&2
}

# Cleanup actions, run in reverse order on every exit of the test.
_at_exit=()
at_exit() {
	_at_exit+=("$*")
}
_run_at_exit() {
	local rc=$? i
	for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
		eval "${_at_exit[$i]}" >/dev/null 2>&1 || true
	done
	exit "$rc"
}
trap _run_at_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --- running commands --------------------------------------------------------

# run CMD...: runs CMD, stdout to $OUT, stderr to $ERR, exit status in $RC,
# never trips set -e. The files survive until the next run.
OUT=$WORKDIR/last.out
ERR=$WORKDIR/last.err
RC=0
run() {
	RC=0
	"$@" >"$OUT" 2>"$ERR" || RC=$?
	return 0
}

show_last() {
	echo "--- stdout of the last command ---" >&2
	head -c 4000 "$OUT" >&2 || true
	echo "--- stderr of the last command ---" >&2
	head -c 4000 "$ERR" >&2 || true
	echo "---" >&2
}

# expect_status N CMD...: CMD must exit with status N (output in $OUT/$ERR).
expect_status() {
	local want=$1
	shift
	run "$@"
	if [ "$RC" -ne "$want" ]; then
		show_last
		fail "expected exit status $want, got $RC: $*"
	fi
}

# expect_fail CMD...: CMD must fail cleanly: non-zero, and not killed by a
# signal (a crash is not a clean failure).
expect_fail() {
	run "$@"
	if [ "$RC" -eq 0 ]; then
		show_last
		fail "expected failure, but it succeeded: $*"
	fi
	if [ "$RC" -ge 126 ]; then
		show_last
		fail "expected a clean failure, got exit status $RC (crash or signal?): $*"
	fi
}

# expect_ok CMD...: CMD must succeed.
expect_ok() {
	expect_status 0 "$@"
}

# assert_no_crash: the last command was not killed by a signal.
assert_no_crash() {
	if [ "$RC" -ge 126 ]; then
		show_last
		fail "exit status $RC (crash or signal?)"
	fi
}

# grep_out / grep_err PATTERN: extended regexp must match the last output.
grep_out() {
	grep -qE -- "$1" "$OUT" || { show_last; fail "stdout does not match /$1/"; }
}
grep_err() {
	grep -qE -- "$1" "$ERR" || { show_last; fail "stderr does not match /$1/"; }
}

# oyster's own messages: stderr without the tss2 library's log lines.
oyster_messages() {
	grep -vE '^(WARNING|ERROR|INFO|DEBUG|TRACE):[a-z_]+:' "$ERR" || true
}

# elapsed CMD...: like run, and $ELAPSED is the wall time in whole seconds
# (rounded up).
elapsed() {
	local t0 t1
	t0=$(date +%s%N)
	run "$@"
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0 + 999999999) / 1000000000))
}

# --- passphrases and images ----------------------------------------------------

# keyfile PASS: a file holding exactly the bytes of PASS; prints its path.
keyfile() {
	local f
	f=$(mktemp "$WORKDIR/key.XXXXXX")
	printf '%s' "$1" >"$f"
	echo "$f"
}

# make_luks IMG PASS [luksFormat options...]: a fresh 32 MiB LUKS2 image.
make_luks() {
	local img=$1 pass=$2 kf
	shift 2
	kf=$(keyfile "$pass")
	rm -f -- "$img"
	truncate -s 32M "$img" || setup_error "truncate $img"
	cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--batch-mode --key-file "$kf" "$@" "$img" >"$WORKDIR/luksformat.log" 2>&1 ||
		{ cat "$WORKDIR/luksformat.log" >&2; setup_error "luksFormat $img failed"; }
}

# The directory bind-mounted over $TOKENDIR in the private mount namespace:
# only our plugin, from the build tree.
_plugin_dir() {
	local d=$WORKDIR/.tokendir-plugin
	if [ ! -e "$d/$PLUGIN_NAME" ]; then
		mkdir -p "$d"
		# Copied, then renamed into place: parallel callers (tpm/lock) each
		# see the whole file, and none truncates one another has mapped
		# (seen: SIGBUS in cryptsetup).
		cp -- "$PLUGIN" "$d/.$PLUGIN_NAME.$BASHPID"
		mv -f -- "$d/.$PLUGIN_NAME.$BASHPID" "$d/$PLUGIN_NAME"
	fi
	echo "$d"
}

_empty_dir() {
	local d=$WORKDIR/.tokendir-empty
	mkdir -p "$d"
	echo "$d"
}

# _in_tokendir DIR CMD...: CMD in a private mount namespace where $TOKENDIR
# shows DIR. The host's token directory is never touched.
_in_tokendir() {
	local dir=$1
	shift
	[ -d "$TOKENDIR" ] || setup_error "token directory $TOKENDIR does not exist"
	unshare -m --propagation private -- /bin/sh -c '
		dir=$1 tokendir=$2
		shift 2
		mount --bind "$dir" "$tokendir" || exit 99
		exec "$@"' sh "$dir" "$TOKENDIR" "$@"
}

# with_plugin CMD...: CMD sees the oyster-tpm2 plugin from the build tree.
with_plugin() {
	_in_tokendir "$(_plugin_dir)" "$@"
}

# without_plugin CMD...: CMD sees no token plugin at all (no validation).
without_plugin() {
	_in_tokendir "$(_empty_dir)" "$@"
}

# token_open IMG [cryptsetup options...]: unlock through the token only.
token_open() {
	local img=$1
	shift
	with_plugin cryptsetup open --test-passphrase --token-only "$@" "$img"
}

# pass_open IMG PASS: unlock with the passphrase only (no token plugin loaded).
pass_open() {
	local kf
	kf=$(keyfile "$2")
	cryptsetup open --test-passphrase --disable-external-tokens --key-file "$kf" "$1"
}

# --- the LUKS2 header as JSON --------------------------------------------------

luks_json() {
	cryptsetup luksDump --dump-json-metadata "$1"
}

# Keyslot ids, ascending, space separated.
keyslot_ids() {
	luks_json "$1" | jq -r '[.keyslots | keys[] | tonumber] | sort | map(tostring) | join(" ")'
}

keyslot_count() {
	luks_json "$1" | jq -r '.keyslots | length'
}

# Ids of the oyster-tpm2 tokens.
oyster_token_ids() {
	luks_json "$1" | jq -r '[.tokens | to_entries[] | select(.value.type == "oyster-tpm2") | .key | tonumber] | sort | map(tostring) | join(" ")'
}

# open_tokens IMG: ids of the oyster tokens that open IMG now, space separated.
open_tokens() {
	local id ok=''
	for id in $(oyster_token_ids "$1"); do
		if token_open "$1" --token-id "$id" >/dev/null 2>&1; then
			ok="$ok $id"
		fi
	done
	echo "${ok# }"
}

# proxy_port READY: the port tpm-proxy.py wrote to READY once listening;
# fails when it did not within 5 s.
proxy_port() {
	local i
	for i in $(seq 1 100); do
		[ ! -s "$1" ] || break
		sleep 0.05
	done
	[ -s "$1" ] && cat -- "$1"
}

# Keyslots of token ID, space separated.
token_keyslots() {
	luks_json "$1" | jq -r --arg id "$2" '.tokens[$id].keyslots // [] | join(" ")'
}

# The Tokens: section of luksDump.
tokens_section() {
	awk '/^Tokens:/ { p = 1; next } /^[A-Z][A-Za-z ]*:/ { p = 0 } p' "$@"
}

# --- the TPM -----------------------------------------------------------------

# extend_pcr IDX [DATA]: extend every bank of PCR IDX with the hash of DATA.
extend_pcr() {
	printf '%s' "${2:-oyster test $RANDOM$RANDOM}" | tpm2_pcrevent "$1" >/dev/null ||
		setup_error "tpm2_pcrevent $1 failed"
}

# pcr_value BANK IDX: lowercase hex, no prefix.
pcr_value() {
	tpm2_pcrread "$1:$2" | sed -nE "s/^ *$2 *: *0x([0-9A-Fa-f]+).*/\\1/p" | tr 'A-F' 'a-f'
}

transient_handles() {
	tpm2_getcap handles-transient
}

loaded_sessions() {
	tpm2_getcap handles-loaded-session
}

saved_sessions() {
	tpm2_getcap handles-saved-session
}

# --- oyster ------------------------------------------------------------------

# enroll IMG PASS [oyster enroll options...]: enrolls with --key-file, checks
# the "Enrolled token N (keyslot K)" line against the header, and sets
# ENROLLED_TOKEN and ENROLLED_KEYSLOT.
enroll() {
	local img=$1 pass=$2 kf line
	shift 2
	kf=$(keyfile "$pass")
	expect_ok "$OYSTER" enroll "$img" --key-file "$kf" "$@"
	line=$(grep -oE 'Enrolled token [0-9]+ \(keyslot [0-9]+\)' "$OUT" | head -n 1 || true)
	[ -n "$line" ] || { show_last; fail "enroll did not print 'Enrolled token N (keyslot K)'"; }
	ENROLLED_TOKEN=$(echo "$line" | sed -E 's/Enrolled token ([0-9]+) .*/\1/')
	ENROLLED_KEYSLOT=$(echo "$line" | sed -E 's/.*keyslot ([0-9]+)\)/\1/')
	[ "$(luks_json "$img" | jq -r --arg id "$ENROLLED_TOKEN" '.tokens[$id].type')" = oyster-tpm2 ] ||
		fail "enroll reported token $ENROLLED_TOKEN, but the header has no oyster-tpm2 token there"
	[ "$(token_keyslots "$img" "$ENROLLED_TOKEN")" = "$ENROLLED_KEYSLOT" ] ||
		fail "token $ENROLLED_TOKEN is not assigned to exactly keyslot $ENROLLED_KEYSLOT: [$(token_keyslots "$img" "$ENROLLED_TOKEN")]"
}

# unseal_to FILE IMG [options]: the TPM passphrase of IMG into FILE (exact bytes).
unseal_to() {
	local file=$1
	shift
	expect_ok "$OYSTER" unseal "$@"
	cp -- "$OUT" "$file"
}

# check_passphrase FILE: 32 bytes in base64 (44 characters), at most a
# trailing newline after it.
check_passphrase() {
	local s
	s=$(cat -- "$1")
	[[ "$s" =~ ^[A-Za-z0-9+/]{43}=$ ]] || fail "not a 44-character base64 passphrase: '$s'"
	[ "$(printf '%s' "$s" | base64 -d | wc -c)" -eq 32 ] || fail "passphrase does not decode to 32 bytes"
}

# start_other_tpm NAME: a second, independent software TPM (another
# machine's); sets OTHER_TCTI. Stopped when the test exits.
. "$TESTDIR/swtpm.sh"
start_other_tpm() {
	local port=$SWTPM_PORT pid=$SWTPM_PID
	swtpm_start "$WORKDIR/$1-state" "$WORKDIR/$1-log" || setup_error "could not start a second swtpm"
	OTHER_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
	at_exit swtpm_stop "$SWTPM_PID"
	SWTPM_PORT=$port SWTPM_PID=$pid
}

# A port on 127.0.0.1 where nothing listens, and the one above it too (a
# late tpm-proxy.py listens on both). Even ports of 10000-19998: below
# swtpm_start's range and the kernel's ephemeral ports (32768-60999), so
# that no other test's TPM or connection comes up there meanwhile.
closed_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((10000 + (RANDOM % 5000) * 2))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	setup_error "no closed port found"
}

# reboot_tpm: a power cycle of the TPM (_TPM_Init, then Startup(CLEAR)):
# PCRs back to their reset values, the reset count one higher. Nothing is
# measured again: the caller extends what its "firmware" measures.
reboot_tpm() {
	command -v swtpm_ioctl >/dev/null || skip "swtpm_ioctl is not installed (apt-get install swtpm-tools)"
	swtpm_ioctl --tcp "127.0.0.1:$((SWTPM_PORT + 1))" -i >/dev/null || setup_error "swtpm_ioctl -i failed"
	tpm2_startup -c || setup_error "TPM2_Startup(CLEAR) failed"
}
