#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Read TPM traffic captured by tpm2-tss's pcap TCTI and count TPM commands.

tpm2-tss 3.2.1's pcap TCTI (TCTI_PCAP_FILE) appends one pcapng section per
process: a section header, an interface of link type LINKTYPE_IPV4 (228), and
one enhanced packet block per TPM command or response, each wrapped in a fake
IPv4 + TCP header (host port 50000 -> TPM port 2321). Classic pcap and
Ethernet/IPv6 framing are accepted too. Standard library only.

  tpm-pcap.py count [--json] FILE...    commands, per command code, failures
                                        (JSON: also the count in each file, and
                                        where each command first appears)
  tpm-pcap.py unsealed FILE             hex of each Unseal response's outData
  tpm-pcap.py contains FILE HEX         exit 0 if the bytes occur in the TPM
                                        traffic (either direction), else 1
  tpm-pcap.py selftest                  check the parser on synthetic captures
"""

import json
import struct
import sys

TPM_PORT = 2321
CC_UNSEAL = 0x15E

# The TPM 2.0 command codes from 0x11F on, in order ("-": unassigned).
CC_FIRST = 0x11F
CC_NAMES = {
    CC_FIRST + i: name
    for i, name in enumerate("""
    NV_UndefineSpaceSpecial EvictControl HierarchyControl NV_UndefineSpace
    - ChangeEPS ChangePPS Clear ClearControl ClockSet HierarchyChangeAuth
    NV_DefineSpace PCR_Allocate PCR_SetAuthPolicy PP_Commands
    SetPrimaryPolicy FieldUpgradeStart ClockRateAdjust CreatePrimary
    NV_GlobalWriteLock GetCommandAuditDigest NV_Increment NV_SetBits
    NV_Extend NV_Write NV_WriteLock DictionaryAttackLockReset
    DictionaryAttackParameters NV_ChangeAuth PCR_Event PCR_Reset
    SequenceComplete SetAlgorithmSet SetCommandCodeAuditStatus
    FieldUpgradeData IncrementalSelfTest SelfTest Startup Shutdown
    StirRandom ActivateCredential Certify PolicyNV CertifyCreation
    Duplicate GetTime GetSessionAuditDigest NV_Read NV_ReadLock
    ObjectChangeAuth PolicySecret Rewrap Create ECDH_ZGen HMAC Import Load
    Quote RSA_Decrypt - HMAC_Start SequenceUpdate Sign Unseal -
    PolicySigned ContextLoad ContextSave ECDH_KeyGen EncryptDecrypt
    FlushContext - LoadExternal MakeCredential NV_ReadPublic
    PolicyAuthorize PolicyAuthValue PolicyCommandCode PolicyCounterTimer
    PolicyCpHash PolicyLocality PolicyNameHash PolicyOR PolicyTicket
    ReadPublic RSA_Encrypt - StartAuthSession VerifySignature
    ECC_Parameters FirmwareRead GetCapability GetRandom GetTestResult Hash
    PCR_Read PolicyPCR PolicyRestart ReadClock PCR_Extend PCR_SetAuthValue
    NV_Certify EventSequenceComplete HashSequenceStart
    PolicyPhysicalPresence PolicyDuplicationSelect PolicyGetDigest
    TestParms Commit PolicyPassword ZGen_2Phase EC_Ephemeral
    PolicyNvWritten PolicyTemplate CreateLoaded PolicyAuthorizeNV
    EncryptDecrypt2 AC_GetCapability AC_Send Policy_AC_SendSelect
    CertifyX509 ACT_SetTimeout
""".split())
    if name != "-"
}


class PcapError(Exception):
    pass


def cc_name(cc):
    return CC_NAMES.get(cc, "0x%08x" % cc)


def pcapng_packets(data):
    """Yield (section, linktype, frame) from pcapng data with any sections."""
    off, section, linktypes, endian = 0, -1, [], "<"
    while off + 12 <= len(data):
        btype_raw = data[off:off + 4]
        if btype_raw == b"\x0a\x0d\x0d\x0a":
            bom = data[off + 8:off + 12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                raise PcapError("bad pcapng byte-order magic at %d" % off)
            section += 1
            linktypes = []
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or blen % 4 or off + blen > len(data):
            raise PcapError("truncated or corrupt pcapng block at %d" % off)
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description block
            linktypes.append(struct.unpack_from(endian + "H", body, 0)[0])
        elif btype == 6:  # enhanced packet block
            ifid, _, _, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            if ifid >= len(linktypes):
                raise PcapError("packet for unknown interface at %d" % off)
            yield section, linktypes[ifid], body[20:20 + caplen]
        elif btype == 3:  # simple packet block: interface 0
            caplen = min(struct.unpack_from(endian + "I", body, 0)[0],
                         len(body) - 4)
            yield section, linktypes[0], body[4:4 + caplen]
        off += blen


def classic_packets(data):
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    else:
        endian = ">"
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from(endian + "I", data, off + 8)[0]
        yield 0, linktype, data[off + 16:off + 16 + caplen]
        off += 16 + caplen


def tcp_segment(linktype, frame):
    """Return (sport, dport, payload) of a TCP frame, or None."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        ethertype = struct.unpack_from(">H", frame, 12)[0]
        frame = frame[14:]
        linktype = {0x0800: 228, 0x86DD: 229}.get(ethertype)
    elif linktype in (101, 12):  # raw IP, version from the first nibble
        linktype = 228 if frame and frame[0] >> 4 == 4 else 229
    if linktype == 228:
        if len(frame) < 20 or frame[0] >> 4 != 4 or frame[9] != 6:
            return None
        ihl = (frame[0] & 15) * 4
        total = struct.unpack_from(">H", frame, 2)[0]
        seg = frame[ihl:total if total >= ihl else len(frame)]
    elif linktype == 229:
        if len(frame) < 40 or frame[6] != 6:
            return None
        seg = frame[40:40 + struct.unpack_from(">H", frame, 4)[0]]
    else:
        return None
    if len(seg) < 20:
        return None
    sport, dport = struct.unpack_from(">HH", seg, 0)
    return sport, dport, seg[(seg[12] >> 4) * 4:]


def read_capture(path):
    """Return the TPM messages in order: a list of (section, is_cmd, bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return []
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        packets = pcapng_packets(data)
    elif data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                      b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        packets = classic_packets(data)
    else:
        raise PcapError("%s: neither pcapng nor pcap" % path)

    # Reassemble each direction of each section, then cut it into TPM
    # messages by the size field of their 10-byte header: a message may span
    # several packets, or (in principle) a packet hold several messages.
    buffers, messages = {}, []
    for section, linktype, frame in packets:
        seg = tcp_segment(linktype, frame)
        if seg is None or not seg[2]:
            continue
        sport, dport, payload = seg
        if dport == TPM_PORT:
            is_cmd = True
        elif sport == TPM_PORT:
            is_cmd = False
        else:
            is_cmd = sport > dport  # unknown ports: the client's is the high one
        key = (section, is_cmd)
        buf = buffers.get(key, b"") + payload
        while len(buf) >= 10:
            size = struct.unpack_from(">I", buf, 2)[0]
            if size < 10:
                raise PcapError("%s: TPM message with size %d" % (path, size))
            if len(buf) < size:
                break
            messages.append((section, is_cmd, buf[:size]))
            buf = buf[size:]
        buffers[key] = buf
    return messages


def transactions(messages):
    """Pair each command with its response (the next one in its section)."""
    pending, out = {}, []
    for section, is_cmd, msg in messages:
        if is_cmd:
            entry = {"cc": struct.unpack_from(">I", msg, 6)[0], "cmd": msg,
                     "rc": None, "rsp": None}
            out.append(entry)
            pending.setdefault(section, []).append(entry)
        elif pending.get(section):
            entry = pending[section].pop(0)
            entry["rsp"] = msg
            entry["rc"] = struct.unpack_from(">I", msg, 6)[0]
    return out


def summarize(paths):
    total, failed, by_cc, per_file = 0, 0, {}, []
    for path in paths:
        ts = transactions(read_capture(path))
        per_file.append(len(ts))
        for t in ts:
            name = cc_name(t["cc"])
            row = by_cc.setdefault(name, {"count": 0, "failed": 0, "first": total})
            total += 1
            row["count"] += 1
            if t["rc"]:
                failed += 1
                row["failed"] += 1
    return {"commands": total, "failed": failed, "by_command": by_cc,
            "per_file": per_file}


def unsealed(path):
    """outData of each successful Unseal response, as raw bytes."""
    out = []
    for t in transactions(read_capture(path)):
        if t["cc"] != CC_UNSEAL or t["rc"] != 0 or t["rsp"] is None:
            continue
        rsp = t["rsp"]
        off = 14 if struct.unpack_from(">H", rsp, 0)[0] == 0x8002 else 10
        if len(rsp) < off + 2:
            continue
        n = struct.unpack_from(">H", rsp, off)[0]
        out.append(rsp[off + 2:off + 2 + n])
    return out


def _synthetic(path, endian, messages, split=None):
    """Write a pcapng section the way the pcap TCTI does (IPv4 + TCP)."""
    e = endian

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)

    out = block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack(e + "HHI", 228, 0, 0))
    for i, (is_cmd, payload) in enumerate(messages):
        pieces = [payload[:split], payload[split:]] if split else [payload]
        for piece in pieces:
            sport, dport = (50000, TPM_PORT) if is_cmd else (TPM_PORT, 50000)
            tcp = struct.pack(">HHIIBBHHH", sport, dport, 0, 0, 5 << 4, 0x10,
                              0xFFFF, 0, 0) + piece
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000,
                             255, 6, 0, b"\x7f\0\0\1", b"\x7f\0\0\1") + tcp
            out += block(6, struct.pack(e + "IIIII", 0, 0, i, len(ip), len(ip)) + ip)
    with open(path, "ab") as f:
        f.write(out)


def selftest():
    import os
    import tempfile

    def cmd(cc, body=b""):
        return struct.pack(">HII", 0x8001, 10 + len(body), cc) + body

    def rsp(rc, body=b""):
        tag = 0x8002 if body else 0x8001
        return struct.pack(">HII", tag, 10 + len(body), rc) + body

    secret = bytes(range(32))
    unseal_rsp = rsp(0, struct.pack(">IH", 34, 32) + secret + b"\0\0\1\0\0")
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.pcap")
        # Two processes appending, one of them big-endian with split packets.
        _synthetic(p, "<", [(True, cmd(0x17A)), (False, rsp(0)),
                            (True, cmd(0x17F)), (False, rsp(0x99D))])
        _synthetic(p, ">", [(True, cmd(0x15E, b"\x80\0\0\1")),
                            (False, unseal_rsp)], split=7)
        s = summarize([p])
        assert s["commands"] == 3, s
        assert s["failed"] == 1, s
        assert s["by_command"]["PolicyPCR"]["failed"] == 1, s
        assert s["by_command"]["Unseal"]["count"] == 1, s
        assert unsealed(p) == [secret], unsealed(p)
        assert main(["contains", p, secret[5:20].hex()]) == 0
        assert main(["contains", p, "deadbeef"]) == 1
    print("tpm-pcap selftest: ok")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "count":
        as_json = "--json" in argv
        paths = [a for a in argv[1:] if a != "--json"]
        s = summarize(paths)
        if as_json:
            print(json.dumps(s, sort_keys=True))
        else:
            print("%d TPM commands (%d failed)" % (s["commands"], s["failed"]))
            for name, row in sorted(s["by_command"].items(),
                                    key=lambda kv: (-kv[1]["count"], kv[1]["first"])):
                extra = " (%d failed)" % row["failed"] if row["failed"] else ""
                print("  %5d  %s%s" % (row["count"], name, extra))
        return 0
    if len(argv) == 2 and argv[0] == "unsealed":
        for data in unsealed(argv[1]):
            print(data.hex())
        return 0
    if len(argv) == 3 and argv[0] == "contains":
        needle = bytes.fromhex(argv[2])
        streams = {}
        for section, is_cmd, msg in read_capture(argv[1]):
            streams[(section, is_cmd)] = streams.get((section, is_cmd), b"") + msg
        return 0 if any(needle in s for s in streams.values()) else 1
    if argv == ["selftest"]:
        return selftest()
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, PcapError, struct.error) as e:
        sys.stderr.write("tpm-pcap: %s\n" % e)
        sys.exit(99)
