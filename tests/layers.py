#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The house rules of docs/HACKING.md that a machine can check.

layers.py SOURCE_ROOT PLUGIN_SO CORE_ARCHIVE TOOL_ARCHIVE

1. The plugin's link closure: `readelf -d` of the plugin names no libblkid
   (nor libqrencode), and no object of the core library needs a symbol
   that only the tool library defines.
2. lib/ never prints: no printf, fprintf, puts, perror, stdout or stderr
   outside comments (messages go through log.h, whose sink the plugin and
   the tool each set).
3. Include directions: lib/ includes nothing of tool/ or token-plugin/;
   core files (and the plugin) include no header of a tool module.
4. Every .c file of lib/, tool/ and token-plugin/ opens, after its SPDX
   line, with a comment that says what the file is for.

Prints each breach as FILE: what is wrong, and exits 1 when there is one.
"""
import os
import re
import subprocess
import sys

FORBIDDEN_NEEDED = ("libblkid", "libqrencode")
PRINTING = re.compile(
    r"\b(printf|fprintf|vfprintf|dprintf|puts|fputs|putchar|perror)\s*\(|\b(stdout|stderr)\b")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)

failures = []


def fail(where, what):
    failures.append(f"{where}: {what}")


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def module(name):
    """'dir/luks.c.o' or 'luks.c' or 'luks.h' -> 'luks' (meson's archives are thin: paths)."""
    return os.path.basename(name).split(".")[0]


def archive_symbols(archive, undefined):
    """{object: set of symbols} from nm over an archive."""
    flag = "--undefined-only" if undefined else "--defined-only"
    out = run("nm", flag, archive)
    symbols, obj = {}, None
    for line in out.splitlines():
        if line.endswith(":") and " " not in line:
            obj = line[:-1]
            symbols[obj] = set()
            continue
        parts = line.split()
        if obj is None or not parts:
            continue
        # defined: "addr T name" (global only); undefined: "U name"
        if undefined and parts[0] == "U":
            symbols[obj].add(parts[1])
        elif not undefined and len(parts) == 3 and parts[1].isupper():
            symbols[obj].add(parts[2])
    return symbols


def check_link(plugin, core, tool):
    needed = run("readelf", "-d", plugin)
    for lib in FORBIDDEN_NEEDED:
        if lib in needed:
            fail(plugin, f"links {lib}: the plugin must link the core library only")
    tool_defined = {}
    for obj, syms in archive_symbols(tool, undefined=False).items():
        for s in syms:
            tool_defined[s] = obj
    for obj, syms in archive_symbols(core, undefined=True).items():
        for s in sorted(syms & tool_defined.keys()):
            fail(f"lib/{module(obj)}.c",
                 f"core object needs {s} from tool object lib/{module(tool_defined[s])}.c")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def check_sources(src, core_modules):
    lib = os.path.join(src, "lib")
    tool_headers = {m + ".h" for m in
                    (module(f) for f in os.listdir(lib) if f.endswith(".c"))
                    if m not in core_modules}
    outside = set()
    for d in ("tool", "token-plugin"):
        outside |= {f for f in os.listdir(os.path.join(src, d)) if f.endswith(".h")}

    for d in ("lib", "tool", "token-plugin"):
        for name in sorted(os.listdir(os.path.join(src, d))):
            if not name.endswith((".c", ".h")):
                continue
            rel = f"{d}/{name}"
            text = read(os.path.join(src, d, name))
            code = COMMENTS.sub("", text)
            includes = INCLUDE.findall(code)
            if d == "lib":
                m = PRINTING.search(code)
                if m:
                    fail(rel, f"prints ({m.group(0).strip()}): lib/ reports through log.h")
                for h in includes:
                    if h in outside and h not in os.listdir(lib):
                        fail(rel, f"includes {h}: lib/ never includes the tool's or the plugin's headers")
            core_file = d == "token-plugin" or (d == "lib" and module(name) in core_modules) \
                or rel in ("lib/token-parse.h", "lib/tpm-private.h")
            if core_file:
                for h in includes:
                    if h in tool_headers:
                        fail(rel, f"includes {h}, a tool header: core and the plugin include core headers only")
            if name.endswith(".c"):
                lines = text.splitlines()
                opening = False
                for line in lines[1:]:
                    if line.startswith("#include"):
                        break
                    if line.startswith(("/*", "//")):
                        opening = True
                        break
                if not opening:
                    fail(rel, "no opening comment after the SPDX line saying what the file is for")


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    src, plugin, core, tool = sys.argv[1:]
    check_link(plugin, core, tool)
    core_modules = {module(o) for o in run("ar", "t", core).split()}
    check_sources(src, core_modules)
    for f in failures:
        print(f)
    if failures:
        print(f"{len(failures)} breach(es) of the house rules (docs/HACKING.md)")
        return 1
    print("house rules hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
