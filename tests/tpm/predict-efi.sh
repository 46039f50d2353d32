#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: Secure Boot database updates predicted from the event log. The
# "firmware" is tcglog.py, which measures PK, KEK, db and dbx into PCR 7 as
# UEFI_VARIABLE_DATA events and extends the swtpm with the same digests;
# efivarfs is a directory ($OYSTER_EFIVARS) holding the same contents after
# their 4-byte attributes. The updates are efitools payloads signed by a
# test KEK (tests/fixtures/efi/make.sh). The new db a firmware append makes
# is computed here by a short Python reading of the UEFI rule, and PCR 7 by
# tcglog.py's replay: neither shares code with oyster. After `oyster reseal
# --predict --efi-update db=...` the boot with the new db unlocks; a boot
# after an update nobody predicted falls back to the passphrase.
set -eu
. "$TESTDIR/lib.sh"
for t in openssl sbsign cert-to-efi-sig-list sign-efi-sig-list; do
	command -v "$t" >/dev/null || {
		[ -z "${CI:-}" ] || setup_error "'$t' is missing: .ci/run installs efitools and sbsigntool"
		skip "'$t' is not installed (apt-get install efitools sbsigntool)"
	}
done

TCGLOG=$TESTDIR/../fixtures/eventlog/tcglog.py
FIX=$TESTDIR/../fixtures/efi
pass='secure boot passphrase'
img=$WORKDIR/disk.img
log=$WORKDIR/binary_bios_measurements
export OYSTER_EFIVARS=$WORKDIR/efivars
make_luks "$img" "$pass"
mkdir -p "$OYSTER_EFIVARS"
printf '\001' >"$WORKDIR/sb-on"

# esl_append CUR AUTH OUT: what EFI_VARIABLE_APPEND_WRITE of AUTH's lists makes of CUR.
esl_append() {
	python3 - "$@" <<'PY'
import struct, sys
cur = open(sys.argv[1], "rb").read()
auth = open(sys.argv[2], "rb").read()
upd = auth[16 + struct.unpack_from("<I", auth, 16)[0]:]
def lists(b):
    while b:
        size, hsize, ssize = struct.unpack_from("<III", b, 16)
        yield b[:16], b[:28 + hsize], ssize, [b[i:i + ssize] for i in range(28 + hsize, size, ssize)]
        b = b[size:]
have = {(t, s, e) for t, _, s, es in lists(cur) for e in es}
out = cur
for t, head, s, es in lists(upd):
    new = [e for e in es if (t, s, e) not in have]
    if new:
        body = b"".join(new)
        out += head[:16] + struct.pack("<I", len(head) + len(body)) + head[20:] + body
open(sys.argv[3], "wb").write(out)
PY
}
# efivars PK KEK DB DBX: files holding each variable's content, as efivarfs shows them.
efivars() {
	local name guid
	for name in PK KEK db dbx; do
		case $name in db | dbx) guid=d719b2cb-3d3a-4596-a3bc-dad00e67656f ;; *) guid=8be4df61-93ca-11d2-aa0d-00e098032b8c ;; esac
		{ printf '\047\000\000\000'; cat "$1"; } >"$OYSTER_EFIVARS/$name-$guid"
		shift
	done
}
# events PK KEK DB DBX [EXTRA...]: what OVMF measures for a Secure Boot boot.
events() {
	printf '%s\n' \
		"0:EV_S_CRTM_VERSION:text:test firmware" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:efivar:SecureBoot=$WORKDIR/sb-on" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:efivar:PK=$1" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:efivar:KEK=$2" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:efivar:db=$3" \
		"7:EV_EFI_VARIABLE_DRIVER_CONFIG:efivar:dbx=$4" \
		"0:EV_SEPARATOR:text:sep" "7:EV_SEPARATOR:text:sep" "4:EV_SEPARATOR:text:sep"
	shift 4
	[ $# -eq 0 ] || printf '%s\n' "$@"
}
# boot PK KEK DB DBX [EXTRA...]: a reboot with those variables, their log in $log.
boot() {
	local e
	mapfile -t e < <(events "$@")
	reboot_tpm
	python3 "$TCGLOG" extend --banks sha256 "${e[@]}" >"$WORKDIR/extends" || setup_error "tcglog.py extend"
	while read -r x; do
		tpm2_pcrextend "$x" || setup_error "tpm2_pcrextend $x"
	done <"$WORKDIR/extends"
	python3 "$TCGLOG" write "$log" --banks sha256 "${e[@]}" >/dev/null || setup_error "tcglog.py write"
	efivars "$1" "$2" "$3" "$4"
}
# expected PK KEK DB DBX: PCR 7 of that boot, replayed by tcglog.py.
expected() {
	local e
	mapfile -t e < <(events "$@")
	python3 "$TCGLOG" write "$WORKDIR/expected.bin" --banks sha256 "${e[@]}" | awk '$2 == 7 { print "7:" $1 "=" $3 }'
}
token_json() { luks_json "$img" | jq -cS '.tokens'; }

A=$FIX/A.esl B=$FIX/B.esl DBX1=$FIX/dbx-1.esl
esl_append "$A" "$FIX/db-AB.auth" "$WORKDIR/db-new" || setup_error "esl_append db"
esl_append "$DBX1" "$FIX/dbx-12.auth" "$WORKDIR/dbx-new" || setup_error "esl_append dbx"
cmp -s "$WORKDIR/db-new" <(cat "$A" "$B") || fail "the Python append of db-AB.auth to A is not A then B"

boot "$A" "$B" "$A" "$DBX1"
enroll "$img" "$pass" --pcrs 0+7
expect_ok token_open "$img"

say "predict: a db append (A is there, B is new) gives PCR 7 of a boot with the appended db"
expect_ok "$OYSTER" predict --event-log "$log" --efi-update "db=$FIX/db-AB.auth"
want=$(expected "$A" "$B" "$WORKDIR/db-new" "$DBX1")
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), the new boot measures $want"; }

say "the same update twice appends nothing the second time"
expect_ok "$OYSTER" predict --event-log "$log" --efi-update "db=$FIX/db-AB.auth" --efi-update "db=$FIX/db-AB.auth"
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }

say "a dbx append (hash 1 is there, hash 2 is new) and both at once"
expect_ok "$OYSTER" predict --event-log "$log" --efi-update "dbx=$FIX/dbx-12.auth"
want=$(expected "$A" "$B" "$A" "$WORKDIR/dbx-new")
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }
expect_ok "$OYSTER" predict --event-log "$log" --efi-update "dbx=$FIX/dbx-12.auth" --efi-update "db=$FIX/db-AB.auth"
want=$(expected "$A" "$B" "$WORKDIR/db-new" "$WORKDIR/dbx-new")
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }

say "a PK replacement and a KEK append (KEK holds B: A is appended, and it says so)"
expect_ok "$OYSTER" predict --event-log "$log" --efi-replace "PK=$FIX/db-AB.auth" --efi-update "KEK=$FIX/db-AB.auth"
cat "$A" "$B" >"$WORKDIR/AB"
cat "$B" "$A" >"$WORKDIR/BA"
want=$(expected "$WORKDIR/AB" "$WORKDIR/BA" "$A" "$DBX1")
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), expected $want"; }
grep_err 'KEK=.*/db-AB.auth appends 1 of its signatures to KEK'

say "usage errors: PK is never appended to, VAR must be a database"
expect_status 2 "$OYSTER" predict --event-log "$log" --efi-update "PK=$FIX/PK-B.auth"
grep_err 'PK is replaced, never appended to'
expect_status 2 "$OYSTER" predict --event-log "$log" --efi-update "MokList=$FIX/db-AB.auth"
grep_err 'VAR one of PK, KEK, db, dbx'
expect_status 2 "$OYSTER" predict --event-log "$log" --efi-update "db="

say "refused in one line: a bare list, a truncated payload, a deletion"
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-update "db=$B"
grep_err 'no EFI_VARIABLE_AUTHENTICATION_2 header'
head -c 2000 "$FIX/db-AB.auth" >"$WORKDIR/short.auth"
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-update "db=$WORKDIR/short.auth"
grep_err 'signature list 1 claims 835 bytes'
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-replace "db=$FIX/empty.auth"
grep_err 'an empty replacement deletes db'
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-update "db=$WORKDIR/missing.auth"
grep_err 'missing.auth: no such file'
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line of error"; }

say "efivarfs that differs from what the log measured is refused"
efivars "$A" "$B" "$WORKDIR/db-new" "$DBX1"
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-update "db=$FIX/db-AB.auth"
grep_err "^db in $OYSTER_EFIVARS differs from the db this boot measured \\(PCR 7 event 5\\)"
efivars "$A" "$B" "$A" "$DBX1"

say "a db replacement under a db authority event cannot be told offline; a db append can"
boot "$A" "$B" "$A" "$DBX1" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:MokList=$B"
expect_ok "$OYSTER" predict --event-log "$log" --efi-replace "db=$FIX/db-B.auth"
boot "$A" "$B" "$A" "$DBX1" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:MokList=$B" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:db=$A"
expect_status 1 "$OYSTER" predict --event-log "$log" --efi-replace "db=$FIX/db-B.auth"
grep_err 'EV_EFI_VARIABLE_AUTHORITY event 11'
expect_ok "$OYSTER" predict --event-log "$log" --efi-update "db=$FIX/db-AB.auth"

say "--boot-loader under a db authority event: the db entry that verifies the new loader decides"
# CA 1 is in db and signs leaf 1, which signs loaders 1 and 2a (db anchors
# them through the signer's issuer); CA 2 signs loader 2b itself.
cert() { # cert NAME [CA]: NAME.key and NAME.pem, self-signed or signed by CA
	if [ $# -eq 1 ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORKDIR/$1.key" -subj "/CN=oyster test $1" \
			-days 3650 -out "$WORKDIR/$1.pem" 2>/dev/null
	else
		openssl req -new -newkey rsa:2048 -nodes -keyout "$WORKDIR/$1.key" -subj "/CN=oyster test $1" \
			-out "$WORKDIR/$1.csr" 2>/dev/null &&
			openssl x509 -req -in "$WORKDIR/$1.csr" -CA "$WORKDIR/$2.pem" -CAkey "$WORKDIR/$2.key" \
				-CAcreateserial -days 3650 -out "$WORKDIR/$1.pem" 2>/dev/null
	fi || setup_error "openssl could not make $1"
}
signed() { # signed OUT TEXT KEYNAME: a PE image signed with KEYNAME
	python3 "$TCGLOG" pe "$WORKDIR/$1.unsigned" "$2" || setup_error "tcglog.py pe"
	sbsign --key "$WORKDIR/$3.key" --cert "$WORKDIR/$3.pem" --output "$WORKDIR/$1" "$WORKDIR/$1.unsigned" \
		2>/dev/null || setup_error "sbsign $1"
}
cert ca1 && cert leaf1 ca1 && cert ca2
for c in ca1 ca2; do
	cert-to-efi-sig-list -g 6f797374-6572-4000-8000-000000000001 "$WORKDIR/$c.pem" "$WORKDIR/$c.esl" >/dev/null ||
		setup_error "cert-to-efi-sig-list $c"
done
# The authority event's data: the EFI_SIGNATURE_DATA (owner, certificate) of the db entry.
tail -c +29 "$WORKDIR/ca1.esl" >"$WORKDIR/ca1.sigdata"
sign-efi-sig-list -a -k "$WORKDIR/ca1.key" -c "$WORKDIR/ca1.pem" db "$WORKDIR/ca2.esl" "$WORKDIR/db-ca2.auth" \
	>/dev/null || setup_error "sign-efi-sig-list"
signed loader-1 "boot loader one" leaf1
signed loader-2a "boot loader two" leaf1
signed loader-2b "boot loader two" ca2
boot "$A" "$B" "$WORKDIR/ca1.esl" "$DBX1" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:db=$WORKDIR/ca1.sigdata" \
	"4:EV_EFI_BOOT_SERVICES_APPLICATION:pe:$WORKDIR/loader-1"
expect_ok "$OYSTER" predict --event-log "$log" --boot-loader "$WORKDIR/loader-2a" --current-boot-loader "$WORKDIR/loader-1"
grep_out '^4:sha256='
expect_ok "$OYSTER" predict --event-log "$log" --boot-loader "$WORKDIR/loader-2a" \
	--current-boot-loader "$WORKDIR/loader-1" --efi-update "db=$WORKDIR/db-ca2.auth"
grep_out '^4:sha256='
expect_status 1 "$OYSTER" predict --event-log "$log" --boot-loader "$WORKDIR/loader-2b" \
	--current-boot-loader "$WORKDIR/loader-1"
grep_err "^--boot-loader $WORKDIR/loader-2b: no db entry verifies it where db's certificate /CN=oyster test ca1 verified $WORKDIR/loader-1, so PCR 7's authority events \\(event 10\\) change"
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line of error"; }
[ ! -s "$OUT" ] || { show_last; fail "printed a prediction although the authority event changes"; }
expect_status 1 "$OYSTER" predict --event-log "$log" --boot-loader "$WORKDIR/loader-2b" \
	--current-boot-loader "$WORKDIR/loader-1" --efi-update "db=$WORKDIR/db-ca2.auth"
grep_err "^--boot-loader $WORKDIR/loader-2b: db's certificate /CN=oyster test ca2 verifies it where db's certificate /CN=oyster test ca1 verified"
expect_status 1 "$OYSTER" predict --event-log "$log" --boot-loader "$WORKDIR/loader-2b.unsigned" \
	--current-boot-loader "$WORKDIR/loader-1"
grep_err "loader-2b.unsigned is not signed, so no db entry verifies it under Secure Boot; approve the next boot with oyster reseal --next-boot instead\\.$"
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line of error"; }

say "--shim: the SbatLevel a new shim sets, as its .sbatlevel section and shim's rules decide"
shim_guid=605dab50-e046-4300-abb6-3dd810dd8b23
shim_sbat='sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\nshim,4,UEFI shim,shim,1,https://github.com/rhboot/shim\n'
automatic='sbat,1,2024010900\nshim,4\ngrub,4\n'
latest='sbat,1,2024040900\nshim,4\ngrub,4\ngrub.proxmox,2\n'
python3 "$TCGLOG" shim "$WORKDIR/shim-a" "$shim_sbat" "$automatic" "$latest" || setup_error "tcglog.py shim"
# shim-b is generation 3 of itself: the automatic level (shim,4) would revoke it.
python3 "$TCGLOG" shim "$WORKDIR/shim-b" "${shim_sbat/shim,4,UEFI/shim,3,UEFI}" "$automatic" "$latest" ||
	setup_error "tcglog.py shim"
level() { printf "$1" >"$WORKDIR/$2"; }
level 'sbat,1,2023012900\nshim,2\ngrub,3\ngrub.debian,4\n' level-old
level "$automatic" level-auto
level "$latest" level-latest
level 'sbat,1,2025010100\nshim,4\ngrub,5\n' level-new
# sbat_boot LEVEL: a boot whose shim measured SbatLevel LEVEL, mirrored as SbatLevelRT.
sbat_boot() {
	boot "$A" "$B" "$A" "$DBX1" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:SbatLevel=$WORKDIR/$1"
	{ printf '\006\000\000\000'; cat "$WORKDIR/$1"; } >"$OYSTER_EFIVARS/SbatLevelRT-$shim_guid"
}
sbat_expected() {
	expected "$A" "$B" "$A" "$DBX1" "7:EV_EFI_VARIABLE_AUTHORITY:efivar:SbatLevel=$WORKDIR/$1"
}
sbat_boot level-old
expect_ok "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-a"
want=$(sbat_expected level-auto)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), a boot with the automatic level measures $want"; }
grep_err 'SbatLevel changes\.$'
say "SbatPolicy 'latest' (mokutil --set-sbat-policy latest) takes the latest level"
printf '\007\000\000\000\001' >"$OYSTER_EFIVARS/SbatPolicy-$shim_guid"
expect_ok "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-a"
want=$(sbat_expected level-latest)
[ "$(cat "$OUT")" = "$want" ] || { show_last; fail "predicted $(cat "$OUT"), a boot with the latest level measures $want"; }
rm -f -- "$OYSTER_EFIVARS/SbatPolicy-$shim_guid"
say "a level newer than the shim's is kept; a level that would revoke the shim is not applied"
sbat_boot level-new
expect_ok "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-a"
grep_err 'SbatLevel stays as it is\.$'
grep_err 'nothing to approve'
sbat_boot level-old
expect_ok "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-b"
grep_err 'SbatLevel stays as it is\.$'
say "refused in one line: no SbatLevel event, no .sbatlevel section, a stale SbatLevelRT"
expect_status 1 "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/loader-1"
grep_err "^--shim $WORKDIR/loader-1 has no .sbatlevel section \\(a shim before 15.7, or no shim\\)"
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line of error"; }
level 'sbat,1,2023012900\nshim,2\n' level-other
{ printf '\006\000\000\000'; cat "$WORKDIR/level-other"; } >"$OYSTER_EFIVARS/SbatLevelRT-$shim_guid"
expect_status 1 "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-a"
grep_err 'SbatLevelRT in .* differs from the SbatLevel this boot measured'
boot "$A" "$B" "$A" "$DBX1"
expect_status 1 "$OYSTER" predict --event-log "$log" --shim "$WORKDIR/shim-a"
grep_err 'has not exactly one SbatLevel event in PCR 7 \(a shim before 15.3, or no shim\)'
[ "$(wc -l <"$ERR")" -eq 1 ] || { show_last; fail "more than one line of error"; }
rm -f -- "$OYSTER_EFIVARS/SbatLevelRT-$shim_guid"

say "a log without a db event, or that the firmware hashed otherwise, predicts nothing"
boot "$A" "$B" "$A" "$DBX1"
python3 "$TCGLOG" write "$WORKDIR/nodb.bin" --banks sha256 "0:EV_S_CRTM_VERSION:text:test firmware" >/dev/null
expect_status 1 "$OYSTER" predict --event-log "$WORKDIR/nodb.bin" --efi-update "db=$FIX/db-AB.auth"
grep_err 'no EV_EFI_VARIABLE_DRIVER_CONFIG event of the event log measures db'

say "reseal --predict approves the next boot; this boot still unlocks; the next boot unlocks"
before=$(token_json)
expect_status 1 "$OYSTER" reseal "$img" --predict --event-log "$log" --efi-update "db=$WORKDIR/short.auth"
grep_err 'signature list 1 claims 835 bytes'
[ "$(token_json)" = "$before" ] || fail "a refused reseal --predict changed the token"
expect_ok "$OYSTER" reseal "$img" --predict --event-log "$log" --efi-update "db=$FIX/db-AB.auth"
grep_out 'Approved (states: 2,|for token [0-9]+: 2 states)'
expect_ok token_open "$img"
boot "$A" "$B" "$WORKDIR/db-new" "$DBX1"
expect_ok token_open "$img"

say "a dbx update nobody predicted falls back to the passphrase"
boot "$A" "$B" "$WORKDIR/db-new" "$WORKDIR/dbx-new"
expect_fail token_open "$img"
expect_ok pass_open "$img" "$pass"
say "status names the Secure Boot variables whose measurement changed, and how many signatures were appended"
OYSTER_EVENT_LOG=$log run "$OYSTER" status "$img"
grep_out '^  event: +PCR 7: EV_EFI_VARIABLE_DRIVER_CONFIG #4 \(db\) changed: 1 signature appended$'
grep_out '^  event: +PCR 7: EV_EFI_VARIABLE_DRIVER_CONFIG #5 \(dbx\) changed: 1 signature appended$'
[ "$(grep -c 'event:' "$OUT")" -eq 2 ] || { show_last; fail "status named other events too"; }
say "PASS"
