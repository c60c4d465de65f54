"""Minimal reader/writer of the safetensors format (F32, F64 and I64: what a float model's state dict holds,
BatchNorm's int64 num_batches_tracked included).

The official ``safetensors`` package is not installable here, so this module implements the format with only
``json``, ``struct`` and torch: an 8-byte little-endian header length N, N bytes of UTF-8 JSON header (tensor name →
{"dtype", "shape", "data_offsets"}, plus an optional "__metadata__" object of strings), then the data buffer,
row-major little endian. Files written here are laid out as the reference implementation lays them out (tensors
sorted by descending dtype — I64, F64, F32, the reference's enum order — then name, header padded with spaces to a
multiple of 8), so the official package reads them and this module reads the official package's files.

``load_file(path)`` and ``save_file(tensors, path, metadata=None)`` have the signatures of
``safetensors.torch.load_file`` / ``save_file``: code written against this module runs unchanged with the official
package. ``load`` and ``save`` also return / take the metadata.
"""

import json
import struct
import sys

import torch

_DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}
_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
_PACK = {torch.float32: "f", torch.float64: "d", torch.int64: "q"}
_RANK = {"F32": 0, "F64": 1, "I64": 2}  # the reference implementation's dtype order; it writes descending
_MAX_HEADER = 100_000_000


def load(path):
    """Read a safetensors file: returns (dict name → tensor, metadata dict or {})."""
    with open(path, "rb") as f:
        data = f.read()
    return loads(data, path)


def loads(data, name="<bytes>"):
    """Decode a safetensors file held in memory; see load."""
    if len(data) < 8:
        raise ValueError(f"{name}: {len(data)} bytes is too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError(f"{name}: header length {n} does not fit the {len(data)}-byte file")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{name}: header is not a JSON object")
    buf = memoryview(data)[8 + n:]
    meta = header.pop("__metadata__", None) or {}
    tensors = {}
    for key, info in header.items():
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"{name}: tensor {key!r} has dtype {dtype}; only F32, F64 and I64 are supported")
        tdtype, size = _DTYPES[dtype]
        shape = [int(d) for d in info["shape"]]
        begin, end = (int(o) for o in info["data_offsets"])
        count = 1
        for d in shape:
            count *= d
        if not 0 <= begin <= end <= len(buf) or end - begin != count * size:
            raise ValueError(f"{name}: tensor {key!r}: data_offsets [{begin}, {end}] do not match "
                             f"{dtype} shape {shape} in a {len(buf)}-byte buffer")
        if count == 0:
            t = torch.zeros(shape, dtype=tdtype)
        else:
            # frombuffer aliases its (read-only) argument; clone to own writable memory.
            t = torch.frombuffer(bytearray(buf[begin:end]), dtype=tdtype).clone()
            if sys.byteorder == "big":
                t = t.view(torch.uint8).view(-1, size).flip(1).contiguous().view(tdtype)
            t = t.reshape(shape)
        tensors[key] = t
    return tensors, dict(meta)


def load_file(path):
    """Read a safetensors file into a dict name → tensor, as safetensors.torch.load_file does."""
    return load(path)[0]


def save_file(tensors, path, metadata=None):
    """Write dict name → tensor to path, as safetensors.torch.save_file does (note the argument order)."""
    save(path, tensors, metadata)


def save(path, tensors, metadata=None):
    """Write dict name → float32/float64/int64 tensor to path, with optional metadata (dict of str → str)."""
    with open(path, "wb") as f:
        f.write(dumps(tensors, metadata))


def dumps(tensors, metadata=None):
    """Encode tensors (and metadata) as the bytes of a safetensors file; see save."""
    items = []
    for key, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in _NAMES:
            raise ValueError(f"tensor {key!r} has dtype {t.dtype}; only float32, float64 and int64 can be written")
        items.append((key, t))
    items.sort(key=lambda kt: (-_RANK[_NAMES[kt[1].dtype]], kt[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks, offset = [], 0
    for key, t in items:
        if sys.byteorder == "little":
            raw = t.numpy().tobytes()  # fast, and exact for every dtype here
        else:
            raw = struct.pack("<%d%s" % (t.numel(), _PACK[t.dtype]), *t.flatten().tolist())
        header[key] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


if __name__ == "__main__":
    # Round-trip self-check: python3 safetensors_io.py [FILE] prints a file's tensors and metadata.
    if len(sys.argv) > 1:
        ts, md = load(sys.argv[1])
        print(json.dumps(md, indent=1))
        for k in sorted(ts):
            print(k, ts[k].dtype, list(ts[k].shape))
    else:
        a = {"b": torch.randn(2, 3), "a": torch.randn(4, dtype=torch.float64), "s": torch.tensor(1.5),
             "n": torch.tensor(-(2 ** 63), dtype=torch.long), "m": torch.arange(3, dtype=torch.long)}
        back, md = loads(dumps(a, {"k": "v"}))
        assert md == {"k": "v"} and all(torch.equal(a[k], back[k]) for k in a), "round trip failed"
        print("ok")
