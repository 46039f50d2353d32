#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: mkinitcpio (Arch) is not packaged for Debian, so its install hook
# runs here with stub add_binary/add_file/add_module/add_checked_modules that
# record what it adds, in the sandbox where oyster is installed. Every file
# it adds exists on this machine (the plugin, the TCTI modules), the module
# directory it asks for exists in the kernel, a TCTI asked for in
# OYSTER_TCTIS is added, a bad name is refused, and help shows a HOOKS line
# with oyster before encrypt and before sd-encrypt. In a systemd image
# (sd-encrypt, which runs no latehooks) it writes oyster-fence.service,
# wanted by initrd-switch-root.target and emergency.target, whose command
# runs the same fence.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

: "${MKINITCPIO_INSTALL:?}"
find_kernel
sandbox_init

stubs=$WORKDIR/stubs.sh
cat >"$stubs" <<'EOF'
# What mkinitcpio's functions would be asked to add, one "kind path" a line;
# errors (which fail mkinitcpio's build) in $WORKDIR/errors.
added=$WORKDIR/added
add_binary() { local p=$1; case $p in /*) ;; *) p=$(command -v "$p") ;; esac; echo "binary $p" >>"$added"; [ -f "$p" ] || { error "file not found: '%s'" "$1"; return 1; }; }
add_file() { echo "file $1" >>"$added"; [ -f "$1" ] || { error "file not found: '%s'" "$1"; return 1; }; }
add_module() { echo "module $1" >>"$added"; }
add_checked_modules() { echo "modules $1" >>"$added"; }
add_all_modules() { echo "modules $1" >>"$added"; }
add_full_dir() { echo "dir $1" >>"$added"; }
add_runscript() { echo "runscript" >>"$added"; }
add_dir() { mkdir -p "$BUILDROOT$1"; }
add_symlink() { echo "symlink $1 $2" >>"$added"; mkdir -p "$BUILDROOT${1%/*}"; ln -sfn "$2" "$BUILDROOT$1"; }
error() { local f=$1; shift; printf "==> ERROR: $f\n" "$@" | tee -a "$WORKDIR/errors" >&2; }
warning() { local f=$1; shift; printf "==> WARNING: $f\n" "$@" >&2; }
EOF

# hook [VAR=VALUE...]: the install hook's build() in the sandbox, as
# mkinitcpio runs it (sourced by bash, configuration variables set).
hook() {
	rm -f "$WORKDIR/added" "$WORKDIR/errors"
	run sandbox env WORKDIR="$WORKDIR" BUILDROOT="$WORKDIR/buildroot" "$@" bash -c '. "$1"; . "$2"; build' hook "$stubs" "$MKINITCPIO_INSTALL"
	touch "$WORKDIR/added" "$WORKDIR/errors"
}

say "build() adds the plugin, the device TCTI and the TPM drivers; each exists"
hook
[ "$RC" -eq 0 ] && [ ! -s "$WORKDIR/errors" ] || { show_last; fail "build() failed"; }
cat "$WORKDIR/added" >&2
grep -qx "binary $TOKENDIR/libcryptsetup-token-oyster-tpm2.so" "$WORKDIR/added" || fail "the plugin is not added"
grep -qx "binary $TSS2_LIBDIR/libtss2-tcti-device.so.0" "$WORKDIR/added" || fail "the device TCTI is not added"
grep -qx "binary $SBINDIR/oyster" "$WORKDIR/added" || fail "the oyster tool (for the boot fence) is not added"
grep -qx "runscript" "$WORKDIR/added" || fail "the boot fence's runtime hook is not added"
! grep -q 'tcti-swtpm' "$WORKDIR/added" || fail "the swtpm TCTI is added without being asked for"
while read -r kind path; do
	case $kind in
	binary | file) sandbox test -f "$path" || fail "build() adds $path, which does not exist" ;;
	modules) [ -d "$KMODULES/kernel/${path#/}" ] || fail "build() adds modules from $path, which kernel $KVER lacks" ;;
	runscript) [ -s "$(dirname -- "$MKINITCPIO_INSTALL")/mkinitcpio-hook" ] || fail "build() adds its runscript, which was not built" ;;
	symlink) fail "build() adds systemd units to an image without systemd: $path" ;;
	module) find "$KMODULES" -name "${path%\?}.ko*" | grep -q . || fail "build() adds module $path, which kernel $KVER lacks" ;;
	*) fail "build() adds something unexpected: $kind $path" ;;
	esac
done <"$WORKDIR/added"

[ ! -e "$WORKDIR/buildroot/usr/lib/systemd/system/oyster-fence.service" ] || fail "a busybox image got the systemd fence unit"

say "a systemd image (sd-encrypt runs no latehooks): oyster-fence.service, enabled before the switch root"
mkdir -p "$WORKDIR/buildroot/usr/lib/systemd" "$WORKDIR/buildroot/usr/bin"
: >"$WORKDIR/buildroot/usr/lib/systemd/systemd"
: >"$WORKDIR/buildroot/usr/bin/sh"
hook
[ "$RC" -eq 0 ] && [ ! -s "$WORKDIR/errors" ] || { show_last; fail "build() failed for a systemd image"; }
unit=$WORKDIR/buildroot/usr/lib/systemd/system/oyster-fence.service
[ -s "$unit" ] || fail "no oyster-fence.service in the systemd image"
for target in initrd-switch-root.target emergency.target; do
	link=$WORKDIR/buildroot/usr/lib/systemd/system/$target.wants/oyster-fence.service
	[ "$(readlink -f "$link")" = "$unit" ] || fail "oyster-fence.service is not wanted by $target"
done
grep -qx 'DefaultDependencies=no' "$unit" || fail "the unit keeps the default dependencies (it would order after the switch root)"
grep -qE '^Before=.*initrd-switch-root\.target' "$unit" || fail "the unit does not run before initrd-switch-root.target"
grep -qE '^After=.*cryptsetup\.target' "$unit" || fail "the unit does not wait for cryptsetup.target"
grep -qxF "ExecStart=/usr/bin/sh -c '. /hooks/oyster && run_latehook'" "$unit" || fail "the unit does not run the fence latehook"
need systemd-analyze
run systemd-analyze verify "$unit"
[ "$RC" -eq 0 ] && [ ! -s "$ERR" ] || { show_last; fail "systemd-analyze verify finds fault with the unit"; }
say "the unit's command runs the fence: the latehook, sourced by sh, calls oyster fence --all (every LUKS volume, or none)"
mkdir -p "$WORKDIR/fake"
printf '#!/bin/sh\necho "$*" >>"%s"\n' "$WORKDIR/fence.args" >"$WORKDIR/fake/oyster"
chmod 755 "$WORKDIR/fake/oyster"
sed "s|$SBINDIR/oyster|$WORKDIR/fake/oyster|" "$(dirname -- "$MKINITCPIO_INSTALL")/mkinitcpio-hook" >"$WORKDIR/hook"
exec_start=$(sed -n "s/^ExecStart=//p" "$unit" | sed "s|/hooks/oyster|$WORKDIR/hook|")
run env PATH="$WORKDIR/fake:$PATH" sh -c "$(echo "$exec_start" | sed -e "s/^\/usr\/bin\/sh -c '//" -e "s/'\$//")"
[ "$RC" -eq 0 ] || { show_last; fail "the unit's command failed"; }
[ "$(cat "$WORKDIR/fence.args")" = "fence --boot --all" ] || fail "the unit's command ran: [$(cat "$WORKDIR/fence.args" 2>/dev/null)]"
rm -rf "$WORKDIR/buildroot"

say "OYSTER_TCTIS adds more TCTI modules"
hook OYSTER_TCTIS="swtpm"
[ "$RC" -eq 0 ] && [ ! -s "$WORKDIR/errors" ] || { show_last; fail "build() failed with OYSTER_TCTIS=swtpm"; }
grep -qx "binary $TSS2_LIBDIR/libtss2-tcti-swtpm.so.0" "$WORKDIR/added" || fail "the swtpm TCTI is not added"

say "a TCTI that is not installed fails, as add_binary does in mkinitcpio"
hook OYSTER_TCTIS="nosuch"
grep -q "ERROR: file not found: '$TSS2_LIBDIR/libtss2-tcti-nosuch.so.0'" "$WORKDIR/errors" ||
	{ show_last; fail "no error naming the missing TCTI"; }

say "a bad TCTI name is refused"
hook OYSTER_TCTIS="../../etc/shadow"
[ "$RC" -ne 0 ] || fail "build() accepted a TCTI name with slashes"
grep -q "is not a TCTI name" "$WORKDIR/errors" || { show_last; fail "no error about the bad name"; }
! grep -q 'shadow' "$WORKDIR/added" || fail "build() added a path from a bad TCTI name"

say "help() documents the HOOKS line: oyster before encrypt and sd-encrypt"
run bash -c '. "$1"; help' hook "$MKINITCPIO_INSTALL"
grep -qE '^ *HOOKS=\(.* block oyster encrypt .*\)$' "$OUT" || { show_last; fail "help has no HOOKS line with oyster before encrypt"; }
grep -qE '^ *HOOKS=\(.* block oyster sd-encrypt .*\)$' "$OUT" || { show_last; fail "help has no HOOKS line with oyster before sd-encrypt"; }
say "PASS"
