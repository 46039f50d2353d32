#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# demo/demo.sh [BUILDDIR]
#
# oyster end to end, against a software TPM and a LUKS2 disk image: enroll,
# unlock through the TPM, change the measured boot state and see the TPM
# refuse (and the passphrase still work), then re-enroll for the new state.
#
# BUILDDIR is a meson build directory of oyster; without it, the demo builds
# into ./build of the source tree. Needs root: the token plugin is loaded
# from the build tree through a private mount namespace (unshare -m, mount
# --bind over libcryptsetup's token directory, seen by no other process);
# nothing is installed on the host. Exits non-zero if any step of the story
# does not happen as told.
set -eu

SRC=$(cd -- "$(dirname -- "$0")/.." && pwd)
PASSPHRASE='correct horse battery staple'
PLUGIN_NAME=libcryptsetup-token-oyster-tpm2.so

bold=
plain=
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	plain=$(printf '\033[0m')
fi

step() {
	printf '\n%s== %s%s\n' "$bold" "$*" "$plain"
}

say() {
	printf '   %s\n' "$*"
}

# quote ARG...: the arguments as a reader would type them.
quote() {
	local a out=
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then
			out+="$a "
		elif [[ $a =~ ^([A-Z_]+)=(.*)$ ]]; then
			out+="${BASH_REMATCH[1]}='${BASH_REMATCH[2]//\'/\'\\\'\'}' "
		else
			out+="'${a//\'/\'\\\'\'}' "
		fi
	done
	printf '%s' "${out% }"
}

# show CMD...: prints the command, then runs it with its output indented;
# the output is also kept in $TMP/last for checks.
show() {
	local shown=("$@")
	[ "$1" != env ] || shown=("${@:2}") # env only makes NAME=value work here
	printf '   %s$ %s%s\n' "$bold" "$(quote "${shown[@]}")" "$plain"
	"$@" >"$TMP/last" 2>&1 && rc=0 || rc=$?
	expand "$TMP/last" | sed 's/^/     /'
	return "$rc"
}

die() {
	printf '\nDEMO FAILED: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo $0): the plugin is loaded through a private mount namespace"
for tool in swtpm tpm2_pcrextend tpm2_pcrread tpm2_getcap cryptsetup unshare mount sha256sum; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "'$tool' is missing: sudo ./demo/run installs everything (or: apt-get install swtpm swtpm-tools tpm2-tools cryptsetup-bin util-linux coreutils)"
done

# --- the build ---------------------------------------------------------------

BUILD=${1:-$SRC/build}
if [ $# -eq 0 ]; then
	step "Building oyster in $BUILD"
	if [ ! -f "$BUILD/build.ninja" ]; then
		meson setup "$BUILD" "$SRC" >/dev/null || die "meson setup failed"
	fi
	ninja -C "$BUILD" >/dev/null || die "the build failed (run: ninja -C $BUILD)"
fi
BUILD=$(cd -- "$BUILD" && pwd)
OYSTER=$BUILD/tool/oyster
PLUGIN=$BUILD/token-plugin/$PLUGIN_NAME
[ -x "$OYSTER" ] || die "no oyster tool at $OYSTER: is $BUILD an oyster build directory (ninja -C $BUILD)?"
[ -f "$PLUGIN" ] || die "no token plugin at $PLUGIN"

# Where libcryptsetup looks for token plugins (fixed when it was built).
TOKENDIR=$(cryptsetup --help | sed -n 's/^LUKS2 external token plugin path: \(.*\)\.$/\1/p')
[ -n "$TOKENDIR" ] || die "this cryptsetup has no external token plugin support"

# --- a private, temporary world ----------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/oyster-demo.XXXXXX")
swtpm_pid=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$swtpm_pid" ]; then
		kill -TERM "$swtpm_pid" 2>/dev/null || true
		wait "$swtpm_pid" 2>/dev/null || true
	fi
	rm -rf -- "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$TMP/tokendir"
cp -- "$PLUGIN" "$TMP/tokendir/$PLUGIN_NAME"
if [ ! -d "$TOKENDIR" ]; then
	# Only the mount point: it stays empty on the host.
	say "(creating libcryptsetup's empty token directory $TOKENDIR as a mount point)"
	mkdir -p -- "$TOKENDIR"
fi

# with_plugin CMD...: CMD in a private mount namespace where libcryptsetup's
# token directory holds only the plugin from the build tree.
with_plugin() {
	unshare -m --propagation private -- /bin/sh -c '
		mount --bind "$1" "$2" || exit 99
		shift 2
		exec "$@"' sh "$TMP/tokendir" "$TOKENDIR" "$@"
}

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_swtpm() {
	local port
	mkdir -p "$TMP/tpmstate"
	for _ in $(seq 1 20); do
		port=$((20000 + (RANDOM % 20000) * 2))
		if port_in_use "$port" || port_in_use $((port + 1)); then
			continue
		fi
		swtpm socket --tpm2 --tpmstate dir="$TMP/tpmstate" \
			--server type=tcp,port="$port",bindaddr=127.0.0.1 \
			--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
			--flags not-need-init,startup-clear </dev/null >"$TMP/swtpm.log" 2>&1 &
		swtpm_pid=$!
		for _ in $(seq 1 50); do
			kill -0 "$swtpm_pid" 2>/dev/null || break
			if tpm2_getcap -T "swtpm:host=127.0.0.1,port=$port" properties-fixed >/dev/null 2>&1; then
				SWTPM_PORT=$port
				return 0
			fi
			sleep 0.1
		done
		kill -TERM "$swtpm_pid" 2>/dev/null || true
		wait "$swtpm_pid" 2>/dev/null || true
		swtpm_pid=
	done
	return 1
}

# extend_pcr7 TEXT: what firmware does when it measures an event into PCR 7
# (the sha256 bank, the one oyster binds by default).
extend_pcr7() {
	show tpm2_pcrextend "7:sha256=$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
}

pcr7() {
	tpm2_pcrread sha256:7 | sed -n 's/^ *7 *: *0x//p' | tr 'A-F' 'a-f'
}

# --- the story ---------------------------------------------------------------

# Commands read as a user would type them: oyster on PATH, files in the cwd.
export PATH="$BUILD/tool:$PATH"
cd "$TMP"

printf '%soyster demo%s: a LUKS2 volume that the TPM opens only while the boot is unchanged\n' "$bold" "$plain"
say "$(oyster --version) from $BUILD; scratch directory $TMP"

step "1. A software TPM (swtpm), private to this demo"
start_swtpm || die "could not start swtpm (log: $(cat "$TMP/swtpm.log" 2>/dev/null))"
export OYSTER_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
# oyster's credentials for this throw-away TPM: not in the host's /var/lib/oyster.
export OYSTER_STATE_DIR=$TMP/state
export TPM2TOOLS_TCTI=$OYSTER_TCTI
say "swtpm listens on 127.0.0.1:$SWTPM_PORT; oyster and the token plugin find it through"
say "OYSTER_TCTI=$OYSTER_TCTI (on a real machine: the default, /dev/tpmrm0)"

step "2. Firmware measures the Secure Boot state into PCR 7"
say "A fresh swtpm has PCR 7 all zeros; real firmware extends it with the Secure Boot"
say "variables (SecureBoot, PK, KEK, db, dbx). We do the same with tpm2_pcrextend:"
extend_pcr7 "EV_EFI_VARIABLE_DRIVER_CONFIG SecureBoot=1 PK KEK db dbx (demo)" || die "tpm2_pcrextend failed"
say "PCR 7 (sha256) is now $(pcr7)"

step "3. A LUKS2 disk image with an ordinary passphrase"
IMG=disk.img
truncate -s 64M "$IMG"
printf '%s' "$PASSPHRASE" >passphrase
# PBKDF2 with few iterations only to keep the demo fast; a real volume keeps
# cryptsetup's default (argon2id) for the keyslot a person types.
show cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
	--key-file passphrase "$IMG" || die "luksFormat failed"
say "passphrase: '$PASSPHRASE' (keyslot 0)"

step "4. oyster enroll: seal a new secret to PCR 7 and add it as a keyslot + token"
say "The existing passphrase comes from \$PASSWORD here (or --key-file, or a prompt)."
show env PASSWORD="$PASSPHRASE" oyster enroll "$IMG" --pcrs 7 || die "oyster enroll failed"

step "5. oyster status: what is bound, and would it unlock now?"
show oyster status "$IMG" || die "oyster status failed"
grep -q 'would unlock now: yes' "$TMP/last" || die "status does not say 'would unlock now: yes'"

step "6. cryptsetup luksDump shows the token through the plugin's dump"
printf '   %s$ with_plugin cryptsetup luksDump %s%s   (the Tokens section)\n' "$bold" "$IMG" "$plain"
with_plugin cryptsetup luksDump "$IMG" | sed -n '/^Tokens:/,/^Digests:/p' | sed '$d' | expand | sed 's/^/     /'

step "7. Unlock through the TPM only: cryptsetup open --token-only"
say "The plugin is loaded from the build tree in a private mount namespace."
show with_plugin cryptsetup open --test-passphrase --token-only -v "$IMG" ||
	die "the token did not unlock the volume"
say "=> unlocked by the TPM, no passphrase typed."

step "8. The boot chain changes: PCR 7 is extended again"
say "(as when Secure Boot is turned off, or a new key lands in db)"
extend_pcr7 "EV_EFI_VARIABLE_AUTHORITY: an unexpected signer (demo)" || die "tpm2_pcrextend failed"
say "PCR 7 (sha256) is now $(pcr7)"

step "9. The TPM refuses to unseal: the token declines"
if show with_plugin cryptsetup open --test-passphrase --token-only -v "$IMG"; then
	die "the token still unlocked after PCR 7 changed"
fi
say "=> the plugin told cryptsetup which PCR changed; with --token-only it gives up."
say "oyster unseal (what a keyscript runs) refuses the same way, with exit status 3:"
printf '   %s$ oyster unseal %s | ...%s\n' "$bold" "$IMG" "$plain"
rc=0
oyster unseal "$IMG" >"$TMP/unsealed" 2>"$TMP/unseal.err" || rc=$?
sed 's/^/     /' "$TMP/unseal.err"
say "exit status $rc"
[ "$rc" -eq 3 ] || die "oyster unseal exited $rc, expected 3 (the TPM refused)"
[ ! -s "$TMP/unsealed" ] || die "oyster unseal printed something although it failed"

step "10. oyster status names the PCR that changed"
show oyster status "$IMG" || die "oyster status failed"
grep -q 'would unlock now: no' "$TMP/last" || die "status does not say 'would unlock now: no'"
grep -qE 'PCR 7|secure-boot-policy' "$TMP/last" || die "status does not name PCR 7"

step "11. Nothing is lost: the passphrase still opens the volume"
say "cryptsetup tries the token first; when the TPM refuses, the passphrase opens it:"
show with_plugin cryptsetup open --test-passphrase -v --key-file passphrase "$IMG" ||
	die "the passphrase no longer opens the volume"

step "12. The new state is approved: re-enroll with oyster reseal"
say "After checking the change was yours, seal to the new PCR 7. The TPM refuses the old"
say "token now, so the passphrase authorizes a fresh secret; the old keyslot goes once the new works:"
show oyster reseal "$IMG" --key-file passphrase ||
	die "oyster reseal failed"
show oyster status "$IMG" || die "oyster status failed"
n=$(grep -c 'would unlock now:' "$TMP/last" || true)
[ "$n" -eq 1 ] || die "expected exactly one oyster token after the reseal, status shows $n"
grep -q 'would unlock now: yes' "$TMP/last" || die "status does not say 'would unlock now: yes' after the reseal"

step "13. The TPM unlocks again"
show with_plugin cryptsetup open --test-passphrase --token-only -v "$IMG" ||
	die "the re-enrolled token did not unlock the volume"

printf '\n%sDemo complete.%s The TPM opened the volume while PCR 7 matched, refused when it\n' "$bold" "$plain"
printf 'changed (and said which PCR), the passphrase always worked, and re-enrolling\n'
printf 'approved the new state. swtpm is stopped and %s is removed on exit.\n' "$TMP"
