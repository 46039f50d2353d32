#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: bash shellcheck.sh DIR... Every shell file of the boot
# integrations, as templates (initramfs/, dist/) and as configured (their
# build directories), is clean with all of shellcheck's checks, style ones included;
# so are the initramfs suite's own scripts (but for three idioms of the
# tests: SC1091, sourcing tests/tpm/lib.sh through a variable; SC2015,
# A && B || fail; SC2016, scripts in single quotes for sh -c). The shell
# comes from each #! line.
set -eu
tests=$(dirname -- "$(realpath -- "$0")")

if ! command -v shellcheck >/dev/null 2>&1; then
	if [ -n "${CI:-}" ]; then
		echo "SETUP ERROR: shellcheck is not installed, but CI (.ci/run) installs it" >&2
		exit 99
	fi
	echo "" >&2
	echo "*** SKIP: shellcheck is not installed (apt-get install shellcheck) ***" >&2
	echo "" >&2
	exit 77
fi

# shell_files DIR...: the files under DIR whose #! line names a shell.
shell_files() {
	local f
	while IFS= read -r f; do
		case $(head -n 1 -- "$f") in
		'#!/bin/sh'* | '#!/bin/bash'* | '#!/usr/bin/env bash'*) echo "$f" ;;
		esac
	done < <(find "$@" -maxdepth 3 -type f ! -name '*.build' | sort)
}

mapfile -t integrations < <(shell_files "$@")
mapfile -t suite < <(shell_files "$tests")
suite+=("$tests/lib.sh")
# keyscript, hook, dracut module, mkinitcpio hook: templates and configured.
[ "${#integrations[@]}" -ge 8 ] || { echo "only ${#integrations[@]} shell files in $*" >&2; exit 99; }

rc=0
printf 'shellcheck %s\n' "${integrations[@]}" >&2
shellcheck --severity=style "${integrations[@]}" || rc=1
printf 'shellcheck (suite) %s\n' "${suite[@]}" >&2
shellcheck --severity=style --exclude=SC1091,SC2015,SC2016 "${suite[@]}" || rc=1
[ "$rc" -ne 0 ] || echo "$((${#integrations[@]} + ${#suite[@]})) files clean" >&2
exit "$rc"
