#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
tpm-proxy.py --target PORT --ready FILE [--port P [--delay S]] [--fault-after N [--kill PID | --glitch]]
             [--answer CC:RC:TIMES]... [--log FILE]

A TCP proxy in front of swtpm that fails on purpose, for tests/tpm/faults.sh.
It listens on a free loopback port pair (TPM port P, control port P+1, as
swtpm does; --port P picks it, for a TPM that must appear on a port
known beforehand, --delay SECONDS after a wait: a TPM that comes up
late), writes P to the --ready file, and forwards to swtpm's TPM port
PORT and control port PORT+1.

tpm2-tss 3.2.1's swtpm TCTI (checked by experiment) speaks raw TPM 2.0
commands on the TPM port, one TCP connection per command, and uses the
control port once, at initialization (CMD_SET_LOCALITY). So the proxy counts
commands by connections and reads each command by its header's size field.

After --fault-after N commands have been answered, command N+1 is the
fault: without --kill, the connection is closed before the command reaches
the TPM; with --kill, the command reaches the TPM, swtpm is killed (SIGKILL)
before its answer is passed on, and the connection is closed. Every later
connection, on either port, is closed at once, as when nothing listens;
with --glitch, only command N+1 is lost and later ones pass again.
Each command's code is appended to --log ("N 0x0000017e"). Stops on SIGTERM.

--answer CC:RC:TIMES (repeatable; CC a command code or "any", RC a response
code, TIMES 0 for always): the proxy answers command CC itself with RC, as
a busy TPM (TPM_RC_RETRY 0x922, TPM_RC_YIELDED 0x908, TPM_RC_TESTING 0x90a)
or one in failure mode (TPM_RC_FAILURE 0x101) would, without passing it on:
a command answered so has not run. Logged with " ANSWERED 0x...".
"""
import argparse
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("--target", type=int, required=True)
parser.add_argument("--ready", required=True)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--delay", type=float, default=0)
parser.add_argument("--fault-after", type=int, default=-1)
parser.add_argument("--kill", type=int, default=0)
parser.add_argument("--glitch", action="store_true")
parser.add_argument("--log")
parser.add_argument("--answer", action="append", default=[])
args = parser.parse_args()

# [command code or None for any, response code, times left (None: always)]
answers = []
for a in args.answer:
    cc, rc, times = a.split(":")
    answers.append([None if cc == "any" else int(cc, 0), int(rc, 0), int(times) or None])


def canned(code):
    """The response code the proxy gives in the TPM's place, or None."""
    for a in answers:
        if a[0] in (None, code) and (a[2] is None or a[2] > 0):
            if a[2] is not None:
                a[2] -= 1
            return a[1]
    return None

lock = threading.Lock()
count = 0
failed = False


def log(line):
    if args.log:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_message(sock):
    """One TPM command or response: tag (2), size (4), then the rest."""
    head = read_exact(sock, 10)
    size = struct.unpack(">I", head[2:6])[0]
    if size < 10 or size > 1 << 20:
        raise EOFError
    return head + read_exact(sock, size - 10)


def tpm_connection(client):
    global count, failed
    upstream = None
    try:
        with lock:
            if failed:
                return
        command = read_message(client)
        code = struct.unpack(">I", command[6:10])[0]
        with lock:
            n = count + 1
            fault = args.fault_after >= 0 and count == args.fault_after
            if fault and not args.glitch:
                failed = True
            count += 1
            rc = canned(code)
        if rc is not None:
            log("%d 0x%08x ANSWERED 0x%03x" % (n, code, rc))
            # TPM_ST_NO_SESSIONS, 10 bytes, the response code: all an error response holds.
            client.sendall(struct.pack(">HII", 0x8001, 10, rc))
            return
        log("%d 0x%08x%s" % (n, code, " FAULT" if fault else ""))
        if fault and not args.kill:
            return
        upstream = socket.create_connection(("127.0.0.1", args.target), timeout=30)
        upstream.sendall(command)
        response = read_message(upstream)
        if fault:
            os.kill(args.kill, signal.SIGKILL)
            return
        client.sendall(response)
    except (OSError, EOFError):
        pass
    finally:
        for s in (client, upstream):
            if s:
                s.close()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def ctrl_connection(client):
    with lock:
        dead = failed
    if dead:
        client.close()
        return
    try:
        upstream = socket.create_connection(("127.0.0.1", args.target + 1), timeout=30)
    except OSError:
        client.close()
        return
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def serve(sock, handler):
    while True:
        client, _ = sock.accept()
        threading.Thread(target=handler, args=(client,), daemon=True).start()


def listen_pair():
    for _ in range(1 if args.port else 50):
        port = args.port or 20000 + random.randrange(20000) * 2
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                s.listen(16)
                socks.append(s)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    sys.exit("tpm-proxy: no free port pair")


signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
time.sleep(args.delay)
port, (tpm_sock, ctrl_sock) = listen_pair()
threading.Thread(target=serve, args=(ctrl_sock, ctrl_connection), daemon=True).start()
with open(args.ready + ".tmp", "w") as f:
    f.write("%d\n" % port)
os.rename(args.ready + ".tmp", args.ready)
serve(tpm_sock, tpm_connection)
