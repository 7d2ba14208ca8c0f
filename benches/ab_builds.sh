#!/usr/bin/env bash
# A/B two builds of the `holovm` command on the example kernels, alternating them ROUNDS
# times, and print each launch's minimum time over REPEAT launches (`holovm run --repeat`).
# On a shared machine whose speed drifts by 1.5x within minutes, criterion's means from two
# separate runs cannot tell a 5% change from noise; alternating the builds in one session and
# taking minima can. Usage, from the repository root:
#
#   git worktree add /tmp/base <commit>
#   (cd /tmp/base && CARGO_TARGET_DIR=/tmp/base_target cargo build --release --bin holovm)
#   cargo build --release --bin holovm
#   benches/ab_builds.sh /tmp/base_target/release/holovm target/release/holovm [ROUNDS] [REPEAT]
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 OLD_HOLOVM NEW_HOLOVM [ROUNDS (3)] [REPEAT (300)]" >&2
    exit 2
fi
old=$1
new=$2
rounds=${3:-3}
repeat=${4:-300}
k=examples/kernels

# name | arguments of `holovm run`
cases=(
    "vector_add 16K|$k/vector_add.hasm -n 16384 --single-thread"
    "vector_add 1M|$k/vector_add.hasm -n 1048576 --single-thread"
    "gelu 64K|$k/gelu.hasm -n 65536 --single-thread"
    "loop 64K|$k/scalar_loop.hasm -n 65536 --single-thread"
    "sum 1M|$k/sum.hasm x=random:1048576 out=zeros:1 n=1048576 --grid 1 --block 256"
    "softmax 64x1000|$k/softmax_rows.hasm x=random:64000 y=zeros:64000 cols=1000 --grid 64 --block 256 --single-thread"
    "matvec 512|$k/matvec.hasm a=random:262144 x=random:512 y=zeros:512 m=512 k=512 --grid 8 --block 64 --single-thread"
    "gemm 128|$k/gemm.hasm a=random:16384 b=random:16384 c=zeros:16384 m=128 n=128 k=128 --grid 64 --block 256 --single-thread"
    "gemm 100|$k/gemm.hasm a=random:10000 b=random:10000 c=zeros:10000 m=100 n=100 k=100 --grid 40 --block 256 --single-thread"
    "gemm 17|$k/gemm.hasm a=random:289 b=random:289 c=zeros:289 m=17 n=17 k=17 --grid 2 --block 256 --single-thread"
)

min_of() {
    # shellcheck disable=SC2086 # the case's arguments are meant to split
    "$1" run $2 --tier jit --repeat "$repeat" | grep -o 'min [0-9.]*[nµm]s' | cut -d' ' -f2
}

for c in "${cases[@]}"; do
    [ -n "${ONLY:-}" ] && [[ "$c" != $ONLY* ]] && continue
    name=${c%%|*}
    run_args=${c#*|}
    line="$(printf '%-16s' "$name")"
    for _ in $(seq "$rounds"); do
        line+="  old $(min_of "$old" "$run_args") new $(min_of "$new" "$run_args")"
    done
    echo "$line"
done
