"""A small GGUF v3 writer with the layout of src/gguf/gguf.h, and ggml's Q8_0.

Layout: "GGUF", u32 version (3), u64 n_tensors, u64 n_kv, the key/values
(string key, u32 type, value), the tensor infos (string name, u32 n_dims,
u64 ne[n_dims] with ne[0] the contiguous row, u32 ggml type, u64 offset from
the start of the data section), zero padding to the alignment (32, or
general.alignment), then the tensor data, each tensor starting on an aligned
offset. Little-endian.

It refuses what llama.cpp would refuse (its reader ggml/src/gguf.cpp, its
loaders src/llama-model-loader.cpp and src/llama-vocab.cpp): empty or
repeated keys, nested arrays, a general.alignment that is not a u32 power of
two, the keys of KEY_TYPES in another type, repeated tensor names, names of
64 bytes or more, more than 4 dimensions, data whose size does not match
the type and shape.

numpy is needed only by the Q8_0 codec and read_tensors.
"""

import struct

GGUF_MAGIC = b"GGUF"
ALIGNMENT = 32
MAX_NAME = 64  # ggml's GGML_MAX_NAME: a tensor name must be shorter
MAX_DIMS = 4

# gguf value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
# ggml tensor types used here: (elements, bytes) per block
GGML_F32 = 0
GGML_F16 = 1
GGML_Q8_0 = 8
_BLOCK = {GGML_F32: (1, 4), GGML_F16: (1, 2), GGML_Q8_0: (32, 34)}

_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# Keys llama.cpp reads with one type whatever the architecture; another type
# makes it refuse the file ("key ... has wrong type") or, for the token
# arrays it reads as raw memory, misread it. Arrays: (ARRAY, element type).
# The same table is in src/gguf/gguf-write.c.
KEY_TYPES = {
    "general.architecture": STRING, "general.name": STRING, "general.alignment": UINT32,
    "general.file_type": UINT32, "general.quantization_version": UINT32,
    "tokenizer.ggml.model": STRING, "tokenizer.ggml.pre": STRING,
    "tokenizer.ggml.tokens": (ARRAY, STRING), "tokenizer.ggml.token_type": (ARRAY, INT32),
    "tokenizer.ggml.scores": (ARRAY, FLOAT32), "tokenizer.ggml.merges": (ARRAY, STRING),
    "tokenizer.ggml.add_bos_token": BOOL, "tokenizer.ggml.add_eos_token": BOOL,
    "tokenizer.ggml.add_sep_token": BOOL, "tokenizer.ggml.add_space_prefix": BOOL,
    "tokenizer.ggml.remove_extra_whitespaces": BOOL, "tokenizer.chat_template": STRING,
}
for _t in ("bos", "eos", "eot", "eom", "unknown", "seperator", "padding", "mask",
           "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep"):
    KEY_TYPES[f"tokenizer.ggml.{_t}_token_id"] = UINT32  # "seperator": llama.cpp's spelling


def quantize_q8_0(x):
    """ggml's quantize_row_q8_0_ref on the last axis (a multiple of 32):
    per block of 32, d = amax / 127 (f32), q = roundf(x * (1/d)), d stored as
    f16. Returns (bytes of the blocks, the dequantized f32 values d16 * q)."""
    import numpy as np
    x = np.ascontiguousarray(x, dtype=np.float32)
    assert x.shape[-1] % 32 == 0, x.shape
    b = x.reshape(-1, 32)
    amax = np.abs(b).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (b * idv[:, None]).astype(np.float32).astype(np.float64)
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from 0
    d16 = d.astype(np.float16)
    blocks = np.zeros(b.shape[0], dtype=[("d", "<f2"), ("qs", "i1", 32)])
    blocks["d"] = d16
    blocks["qs"] = q
    deq = (d16.astype(np.float32)[:, None] * q.astype(np.float32)).reshape(x.shape)
    return blocks.tobytes(), deq


def dequantize_q8_0(data, shape):
    import numpy as np
    blocks = np.frombuffer(data, dtype=[("d", "<f2"), ("qs", "i1", 32)])
    return (blocks["d"].astype(np.float32)[:, None] * blocks["qs"].astype(np.float32)).reshape(shape)


def _need(ok, msg):
    if not ok:
        raise ValueError(msg)


class Writer:
    def __init__(self):
        self.kv = []       # (key, type, value, elem_type)
        self.tensors = []  # (name, ne, ggml type, bytes)

    def _check_key(self, key, vtype, elem_type):
        _need(key, "empty key")
        _need(all(k != key for k, *_ in self.kv), f"key {key} added twice")
        _need(vtype != ARRAY or elem_type != ARRAY, f"{key}: llama.cpp reads no nested arrays")
        want = KEY_TYPES.get(key)
        got = vtype if vtype != ARRAY else (ARRAY, elem_type)
        _need(want is None or want == got, f"{key}: type {got}, llama.cpp reads {want}")

    def add(self, key, vtype, value):
        self._check_key(key, vtype, None)
        if key == "general.alignment":
            _need(value > 0 and value & (value - 1) == 0, f"alignment {value} is not a power of two")
        self.kv.append((key, vtype, value, None))

    def add_array(self, key, elem_type, values):
        self._check_key(key, ARRAY, elem_type)
        self.kv.append((key, ARRAY, list(values), elem_type))

    def add_tensor(self, name, shape, ggml_type, data):
        """shape is numpy's (row-major, last axis contiguous); GGUF's ne is it reversed."""
        self.add_tensor_ne(name, tuple(int(n) for n in reversed(shape)), ggml_type, data)

    def add_tensor_ne(self, name, ne, ggml_type, data):
        """ne as GGUF stores it, ne[0] the contiguous row."""
        ne = tuple(int(n) for n in ne)
        shape = tuple(reversed(ne))
        _need(0 < len(name.encode("utf-8")) < MAX_NAME, f"tensor name {name!r}: llama.cpp wants 1..63 bytes")
        _need(all(t[0] != name for t in self.tensors), f"tensor {name} added twice")
        _need(0 < len(ne) <= MAX_DIMS and all(n > 0 for n in ne), f"{name}: shape {shape}")
        per_block, block_bytes = _BLOCK[ggml_type]
        _need(ne[0] % per_block == 0, f"{name}: rows of {ne[0]} are not whole blocks")
        n = 1
        for d in ne:
            n *= d
        _need(len(data) == n // per_block * block_bytes, f"{name}: {len(data)} bytes for shape {shape}")
        self.tensors.append((name, ne, ggml_type, bytes(data)))

    def alignment(self):
        return next((v for k, _, v, _ in self.kv if k == "general.alignment"), ALIGNMENT)

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, value, elem_type):
        if vtype == STRING:
            return self._str(value)
        if vtype == ARRAY:
            out = [struct.pack("<IQ", elem_type, len(value))]
            if elem_type == STRING:
                out += [self._str(v) for v in value]
            else:
                fmt = _SCALAR_FMT[elem_type]
                out += [struct.pack(fmt, v) for v in value]
            return b"".join(out)
        return struct.pack(_SCALAR_FMT[vtype], value)

    def to_bytes(self):
        align = self.alignment()
        head = [GGUF_MAGIC, struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))]
        for key, vtype, value, elem_type in self.kv:
            head.append(self._str(key) + struct.pack("<I", vtype) + self._value(vtype, value, elem_type))
        offset = 0
        data = []
        for name, ne, gtype, raw in self.tensors:
            head.append(self._str(name) + struct.pack("<I", len(ne)) +
                        b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", gtype, offset))
            pad = (-len(raw)) % align
            data.append(raw + b"\0" * pad)
            offset += len(raw) + pad
        h = b"".join(head)
        h += b"\0" * ((-len(h)) % align)
        return h + b"".join(data)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.to_bytes())


def _read(path, entries=None):
    """(key/values as a dict, tensor infos, the file's bytes, end of the
    tensor infos); entries, when given, gets (key, type, None, element type)
    for each key in file order."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == STRING:
            return string()
        if t == ARRAY:
            et, n = take("<IQ")
            return [value(et) for _ in range(n)]
        return take(_SCALAR_FMT[t])

    assert data[:4] == GGUF_MAGIC
    pos = 4
    _version, n_tensors, n_kv = take("<IQQ")
    kv = {}
    for _ in range(n_kv):
        k = string()
        t = take("<I")
        if entries is not None and t == ARRAY:
            et, n = struct.unpack_from("<IQ", data, pos)
            entries.append((k, t, None, et))
        elif entries is not None:
            entries.append((k, t, None, None))
        kv[k] = value(t)
    infos = []
    for _ in range(n_tensors):
        name = string()
        n_dims = take("<I")
        ne = [take("<Q") for _ in range(n_dims)]
        gtype, offset = take("<IQ")
        infos.append((name, ne, gtype, offset))
    return kv, infos, data, pos


def read_file(path):
    """Everything needed to write the file again: [(key, type, value,
    element type)] in file order, [(name, ne, ggml type, data bytes)]."""
    entries = []
    kv, infos, data, pos = _read(path, entries)
    align = kv.get("general.alignment", ALIGNMENT)
    base = pos + (-pos) % align
    tensors = []
    for i, (name, ne, gtype, offset) in enumerate(infos):
        end = infos[i + 1][3] if i + 1 < len(infos) else len(data) - base
        per_block, block_bytes = _BLOCK[gtype]
        n = 1
        for d in ne:
            n *= d
        size = n // per_block * block_bytes
        assert offset + size <= end, name
        tensors.append((name, tuple(ne), gtype, data[base + offset:base + offset + size]))
    return [(k, t, kv[k], et) for k, t, _, et in entries], tensors


def read_kv(path):
    """The key/values of a GGUF file as a dict (arrays as lists); for checks."""
    return _read(path)[0]


def read_tensors(path):
    """{name: f32 numpy array in row-major shape reversed(ne)} for F32 and Q8_0 tensors."""
    import numpy as np
    kv, infos, data, pos = _read(path)
    align = kv.get("general.alignment", ALIGNMENT)
    base = pos + (-pos) % align
    out = {}
    for name, ne, gtype, offset in infos:
        shape = tuple(reversed(ne))
        n = int(np.prod(ne))
        if gtype == GGML_F32:
            out[name] = np.frombuffer(data, dtype="<f4", count=n, offset=base + offset).reshape(shape)
        elif gtype == GGML_Q8_0:
            out[name] = dequantize_q8_0(data[base + offset:base + offset + n // 32 * 34], shape)
        else:
            raise ValueError(f"{name}: type {gtype} not handled here")
    return out
