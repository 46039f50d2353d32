#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
fence-pcr.py START VOLUME...: the sha256 PCR value after `oyster fence`
extends START (hex) once per VOLUME, computed here from the volumes
themselves, apart from oyster's code. VOLUME is an image file (LUKS1 or
LUKS2), "-" for the "no volume" event, or "!" for the "unreadable volume" one.

The event of a volume is "oyster-fence UUID KEYS", KEYS the hex SHA-256 of
its volume key's digest records: for LUKS2 each digest object's id, salt and
digest strings, each followed by a NUL, in the header's order; for LUKS1 the
binary header's mk-digest-salt (32 bytes at 132) then mk-digest (20 at 112).
TPM2_PCR_Event: PCR = SHA-256(PCR || SHA-256(event)).
"""
import hashlib
import json
import subprocess
import sys


def event(volume):
    if volume == "-":
        return b"oyster-fence no-volume"
    if volume == "!":
        return b"oyster-fence unreadable-volume"
    with open(volume, "rb") as f:
        hdr = f.read(4096)
    if hdr[:6] != b"LUKS\xba\xbe":
        sys.exit("fence-pcr.py: %s is not LUKS" % volume)
    version = int.from_bytes(hdr[6:8], "big")
    keys = hashlib.sha256()
    if version == 1:
        uuid = hdr[168:208].split(b"\0")[0].decode()
        keys.update(hdr[132:164] + hdr[112:132])
    else:
        meta = json.loads(subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", volume],
                                         check=True, capture_output=True).stdout)
        uuid = hdr[168:208].split(b"\0")[0].decode()
        for id_, d in meta["digests"].items():
            for s in (id_, d["salt"], d["digest"]):
                keys.update(s.encode() + b"\0")
    return ("oyster-fence %s %s" % (uuid, keys.hexdigest())).encode()


pcr = bytes.fromhex(sys.argv[1])
for v in sys.argv[2:]:
    pcr = hashlib.sha256(pcr + hashlib.sha256(event(v)).digest()).digest()
print(pcr.hex())
