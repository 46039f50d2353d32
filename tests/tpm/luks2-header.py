#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Rewrites a LUKS2 header by hand, as someone with the disk could: what
# libcryptsetup never writes itself (a duplicated key, copies that disagree,
# a truncated token). Layout: the binary header (4096 bytes, big-endian
# fields) then the JSON area, NUL-padded, twice: the primary at 0 and the
# secondary at hdr_size. The checksum covers both parts with its own field
# zeroed.
#
#   luks2-header.py get IMG COPY                 the JSON text of COPY
#   luks2-header.py set IMG COPY FILE [SEQID]    write FILE's text as COPY's JSON
#                                                (its seqid too), checksum fixed
#   luks2-header.py break IMG COPY               flip a JSON byte, checksum left stale
#   luks2-header.py seqid IMG COPY               print COPY's seqid
#
# COPY is primary or secondary.
import hashlib, struct, sys

def offset(f, copy):
    f.seek(0)
    hdr = f.read(4096)
    if hdr[:6] != b"LUKS\xba\xbe":
        sys.exit("luks2-header.py: no LUKS2 primary header")
    size = struct.unpack(">Q", hdr[8:16])[0]
    return (0 if copy == "primary" else size), size

def read(f, copy):
    off, size = offset(f, copy)
    f.seek(off)
    return off, bytearray(f.read(size))

def checksum(hdr):
    zeroed = bytes(hdr[:448]) + bytes(64) + bytes(hdr[512:])
    return hashlib.sha256(zeroed).digest()

def main():
    cmd, img, copy = sys.argv[1:4]
    with open(img, "r+b") as f:
        off, hdr = read(f, copy)
        if cmd == "get":
            sys.stdout.write(hdr[4096:].rstrip(b"\0").decode())
        elif cmd == "seqid":
            print(struct.unpack(">Q", hdr[16:24])[0])
        elif cmd == "set":
            text = open(sys.argv[4], "rb").read()
            if len(text) >= len(hdr) - 4096:
                sys.exit("luks2-header.py: JSON larger than the JSON area")
            hdr[4096:] = text + bytes(len(hdr) - 4096 - len(text))
            if len(sys.argv) > 5:
                hdr[16:24] = struct.pack(">Q", int(sys.argv[5]))
            hdr[448:480] = checksum(hdr)
            f.seek(off)
            f.write(hdr)
        elif cmd == "break":
            f.seek(off + 4097)
            f.write(b"X")
        else:
            sys.exit("luks2-header.py: unknown command " + cmd)

main()
