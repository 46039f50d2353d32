#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A literal token (enroll --literal, version 1): its approvals reseal. The
# authorized mode has its own stories (authorized.sh, approve-faults.sh).
#
# Story: a kernel update predicted from the event log. The "firmware" here
# is tcglog.py, which writes a TCG event log and extends the swtpm with the
# same digests (the boot loader and kernel as EFI applications in PCR 4, the
# initramfs as a file in PCR 9, GRUB's command line in PCR 8). After
# `oyster reseal --predict --kernel NEW --initrd NEW` the next boot, which
# measures the new kernel and initramfs, unlocks without a passphrase and
# without re-enrollment. A log that does not reproduce the TPM's values, and
# an update that matches no event, are refused and change nothing.
set -eu
. "$TESTDIR/lib.sh"

TCGLOG=$TESTDIR/../fixtures/eventlog/tcglog.py
pass='predict passphrase'
img=$WORKDIR/disk.img
log=$WORKDIR/binary_bios_measurements
make_luks "$img" "$pass"

# The boot's parts: two kernels and boot loaders as PE images, two initramfs files.
python3 "$TCGLOG" pe "$WORKDIR/vmlinuz-1" "kernel one" || setup_error "tcglog.py pe"
python3 "$TCGLOG" pe "$WORKDIR/vmlinuz-2" "kernel two" "with trailing data" || setup_error "tcglog.py pe"
python3 "$TCGLOG" pe "$WORKDIR/shim-1" "boot loader one" || setup_error "tcglog.py pe"
python3 "$TCGLOG" pe "$WORKDIR/shim-2" "boot loader two" || setup_error "tcglog.py pe"
head -c 100000 /dev/urandom >"$WORKDIR/initrd-1"
head -c 120000 /dev/urandom >"$WORKDIR/initrd-2"

# events KERNEL INITRD LOADER ARGS: what the firmware and GRUB measure for that boot.
# GRUB as upstream builds it writes the command line's event as "BOOT_IMAGE=/boot/K
# ARGS"; Debian's EFI GRUB with a /boot partition as "/K ARGS".
boot_dir=/boot cmdline_image=BOOT_IMAGE=
# The kernel's EFI stub measures the initrd into PCR 9, except when given one
# by initrd= (Debian 12's, from a Shell): then only its command-line tag is there.
initrd_measured=yes
stub_cmdline_tag=ed223b8f1a000000$(printf 'LOADED_IMAGE::LoadOptions\0' | od -An -tx1 | tr -d ' \n')
events() {
	[ "$grub_boot" = no ] || {
		grub_events "$@"
		return
	}
	printf '%s\n' \
		"0:EV_S_CRTM_VERSION:text:test firmware" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:text:SecureBoot=1" \
		"0:EV_SEPARATOR:text:sep" "7:EV_SEPARATOR:text:sep" "4:EV_SEPARATOR:text:sep" \
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$3" \
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$1" \
		"8:EV_IPL:grub:grub_cmd: linux $boot_dir/$(basename -- "$1") $4" \
		"8:EV_IPL:grub:kernel_cmdline: $cmdline_image$boot_dir/$(basename -- "$1") $4" \
		"$([ "$initrd_measured" = yes ] && echo "9:EV_EVENT_TAG:file:$2" || echo "9:EV_EVENT_TAG:hex:$stub_cmdline_tag")"
}
# GRUB's files, each in PCR 9 under the path GRUB opened (ESP, then a /boot
# partition), then found below $groot by OYSTER_BOOT_ROOT.
grub_boot=no
groot=$WORKDIR/groot
grub_events() {
	printf '%s\n' \
		"0:EV_S_CRTM_VERSION:text:test firmware" "0:EV_SEPARATOR:text:sep" "4:EV_SEPARATOR:text:sep" \
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$3" \
		"9:EV_IPL:grubfile:(hd0,gpt1)/EFI/debian/grub.cfg=$groot/boot/efi/EFI/debian/grub.cfg" \
		"9:EV_IPL:grubfile:(hd0,gpt2)/grub/grub.cfg=$groot/boot/grub/grub.cfg" \
		"9:EV_IPL:grubfile:(hd0,gpt2)/grub/grubenv=$groot/boot/grub/grubenv" \
		"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$1" \
		"9:EV_IPL:grubfile:/$(basename -- "$1")=$1" "9:EV_IPL:grubfile:/$(basename -- "$2")=$2"
}
# boot KERNEL INITRD LOADER ARGS: a reboot measuring those parts, with their log in $log.
boot() {
	local e
	mapfile -t e < <(events "$@")
	reboot_tpm
	python3 "$TCGLOG" extend --banks sha256 "${e[@]}" >"$WORKDIR/extends" || setup_error "tcglog.py extend"
	while read -r x; do
		tpm2_pcrextend "$x" || setup_error "tpm2_pcrextend $x"
	done <"$WORKDIR/extends"
	python3 "$TCGLOG" write "$log" --banks sha256 "${e[@]}" >"$WORKDIR/replay" || setup_error "tcglog.py write"
}
# expected KERNEL INITRD LOADER ARGS PCRS: the add-state spec of that boot, replayed by tcglog.py.
expected() {
	local e pcrs=$5
	mapfile -t e < <(events "$1" "$2" "$3" "$4")
	python3 "$TCGLOG" write "$WORKDIR/expected.bin" --banks sha256 "${e[@]}" |
		awk -v want=",$pcrs," 'index(want, "," $2 ",") { printf "%s%s:%s=%s", sep, $2, $1, $3; sep = "," } END { print "" }'
}
token_json() { luks_json "$img" | jq -cS '.tokens'; }

args='root=/dev/vda1 ro quiet'
boot "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "$args"
enroll "$img" "$pass" --pcrs 0+4+7+8+9 --literal
expect_ok token_open "$img"

say "predict: the new kernel and initramfs change PCRs 4, 8 and 9, as a replay of the new boot says"
expect_ok "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1" \
	--initrd "$WORKDIR/initrd-2" --current-initrd "$WORKDIR/initrd-1"
want=$(expected "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-2" "$WORKDIR/shim-1" "$args" 4,8,9)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), the new boot measures $want"; }

say "OYSTER_EVENT_LOG is the default log; --pcrs prints PCRs the update leaves alone too"
OYSTER_EVENT_LOG=$log expect_ok "$OYSTER" predict --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1" --pcrs 0+4
want=$(expected "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "$args" 0,4)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }

say "a new command line (PCR 8) and a new boot loader (PCR 4)"
expect_ok "$OYSTER" predict --event-log "$log" --cmdline "root=/dev/vda2 ro" \
	--boot-loader "$WORKDIR/shim-2" --current-boot-loader "$WORKDIR/shim-1"
want=$(expected "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$WORKDIR/shim-2" "root=/dev/vda2 ro" 4,8)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }

say "an update that matches no event is an error, not today's values"
expect_status 1 "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/shim-2"
grep_err "^--kernel: no event of the event log measures $WORKDIR/shim-2"
[ ! -s "$OUT" ] || { show_last; fail "printed a prediction although nothing matched"; }
expect_status 1 "$OYSTER" predict --event-log "$log" --initrd "$WORKDIR/initrd-2" --current-initrd "$WORKDIR/initrd-2"
grep_err '^--initrd: no event'
expect_status 2 "$OYSTER" predict --event-log "$log"
expect_status 1 "$OYSTER" predict --event-log "$WORKDIR/missing" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1"
grep_err "no event log at $WORKDIR/missing"
expect_status 1 "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/initrd-2" --current-kernel "$WORKDIR/vmlinuz-1"
grep_err "initrd-2 is not a PE/COFF"

say "a log that does not reproduce the TPM's values is refused, naming the PCR; nothing changes"
before=$(token_json)
extend_pcr 4 "an event the log does not have"
expect_status 1 "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1"
grep_err "does not reproduce the TPM.s sha256 values of PCR 4 \\(boot loader\\)"
expect_status 1 "$OYSTER" reseal "$img" --predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" \
	--current-kernel "$WORKDIR/vmlinuz-1" --initrd "$WORKDIR/initrd-2" --current-initrd "$WORKDIR/initrd-1"
grep_err 'does not reproduce'
[ "$(token_json)" = "$before" ] || fail "a refused reseal --predict changed the token"
expect_status 2 "$OYSTER" reseal "$img" --predict
expect_status 2 "$OYSTER" reseal "$img" --kernel "$WORKDIR/vmlinuz-2"

say "reseal --predict approves the next boot; this boot still unlocks"
boot "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "$args"
expect_ok token_open "$img"
expect_ok "$OYSTER" reseal "$img" --predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" \
	--current-kernel "$WORKDIR/vmlinuz-1" --initrd "$WORKDIR/initrd-2" --current-initrd "$WORKDIR/initrd-1"
grep_out 'Resealed token [0-9]+ in place'
grep_out 'Approved states: 2,'
expect_ok token_open "$img"

say "the next boot, with the new kernel and initramfs, unlocks without re-enrollment"
boot "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-2" "$WORKDIR/shim-1" "$args"
expect_ok token_open "$img"
run "$OYSTER" status "$img"
grep_out 'would unlock now: yes \(the PCRs match approved state 2\)'

say "a boot with a kernel nobody predicted falls back to the passphrase"
python3 "$TCGLOG" pe "$WORKDIR/vmlinuz-3" "kernel three" || setup_error "tcglog.py pe"
boot "$WORKDIR/vmlinuz-3" "$WORKDIR/initrd-2" "$WORKDIR/shim-1" "$args"
expect_fail token_open "$img"
expect_ok pass_open "$img" "$pass"

say "status names the events of the changed PCRs that differ from those recorded at the reseal"
[ "$(luks_json "$img" | jq -c '[.tokens[] | select(.type == "oyster-tpm2") | .tpm2_events | keys[]]')" = '["0","4","7","8","9"]' ] ||
	fail "tpm2_events does not cover the bound PCRs: $(luks_json "$img" | jq -c '.tokens')"
OYSTER_EVENT_LOG=$log run "$OYSTER" status "$img"
grep_out '^  event: +PCR 4: EV_EFI_BOOT_SERVICES_APPLICATION #3 changed$'
grep_out '^  event: +PCR 8: EV_IPL #1 changed$'
grep_out '^  event: +PCR 8: EV_IPL #2 changed$'
# PCR 9 (initrd-2) differs from the recorded boot too, but matches an approved state.
[ "$(grep -c 'event:' "$OUT")" -eq 3 ] || { show_last; fail "status named other events too"; }
OYSTER_EVENT_LOG=$log run "$OYSTER" status "$img" --json
[ "$(jq -r '.tokens[0].changed_events | length' "$OUT")" = 3 ] || { show_last; fail "--json: changed_events"; }

say "the kernel hook's call: the current kernel and initramfs default to /boot's of uname -r"
mkdir -p "$WORKDIR/boot"
cur=$(uname -r)
cp "$WORKDIR/vmlinuz-2" "$WORKDIR/boot/vmlinuz-$cur"
cp "$WORKDIR/initrd-2" "$WORKDIR/boot/initrd.img-$cur"
cp "$WORKDIR/vmlinuz-3" "$WORKDIR/boot/vmlinuz-9.9"
cp "$WORKDIR/initrd-1" "$WORKDIR/boot/initrd.img-9.9"
boot "$WORKDIR/boot/vmlinuz-$cur" "$WORKDIR/boot/initrd.img-$cur" "$WORKDIR/shim-1" "$args"
expect_ok "$OYSTER" reseal "$img" --key-file "$(keyfile "$pass")"
expect_ok token_open "$img"
OYSTER_EVENT_LOG=$log expect_ok unshare -m --propagation private -- /bin/sh -c \
	'mount --bind "$1" /boot && exec "$2" reseal "$3" --predict --kernel /boot/vmlinuz-9.9 --initrd /boot/initrd.img-9.9' \
	sh "$WORKDIR/boot" "$OYSTER" "$img"
boot "$WORKDIR/boot/vmlinuz-9.9" "$WORKDIR/boot/initrd.img-9.9" "$WORKDIR/shim-1" "$args"
expect_ok token_open "$img"

say "Debian's GRUB: the command line's event without BOOT_IMAGE=, from a /boot partition"
boot_dir='' cmdline_image=''
boot "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "$args"
expect_ok "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1" \
	--cmdline "root=/dev/vda1 ro"
want=$(expected "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "root=/dev/vda1 ro" 4,8)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT") on Debian's GRUB, the new boot measures $want"; }
boot_dir=/boot cmdline_image=BOOT_IMAGE=

say "a boot that measured no initrd (the stub given initrd=): --initrd changes no PCR, and says so"
initrd_measured=no
boot "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$WORKDIR/shim-1" "$args"
expect_ok "$OYSTER" predict --event-log "$log" --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-1" \
	--initrd "$WORKDIR/initrd-2" --current-initrd "$WORKDIR/initrd-1"
grep_err '^This boot measured no initrd .*: --initrd changes no PCR\.$'
want=$(expected "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-2" "$WORKDIR/shim-1" "$args" 4,8)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT") for a boot without an initrd event, expected $want"; }
initrd_measured=yes

say "GRUB's files in PCR 9: update-grub, a new kernel and its initrd, read again as they are now"
mkdir -p "$groot/boot/efi/EFI/debian" "$groot/boot/grub"
echo 'configfile (hd0,gpt2)/grub/grub.cfg' >"$groot/boot/efi/EFI/debian/grub.cfg"
echo 'linux /vmlinuz-1' >"$groot/boot/grub/grub.cfg"
head -c 1024 /dev/zero >"$groot/boot/grub/grubenv"
cp "$WORKDIR/vmlinuz-1" "$WORKDIR/initrd-1" "$groot/boot/"
grub_boot=yes
gk1=$groot/boot/vmlinuz-1 gi1=$groot/boot/initrd-1
boot "$gk1" "$gi1" "$WORKDIR/shim-1" "$args"
cp "$WORKDIR/vmlinuz-2" "$WORKDIR/initrd-2" "$groot/boot/"
echo 'linux /vmlinuz-2' >"$groot/boot/grub/grub.cfg"
OYSTER_BOOT_ROOT=$groot expect_ok "$OYSTER" predict --event-log "$log" --pcrs 4+9 \
	--kernel "$groot/boot/vmlinuz-2" --current-kernel "$gk1" --initrd "$groot/boot/initrd-2" --current-initrd "$gi1"
want=$(expected "$groot/boot/vmlinuz-2" "$groot/boot/initrd-2" "$WORKDIR/shim-1" "$args" 4,9)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT") after update-grub and a new kernel, the new boot measures $want"; }

say "an initrd rebuilt in place (update-initramfs -u): found by its name"
echo 'linux /vmlinuz-1' >"$groot/boot/grub/grub.cfg"
boot "$gk1" "$gi1" "$WORKDIR/shim-1" "$args"
head -c 50000 /dev/urandom >"$gi1"
OYSTER_BOOT_ROOT=$groot expect_ok "$OYSTER" predict --event-log "$log" --pcrs 9 --initrd "$gi1" --current-initrd "$gi1"
want=$(expected "$gk1" "$gi1" "$WORKDIR/shim-1" "$args" 9)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT") for a rebuilt initrd, the new boot measures $want"; }

say "a file GRUB read that is gone: PCR 9 cannot be predicted, one line; without PCR 9 no error"
rm "$groot/boot/grub/grubenv"
OYSTER_BOOT_ROOT=$groot expect_status 1 "$OYSTER" predict --event-log "$log" --pcrs 9 --initrd "$gi1" --current-initrd "$gi1"
grep_err '^GRUB read /grub/grubenv at boot, and no such file is below /boot/efi, /efi, /boot or /: mount the file system it is on, or PCR 9 cannot be predicted\.$'
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line for a missing GRUB file"; }
OYSTER_BOOT_ROOT=$groot expect_ok "$OYSTER" predict --event-log "$log" --pcrs 4 --kernel "$WORKDIR/vmlinuz-2" --current-kernel "$gk1"
grub_boot=no

say "no TPM: exit status 4"
OYSTER_TCTI="swtpm:host=127.0.0.1,port=$(closed_port)" expect_status 4 "$OYSTER" predict --event-log "$log" \
	--kernel "$WORKDIR/vmlinuz-2" --current-kernel "$WORKDIR/vmlinuz-3"
say "PASS"
