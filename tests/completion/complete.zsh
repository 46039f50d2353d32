#!/bin/zsh -f
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# complete.zsh COMPLETION OYSTER: runs an interactive zsh in a pseudo-terminal
# (zsh/zpty) with compinit and the completion function COMPLETION (_oyster)
# first in $fpath, types partial oyster command lines followed by TAB, and
# checks the candidates the completion system offered. compadd is wrapped so
# that every candidate is also printed ("MATCH:word"). oyster is the build's,
# except `oyster list`; lsblk is a stand-in that reports two LUKS2 volumes, a
# LUKS1 one and an ext4 (as in complete.sh).
emulate -L zsh
setopt err_return no_unset pipe_fail
zmodload zsh/zpty

completion=${1:A}
oyster=${2:A}
work=$(mktemp -d "${TMPDIR:-/tmp}/oyster-zsh-completion.XXXXXX")
trap 'zpty -d z 2>/dev/null; rm -rf -- $work' EXIT

mkdir -p $work/fpath $work/bin $work/cwd
cp -- $completion $work/fpath/_oyster
cat >$work/bin/oyster <<STUB
#!/bin/sh
case "\${1:-} \${2:-}" in
"list /dev/"*)
	[ "\$2" = /dev/vda3 ] && printf '/dev/vda3 0\n/dev/vda3 2\n'
	exit 0
	;;
esac
exec "$oyster" "\$@"
STUB
cat >$work/bin/lsblk <<'STUB'
#!/bin/sh
printf '/dev/vda \n/dev/vda1 ext4 1.0\n/dev/vda3 crypto_LUKS 2\n/dev/vdb crypto_LUKS 2\n/dev/vdc crypto_LUKS 1\n'
STUB
chmod +x $work/bin/oyster $work/bin/lsblk
: >$work/cwd/a-file

cat >$work/zshrc <<EOF
PS1='zprompt> '
PATH=$work/bin:\$PATH
fpath=($work/fpath \$fpath)
cd $work/cwd
autoload -Uz compinit && compinit -u -d $work/zcompdump
zstyle ':completion:*' list-prompt ''
zstyle ':completion:*' menu no
LISTMAX=0
compadd() {
	local -a matches
	builtin compadd -O matches "\$@"
	print -rl -- "" \${matches/#/MATCH:}
	builtin compadd "\$@"
}
EOF

ZDOTDIR=$work zpty z "ZDOTDIR=$work TERM=dumb zsh -i"
zpty -w z "source $work/zshrc; print READY-\$((6*7))"
zpty -r z out '*READY-42*zprompt> '

failed=0
n=0
# expect 'LINE' CANDIDATE...: TAB after LINE offers exactly the candidates.
# Each line is typed only once the prompt is back (zle reading), and ends
# with a command whose output marks where the completion's output ends.
# offered LINE: sets got to the sorted candidates, and out to what the
# terminal showed.
offered() {
	(( ++n ))
	zpty -w -n z "$1"$'\t'
	zpty -w z $'\C-e\C-u'"print DONE-$n-\$((1))"
	zpty -r z out "*DONE-$n-1*zprompt> "
	got=(${(ou)${(M)${(f)${out//$'\r'/}}:#MATCH:*}#MATCH:})
}

expect() {
	local line=$1 out
	local -a got
	shift
	offered $line
	if [[ ${(j: :)got} == ${(j: :)${(ou)@}} ]]; then
		print -r -- "ok: '$line' -> $got"
	else
		print -ru2 -- "FAIL: '$line' offers [$got], want [${(ou)@}]; the terminal showed:"
		print -ru2 -- ${(q+)out}
		failed=1
	fi
}

expect 'oyster ' enroll status reseal predict wipe unseal pcrs prune fence boot-setup list tpm-setup help --help --version
expect 'oyster re' reseal
expect 'oyster help st' status
expect 'oyster wipe --' --token --all --recovery --force --help
expect 'oyster status --j' --json
expect 'oyster enroll ' /dev/vda3 /dev/vdb
expect 'oyster enroll /dev/vda3 --pcrs 0+2+secure' secure-boot-policy
expect 'oyster enroll /dev/vda3 --bank sha' sha256 sha1 sha384 sha512
expect 'oyster wipe /dev/vda3 --token ' 0 2
expect 'oyster wipe /dev/vdb --token '
expect 'oyster fence /dev/vda3 --pcr 2' 2 20 21 22 23
expect 'oyster predict --kernel a-' a-file

# Every verb's every option completes after '--' (as complete.sh checks for
# bash): the options are the first long option of each option line.
local verb opt out
local -a got
for verb in ${(f)"$($oyster --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p')"}; do
	offered "oyster $verb --"
	for opt in ${(f)"$($oyster $verb --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' | sort -u)"}; do
		(( ${got[(Ie)$opt]} )) || { print -ru2 -- "FAIL: 'oyster $verb --' does not offer $opt"; failed=1; }
	done
	print -r -- "ok: 'oyster $verb --' offers its ${#got} options"
done
exit $failed
