#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story (#16): Secure Boot database updates without a passphrase. OVMF with
# Secure Boot on and Debian's snakeoil key in PK, KEK and db boots a UKI
# (systemd-stub, the kernel, the initramfs-tools initrd) signed with that
# key, from a FAT disk as its removable-media boot loader: the firmware
# verifies it against db and measures the db entry that did into PCR 7
# (EV_EFI_VARIABLE_AUTHORITY). The machine keeps its NVRAM between boots, so
# an update written in one boot is measured by the next. The updates are
# authenticated append writes signed with the snakeoil KEK, made on the host
# with efitools and handed in on a second disk.
#  1. Enroll --pcrs 7 (with the fence, an authorized token); predict a db
#     append of a new certificate (oyster reseal --unattended --predict
#     --efi-update db=FILE: no passphrase); apply it through efivarfs.
#  2. The next boot is unattended, zero prompts, and PCR 7 changed. Then the
#     same with a dbx append that revokes an unused boot loader's hash.
#  3. Unattended again. Then a db append that nobody predicted.
#  4. That boot falls back naming PCR 7, the passphrase opens root, and
#     oyster status names db as the variable whose measurement changed, and
#     says that one signature was appended.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"
. "$VM_TESTDIR/lib.sh"

UKI_STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
UNUSED_LOADER=/usr/lib/systemd/boot/efi/systemd-bootx64.efi

need mkinitramfs cpio gzip
vm_need
for t in objcopy openssl sbsign cert-to-efi-sig-list sign-efi-sig-list hash-to-efi-sig-list tpm2_eventlog; do
	command -v "$t" >/dev/null 2>&1 ||
		unavailable "'$t' is not installed (apt-get install binutils openssl sbsigntool efitools tpm2-tools)"
done
for f in "$OVMF_SNAKEOIL_CODE" "$OVMF_SNAKEOIL_VARS" "$SNAKEOIL_KEY" "$SNAKEOIL_CERT"; do
	[ -e "$f" ] || unavailable "$f is missing (apt-get install ovmf)"
done
for f in "$UKI_STUB" "$UNUSED_LOADER"; do
	[ -e "$f" ] || unavailable "$f is missing (apt-get install systemd-boot-efi)"
done
vm_prepare

key=$WORKDIR/snakeoil.key
openssl pkey -in "$SNAKEOIL_KEY" -passin pass:snakeoil -out "$key" 2>/dev/null ||
	setup_error "cannot decrypt the snakeoil key"

# update NAME VAR ESL: the authenticated append of ESL to VAR, signed with
# the KEK: NAME.auth as fwupd or a vendor ships it, and NAME.var as a tool
# writes it to efivarfs (its attributes first: NV, BS, RT, time-based
# authenticated, append: 0x67).
updates=$WORKDIR/updates
mkdir -p "$updates"
update() {
	sign-efi-sig-list -a -k "$key" -c "$SNAKEOIL_CERT" "$2" "$3" "$updates/$1.auth" >/dev/null ||
		setup_error "sign-efi-sig-list $2 failed"
	{ printf '\147\000\000\000' && cat "$updates/$1.auth"; } >"$updates/$1.var"
}
# cert_esl NAME: a new certificate as an EFI_SIGNATURE_LIST.
cert_esl() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout /dev/null -subj "/CN=oyster test $1" \
		-days 3650 -out "$WORKDIR/$1.pem" 2>/dev/null || setup_error "openssl req failed"
	cert-to-efi-sig-list -g "$(cat /proc/sys/kernel/random/uuid)" "$WORKDIR/$1.pem" "$WORKDIR/$1.esl" >/dev/null ||
		setup_error "cert-to-efi-sig-list failed"
}
cert_esl db-1
update db-1 db "$WORKDIR/db-1.esl"
cert_esl db-2
update db-2 db "$WORKDIR/db-2.esl"
hash-to-efi-sig-list "$UNUSED_LOADER" "$WORKDIR/dbx-1.esl" >/dev/null || setup_error "hash-to-efi-sig-list failed"
update dbx-1 dbx "$WORKDIR/dbx-1.esl"
updates_disk=$WORKDIR/updates.img
truncate -s 8M "$updates_disk"
mke2fs -q -t ext4 -d "$updates" "$updates_disk" || setup_error "cannot make the updates disk"

vars=$WORKDIR/vars.fd
cp -- "$OVMF_SNAKEOIL_VARS" "$vars"
sb=(--ovmf "$OVMF_SNAKEOIL_CODE,$vars" --keep-vars --secure-boot --uki "$key,$SNAKEOIL_CERT"
	--extra-disk "$updates_disk")
disk=$(new_disk secure-boot)
tpm=$WORKDIR/tpm

# pcr7_changed BEFORE WHAT: PCR 7 of the last boot differs from BEFORE.
pcr7_changed() {
	[ -n "$(pcr_in_log 7)" ] || fail "no PCR 7 on the console (console log: $LOG)"
	[ "$(pcr_in_log 7)" != "$1" ] || fail "PCR 7 is the same after $2 (console log: $LOG)"
}

# applied NAME: the efi-apply step for NAME succeeded.
applied() {
	[ "$(step_exit "efi-apply-$1")" = 0 ] ||
		fail "writing $1 through efivarfs failed in the guest: $(step_output "efi-apply-$1") (console log: $LOG)"
}

# predicted NAME VAR: the efi-predict step for NAME approved the update.
predicted() {
	[ "$(step_exit "efi-predict-$1")" = 0 ] ||
		fail "oyster reseal --predict --efi-update $2=$1.auth failed in the guest (console log: $LOG)"
	step_output "efi-predict-$1" | grep -q "appends 1 of its signatures to $2\.$" ||
		fail "oyster reseal --predict did not say that $1 appends one signature to $2 (console log: $LOG)"
}

say "boot 1, Secure Boot on: enroll --pcrs 7; predict a db append, then apply it"
vm_boot sb-enroll "$disk" "$INITRD_TOOLS" "$tpm" pcrs,eventlog,enroll=7,efi-predict=db-1,efi-apply=db-1 \
	"${sb[@]}" --answer "$VM_PASS" --kind "passphrase, no token yet"
console_has 'secureboot: Secure boot enabled' "the kernel does not see Secure Boot enabled"
sed -n '/OYSTER-VM: event log begin/,/OYSTER-VM: event log end/p' "$LOG" | sed '1d;$d' |
	sed 's/^ *[0-9.]* //' | grep -E '^[A-Za-z0-9+/=]+$' | base64 -d >"$WORKDIR/eventlog.bin" ||
	fail "cannot decode the event log from the console (console log: $LOG)"
tpm2_eventlog "$WORKDIR/eventlog.bin" >"$WORKDIR/eventlog.yaml" 2>&1 ||
	fail "tpm2_eventlog cannot read the guest's event log ($WORKDIR/eventlog.yaml)"
grep -B2 'EventType: EV_EFI_VARIABLE_AUTHORITY' "$WORKDIR/eventlog.yaml" | grep -q 'PCRIndex: 7$' ||
	fail "the firmware measured no EV_EFI_VARIABLE_AUTHORITY event into PCR 7 ($WORKDIR/eventlog.yaml)"
[ "$(step_exit enroll)" = 0 ] || fail "oyster enroll failed in the guest (console log: $LOG)"
step_output enroll | grep -q 'NV index' || fail "enroll in the guest did not make an authorized token (console log: $LOG)"
predicted db-1 db
applied db-1
pcr7_enrolled=$(pcr_in_log 7)

say "boot 2: unattended after the db append; predict and apply a dbx append"
vm_boot sb-db "$disk" "$INITRD_TOOLS" "$tpm" pcrs,efi-predict=dbx-1,efi-apply=dbx-1 "${sb[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the db append was predicted"
pcr7_changed "$pcr7_enrolled" "the db append"
predicted dbx-1 dbx
applied dbx-1
pcr7_db=$(pcr_in_log 7)

say "boot 3: unattended after the dbx append; apply a db append that nobody predicted"
vm_boot sb-dbx "$disk" "$INITRD_TOOLS" "$tpm" pcrs,efi-apply=db-2 "${sb[@]}" --kind tpm
initrd_lacks 'oyster: oyroot:' "the keyscript said something although the dbx append was predicted"
pcr7_changed "$pcr7_db" "the dbx append"
applied db-2

say "boot 4: the unpredicted db append falls back naming PCR 7; status names db"
vm_boot sb-unpredicted "$disk" "$INITRD_TOOLS" "$tpm" status "${sb[@]}" --answer "$VM_PASS" \
	--kind "passphrase after the TPM refused"
console_has 'oyster: oyroot: The TPM refused: PCR 7 \([^)]*\) changed since enrollment.* Asking for the passphrase\.$' \
	"after an unpredicted db append the console does not say that PCR 7 changed"
step_output status | grep -qE '^  event: +PCR 7: EV_EFI_VARIABLE_DRIVER_CONFIG #[0-9]+ \(db\) changed: 1 signature appended$' ||
	fail "oyster status does not name db as the variable that changed, with one signature appended (console log: $LOG)"
say "PASS"
