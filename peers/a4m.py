"""Reader for the `.a4m` model artifact (see runtime/src/artifact.rs).

envelope = CBOR map {magic: "a4mer-model", format_version: u32, payload: bytes, sha256: bytes[32]}
payload  = CBOR map {config, skeleton, norm, vocab, tensors: {name: {shape, values: {dtype, le_bytes}}}, provenance}
sha256   = SHA-256(format_version as u32 little-endian || payload)

Every check the Rust loader makes on the envelope is made here, in the same order, and each
failure names the file.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import cbor2
import numpy as np

MAGIC = "a4mer-model"
FORMAT_VERSION = 1


class ArtifactError(Exception):
    pass


@dataclass
class Artifact:
    path: str
    config: dict
    skeleton: dict
    norm: dict[str, np.ndarray]
    vocab: dict
    tensors: dict[str, np.ndarray]
    provenance: dict


def _decode(raw: bytes, origin: str, what: str):
    try:
        return cbor2.loads(raw)
    except cbor2.CBORDecodeEOF as e:
        raise ArtifactError(f"{origin}: artifact is truncated ({what}): {e}") from e
    except (cbor2.CBORDecodeError, ValueError) as e:
        raise ArtifactError(f"{origin}: not an a4mer artifact ({what}): {e}") from e


def _tensor(name: str, rec, origin: str) -> np.ndarray:
    if not isinstance(rec, dict) or "shape" not in rec or "values" not in rec:
        raise ArtifactError(f"{origin}: tensor `{name}`: not a {{shape, values}} record")
    shape = [int(s) for s in rec["shape"]]
    vals = rec["values"]
    dtype = vals.get("dtype") if isinstance(vals, dict) else None
    if dtype != "f32":
        raise ArtifactError(f"{origin}: tensor `{name}`: dtype {dtype!r} is not supported (this reader knows f32)")
    le = vals.get("le_bytes")
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not isinstance(le, bytes) or len(le) != 4 * n:
        got = len(le) if isinstance(le, bytes) else None
        raise ArtifactError(f"{origin}: tensor `{name}`: {got} bytes of f32 for shape {shape} ({n} values expected)")
    arr = np.frombuffer(le, dtype="<f4").astype(np.float32).reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise ArtifactError(f"{origin}: tensor `{name}`: contains NaN or Inf")
    return arr


def load(path: str | Path) -> Artifact:
    origin = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ArtifactError(f"{origin}: cannot read: {e}") from e
    env = _decode(raw, origin, "envelope")
    if not isinstance(env, dict) or not {"magic", "format_version", "payload", "sha256"} <= env.keys():
        raise ArtifactError(f"{origin}: not an a4mer artifact (envelope): missing fields")
    if env["magic"] != MAGIC:
        raise ArtifactError(f"{origin}: magic is {env['magic']!r}, expected {MAGIC!r}")
    version = env["format_version"]
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{origin}: format version {version} is not supported (this reader reads version {FORMAT_VERSION})"
        )
    payload = env["payload"]
    computed = hashlib.sha256(struct.pack("<I", version) + payload).digest()
    if env["sha256"] != computed:
        raise ArtifactError(
            f"{origin}: SHA-256 mismatch: payload hashes to {computed.hex()}, "
            f"the artifact says {bytes(env['sha256']).hex()} (corrupt or tampered)"
        )
    p = _decode(payload, origin, "payload")
    for key in ("config", "skeleton", "norm", "vocab", "tensors"):
        if key not in p:
            raise ArtifactError(f"{origin}: payload has no `{key}`")
    if p["skeleton"].get("name") != "smpl24":
        raise ArtifactError(f"{origin}: skeleton `{p['skeleton'].get('name')}` is not SMPL-24")
    # `decode` (the regime-calibrated decode) is a map of arrays; everything else an array.
    norm = {
        k: {dk: np.asarray(dv, dtype=np.float32) for dk, dv in v.items()} if isinstance(v, dict) else np.asarray(v, dtype=np.float32)
        for k, v in p["norm"].items()
    }
    vocab = dict(p["vocab"])
    vocab["centroids"] = np.asarray(vocab["centroids"], dtype=np.float32).reshape(vocab["k"], vocab["d"])
    vocab["temperature"] = np.float32(vocab["temperature"])
    tensors = {name: _tensor(name, rec, origin) for name, rec in p["tensors"].items()}
    return Artifact(
        path=origin,
        config=p["config"],
        skeleton=p["skeleton"],
        norm=norm,
        vocab=vocab,
        tensors=tensors,
        provenance=p.get("provenance", {}),
    )
