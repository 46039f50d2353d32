#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# build-debs.sh OUTDIR
#
# Builds oyster's Debian packages the way a user does (dpkg-buildpackage -us
# -uc -b), in a copy of the source tree under OUTDIR so that the tree stays
# clean, and then a second set one version higher (a changelog entry added
# with dch to the built tree, packaged again) for the suite `package`'s upgrade:
#   OUTDIR/*.deb          the packages of debian/changelog's version
#   OUTDIR/next/*.deb     the same, version VERSION+1
# Needs the Build-Depends of debian/control, and devscripts (dch).
set -eu

out=$(mkdir -p -- "$1" && cd -- "$1" && pwd)
src=$(cd -- "$(dirname -- "$0")/../.." && pwd)

copy_tree() {
	rm -rf -- "$2"
	mkdir -p -- "$2"
	if git -C "$1" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# Tracked files and new ones not ignored: what `git add -A` would commit.
		(cd -- "$1" && git ls-files -z --cached --others --exclude-standard) |
			(cd -- "$1" && xargs -0 cp --parents -t "$2" --)
	else
		# An unpacked tarball: everything but build directories.
		tar -C "$1" --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$2" -xf -
	fi
}

rm -f -- "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
copy_tree "$src" "$out/src"
(cd -- "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
	{ tail -n 40 "$out/build.log" >&2; echo "build-debs.sh: dpkg-buildpackage failed (log: $out/build.log)" >&2; exit 1; }

version=$(cd -- "$out/src" && dpkg-parsechangelog -S Version)
# The same tree, built: -nc keeps the build, so only the packaging runs again.
mkdir -p -- "$out/next"
rm -f -- "$out/next"/*.deb "$out/next"/*.changes "$out/next"/*.buildinfo
(cd -- "$out/src" &&
	DEBEMAIL=oyster-tests@localhost DEBFULLNAME="oyster tests" \
		dch --newversion "$version+1" --distribution bookworm --force-distribution \
		"Test upgrade: the same code, one version higher." &&
	DEB_BUILD_OPTIONS="nocheck noautodbgsym" dpkg-buildpackage -us -uc -b -nc) >"$out/next/build.log" 2>&1 ||
	{ tail -n 40 "$out/next/build.log" >&2; echo "build-debs.sh: the second build failed (log: $out/next/build.log)" >&2; exit 1; }
mv -- "$out"/*+1_*.deb "$out"/*+1_*.changes "$out"/*+1_*.buildinfo "$out/next/"
rm -rf -- "$out/src"

for deb in "$out"/*.deb "$out"/next/*.deb; do
	printf '%s\t%s bytes\n' "${deb#"$out"/}" "$(stat -c %s "$deb")"
done
