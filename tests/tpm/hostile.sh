#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Story: someone with the disk rewrites the oyster token in its header. A
# table of hostile tokens, each made from a real enrolled token by breaking
# one thing (wrong types, huge and negative numbers, NUL bytes, 10 MB
# strings, deep nesting, duplicated keys, blobs whose size fields lie,
# policy digests of the wrong length, unknown versions, ...). For each:
#   - `cryptsetup token import` with the plugin loaded refuses it (the
#     plugin's validate, or libcryptsetup's own checks);
#   - planted without the plugin, `cryptsetup open --token-only` with the
#     plugin fails cleanly: no crash, no hang, and the passphrase still works;
#   - `oyster status` reports it without crashing, and `oyster wipe --token`
#     removes it without touching the passphrase keyslot.
# One token is well-formed but lies (its keyslot is the passphrase's): validate
# may accept it; it must still fail at unlock and do no harm at wipe. Four are
# normalized by libcryptsetup into the original token when planted (trailing
# garbage, keys repeated with the same value).
set -eu
. "$TESTDIR/lib.sh"

img=$WORKDIR/disk.img
pass='hostile test passphrase'
make_luks "$img" "$pass"
extend_pcr 7 secure-boot
enroll "$img" "$pass" --pcrs 7
tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT
[ "$slot" != 0 ] || setup_error "the TPM keyslot is keyslot 0, the passphrase's"
orig=$WORKDIR/orig.json
expect_ok cryptsetup token export --token-id "$tok" "$img"
cp "$OUT" "$orig"

# hostile.py ORIG DIR: writes DIR/NAME.json for each hostile token, and
# DIR/wellformed (names of those validate may accept, one per line).
cat >"$WORKDIR/hostile.py" <<'PY'
import base64, json, os, sys

orig = json.load(open(sys.argv[1]))
out = sys.argv[2]
os.makedirs(out, exist_ok=True)
cases = {}
wellformed = []

def dumps(obj):
    return json.dumps(obj, separators=(",", ":"))

def case(name, text=None, **changes):
    if text is None:
        t = dict(orig)
        for k, v in changes.items():
            k = k.replace("__", "-")
            if v is DELETE:
                del t[k]
            else:
                t[k] = v
        text = dumps(t)
    assert name not in cases, name
    cases[name] = text

DELETE = object()
b64 = lambda b: base64.b64encode(b).decode()
priv = base64.b64decode(orig["tpm2_private"])
pub = base64.b64decode(orig["tpm2_public"])
be16 = lambda n: bytes([n >> 8 & 0xff, n & 0xff])
state0 = orig["tpm2_states"][0]
pcr = str(orig["tpm2_pcrs"][0])
# Replace a key's JSON value by raw text (for what Python's json cannot write).
def raw(key, value):
    t = dumps(orig)
    k = '"%s":' % key
    i = t.index(k) + len(k)
    depth, j, instr = 0, i, False
    while True:  # the end of the value: a comma or brace at depth 0, outside strings
        c = t[j]
        if instr:
            if c == "\\": j += 1
            elif c == '"': instr = False
        elif c == '"': instr = True
        elif c in "[{": depth += 1
        elif c in "]}":
            if depth == 0: break
            depth -= 1
        elif c == "," and depth == 0: break
        j += 1
    return t[:i] + value + t[j:]

# type and keyslots: partly libcryptsetup's business, partly ours
case("type-integer", type=1)
case("type-nul", raw("type", '"oyster-tpm2\\u0000evil"'))
case("keyslots-string", keyslots="1")
case("keyslots-integers", keyslots=[1])
case("keyslots-empty", keyslots=[])
case("keyslots-two", keyslots=orig["keyslots"] + ["0"])
case("keyslots-32", keyslots=["32"])
case("keyslots-negative", keyslots=["-1"])
case("keyslots-leading-zero", keyslots=["0" + orig["keyslots"][0]])
case("keyslots-passphrase", keyslots=["0"]); wellformed.append("keyslots-passphrase")
# version
case("version-0", oyster_version=0)
case("version-2", oyster_version=2)
case("version-negative", oyster_version=-1)
case("version-2^63", raw("oyster_version", "9223372036854775808"))
case("version-2^64+1", raw("oyster_version", "18446744073709551617"))
case("version-string", oyster_version="1")
case("version-float", raw("oyster_version", "1.0"))
case("version-exponent", raw("oyster_version", "1e0"))
case("version-true", oyster_version=True)
case("version-null", oyster_version=None)
case("unknown-field", extra_field=1)
# every field missing, in turn
for k in ["oyster_version", "tpm2_private", "tpm2_public", "tpm2_srk_handle", "tpm2_srk_name",
          "tpm2_pcr_bank", "tpm2_pcrs", "tpm2_states", "tpm2_policy", "tpm2_pin", "created"]:
    case("missing-" + k, **{k: DELETE})
# blobs
case("private-not-base64", tpm2_private="@@@@")
case("private-unpadded", tpm2_private=orig["tpm2_private"].rstrip("="))
case("private-empty", tpm2_private="")
case("private-size-0xffff", tpm2_private=b64(be16(0xffff) + priv[2:]))
case("private-size-short", tpm2_private=b64(be16(len(priv) - 3) + priv[2:]))
case("private-size-zero", tpm2_private=b64(be16(0)))
case("private-2000-bytes", tpm2_private=b64(be16(1998) + bytes(1998)))
case("private-nul", raw("tpm2_private", '"' + orig["tpm2_private"][:8] + '\\u0000' + orig["tpm2_private"][8:] + '"'))
case("public-size-0xffff", tpm2_public=b64(be16(0xffff) + pub[2:]))
case("public-size-long", tpm2_public=b64(be16(len(pub) - 1) + pub[2:]))
case("public-truncated", tpm2_public=b64(be16(len(pub) - 12) + pub[2:-10]))
case("public-zero", tpm2_public=b64(be16(0)))
case("public-rsa", tpm2_public=b64(pub[:2] + be16(0x0001) + pub[4:]))
case("public-userwithauth", tpm2_public=b64(pub[:6] + bytes([pub[6], pub[7], pub[8], pub[9] | 0x40]) + pub[10:]))
# the authPolicy is the TPM2B_DIGEST after type, nameAlg and attributes: offset 10
case("public-policy-20-bytes", tpm2_public=b64(be16(len(pub) - 14) + pub[2:10] + be16(20) + pub[12:32] + pub[44:]))
case("public-policy-size-lies", tpm2_public=b64(pub[:10] + be16(0x4000) + pub[12:]))
# SRK
case("srk-handle-negative", tpm2_srk_handle=-1)
case("srk-handle-other", tpm2_srk_handle=0x81000002)
case("srk-handle-2^32-wrap", tpm2_srk_handle=0x81000001 + 2**32)
case("srk-handle-string", tpm2_srk_handle="0x81000001")
case("srk-handle-1e400", raw("tpm2_srk_handle", "1e400"))
case("srk-name-short", tpm2_srk_name=orig["tpm2_srk_name"][:-2])
case("srk-name-upper", tpm2_srk_name=orig["tpm2_srk_name"].upper())
case("srk-name-sha1", tpm2_srk_name="0004" + orig["tpm2_srk_name"][4:])
# PCRs
case("bank-upper", tpm2_pcr_bank="SHA256")
case("bank-unknown", tpm2_pcr_bank="sha3_256")
case("bank-nul", raw("tpm2_pcr_bank", '"sha256\\u0000"'))
case("pcrs-negative", tpm2_pcrs=[-1])
case("pcrs-24", tpm2_pcrs=[24])
case("pcrs-2^32+7", tpm2_pcrs=[2**32 + 7])
case("pcrs-huge", raw("tpm2_pcrs", "[99999999999999999999999999]"))
case("pcrs-repeated", tpm2_pcrs=[7, 7])
case("pcrs-descending", tpm2_pcrs=[7, 0])
case("pcrs-empty", tpm2_pcrs=[])
case("pcrs-strings", tpm2_pcrs=["7"])
case("pcrs-not-array", tpm2_pcrs=7)
# states
case("states-empty", tpm2_states=[])
case("states-9", tpm2_states=[state0] * 9)
case("states-1000", tpm2_states=[state0] * 1000)
case("states-extra-pcr", tpm2_states=[dict(state0, **{"8": state0[pcr]})])
case("states-value-short", tpm2_states=[{pcr: state0[pcr][:-2]}])
case("states-value-upper", tpm2_states=[{pcr: state0[pcr].upper()}])
case("states-value-nul", raw("tpm2_states", '[{"%s":"%s\\u0000"}]' % (pcr, state0[pcr][:-1])))
case("states-not-object", tpm2_states=[[state0[pcr]]])
case("states-deep", raw("tpm2_states", "[" * 10000 + "]" * 10000))
# policy
case("policy-31-bytes", tpm2_policy=orig["tpm2_policy"][:-2])
case("policy-33-bytes", tpm2_policy=orig["tpm2_policy"] + "00")
case("policy-other", tpm2_policy=("0" if orig["tpm2_policy"][0] != "0" else "1") + orig["tpm2_policy"][1:])
case("policy-upper", tpm2_policy=orig["tpm2_policy"].upper())
case("policy-integer", tpm2_policy=0)
# the rest
case("pin-string", tpm2_pin="false")
case("pin-integer", tpm2_pin=0)
case("pin-true-no-salt", tpm2_pin=True)
case("created-feb-30", created="2026-02-30T00:00:00Z")
case("created-1969", created="1969-12-31T23:59:59Z")
case("created-local-time", created="2026-11-26T15:00:00+01:00")
case("created-nul", raw("created", '"2026-11-26T15:00:00Z\\u0000"'))
# the whole text
case("duplicate-key-bad-last", dumps(orig)[:-1] + ',"tpm2_pcrs":[0]}')
case("duplicate-key-same", dumps(orig)[:-1] + ',"tpm2_pin":%s}' % json.dumps(orig["tpm2_pin"]))
case("duplicate-key-escaped", dumps(orig)[:-1] + ',"\\u0074pm2_pin":%s}' % json.dumps(orig["tpm2_pin"]))
case("duplicate-pcr-in-state", raw("tpm2_states", '[{"%s":"%s","%s":"%s"}]' % (pcr, state0[pcr], pcr, state0[pcr])))
case("string-10MB", extra_field="x" * (10 << 20))
case("private-10MB", tpm2_private="A" * (10 << 20))
case("deep-object", '{"type":"oyster-tpm2","keyslots":%s,"x":%s}' % (json.dumps(orig["keyslots"]), '{"a":' * 5000 + "1" + "}" * 5000))
case("not-an-object", "[" + dumps(orig) + "]")
case("empty-object", "{}")
case("truncated-json", dumps(orig)[:200])
case("trailing-garbage", dumps(orig) + "}")
# libcryptsetup's own parser keeps the last of duplicated keys and stops after the first
# object, and stores what it parsed: these become the original token once planted (the
# plugin's validate refuses them all at import; a repeated key written into the header by
# hand is header-copies.sh's).
normalized = ["trailing-garbage", "duplicate-key-same", "duplicate-key-escaped", "duplicate-pcr-in-state"]

for name, text in cases.items():
    with open(os.path.join(out, name + ".json"), "w") as f:
        f.write(text)
with open(os.path.join(out, "wellformed"), "w") as f:
    f.write("\n".join(wellformed) + "\n")
with open(os.path.join(out, "normalized"), "w") as f:
    f.write("\n".join(normalized) + "\n")
print(len(cases))
PY

hostile=$WORKDIR/hostile
n=$(python3 "$WORKDIR/hostile.py" "$orig" "$hostile") || setup_error "could not write the hostile tokens"
[ "$n" -ge 40 ] || setup_error "only $n hostile tokens"
say "$n hostile tokens"

token_present() {
	[ "$(luks_json "$img" | jq -r --arg id "$tok" '.tokens[$id] // "none" | type')" = object ]
}

# Puts the original token back at $tok; re-enrolls when its keyslot is gone.
restore() {
	if token_present; then
		expect_ok cryptsetup token remove --token-id "$tok" "$img"
	fi
	if [[ " $(keyslot_ids "$img") " == *" $slot "* ]]; then
		expect_ok with_plugin cryptsetup token import --json-file "$orig" --token-id "$tok" "$img"
	else
		enroll "$img" "$pass" --pcrs 7
		tok=$ENROLLED_TOKEN slot=$ENROLLED_KEYSLOT
		expect_ok cryptsetup token export --token-id "$tok" "$img"
		cp "$OUT" "$orig"
		# The next hostile tokens break this token, not one whose keyslot is gone.
		python3 "$WORKDIR/hostile.py" "$orig" "$hostile" >/dev/null ||
			setup_error "could not write the hostile tokens"
	fi
}

# no_crash_no_hang WHAT CMD...: CMD, which runs its program under "${T[@]}", must
# neither crash nor hang: exit status below 124 (124 is timeout's, 125..127
# exec failures, above 128 a signal).
T=(timeout --kill-after=5 60)
no_crash_no_hang() {
	local what=$1
	shift
	run "$@"
	if [ "$RC" -ge 124 ]; then
		show_last
		fail "$case: $what: exit status $RC (hang, crash or signal): $*"
	fi
}

# HOSTILE_SHARD=K/N (meson runs the cases as N tests side by side, each
# with its own swtpm and image): only every Nth case, from the Kth.
shard=${HOSTILE_SHARD:-1/1}
shard_k=${shard%/*} shard_n=${shard#*/}
[[ $shard_k =~ ^[0-9]+$ && $shard_n =~ ^[0-9]+$ && $shard_k -ge 1 && $shard_k -le $shard_n ]] ||
	setup_error "HOSTILE_SHARD=$shard is not K/N"
index=0 ran=0
refused_at_import=0 refused_by_libcryptsetup=0 planted=0
for file in "$hostile"/*.json; do
	index=$((index + 1))
	[ $(((index - 1) % shard_n + 1)) -eq "$shard_k" ] || continue
	ran=$((ran + 1))
	case=$(basename -- "$file" .json)
	wellformed=false
	! grep -qx -- "$case" "$hostile/wellformed" || wellformed=true
	normalized=false
	! grep -qx -- "$case" "$hostile/normalized" || normalized=true

	# 1. With the plugin, validate refuses it (or libcryptsetup does first).
	expect_ok cryptsetup token remove --token-id "$tok" "$img"
	no_crash_no_hang "import with the plugin" with_plugin "${T[@]}" cryptsetup token import --json-file "$file" --token-id "$tok" "$img"
	if [ "$RC" -eq 0 ]; then
		$wellformed || fail "$case: the plugin's validate let a hostile token into the header"
		say "$case: accepted at import (well-formed)"
	else
		token_present && fail "$case: import failed, yet the token is in the header"
		refused_at_import=$((refused_at_import + 1))
		# 2. Planted without the plugin (no validation at all).
		no_crash_no_hang "import without the plugin" without_plugin "${T[@]}" cryptsetup token import --json-file "$file" --token-id "$tok" "$img"
		if [ "$RC" -ne 0 ]; then
			token_present && fail "$case: import failed, yet the token is in the header"
			refused_by_libcryptsetup=$((refused_by_libcryptsetup + 1))
			say "$case: refused by libcryptsetup itself"
			restore
			continue
		fi
	fi
	planted=$((planted + 1))

	# 3. Unlock through the token fails cleanly, and the passphrase still works.
	no_crash_no_hang "token unlock" with_plugin "${T[@]}" cryptsetup open --test-passphrase --token-only "$img"
	[ "$RC" -ne 0 ] || $normalized || fail "$case: the hostile token opened the volume"
	no_crash_no_hang "token unlock of this token, --debug" with_plugin "${T[@]}" cryptsetup open --test-passphrase --token-only --token-id "$tok" --debug "$img"
	[ "$RC" -ne 0 ] || $normalized || fail "$case: the hostile token opened the volume"
	if $normalized; then
		[ "$(jq -cS . "$orig")" = "$(cryptsetup token export --token-id "$tok" "$img" | jq -cS .)" ] ||
			fail "$case: libcryptsetup stored something else than the original token"
	fi
	no_crash_no_hang "luksDump with the plugin" with_plugin "${T[@]}" cryptsetup luksDump "$img"
	expect_ok pass_open "$img" "$pass"

	# 4. The tool reports it and removes it, and the passphrase keyslot stays.
	no_crash_no_hang "oyster status" "${T[@]}" "$OYSTER" status "$img"
	[ "$RC" -le 4 ] || fail "$case: oyster status exit status $RC"
	no_crash_no_hang "oyster status --json" "${T[@]}" "$OYSTER" status "$img" --json
	[ "$RC" -le 4 ] || fail "$case: oyster status --json exit status $RC"
	if [ "$RC" -eq 0 ]; then
		jq -e . "$OUT" >/dev/null || fail "$case: oyster status --json printed invalid JSON"
	fi
	no_crash_no_hang "oyster unseal" "${T[@]}" "$OYSTER" unseal "$img" --token "$tok"
	[ "$RC" -ne 0 ] || $wellformed || $normalized || fail "$case: oyster unseal succeeded"
	# The header as it is, to put the keyslot back after the wipe (faster than enrolling again).
	rm -f -- "$WORKDIR/header.bak"
	expect_ok cryptsetup luksHeaderBackup --header-backup-file "$WORKDIR/header.bak" "$img"
	no_crash_no_hang "oyster wipe" "${T[@]}" "$OYSTER" wipe "$img" --token "$tok"
	[ "$RC" -le 1 ] || fail "$case: oyster wipe exit status $RC"
	[ "$RC" -ne 0 ] || ! token_present || fail "$case: oyster wipe said yes but left the token"
	[[ " $(keyslot_ids "$img") " == *" 0 "* ]] || fail "$case: oyster wipe removed the passphrase keyslot 0"
	expect_ok pass_open "$img" "$pass"
	expect_ok cryptsetup luksHeaderRestore --batch-mode --header-backup-file "$WORKDIR/header.bak" "$img"
	restore
done
[ "$ran" -gt 0 ] || setup_error "shard $shard ran no case"
say "shard $shard: $ran cases; $refused_at_import refused at import with the plugin ($refused_by_libcryptsetup of them by libcryptsetup itself); $planted planted and failed cleanly"

[ -z "$(transient_handles)" ] || fail "transient handles left in the TPM: $(transient_handles)"
[ -z "$(loaded_sessions)" ] || fail "sessions left in the TPM: $(loaded_sessions)"
say "the original token still unlocks"
expect_ok token_open "$img"
say "PASS"
