#!/usr/bin/env bash
# Leave-one-source-out: for each motion source (a rig, a studio, a skeleton), train on every
# other source, quantize on them, and score the f32 and int8 models on the source left out,
# whole: the model alone and what the guard publishes, at all five horizons, with the
# perturbation suite. Nothing in a run reads the source it leaves out, except the scoring.
#
#   scripts/loso.sh [--seeds "1 2 3 4"] [--epochs N] [--train-args "--augment-rig"]
#                   [--sources "mocap deepmimic holosoma"] [--out DIR] [--a4mer BIN] [--stride N]
#
# --epochs is passed to `a4mer train` (0: no pre-training, the ablation's arm), and so are
# --train-args (one arm of an ablation per output directory).
# Writes DIR/<source>-s<seed>.{a4m,int8.a4m,train.json,f32.json,int8.json,int8-adapted.json,
# published.json,interp.json}
# and DIR/table.md, DIR/table.json (scripts/loso_table.py). A finished run's files are kept:
# re-running continues where it stopped. Heavy (minutes per source): not run by CI.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="1"
epochs=""
train_args=""
want=""
out="$repo/loso"
a4mer="${CARGO_TARGET_DIR:-$repo/target}/release/a4mer"
stride=5
while [[ $# -gt 0 ]]; do
    case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --train-args) train_args="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --sources) want="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --a4mer) a4mer="$2"; shift 2 ;;
    --stride) stride="$2"; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "loso: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x "$a4mer" ]] || { echo "loso: no a4mer binary at $a4mer (build it, or give --a4mer)" >&2; exit 2; }

# Each source: the directory that identifies it (what --hold-out-source takes), then every
# directory of its recordings.
declare -A dirs=(
    [mocap]="data/mocap"
    [deepmimic]="data/deepmimic data/deepmimic/walker"
    [holosoma]="data/holosoma"
)
all_sources="mocap deepmimic holosoma"
sources="${want:-$all_sources}"
for s in $sources; do
    [[ -n "${dirs[$s]:-}" ]] || { echo "loso: unknown source $s (known: $all_sources)" >&2; exit 2; }
done

cd "$repo"
mkdir -p "$out"
for seed in $seeds; do
    for s in $sources; do
        read -r top _ <<<"${dirs[$s]}"
        others=()
        for o in $all_sources; do
            [[ "$o" == "$s" ]] && continue
            read -r -a more <<<"${dirs[$o]}"
            others+=("${more[@]}")
        done
        read -r -a left_out <<<"${dirs[$s]}"
        read -r -a everything <<<"$(for o in $all_sources; do echo -n "${dirs[$o]} "; done)"
        base="$out/$s-s$seed"
        if [[ ! -f "$base.a4m" ]]; then
            echo "loso: seed $seed, leaving out $s: training on ${others[*]}"
            "$a4mer" train --data "${everything[@]}" --hold-out-source "$top" --loop-wrap-to-s 6 \
                --seed "$seed" ${epochs:+--epochs "$epochs"} $train_args --eval-stride "$stride" --json \
                --out "$base.a4m" >"$base.train.json"
        fi
        if [[ ! -f "$base.int8.a4m" ]]; then
            echo "loso: seed $seed, leaving out $s: int8 calibrated on ${others[*]}"
            "$a4mer" quantize --model "$base.a4m" --calib "${others[@]}" --calib-split train \
                --eval-data "${others[@]}" --eval-split heldout --no-perturb --bench-rounds 1 \
                --bench-frames 2000 --loop-wrap-to-s 10 --stride 15 --out "$base.int8.a4m" >/dev/null
        fi
        echo "loso: seed $seed, scoring on $s (${left_out[*]})"
        score() {
            "$a4mer" eval --data "${left_out[@]}" --loop-wrap-to-s 10 --split all --stride "$stride" \
                --perturb --json "$@"
        }
        [[ -f "$base.f32.json" ]] || score --model "$base.a4m" --engine --model-only >"$base.f32.json"
        [[ -f "$base.int8.json" ]] || score --model "$base.int8.a4m" --engine --model-only >"$base.int8.json"
        # The model alone again, adapted to each person online as the node does by default.
        [[ -f "$base.int8-adapted.json" ]] ||
            score --model "$base.int8.a4m" --engine --model-only --adapt true >"$base.int8-adapted.json"
        [[ -f "$base.published.json" ]] || score --model "$base.int8.a4m" >"$base.published.json"
        # The interpolation head (offline, f32) against a straight line on the same source.
        [[ -f "$base.interp.json" ]] || "$a4mer" eval --data "${left_out[@]}" --loop-wrap-to-s 10 \
            --split all --stride "$stride" --model "$base.a4m" --interpolation --json >"$base.interp.json"
    done
done
python3 "$repo/scripts/loso_table.py" "$out"
