#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# complete.sh COMPLETION OYSTER: loads the bash completion (with
# bash-completion's own helpers when installed, as an interactive shell
# has them), sets COMP_WORDS/COMP_CWORD by hand, calls _oyster and checks
# the candidates. oyster is the build's, except `oyster list`; lsblk and
# blkid are stand-ins that report two LUKS2 volumes, a LUKS1 one and an ext4.
set -eu
completion=$(realpath -- "$1")
oyster=$(realpath -- "$2")
work=$(mktemp -d "${TMPDIR:-/tmp}/oyster-completion.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

cat >"$work/oyster" <<STUB
#!/bin/sh
case "\${1:-} \${2:-}" in
"list /dev/"*)
	[ "\$2" = /dev/vda3 ] && printf '/dev/vda3 0\n/dev/vda3 2\n'
	exit 0
	;;
esac
exec "$oyster" "\$@"
STUB
cat >"$work/lsblk" <<'STUB'
#!/bin/sh
printf '/dev/vda \n/dev/vda1 ext4 1.0\n/dev/vda3 crypto_LUKS 2\n/dev/vdb crypto_LUKS 2\n/dev/vdc crypto_LUKS 1\n'
STUB
chmod +x "$work/oyster" "$work/lsblk"
export PATH="$work:$PATH"

if [ -r /usr/share/bash-completion/bash_completion ]; then
	# shellcheck source=/dev/null
	. /usr/share/bash-completion/bash_completion
fi
# shellcheck source=/dev/null
. "$completion"

failed=0
# expect 'LINE' CANDIDATE...: completing after LINE (the last word is the
# one being completed, '' for a new word) offers exactly the candidates.
expect() {
	local line=$1 got want
	shift
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=('')
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line COMP_POINT=${#line}
	_oyster || true # (set -e must not see compgen find nothing)
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	if [ "$got" = "$want" ]; then
		echo "ok: '$line' -> $got"
	else
		echo "FAIL: '$line' offers [$got], want [$want]" >&2
		failed=1
	fi
}

expect 'oyster ' enroll status reseal predict wipe unseal pcrs prune fence boot-setup list tpm-setup help --help --version
expect 'oyster re' reseal
expect 'oyster help st' status
expect 'oyster wipe --' --token --all --recovery --force --help
expect 'oyster status --j' --json
expect 'oyster enroll ' /dev/vda3 /dev/vdb
expect 'oyster enroll /dev/vda3 --pcrs 0+2+secure' 0+2+secure-boot-policy
expect 'oyster enroll /dev/vda3 --pcrs 1' 1 10 11 12 13 14 15 16 17 18 19
expect 'oyster enroll /dev/vda3 --pcrs 7,boot-loader-c' 7,boot-loader-code 7,boot-loader-config
expect 'oyster enroll /dev/vda3 --bank sha' sha256 sha1 sha384 sha512
expect 'oyster wipe /dev/vda3 --token ' 0 2
expect 'oyster reseal --unattended /dev/vda3 --token ' 0 2
expect 'oyster wipe /dev/vdb --token ' 
expect 'oyster fence /dev/vda3 --pcr 2' 2 20 21 22 23
expect 'oyster status /dev/vda3 ' 
expect 'oyster pcrs --bank sm' sm3_256

# Every verb's every option completes after '--': the list comes from its
# --help, the first long option of each option line (descriptions may name
# other verbs' options, which must not be offered).
for verb in $("$oyster" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
	COMP_WORDS=(oyster "$verb" --)
	COMP_CWORD=2
	_oyster || true
	for opt in $("$oyster" "$verb" --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' | sort -u); do
		printf '%s\n' "${COMPREPLY[@]}" | grep -qxF -- "$opt" ||
			{ echo "FAIL: 'oyster $verb --' does not offer $opt" >&2; failed=1; }
	done
done
exit $failed
