"""The A4Mer model in PyTorch (eager), loading the weights of an `.a4m` artifact.

A port of runtime/src/model/ (features.rs, mod.rs, segment.rs, batch.rs, nn.rs) for the peer
comparison. Preprocessing (features, normalization, segmentation, batch layout, decoding) is
numpy in float32, as the Rust code computes in f32. The network is split into two graphs
that are both run eagerly here and exported to ONNX by export_onnx.py:

- `SurpriseNet`: normalized frame features `[T, FEAT_DIM]` -> surprise `[T]`;
- `HeadsNet`: the padded segments of one window -> forecast mean/log-spread, next-motif
  probabilities and the motif states.

Conventions that must match burn: `Linear` weights are stored `[in, out]` (y = x W + b);
LayerNorm eps 1e-5 with biased variance; GELU is the erf form; masked attention keys get
an additive -1e9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from a4m import Artifact

NUM_JOINTS = 24
FPS = 30
POSE_DIM = NUM_JOINTS * 3
ROOT_DIM = 4
CONT_DIM = POSE_DIM + ROOT_DIM
FEAT_DIM = CONT_DIM + NUM_JOINTS
KIN_DIM = NUM_JOINTS * 3
MASKED = -1.0e9

PELVIS, LEFT_HIP, RIGHT_HIP, LEFT_SHOULDER, RIGHT_SHOULDER = 0, 1, 2, 16, 17
F32 = np.float32


# ---------------------------------------------------------------------------------------
# Features (features.rs)
# ---------------------------------------------------------------------------------------


def heading_yaw(joints: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Yaw of each frame `[T]`: perpendicular to the hip line, else the shoulder line, else
    the previous frame's yaw (0 before the first)."""
    t_len = joints.shape[0]
    yaw = np.full(t_len, np.nan, F32)
    # Shoulders first so the hips, tried first in features.rs, overwrite them.
    for left, right in ((LEFT_SHOULDER, RIGHT_SHOULDER), (LEFT_HIP, RIGHT_HIP)):
        lx = joints[:, left, 0] - joints[:, right, 0]
        ly = joints[:, left, 1] - joints[:, right, 1]
        ok = valid[:, left] & valid[:, right] & (np.hypot(lx, ly) > F32(1e-4))
        yaw = np.where(ok, np.arctan2(ly, lx) - F32(np.pi / 2), yaw).astype(F32)
    missing = np.isnan(yaw)
    if missing.any():
        prev = F32(0.0)
        for t in range(t_len):
            if missing[t]:
                yaw[t] = prev
            prev = yaw[t]
    return yaw


def _rot(yaw: np.ndarray, v: np.ndarray, sign: float) -> np.ndarray:
    """Rotate `[..., 3]` vectors by `sign * yaw` about z; `yaw` broadcasts against v[..., 0]."""
    s, c = (F32(sign) * np.sin(yaw)).astype(F32), np.cos(yaw).astype(F32)
    out = np.empty(np.broadcast_shapes(v.shape, np.shape(yaw) + (3,)), F32)
    out[..., 0] = c * v[..., 0] - s * v[..., 1]
    out[..., 1] = s * v[..., 0] + c * v[..., 1]
    out[..., 2] = v[..., 2]
    return out


def world_to_heading(v: np.ndarray, yaw) -> np.ndarray:
    """features.rs `world_to_heading`: rotation by -yaw about z, in f32."""
    return _rot(yaw, v, -1.0)


def heading_to_world(v: np.ndarray, yaw) -> np.ndarray:
    return _rot(yaw, v, 1.0)


def wrap_angle(a: np.ndarray) -> np.ndarray:
    two_pi = F32(2 * np.pi)
    x = np.fmod((a + F32(np.pi)).astype(F32), two_pi)
    x = np.where(x < 0, x + two_pi, x).astype(F32)
    return (x - F32(np.pi)).astype(F32)


class InputError(ValueError):
    pass


@dataclass
class RawFeatures:
    feat: np.ndarray  # [T, FEAT_DIM]
    kin: np.ndarray  # [T, KIN_DIM]
    kin_valid: np.ndarray  # [T, NUM_JOINTS] bool
    yaw: np.ndarray  # [T]


def sequence_features(joints: np.ndarray, valid: np.ndarray, stamps: np.ndarray | None = None) -> RawFeatures:
    """`joints [T, 24, 3]` (f32, metres, world), `valid [T, 24]` -> raw per-frame features
    (features.rs `sequence_features`, vectorized over frames)."""
    t_len = joints.shape[0]
    stamp = lambda t: int(stamps[t]) if stamps is not None else t  # noqa: E731
    no_pelvis = ~valid[:, PELVIS]
    if no_pelvis.any():
        t = int(np.argmax(no_pelvis))
        raise InputError(f"frame at stamp_ns {stamp(t)}: pelvis is invalid; the model needs a pelvis")
    bad = valid & ~np.all(np.isfinite(joints), axis=2)
    if bad.any():
        t, j = np.argwhere(bad)[0]
        raise InputError(f"frame at stamp_ns {stamp(t)}: joint {j} has a non-finite coordinate but is marked valid")
    fps = F32(FPS)
    yaw = heading_yaw(joints, valid)
    feat = np.zeros((t_len, FEAT_DIM), F32)
    rel = world_to_heading((joints - joints[:, PELVIS : PELVIS + 1]).astype(F32), yaw[:, None])
    feat[:, :POSE_DIM] = np.where(valid[:, :, None], rel, F32(0.0)).reshape(t_len, POSE_DIM)
    feat[:, CONT_DIM:] = valid.astype(F32)
    kin = np.zeros((t_len, KIN_DIM), F32)
    kin_valid = np.zeros((t_len, NUM_JOINTS), bool)
    if t_len > 1:
        step = ((joints[1:] - joints[:-1]) * fps).astype(F32)
        feat[1:, POSE_DIM : POSE_DIM + 3] = world_to_heading(step[:, PELVIS], yaw[1:])
        feat[1:, POSE_DIM + 3] = wrap_angle((yaw[1:] - yaw[:-1]).astype(F32)) * fps
        both = valid[1:] & valid[:-1]
        d = world_to_heading(step, yaw[1:, None])
        kin[1:] = np.where(both[:, :, None], d, F32(0.0)).reshape(t_len - 1, KIN_DIM)
        kin_valid[1:] = both
    return RawFeatures(feat, kin, kin_valid, yaw)


SMPL24_PARENTS = [None, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
BODY_SCALE_RANGE = (F32(0.4), F32(2.5))


class Norm:
    """NormStats of the artifact (features.rs)."""

    def __init__(self, norm: dict[str, np.ndarray]):
        # Absent in models without body-scale normalisation or a velocity prior.
        self.ref_bone_m = np.asarray(norm.get("ref_bone_m", []), F32)
        self.prior_gain_s = np.asarray(norm.get("prior_gain_s", []), F32)
        self.feat_mean = norm["feat_mean"].astype(F32)
        self.feat_std = norm["feat_std"].astype(F32)
        self.kin_std = norm["kin_std"].astype(F32)
        self.disp_std = norm["disp_std"].astype(F32)
        # The regime-calibrated decode (prior.rs), absent in older models.
        self.decode = norm.get("decode")
        std = self.feat_std[:POSE_DIM].reshape(NUM_JOINTS, 3)
        mean = self.feat_mean[:POSE_DIM].reshape(NUM_JOINTS, 3)
        trained = np.any((std > F32(1.5e-3)) | (mean != 0), axis=1)
        trained[PELVIS] = True
        self.trained = trained

    def body_scale(self, feat: np.ndarray) -> np.ndarray:
        """Per frame of `feat [T, FEAT_DIM]`: the median bone length against the reference
        (features.rs `body_scale`)."""
        t_len = feat.shape[0]
        out = np.ones(t_len, F32)
        if self.ref_bone_m.shape[0] != NUM_JOINTS:
            return out
        pos = feat[:, :POSE_DIM].reshape(t_len, NUM_JOINTS, 3)
        seen = feat[:, CONT_DIM:] != 0
        for t in range(t_len):
            ratios = []
            for j, p in enumerate(SMPL24_PARENTS):
                r = self.ref_bone_m[j]
                if p is None or r <= F32(1e-3) or not (seen[t, j] and seen[t, p]):
                    continue
                d = (pos[t, j] - pos[t, p]).astype(F32)
                ln = np.sqrt((d * d).sum(dtype=F32), dtype=F32)
                if np.isfinite(ln):
                    ratios.append(F32(ln / r))
            if ratios:
                v = np.sort(np.array(ratios, F32))
                n = len(v)
                m = v[n // 2] if n % 2 == 1 else F32(F32(0.5) * (v[n // 2 - 1] + v[n // 2]))
                out[t] = np.clip(m, *BODY_SCALE_RANGE)
        return out

    def normalize_feat(self, feat: np.ndarray) -> np.ndarray:
        out = np.empty_like(feat, dtype=F32)
        inv = (F32(1.0) / self.body_scale(feat)).astype(F32)
        x = feat[:, :CONT_DIM].copy()
        x[:, : POSE_DIM + 3] *= inv[:, None]
        out[:, :CONT_DIM] = (x - self.feat_mean) / self.feat_std
        ok = (feat[:, CONT_DIM:] != 0) & self.trained[None, :]
        pose = out[:, :POSE_DIM].reshape(-1, NUM_JOINTS, 3)
        pose[~ok] = F32(0.0)
        out[:, CONT_DIM:] = ok.astype(F32)
        return out

    def normalize_kin(self, kin: np.ndarray, kin_valid: np.ndarray, feat_last: np.ndarray) -> np.ndarray:
        ok = np.repeat(kin_valid & self.trained, 3)
        inv = F32(1.0) / self.body_scale(feat_last[None])[0]
        return np.where(ok, kin * inv / self.kin_std, F32(0.0)).astype(F32)


def surprise_inputs(norm_feats: np.ndarray) -> tuple[np.ndarray, ...]:
    """prev1, prev2, target, mask `[T-2, CONT_DIM]` for frames 2..T (mod.rs `surprise`)."""
    v = norm_feats[:, CONT_DIM:]
    both = v[:-2] * v[1:-1] * v[2:]
    mask = np.ones((norm_feats.shape[0] - 2, CONT_DIM), F32)
    mask[:, :POSE_DIM] = np.repeat(both, 3, axis=1)
    return norm_feats[1:-1, :CONT_DIM], norm_feats[:-2, :CONT_DIM], norm_feats[2:, :CONT_DIM], mask


def segment(surprise: np.ndarray, l_min: int, l_max: int, tau: np.float32) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """segment.rs: close the open segment before a frame whose surprise exceeds tau (once it
    has l_min frames), or when it holds l_max frames."""
    open_len = 0
    closed = []
    for t, s in enumerate(surprise):
        if open_len > 0 and ((open_len >= l_min and s > tau) or open_len >= l_max):
            closed.append((t - open_len, t))
            open_len = 1
        else:
            open_len += 1
    n = len(surprise)
    return closed, (n - open_len, n)


# ---------------------------------------------------------------------------------------
# Network (nn.rs, batch.rs)
# ---------------------------------------------------------------------------------------


class Linear(nn.Module):
    """burn's Linear: weight `[in, out]`."""

    def __init__(self, w: np.ndarray, b: np.ndarray):
        super().__init__()
        self.weight = nn.Parameter(torch.from_numpy(w.copy()), requires_grad=False)
        self.bias = nn.Parameter(torch.from_numpy(b.copy()), requires_grad=False)

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


class LayerNorm(nn.Module):
    def __init__(self, gamma: np.ndarray, beta: np.ndarray):
        super().__init__()
        self.gamma = nn.Parameter(torch.from_numpy(gamma.copy()), requires_grad=False)
        self.beta = nn.Parameter(torch.from_numpy(beta.copy()), requires_grad=False)
        self.d = int(gamma.shape[0])

    def forward(self, x):
        return torch.nn.functional.layer_norm(x, (self.d,), self.gamma, self.beta, 1e-5)


def gelu(x):
    return torch.nn.functional.gelu(x)


class Attention(nn.Module):
    def __init__(self, t: dict, p: str, n_heads: int):
        super().__init__()
        self.qkv = Linear(t[p + ".qkv.weight"], t[p + ".qkv.bias"])
        self.out = Linear(t[p + ".out.weight"], t[p + ".out.bias"])
        self.n_heads = n_heads

    def forward(self, x, bias):
        b, t, _ = x.shape
        qkv = self.qkv(x)
        d = qkv.shape[2] // 3
        h = self.n_heads
        dh = d // h
        q = qkv[:, :, :d].reshape(b, t, h, dh).transpose(1, 2)
        k = qkv[:, :, d : 2 * d].reshape(b, t, h, dh).transpose(1, 2)
        v = qkv[:, :, 2 * d :].reshape(b, t, h, dh).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) * (1.0 / float(np.sqrt(dh))) + bias
        att = torch.softmax(scores, dim=3)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, h * dh)
        return self.out(y)


class Block(nn.Module):
    def __init__(self, t: dict, p: str, n_heads: int):
        super().__init__()
        self.ln1 = LayerNorm(t[p + ".ln1.gamma"], t[p + ".ln1.beta"])
        self.attn = Attention(t, p + ".attn", n_heads)
        self.ln2 = LayerNorm(t[p + ".ln2.gamma"], t[p + ".ln2.beta"])
        self.ff1 = Linear(t[p + ".ff1.weight"], t[p + ".ff1.bias"])
        self.ff2 = Linear(t[p + ".ff2.weight"], t[p + ".ff2.bias"])

    def forward(self, x, bias):
        x = x + self.attn(self.ln1(x), bias)
        return x + self.ff2(gelu(self.ff1(self.ln2(x))))


def _lin(t: dict, p: str) -> Linear:
    return Linear(t[p + ".weight"], t[p + ".bias"])


def _param(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(a.copy()), requires_grad=False)


class SurpriseNet(nn.Module):
    """Frame predictor error per frame (mod.rs `surprise`): 0 for the first two frames."""

    def __init__(self, t: dict):
        super().__init__()
        self.frame_pred = _lin(t, "frame_pred")

    def forward(self, norm_feats):
        cont = norm_feats[:, :CONT_DIM]
        p1, p2, tg = cont[1:-1], cont[:-2], cont[2:]
        v = norm_feats[:, CONT_DIM:]
        both = v[:-2] * v[1:-1] * v[2:]
        mask = torch.cat([both.repeat_interleave(3, dim=1), torch.ones_like(p1[:, :ROOT_DIM])], dim=1)
        vel = p1 - p2
        pred = p1 + vel + self.frame_pred(torch.cat([p1, vel], dim=1))
        err = ((pred - tg) ** 2 * mask).sum(dim=1)
        cnt = mask.sum(dim=1)
        s = torch.where(cnt > 0, err / torch.clamp(cnt, min=1.0), torch.zeros_like(err))
        return torch.cat([torch.zeros_like(norm_feats[:2, 0]), s])


class HeadsNet(nn.Module):
    """Atom encoder over every segment row, causal motif encoder, forecast and next-motif heads
    for one window (batch.rs `Batch::build` with b = 1, nn.rs `A4mer::encode`, mod.rs
    `forecast_batch`).

    Inputs: `segs [S, L, FEAT_DIM]` (kept closed segments, then the open one, zero-padded),
    `seg_lens [S]` int64, `atom_rows [A]` int64 (row of each atom; S for padding),
    `n_atoms [1]` int64, `last_feat [1, FEAT_DIM]`, `kin [1, KIN_DIM]`.
    Outputs: mean `[1, H*POSE_DIM]`, log_spread `[1, H]`, next-motif probabilities `[1, K]`,
    states `[1, A, d]`.
    """

    def __init__(self, t: dict, cfg: dict):
        super().__init__()
        h = cfg["n_heads"]
        self.embed = _lin(t, "atom.embed")
        self.pos = _param(t["atom.pos"])
        self.atom_blocks = nn.ModuleList([Block(t, f"atom.blocks.{i}", h) for i in range(cfg["atom_layers"])])
        self.atom_ln = LayerNorm(t["atom.ln.gamma"], t["atom.ln.beta"])
        self.dur = _param(t["atom.dur"])
        self.proj = _lin(t, "atom.proj")
        self.motif_blocks = nn.ModuleList([Block(t, f"motif.blocks.{i}", h) for i in range(cfg["motif_layers"])])
        self.motif_ln = LayerNorm(t["motif.ln.gamma"], t["motif.ln.beta"])
        self.window = int(cfg["n_atoms"])
        self.f_l1 = _lin(t, "forecast.l1")
        self.f_l2 = _lin(t, "forecast.l2")
        self.f_mean = _lin(t, "forecast.mean")
        self.f_spread = _lin(t, "forecast.log_spread")
        self.n_l1 = _lin(t, "next_motif.l1")
        self.n_l2 = _lin(t, "next_motif.l2")

    def atom_tokens(self, segs, seg_lens):
        s, l, _ = segs.shape
        keys = torch.arange(l, dtype=torch.int64)
        inside = keys[None, :] < seg_lens[:, None]  # [S, L]
        # padding_bias: keys past a segment's length are masked for every query.
        bias = torch.where(inside, 0.0, MASKED).to(torch.float32)[:, None, None, :]
        x = self.embed(segs) + self.pos[:l][None]
        for b in self.atom_blocks:
            x = b(x, bias)
        x = self.atom_ln(x)
        w = inside.to(torch.float32) / seg_lens[:, None].to(torch.float32)
        pooled = (x * w[:, :, None]).sum(dim=1)
        return self.proj(pooled + self.dur[seg_lens])

    def forward(self, segs, seg_lens, atom_rows, n_atoms, last_feat, kin):
        tokens = self.atom_tokens(segs, seg_lens)  # [S, d]
        d = tokens.shape[1]
        grid = torch.cat([tokens, torch.zeros_like(tokens[:1])], dim=0)[atom_rows][None]  # [1, A, d]
        a = grid.shape[1]
        i = torch.arange(a, dtype=torch.int64)[:, None]
        j = torch.arange(a, dtype=torch.int64)[None, :]
        allowed = (j <= i) & (i < j + self.window) & (j < n_atoms.reshape(1, 1))
        bias = torch.where(allowed, 0.0, MASKED).to(torch.float32)[None, None]
        x = grid
        for b in self.motif_blocks:
            x = b(x, bias)
        states = self.motif_ln(x)  # [1, A, d]
        flat = torch.cat([states[0], torch.zeros_like(states[0, :1])], dim=0)
        last_idx = torch.where(n_atoms > 0, n_atoms - 1, torch.full_like(n_atoms, a))
        last_state = flat[last_idx]  # [1, d]
        open_token = tokens[-1:]  # the open segment is the last row
        x = torch.cat([last_state, open_token, last_feat, kin], dim=1)
        h = gelu(self.f_l2(gelu(self.f_l1(x))))
        mean = self.f_mean(h)
        log_spread = self.f_spread(h)
        nxt = torch.softmax(self.n_l2(gelu(self.n_l1(torch.cat([last_state, open_token], dim=1)))), dim=1)
        return mean, log_spread, nxt, states


# ---------------------------------------------------------------------------------------
# The whole offline forecast for one window
# ---------------------------------------------------------------------------------------


@dataclass
class Prepared:
    raw: RawFeatures
    norm_feats: np.ndarray
    kin_last: np.ndarray
    surprise: np.ndarray
    closed: list
    open: tuple


@dataclass
class HeadsInput:
    segs: np.ndarray
    seg_lens: np.ndarray
    atom_rows: np.ndarray
    n_atoms: np.ndarray
    last_feat: np.ndarray
    kin: np.ndarray


@dataclass
class Forecast:
    joints: np.ndarray  # [H, 24, 3]
    spread_m: np.ndarray  # [H]
    dt_s: np.ndarray  # [H]
    valid: np.ndarray  # [24] bool
    motif_now: tuple[int, float] | None
    motif_next: np.ndarray  # [K]
    prep: Prepared


class Runner:
    """Runs the two networks: PyTorch eager here, onnxruntime in export_onnx.OrtRunner."""

    def surprise(self, norm_feats: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def heads(self, x: HeadsInput) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class TorchRunner(Runner):
    def __init__(self, art: Artifact):
        self.surprise_net = SurpriseNet(art.tensors).eval()
        self.heads_net = HeadsNet(art.tensors, art.config).eval()

    @torch.inference_mode()
    def surprise(self, norm_feats):
        return self.surprise_net(torch.from_numpy(norm_feats)).numpy()

    @torch.inference_mode()
    def heads(self, x):
        out = self.heads_net(
            torch.from_numpy(x.segs),
            torch.from_numpy(x.seg_lens),
            torch.from_numpy(x.atom_rows),
            torch.from_numpy(x.n_atoms),
            torch.from_numpy(x.last_feat),
            torch.from_numpy(x.kin),
        )
        return tuple(o.numpy() for o in out)


class A4merPeer:
    """Preprocessing and decoding around a Runner: `forecast(joints, valid)` equals the Rust
    `Model::forecast` on the same window."""

    def __init__(self, art: Artifact, runner: Runner):
        self.art = art
        self.cfg = art.config
        self.norm = Norm(art.norm)
        self.runner = runner
        seg = self.cfg["segmenter"]
        self.l_min, self.l_max, self.tau = int(seg["l_min"]), int(seg["l_max"]), F32(seg["tau"])
        parents = art.skeleton["parents"]
        source = []
        for j in range(NUM_JOINTS):
            k = j
            while not self.norm.trained[k] and parents[k] is not None:
                k = parents[k]
            source.append(k)
        self.source = np.array(source)
        self.centroids = art.vocab["centroids"]
        self.temperature = art.vocab["temperature"]

    def prepare(self, joints, valid, stamps=None) -> Prepared:
        raw = sequence_features(joints, valid, stamps)
        nf = self.norm.normalize_feat(raw.feat)
        kin_last = self.norm.normalize_kin(raw.kin[-1], raw.kin_valid[-1], raw.feat[-1])
        if len(nf) >= 3:
            s = self.runner.surprise(nf).astype(F32)
        else:
            s = np.zeros(len(nf), F32)
        closed, open_ = segment(s, self.l_min, self.l_max, self.tau)
        return Prepared(raw, nf, kin_last, s, closed, open_)

    def heads_input(self, p: Prepared) -> HeadsInput:
        kept = p.closed[max(0, len(p.closed) - int(self.cfg["n_atoms"])) :]
        rows = kept + [p.open]
        n = len(kept)
        l_pad = max(1, max(e - s for s, e in rows))
        segs = np.zeros((len(rows), l_pad, FEAT_DIM), F32)
        for i, (s, e) in enumerate(rows):
            segs[i, : e - s] = p.norm_feats[s:e]
        a = max(n, 1)
        atom_rows = np.full(a, len(rows), np.int64)
        atom_rows[:n] = np.arange(n)
        return HeadsInput(
            segs=segs,
            seg_lens=np.array([e - s for s, e in rows], np.int64),
            atom_rows=atom_rows,
            n_atoms=np.array([n], np.int64),
            last_feat=p.norm_feats[-1:].copy(),
            kin=p.kin_last[None].copy(),
        )

    def assign(self, e: np.ndarray) -> tuple[int, float]:
        d2 = ((self.centroids - e[None]) ** 2).sum(axis=1, dtype=F32)
        best = int(np.argmin(d2))
        z = np.exp(-(d2 - d2[best]) / self.temperature).sum(dtype=F32)
        return best, float(F32(1.0) / z)

    def calibrated_decode(self, raw, scale, residual, h):
        """prior.rs: the last 4 velocities in the newest heading, the regime (speed x
        roughness), and per step the velocity gains plus the residual's gain; returns the
        displacement `[h, J, 3]` (heading frame) and the spread factor per step."""
        frames = min(4, raw.kin.shape[0])
        yaw_now = raw.yaw[-1]
        vel = np.zeros((4, NUM_JOINTS, 3), F32)
        known = np.zeros((4, NUM_JOINTS), bool)
        for i in range(frames):
            t = raw.kin.shape[0] - 1 - i
            k = raw.kin[t].reshape(NUM_JOINTS, 3)
            turned = world_to_heading(heading_to_world(k, raw.yaw[t]), yaw_now)
            known[i] = raw.kin_valid[t]
            vel[i] = np.where(known[i][:, None], turned, F32(0.0))
        sq = (vel * vel).sum(axis=2, dtype=F32)
        n_speed = int(known[:frames].sum())
        speed_sq = F32(sq[:frames][known[:frames]].sum(dtype=F32))
        change_sq, n_change = F32(0.0), 0
        for i in range(frames - 1):
            both = known[i] & known[i + 1]
            d = vel[i] - vel[i + 1]
            change_sq += F32((d * d).sum(axis=1, dtype=F32)[both].sum(dtype=F32))
            n_change += int(both.sum())
        for i in range(1, 4):
            vel[i] = np.where(known[i][:, None], vel[i], vel[i - 1])
        inv = F32(1.0) / max(F32(scale), F32(1e-3))
        speed = F32(np.sqrt(speed_sq / F32(n_speed))) * inv if n_speed else F32(0.0)
        change = F32(np.sqrt(change_sq / F32(n_change))) * inv if n_change else F32(0.0)
        rough = change / max(speed, F32(0.05))
        dec = self.norm.decode
        se, re = dec["speed_edges_mps"], dec["roughness_edges"]
        regime = int((speed >= se).sum()) * (len(re) + 1) + int((rough >= re).sum())
        gain = dec["gain"].reshape(-1, h, 5)[regime]  # [h, 5]
        src = self.source
        moving = known[0][src]
        prior = np.einsum("si,ijc->sjc", gain[:, :4], vel[:, src, :]).astype(F32)
        prior = np.where(moving[None, :, None], prior, F32(0.0))
        disp = prior + residual * gain[:, 4][:, None, None]
        return disp.astype(F32), dec["spread_gain"].reshape(-1, h)[regime].astype(F32)

    def forecast(self, joints: np.ndarray, valid: np.ndarray, stamps=None) -> Forecast:
        if joints.shape[0] < 2:
            raise InputError(f"need at least 2 frames of history, got {joints.shape[0]}")
        p = self.prepare(joints, valid, stamps)
        x = self.heads_input(p)
        mean, log_spread, nxt, states = self.runner.heads(x)
        h = int(self.cfg["horizon"])
        yaw = p.raw.yaw[-1]
        scale = self.norm.body_scale(p.raw.feat[-1:])[0]
        disp = mean[0].reshape(h, NUM_JOINTS, 3)[:, self.source, :] * self.norm.disp_std.reshape(h, 1, 3) * scale
        spread_gain = np.ones(h, F32)
        if self.norm.decode is not None:
            disp, spread_gain = self.calibrated_decode(p.raw, scale, disp, h)
        elif self.norm.prior_gain_s.shape[0] == h:
            # The damped-velocity prior on each source joint's velocity (heading frame).
            vel = np.where(p.raw.kin_valid[-1][:, None], p.raw.kin[-1].reshape(NUM_JOINTS, 3), F32(0.0))
            disp = self.norm.prior_gain_s[:, None, None] * vel[self.source][None] + disp
        out = joints[-1][None].astype(F32) + heading_to_world(disp.astype(F32), yaw)
        n = int(x.n_atoms[0])
        motif_now = None
        if n > 0:
            span = int(self.cfg["motif_span"])
            e = states[0, max(0, n - span) : n].astype(F32)
            # mod.rs `motif_embeddings` divides each term by the count before summing.
            e = (e / F32(e.shape[0])).sum(axis=0, dtype=F32)
            motif_now = self.assign(e)
        return Forecast(
            joints=out,
            spread_m=(np.exp(log_spread[0]) * scale * spread_gain).astype(F32),
            dt_s=(np.arange(1, h + 1, dtype=F32) / F32(FPS)),
            valid=valid[-1].copy(),
            motif_now=motif_now,
            motif_next=nxt[0],
            prep=p,
        )
