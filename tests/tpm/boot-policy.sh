#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: the boot policy that the integrations' scripts now leave to the
# tool. `oyster prune DEVICE` narrows a two-state token booted into one of
# its states and says so in one line; with nothing left to prune it writes
# and says nothing; a token the TPM refuses is left alone silently; without
# a TPM each token is one line and exit 1. `--boot` reads the settings in
# one place: /etc/default/oyster (OYSTER_PRUNE=no, OYSTER_FENCE=no), the
# kernel command line, which wins (oyster.prune=0, oyster.fence=0,
# oyster.fence_pcr=, oyster.tcti=), a value that does not parse is one line
# and ignored. `--all` prunes the volumes the initramfs noted in /run/oyster,
# once per boot; `fence --boot` fences once per boot. Each boot runs in a
# private mount namespace with its own /run, /etc/default and /proc/cmdline.
set -eu
. "$TESTDIR/lib.sh"

pass='boot policy passphrase'
img=$WORKDIR/disk.img
make_luks "$img" "$pass"
states() { luks_json "$img" | jq -r '[.tokens[] | select(.type == "oyster-tpm2")][0].tpm2_states | length'; }
header_sum() { cryptsetup luksHeaderBackup "$img" --header-backup-file "$WORKDIR/hdr" >/dev/null && sha256sum <"$WORKDIR/hdr" && rm -f "$WORKDIR/hdr"; }
digest_of() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
after_extend() { python3 -c 'import hashlib,sys; print(hashlib.sha256(bytes.fromhex(sys.argv[1])+bytes.fromhex(sys.argv[2])).hexdigest())' "$1" "$2"; }
boot() { # boot FIRMWARE [NEXT]: a reboot measuring FIRMWARE (and NEXT) into PCR 0
	reboot_tpm
	extend_pcr 0 "$1"
	[ -z "${2:-}" ] || tpm2_pcrextend "0:sha256=$(digest_of "$2")"
	rm -rf "$WORKDIR/run"
	mkdir -p "$WORKDIR/run" "$WORKDIR/default"
	: >"$WORKDIR/cmdline"
	rm -f "$WORKDIR/default/oyster"
}
# booted CMD...: CMD with this boot's /run, /etc/default and /proc/cmdline.
booted() {
	run unshare -m --propagation private -- /bin/sh -c '
		mount --bind "$1/run" /run && mount --bind "$1/default" /etc/default &&
		mount --bind "$1/cmdline" /proc/cmdline || exit 99
		shift && exec "$@"' sh "$WORKDIR" env -u PASSWORD -u PIN "$@"
	[ "$RC" -ne 99 ] || { show_last; setup_error "cannot set up the namespace"; }
}
# fresh: a token enrolled in this boot that approves it and one more state.
fresh() {
	enroll "$img" "$pass" --pcrs 0 --replace --literal
	two_states
}
two_states() {
	next0=$(after_extend "$(pcr_value sha256 0)" "$(digest_of firmware-1.1)")
	expect_ok "$OYSTER" reseal "$img" --add-state "0:sha256=$next0"
	[ "$(states)" -eq 2 ] || setup_error "expected 2 states, found $(states)"
}
boot firmware-1
enroll "$img" "$pass" --pcrs 0 --literal
two_states

say "prune DEVICE: booted into the pre-approved state, narrowed to it, one line"
boot firmware-1 firmware-1.1
booted "$OYSTER" prune "$img"
[ "$RC" -eq 0 ] || { show_last; fail "prune failed"; }
[ "$(cat "$OUT")" = "oyster: narrowed token $ENROLLED_TOKEN of $img to the state of this boot." ] ||
	{ show_last; fail "unexpected output"; }
[ ! -s "$ERR" ] || { show_last; fail "prune complained"; }
[ "$(states)" -eq 1 ] || fail "prune left $(states) states"

say "nothing to prune: nothing written, nothing said"
before=$(header_sum)
booted "$OYSTER" prune "$img"
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "prune spoke with nothing to prune"; }
[ "$(header_sum)" = "$before" ] || fail "the header was written with nothing to prune"

say "a boot the TPM refuses (the passphrase opened the volume): left alone, silently"
boot firmware-2
booted "$OYSTER" prune "$img"
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "prune spoke after a refused boot"; }
[ "$(header_sum)" = "$before" ] || fail "the header changed after a refused boot"

say "no TPM: one line per token, exit 1"
booted env OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)" "$OYSTER" prune "$img"
[ "$RC" -eq 1 ] || { show_last; fail "expected exit status 1 without a TPM, got $RC"; }
[ "$(wc -l <"$ERR")" -eq 1 ] &&
	grep -q "^oyster: could not narrow token $ENROLLED_TOKEN of $img to the state of this boot; it keeps its older states: ." "$ERR" ||
	{ show_last; fail "expected one line about the missing TPM"; }

say "--boot: OYSTER_PRUNE=no in /etc/default/oyster turns it off; oyster.prune=1 on the kernel command line wins"
boot firmware-1
fresh
boot firmware-1 firmware-1.1
echo 'OYSTER_PRUNE="no" # off' >"$WORKDIR/default/oyster"
booted "$OYSTER" prune --boot "$img"
[ "$RC" -eq 0 ] && [ ! -s "$OUT" ] && [ ! -s "$ERR" ] || { show_last; fail "prune --boot spoke although off"; }
[ "$(states)" -eq 2 ] || fail "prune --boot pruned although OYSTER_PRUNE=no"
echo 'quiet oyster.prune=1' >"$WORKDIR/cmdline"
booted "$OYSTER" prune --boot "$img"
[ "$RC" -eq 0 ] && [ "$(states)" -eq 1 ] || { show_last; fail "oyster.prune=1 did not win over the file"; }

say "--boot: oyster.tcti= picks the TPM, over the environment"
boot firmware-1
fresh
boot firmware-1 firmware-1.1
echo "oyster.tcti=swtpm:host=127.0.0.1,port=$(closed_port)" >"$WORKDIR/cmdline"
booted "$OYSTER" prune --boot "$img"
[ "$RC" -eq 1 ] && grep -q '^oyster: could not narrow token' "$ERR" || { show_last; fail "oyster.tcti= was not used"; }
echo "oyster.tcti=$OYSTER_TCTI oyster.timeout=soon" >"$WORKDIR/cmdline"
booted env OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)" "$OYSTER" prune --boot "$img"
[ "$RC" -eq 0 ] && [ "$(states)" -eq 1 ] || { show_last; fail "oyster.tcti= did not win over OYSTER_TCTI"; }
[ "$(cat "$ERR")" = "oyster: ignoring oyster.timeout=soon (/proc/cmdline): not a valid value." ] ||
	{ show_last; fail "an unparsable oyster.timeout= was not one line"; }

say "--all: the volumes the initramfs noted as unlocked by the TPM, once per boot"
boot firmware-1
fresh
boot firmware-1 firmware-1.1
booted "$OYSTER" prune --boot --all
[ "$RC" -eq 0 ] && [ "$(states)" -eq 2 ] || { show_last; fail "--all pruned a volume nobody noted"; }
rm -f "$WORKDIR/run/oyster/pruned"
printf '%s\n' "$img" >"$WORKDIR/run/oyster/unsealed-devices"
booted "$OYSTER" prune --boot --all
[ "$RC" -eq 0 ] && [ "$(states)" -eq 1 ] || { show_last; fail "--all did not prune the noted volume"; }
[ -e "$WORKDIR/run/oyster/pruned" ] || fail "--all left no mark for this boot"
two_states
booted "$OYSTER" prune --boot --all
[ "$RC" -eq 0 ] && [ "$(states)" -eq 2 ] || { show_last; fail "--all pruned twice in one boot"; }
booted "$OYSTER" prune --all "$img"
[ "$RC" -eq 2 ] || { show_last; fail "--all with a DEVICE is not a usage error"; }
: >"$WORKDIR/plain"
booted "$OYSTER" prune "$WORKDIR/plain"
[ "$RC" -eq 1 ] && [ -s "$ERR" ] || { show_last; fail "a named DEVICE that is no LUKS2 volume is not an error"; }

say "fence --boot: oyster.fence_pcr= moves it, once per boot; OYSTER_FENCE=no and oyster.fence=0 turn it off"
zeros=$(printf '0%.0s' $(seq 64))
boot firmware-1
echo 'OYSTER_FENCE=no' >"$WORKDIR/default/oyster"
booted "$OYSTER" fence --boot "$img"
[ "$RC" -eq 0 ] && [ "$(pcr_value sha256 15)" = "$zeros" ] || { show_last; fail "fence --boot ran although OYSTER_FENCE=no"; }
echo 'OYSTER_FENCE=yes' >"$WORKDIR/default/oyster"
echo 'oyster.fence=0' >"$WORKDIR/cmdline"
booted "$OYSTER" fence --boot "$img"
[ "$RC" -eq 0 ] && [ "$(pcr_value sha256 15)" = "$zeros" ] || { show_last; fail "fence --boot ran although oyster.fence=0"; }
echo 'oyster.fence_pcr=16' >"$WORKDIR/cmdline"
before16=$(pcr_value sha256 16)
booted "$OYSTER" fence --boot "$img"
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "fence --boot failed or spoke"; }
[ "$(pcr_value sha256 15)" = "$zeros" ] && [ "$(pcr_value sha256 16)" != "$before16" ] ||
	fail "oyster.fence_pcr=16 did not move the fence"
after16=$(pcr_value sha256 16)
booted "$OYSTER" fence --boot "$img"
[ "$RC" -eq 0 ] && [ "$(pcr_value sha256 16)" = "$after16" ] || fail "fence --boot ran twice in one boot"
say "fence --boot without a TPM: one line, prefixed"
rm -f "$WORKDIR/run/oyster/fenced"
: >"$WORKDIR/cmdline"
booted env OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)" "$OYSTER" fence --boot "$img"
[ "$RC" -eq 4 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q '^oyster: The boot fence is open' "$ERR" ||
	{ show_last; fail "expected one line about the open fence"; }
say "PASS"
