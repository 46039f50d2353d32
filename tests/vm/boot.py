#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
boot.py: one boot of a qemu VM (TCG) for the vm suite, driven through its
serial console.

Starts a swtpm for the boot (unless --no-tpm), then qemu with the serial
console on its stdin/stdout. Reads the console line by line, writes it to
--log with each line's arrival time, answers a passphrase prompt (--prompt, a
regular expression matched on the unfinished line too: prompts end without a
newline) with the next --answer, and fails when a prompt comes with no answer
left or when answers are left over. Passes when the root system printed the
marker ("OYSTER-VM: root mounted") and qemu powered off within --timeout
seconds. Prints the boot's figures (from the guest's printk timestamps) and,
on failure, the console log. qemu and swtpm are stopped on every way out.

It also counts the commands that reach the TPM (swtpm's log at level 20
holds each command and response): split into connections at the device
TCTI's probe (GetRandom of 8 bytes, the first command of every tpm2-tss
device connection), the initramfs's part is the unlock (the connections up
to the first that unseals), the prune (the connections after it) and the
fence (the first connection that extends a PCR: PCR_Event or PCR_Extend); what follows is the root
system's. The counts are deterministic, so a count above its ceiling
(CEILINGS) fails the boot. The whole sequence goes to LOG.tpm.

Exit status: 0 pass, 1 fail, 99 setup failure (qemu or swtpm did not start).
"""
import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MARKER = "OYSTER-VM: root mounted"
DONE = "OYSTER-VM: done"
TYPE_DELAY = 1.0
UPTIME = re.compile(MARKER + r".* uptime (\d+\.\d+)")
# The root file system mounted (the volume is open by then).
MOUNTED = re.compile(r"EXT4-fs \(dm-\d+\): mounted filesystem")


# Command codes that an oyster boot sends (TPM 2.0 Part 2, TPM_CC).
TPM_CC = {
    0x120: "EvictControl", 0x121: "HierarchyControl", 0x122: "NV_UndefineSpace",
    0x129: "HierarchyChangeAuth", 0x12A: "NV_DefineSpace", 0x131: "CreatePrimary",
    0x137: "NV_Write", 0x139: "DictionaryAttackLockReset", 0x13A: "DictionaryAttackParameters",
    0x13C: "PCR_Event", 0x143: "SelfTest", 0x144: "Startup", 0x145: "Shutdown",
    0x146: "StirRandom", 0x14E: "NV_Read", 0x153: "Create", 0x157: "Load", 0x15E: "Unseal",
    0x161: "ContextLoad", 0x162: "ContextSave", 0x165: "FlushContext", 0x169: "NV_ReadPublic",
    0x16B: "PolicyAuthValue", 0x16C: "PolicyCommandCode", 0x171: "PolicyOR",
    0x173: "ReadPublic", 0x176: "StartAuthSession", 0x177: "VerifySignature",
    0x17A: "GetCapability", 0x17B: "GetRandom", 0x17E: "PCR_Read", 0x17F: "PolicyPCR",
    0x182: "PCR_Extend", 0x189: "PolicyGetDigest", 0x192: "PolicyAuthorizeNV",
}
# The device TCTI's probe: TPM2_GetRandom(8), no sessions.
TCTI_PROBE = bytes.fromhex("80010000000c0000017b0008")
# Ceilings per path. An unlock: the probe, ReadPublic (the SRK's name), Load,
# StartAuthSession, PolicyPCR, [PolicyOR], [PolicyAuthValue], Unseal,
# FlushContext: 7 to 9 (through /dev/tpmrm0 the kernel's resource manager
# adds ContextSave/ContextLoad/FlushContext around each: 25 and more).
# The prune of a token that approves only this state reads the PCRs and stops;
# one that has more states unseals and reseals. The fence: the probe,
# PCR_Event for each volume, little else.
# A refusal adds the session's FlushContext and the PCR_Read that names the
# changed PCRs (one per 8 PCRs and bank).
# An unlock through a next-boot approval (oyster reseal --next-boot) first
# tries the approved states, then PolicyRestart, PolicyPCR (the fence),
# PolicyCounterTimer (the reset count), PolicyOR, PolicyAuthorizeNV: 13 to 14.
CEILINGS = {"unlock": 9, "unlock-next-boot": 14, "refused": 11, "prune": 40, "fence": 8}


class BootFailure(Exception):
    pass


def tpm_commands(path):
    """[(code, rc, command bytes)] from swtpm's level-20 log."""
    cmds, cur, kind = [], None, None

    def flush():
        if kind == "cmd" and cur:
            cmds.append([int.from_bytes(cur[6:10], "big"), None, bytes(cur)])
        elif kind == "rsp" and cur and cmds and cmds[-1][1] is None:
            cmds[-1][1] = int.from_bytes(cur[6:10], "big")
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return []
    for line in lines:
        t = line.strip()
        if t.startswith("SWTPM_IO_Read"):
            flush()
            cur, kind = bytearray(), "cmd"
        elif t.startswith("SWTPM_IO_Write"):
            flush()
            cur, kind = bytearray(), "rsp"
        elif t.startswith("Ctrl") or not t:
            flush()
            cur, kind = None, None
        elif cur is not None:
            try:
                cur += bytes.fromhex(t)
            except ValueError:
                flush()
                cur, kind = None, None
    flush()
    return cmds


def cc_name(code):
    return TPM_CC.get(code, f"0x{code:x}")


def tpm_paths(cmds, ignore_extend=()):
    """Splits the boot's commands into oyster's connections and names the
    initramfs's paths: {"unlock": [...], "prune": [...], "fence": [...]},
    each a list of connections (lists of (name, rc)). PCR_Extend commands
    of the PCRs in IGNORE_EXTEND are the kernel's own (IMA: PCR 10), not
    oyster's, and left out."""
    conns, cur = [], None
    for code, rc, raw in cmds:
        if code == 0x182 and len(raw) >= 14 and int.from_bytes(raw[10:14], "big") in ignore_extend:
            continue
        if raw == TCTI_PROBE:
            cur = []
            conns.append(cur)
        if cur is None or (code == 0x17B and raw != TCTI_PROBE):
            continue  # the kernel's own commands (its hwrng, its start)
        cur.append((cc_name(code), rc))
    paths = {"unlock": [], "prune": [], "fence": []}
    state = "unlock"
    for c in conns:
        names = [n for n, _ in c]
        if "PCR_Event" in names or "PCR_Extend" in names:
            paths["fence"].append(c)
            return paths
        paths[state].append(c)
        if state == "unlock" and ("Unseal", 0) in c:
            state = "prune"
    # No fence: the initramfs's part cannot be told from the root's.
    return None


def tpm_figures(name, label, statedir_log, log_path, ignore_extend=(), next_boot=False):
    cmds = tpm_commands(statedir_log)
    with open(log_path + ".tpm", "w") as f:
        for code, rc, raw in cmds:
            mark = " <- probe" if raw == TCTI_PROBE else ""
            f.write(f"{cc_name(code)} rc=0x{(rc or 0):x}{mark}\n")
    paths = tpm_paths(cmds, ignore_extend)
    parts = []
    over = []
    if paths is None:
        print(f"figures: {name}: TPM commands at the chip: ? (no fence seen: the"
              f" initramfs's commands cannot be told from the root's)", flush=True)
        return None, over
    for path, conns in paths.items():
        if path == "unlock" and conns:
            # The connection that unsealed, or the one attempt that was refused.
            ok = [c for c in conns if ("Unseal", 0) in c]
            n = len(ok[0]) if ok else max(len(c) for c in conns)
            what = "unsealed" if ok else "refused"
            parts.append(f"{path} ({label}) {n} ({what}; {len(conns)} connection(s),"
                         f" {sum(len(c) for c in conns)} commands in all)")
            ceiling = CEILINGS[("unlock-next-boot" if next_boot else "unlock") if ok else "refused"]
        else:
            n = sum(len(c) for c in conns)
            parts.append(f"{path} {n}" + (f" ({len(conns)} connection(s))" if conns else ""))
            ceiling = CEILINGS[path]
        if n > ceiling:
            over.append(f"{path}: {n} commands, ceiling {ceiling}: "
                        + " ".join(x for c in conns for x, _ in c))
    print(f"figures: {name}: TPM commands at the chip: " + "; ".join(parts), flush=True)
    return paths, over


def stop(proc, name, grace=5):
    """Ends PROC (ours): TERM, then KILL after GRACE seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        print(f"boot.py: {name} did not stop on SIGTERM; killing it", file=sys.stderr)
        proc.kill()
        proc.wait()


def start_swtpm(statedir, tmp):
    os.makedirs(statedir, exist_ok=True)
    sock = os.path.join(tmp, "swtpm.sock")
    log = open(os.path.join(tmp, "swtpm.log"), "w")
    # --terminate: swtpm ends when qemu closes the control channel.
    proc = subprocess.Popen(
        ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={statedir}",
         "--ctrl", f"type=unixio,path={sock}", "--terminate",
         "--log", f"file={os.path.join(tmp, 'swtpm-commands.log')},level=20"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            return proc, sock
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop(proc, "swtpm")
    raise OSError(f"swtpm did not start (state {statedir}): "
                  + open(os.path.join(tmp, "swtpm.log")).read().strip())


UKI_STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"


def make_uki(args, tmp, out):
    """--kernel, --initrd and --append as one UKI (systemd-stub), signed with --uki's key."""
    key, cert = args.uki.split(",")
    cmdline = os.path.join(tmp, "cmdline")
    osrel = os.path.join(tmp, "os-release")
    unsigned = os.path.join(tmp, "uki.efi")
    with open(cmdline, "w") as f:
        f.write(args.append)
    with open(osrel, "w") as f:
        f.write("ID=oyster-vm\n")
    # The stub's own sections end below 0x20000; the kernel (< 16 MiB) and
    # the initrd go high, the initrd last, as systemd's ukify lays them out.
    sections = [(".osrel", osrel, 0x20000), (".cmdline", cmdline, 0x30000),
                (".linux", args.kernel, 0x2000000), (".initrd", args.initrd, 0x3000000)]
    cmd = ["objcopy"]
    for name, path, vma in sections:
        cmd += ["--add-section", f"{name}={path}", "--change-section-vma", f"{name}={vma:#x}"]
    for c in (cmd + [UKI_STUB, unsigned],
              ["sbsign", "--key", key, "--cert", cert, "--output", out, unsigned]):
        r = subprocess.run(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            raise SetupError(f"{c[0]} failed: {r.stdout.strip()}")


def qemu_command(args, tpm_sock, tmp):
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", str(args.memory),
           "-smp", "1", "-display", "none", "-vga", "none", "-monitor", "none",
           "-serial", "stdio", "-no-reboot", "-nodefaults"]
    if args.secure_boot:
        # OVMF's Secure Boot builds keep their variables in SMM.
        cmd += ["-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"]
    esp = None
    if args.kernel and args.uki:
        # A signed UKI as the removable-media boot loader (EFI/BOOT/BOOTX64.EFI)
        # of a FAT disk: with Secure Boot on, the firmware verifies it against
        # db and measures the certificate that did into PCR 7, as it does for
        # shim. The command line is in the UKI: systemd-stub ignores the
        # firmware's under Secure Boot.
        esp = os.path.join(tmp, "esp")
        os.makedirs(os.path.join(esp, "EFI", "BOOT"))
        make_uki(args, tmp, os.path.join(esp, "EFI", "BOOT", "BOOTX64.EFI"))
    elif args.kernel and args.uefi_shell:
        # A FAT disk (qemu's vvfat, read-only) with the kernel, the initrd
        # and the Shell's startup.nsh: the firmware loads and measures the
        # kernel file as it is, where -kernel would hand it a copy whose setup
        # header qemu patched (the initrd's size is in it).
        esp = os.path.join(tmp, "esp")
        os.mkdir(esp)
        shutil.copyfile(args.kernel, os.path.join(esp, "vmlinuz"))
        shutil.copyfile(args.initrd, os.path.join(esp, "initrd.img"))
        with open(os.path.join(esp, "startup.nsh"), "w") as f:
            f.write(f"fs0:\\vmlinuz initrd=\\initrd.img {args.append}\r\n")
    elif args.kernel:
        cmd += ["-kernel", args.kernel, "-initrd", args.initrd, "-append", args.append]
    # cache=unsafe: the disks are the test's own copies, thrown away or
    # rebuilt after a failure, and the guest's fsyncs (dpkg, update-initramfs)
    # cost minutes under TCG otherwise. qemu still writes everything back
    # when the guest powers off.
    cmd += ["-drive", f"file={args.disk},if=virtio,format={args.disk_format},cache=unsafe"]
    for extra in args.extra_disk:
        cmd += ["-drive", f"file={extra},if=virtio,format=raw,cache=unsafe"]
    if esp:
        # Last, so that the guest's disks keep their names (vda, vdb...).
        cmd += ["-drive", f"file=fat:{esp},if=virtio,format=raw,readonly=on"]
    if args.ovmf:
        code, vars_template = args.ovmf.split(",")
        vars_copy = os.path.join(tmp, "OVMF_VARS.fd")
        if args.keep_vars:
            # The machine's own NVRAM, kept between its boots.
            vars_copy = vars_template
        else:
            shutil.copyfile(vars_template, vars_copy)
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={code}",
                "-drive", f"if=pflash,format=raw,file={vars_copy}"]
    elif args.bios:
        cmd += ["-bios", args.bios]
    if tpm_sock:
        cmd += ["-chardev", f"socket,id=chrtpm,path={tpm_sock}",
                "-tpmdev", "emulator,id=tpm0,chardev=chrtpm",
                "-device", "tpm-tis,tpmdev=tpm0"]
    return cmd


def figures(name, marker_uptime, events, answered_at, kind):
    """One line: kernel start to the marker (guest clock), and the unlock
    from the console's arrival times (host clock)."""
    out = f"figures: {name}: kernel start to marker "
    out += f"{marker_uptime:.2f} s" if marker_uptime is not None else "?"
    start, mounted = events.get("start"), events.get("mounted")
    if start is not None and mounted is not None:
        out += f"; unlock to root mounted {mounted - start:.2f} s ({kind})"
        if answered_at:
            out += (f", of which {mounted - answered_at[-1]:.2f} s after the last of"
                    f" {len(answered_at)} passphrase(s) was typed")
    else:
        out += "; unlock ? (its console lines were not seen)"
    print(out, flush=True)


def boot(args, tmp):
    tpm, tpm_sock = None, None
    qemu = None
    answers = list(args.answer)
    answered_at = []
    prompt = re.compile(args.prompt) if args.prompt else None
    log = open(args.log, "w")
    try:
        if not args.no_tpm:
            try:
                tpm, tpm_sock = start_swtpm(args.tpm, tmp)
            except OSError as e:
                raise SetupError(str(e))
        cmd = qemu_command(args, tpm_sock, tmp)
        log.write("# " + " ".join(cmd) + "\n")
        qemu_err = open(os.path.join(tmp, "qemu.err"), "w")
        t0 = time.monotonic()
        try:
            qemu = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=qemu_err, bufsize=0)
        except OSError as e:
            raise SetupError(f"cannot run qemu: {e}")
        fd = qemu.stdout.fileno()
        partial = ""
        seen_marker = seen_done = False
        marker_uptime = None
        watch = {"mounted": MOUNTED}
        if args.unlock_start:
            watch["start"] = re.compile(args.unlock_start)
        events = {}

        def spot(text, now):
            for key, rx in list(watch.items()):
                if rx.search(text):
                    events[key] = now
                    del watch[key]
        while True:
            left = args.timeout - (time.monotonic() - t0)
            if left <= 0:
                raise BootFailure(f"timeout: no power-off within {args.timeout} s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            partial += data.decode("utf-8", "replace").replace("\r", "")
            spot(partial, time.monotonic() - t0)
            while "\n" in partial:
                text, partial = partial.split("\n", 1)
                now = time.monotonic() - t0
                log.write(f"{now:8.3f} {text}\n")
                if text.startswith(MARKER):
                    seen_marker = True
                    m = UPTIME.search(text)
                    marker_uptime = float(m.group(1)) if m else None
                seen_done |= text.startswith(DONE)
            if prompt and prompt.search(partial):
                now = time.monotonic() - t0
                log.write(f"{now:8.3f} {partial}    <prompt>\n")
                partial = ""
                if not answers:
                    raise BootFailure("a passphrase prompt appeared where none should")
                # As a person would, a moment after the prompt: cryptsetup
                # prints its prompt before it turns echo off with TCSAFLUSH,
                # which discards what was typed in between.
                time.sleep(TYPE_DELAY)
                qemu.stdin.write(answers.pop(0).encode() + b"\n")
                answered_at.append(time.monotonic() - t0)
        log.flush()
        rc = qemu.wait()
        if partial:
            log.write(f"{time.monotonic() - t0:8.3f} {partial}\n")
        if rc != 0:
            raise BootFailure(f"qemu exited with status {rc}: "
                              + open(os.path.join(tmp, "qemu.err")).read().strip())
        if not seen_marker:
            raise BootFailure(f"the console never showed the marker '{MARKER}'")
        if not seen_done:
            raise BootFailure("the root system did not finish its steps")
        if answers:
            raise BootFailure(f"{len(answers)} expected passphrase prompt(s) did not appear")
        figures(args.name, marker_uptime, events, answered_at, args.kind)
        if tpm:
            stop(tpm, "swtpm")
            _, over = tpm_figures(args.name, args.unlock_path, os.path.join(tmp, "swtpm-commands.log"),
                                  args.log, set(args.ignore_extend), args.next_boot)
            if over:
                raise BootFailure("more TPM commands than the ceiling: " + "; ".join(over))
        return 0
    finally:
        stop(qemu, "qemu")
        stop(tpm, "swtpm")
        log.close()


class SetupError(Exception):
    pass


def terminated(signum, frame):
    raise SystemExit(128 + signum)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--kernel", help="direct boot (-kernel); without it, the firmware boots the disk")
    p.add_argument("--initrd")
    p.add_argument("--append")
    p.add_argument("--disk", required=True)
    p.add_argument("--disk-format", default="qcow2")
    p.add_argument("--extra-disk", action="append", default=[], help="another virtio disk (raw)")
    p.add_argument("--secure-boot", action="store_true",
                   help="q35 with SMM, as OVMF's Secure Boot builds need")
    p.add_argument("--next-boot", action="store_true",
                   help="the boot unlocks through a next-boot approval: its own ceiling")
    p.add_argument("--ignore-extend", action="append", type=int, default=[],
                   help="PCR whose PCR_Extend commands are the kernel's (IMA: 10), not counted")
    p.add_argument("--uefi-shell", action="store_true",
                   help="with --ovmf: OVMF's UEFI Shell starts --kernel from a FAT disk")
    p.add_argument("--uki", metavar="KEY,CERT",
                   help="with --ovmf: --kernel, --initrd and --append as a UKI signed with KEY, "
                        "booted from a FAT disk as its removable-media boot loader")
    p.add_argument("--keep-vars", action="store_true",
                   help="--ovmf's VARS file is the machine's NVRAM: used in place, not copied")
    p.add_argument("--bios")
    p.add_argument("--ovmf", help="CODE,VARS-TEMPLATE")
    p.add_argument("--tpm", help="swtpm state directory (kept between boots)")
    p.add_argument("--no-tpm", action="store_true")
    p.add_argument("--prompt", help="regular expression of the passphrase prompt")
    p.add_argument("--answer", action="append", default=[])
    p.add_argument("--kind", default="", help="label of the unlock in the figures")
    p.add_argument("--unlock-start", help="regular expression: the console shows the unlock begin")
    p.add_argument("--unlock-path", default="?", help="label of the unlock path in the TPM figures")
    p.add_argument("--memory", type=int, default=512)
    p.add_argument("--timeout", type=float, default=360)
    args = p.parse_args()
    if not args.no_tpm and not args.tpm:
        p.error("--tpm DIR or --no-tpm")
    if args.kernel and (args.initrd is None or args.append is None):
        p.error("--kernel needs --initrd and --append")
    if (args.uefi_shell or args.uki) and not (args.kernel and args.ovmf):
        p.error("--uefi-shell and --uki need --kernel and --ovmf")
    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, terminated)
    tmp = tempfile.mkdtemp(prefix="oyster-vm-boot.")
    try:
        return boot(args, tmp)
    except SetupError as e:
        print(f"SETUP ERROR [{args.name}]: {e}", file=sys.stderr)
        return 99
    except BootFailure as e:
        print(f"--- console of boot {args.name} ({args.log}) ---", file=sys.stderr)
        with open(args.log, errors="replace") as f:
            sys.stderr.write("".join(f.readlines()[-150:]))
        print(f"FAIL [boot {args.name}]: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
