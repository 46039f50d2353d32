#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Authenticode digest oyster predict computes for a real Debian kernel
# (signed: a certificate table to skip, sections, trailing data) is the one
# pesign computes, and the one firmware measures into PCR 4.
set -eu
. "$TESTDIR/lib.sh"
. "$INITRAMFS_TESTDIR/lib.sh"

: "${AUTHENTICODE_DIGEST:?run through meson}"
command -v pesign >/dev/null 2>&1 || unavailable "'pesign' is not installed (apt-get install pesign)"
find_kernel_image

expect_ok pesign --hash --in "$KIMAGE"
want=$(sed -n 's/^hash: *\([0-9a-fA-F]\{64\}\)$/\1/p' "$OUT" | tr 'A-F' 'a-f')
[ -n "$want" ] || { show_last; setup_error "pesign printed no hash"; }
expect_ok "$AUTHENTICODE_DIGEST" "$KIMAGE"
got=$(cat "$OUT")
say "pesign: $want"
say "oyster: $got"
[ "$got" = "$want" ] || fail "Authenticode digest of $KIMAGE: oyster says $got, pesign says $want"

say "the same kernel cut short is refused, not hashed"
head -c 100000 "$KIMAGE" >"$WORKDIR/short"
expect_status 1 "$AUTHENTICODE_DIGEST" "$WORKDIR/short"
grep_err 'is not a PE/COFF'
say "PASS"
