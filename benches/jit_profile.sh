#!/usr/bin/env bash
# Where a compiled kernel spends its instructions: callgrind counts every instruction the
# JIT's code executes over REPEAT launches (`holovm run --tier jit --single-thread`), and the
# counts per launch are written next to the kernel's `holovm jit-dump --asm` listing, which
# names the ISA instruction (or the phase machinery, "control") each machine instruction
# comes from. Instruction counts are steady where a shared machine's times are not. Needs
# valgrind and python3. Usage, from the repository root, after `cargo build --release`:
#
#   benches/jit_profile.sh OUT REPEAT KERNEL.hasm [holovm run arguments...]
#   benches/jit_profile.sh /tmp/tree 200 examples/kernels/softmax_rows.hasm \
#       --grid 64 --block 256 x=random:64000 y=zeros:64000 cols=1000
#
# Prints the instructions a launch per ISA instruction and for the machinery, and the
# Rust functions the launch spends most in (the barrier resolver, the VM); OUT.ann is the
# annotated listing (count a launch, offset, instruction). The listing is taken under
# valgrind too, so that addresses and constants encode as in the profiled run. For a launch
# that runs a variant (`holovm run` prints "partial groups" or a narrower group), set
# DUMP_ARGS to the same `jit-dump` options (`--partial`, `--group 16`).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 OUT REPEAT KERNEL.hasm [holovm run arguments...]" >&2
    exit 2
fi
out=$1
repeat=$2
kernel=$3
shift 3
holovm=${HOLOVM:-target/release/holovm}
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$out.cg" \
    "$holovm" run --tier jit --single-thread --repeat "$repeat" "$kernel" "$@" >/dev/null 2>&1
# shellcheck disable=SC2086
valgrind --tool=none "$holovm" jit-dump "$kernel" --asm ${DUMP_ARGS:-} 2>/dev/null |
    awk '/^;; kernel at/{f=1} /^;; per-lane function/{f=0} f' >"$out.asm"
python3 - "$out" "$repeat" <<'PY'
import collections, re, sys

out, repeat = sys.argv[1], int(sys.argv[2])
# Callgrind names a function once, then by its number only; JIT code has no symbol, its
# name is its address. Cost lines are "address line cost", positions relative ("+4") to
# the previous line; the line after "calls=" is a call's inclusive cost, not the caller's.
names, lines = {}, []
for ln in open(out + ".cg").read().split("\n"):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", ln)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        ln = "%s=(%s) %s" % (m.group(1), m.group(2), names.get(m.group(2), ""))
    lines.append(ln)

def costs_by_fn():
    fn, addr, skip = None, 0, False
    for ln in lines:
        if ln.startswith("fn="):
            fn = ln.split(" ", 1)[1] if " " in ln else ""
            continue
        if ln.startswith("calls="):
            skip = True
            continue
        if not ln or ln[0] not in "0123456789+-*":
            continue
        parts = ln.split()
        a = parts[0]
        if a.startswith("0x"):
            addr = int(a, 16)
        elif a[0] in "+-":
            addr += int(a)
        if skip:
            skip = False
            continue
        yield fn, addr, int(parts[-1])

per_fn = collections.Counter()
for fn, _, c in costs_by_fn():
    if re.fullmatch(r"0x[0-9a-f]+", fn):
        per_fn[fn] += c
if not per_fn:
    sys.exit("no JIT code ran (did the launch compile?)")
kernel = per_fn.most_common(1)[0][0]
base = int(kernel, 16)
cost = collections.Counter()
for fn, addr, c in costs_by_fn():
    if fn == kernel:
        cost[addr - base] += c

listing, section, sections, matched = [], "", collections.Counter(), 0
for ln in open(out + ".asm"):
    m = re.match(r"\s+([0-9a-f]+)\s+(.*)", ln)
    if ln.strip().startswith(";"):
        section = re.sub(r"\s+", " ", ln.strip())
        listing.append(ln.rstrip())
    elif m:
        off = int(m.group(1), 16)
        matched += off in cost
        n = cost.get(off, 0) / repeat
        sections[section] += n
        listing.append(f"{n:10.1f} {ln.rstrip()}")
    else:
        listing.append(ln.rstrip())
open(out + ".ann", "w").write("\n".join(listing) + "\n")
print(f"kernel: {sum(cost.values()) / repeat:.0f} instructions a launch")
if matched < len(cost):
    print(f"  (only {matched} of {len(cost)} executed addresses are in the listing: "
          "another variant ran? see DUMP_ARGS)")
for s, n in sections.most_common(15):
    print(f"{n:12.0f}  {s[:100]}")
PY
echo "Functions by their own instructions a launch (JIT code has no name, only its address):"
callgrind_annotate "$out.cg" 2>/dev/null | grep -E '^ *[0-9,]+ ' | sed -n 2,9p |
    sed -E 's/^ *([0-9,]+) *\( *[0-9.]+%\) +(.*)$/\1 \2/; s/ \[[^]]*\]$//' |
    awk -v r="$repeat" '{n = $1; gsub(",", "", n); $1 = ""; printf "%12.0f %s\n", n / r, $0}'
