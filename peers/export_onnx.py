"""ONNX export of the network part of model.py, and a Runner that executes it in onnxruntime.

Two graphs, both with dynamic sizes (frames, segments, segment length, atoms):
  surprise.onnx  norm_feats [T, FEAT_DIM] -> surprise [T]
  heads.onnx     segs, seg_lens, atom_rows, n_atoms, last_feat, kin -> mean, log_spread, next_motif, states

Usage: python3 export_onnx.py --model models/a4mer-small.a4m --out DIR
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

import a4m
from model import FEAT_DIM, KIN_DIM, HeadsInput, HeadsNet, Runner, SurpriseNet

OPSET = 17


def export(art: a4m.Artifact, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    s_path, h_path = out_dir / "surprise.onnx", out_dir / "heads.onnx"
    surprise = SurpriseNet(art.tensors).eval()
    heads = HeadsNet(art.tensors, art.config).eval()
    # Example inputs only fix ranks and dtypes; every size is dynamic.
    s_len, l_pad, n = 4, 9, 3
    ex_heads = (
        torch.zeros(s_len, l_pad, FEAT_DIM),
        torch.tensor([5, 9, 4, 2], dtype=torch.int64),
        torch.arange(n, dtype=torch.int64),
        torch.tensor([n], dtype=torch.int64),
        torch.zeros(1, FEAT_DIM),
        torch.zeros(1, KIN_DIM),
    )
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of dynamo (which needs onnxscript);
        # it is what this fixed, small graph needs and it has no extra dependency.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            surprise,
            (torch.zeros(60, FEAT_DIM),),
            str(s_path),
            input_names=["norm_feats"],
            output_names=["surprise"],
            dynamic_axes={"norm_feats": {0: "frames"}, "surprise": {0: "frames"}},
            opset_version=OPSET,
            dynamo=False,
        )
        torch.onnx.export(
            heads,
            ex_heads,
            str(h_path),
            input_names=["segs", "seg_lens", "atom_rows", "n_atoms", "last_feat", "kin"],
            output_names=["mean", "log_spread", "next_motif", "states"],
            dynamic_axes={
                "segs": {0: "segments", 1: "seg_len"},
                "seg_lens": {0: "segments"},
                "atom_rows": {0: "atoms"},
                "states": {1: "atoms"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    import onnx

    for p in (s_path, h_path):
        onnx.checker.check_model(onnx.load(str(p)))
    return s_path, h_path


class OrtRunner(Runner):
    def __init__(self, surprise_path: Path, heads_path: Path, threads: int = 1):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = threads
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CPUExecutionProvider"]
        self.s = ort.InferenceSession(str(surprise_path), opts, providers=providers)
        self.h = ort.InferenceSession(str(heads_path), opts, providers=providers)

    def surprise(self, norm_feats):
        return self.s.run(None, {"norm_feats": norm_feats})[0]

    def heads(self, x: HeadsInput):
        return tuple(
            self.h.run(
                None,
                {
                    "segs": x.segs,
                    "seg_lens": x.seg_lens,
                    "atom_rows": x.atom_rows,
                    "n_atoms": x.n_atoms,
                    "last_feat": x.last_feat,
                    "kin": x.kin,
                },
            )
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    try:
        art = a4m.load(args.model)
    except a4m.ArtifactError as e:
        print(f"export_onnx: error: {e}", file=sys.stderr)
        return 1
    s, h = export(art, Path(args.out))
    print(f"wrote {s} ({s.stat().st_size} bytes) and {h} ({h.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
