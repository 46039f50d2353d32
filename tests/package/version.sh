#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# version.sh OYSTER PLUGIN VERSION [CHANGELOG]: `oyster --version`, the
# plugin's cryptsetup_token_version() and debian/changelog's top entry all
# say the meson project version.
set -eu
oyster=$1 plugin=$2 want=$3 changelog=${4:-}

got=$("$oyster" --version)
[ "$got" = "oyster $want" ] || { echo "FAIL: oyster --version says '$got', want 'oyster $want'" >&2; exit 1; }

# A sanitizer build's plugin needs the ASan runtime first in the process
# (python's own allocations are not ours to leak-check).
preload=
if [ -n "${SANITIZED:-}" ]; then
	preload=$(gcc -print-file-name=libasan.so)
fi
got=$(LD_PRELOAD="$preload" ASAN_OPTIONS=detect_leaks=0 python3 - "$plugin" <<'PY'
import ctypes, sys
f = ctypes.CDLL(sys.argv[1]).cryptsetup_token_version
f.restype = ctypes.c_char_p
print(f().decode())
PY
)
[ "$got" = "$want" ] || { echo "FAIL: the plugin's cryptsetup_token_version() says '$got', want '$want'" >&2; exit 1; }

if [ -n "$changelog" ]; then
	# The upstream part of the top entry's version: 0.1.0-1 -> 0.1.0.
	got=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
	got=${got#*:}
	got=${got%-*}
	[ "$got" = "$want" ] || { echo "FAIL: debian/changelog's version is '$got', want '$want' (update it with dch -v $want-1)" >&2; exit 1; }
fi
echo "oyster --version, cryptsetup_token_version() and debian/changelog: $want"
