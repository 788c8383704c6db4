"""Reading a GGUF file's header without loading its weights.

Only the metadata and tensor directory are decoded; long arrays (the vocabulary) are
skipped, keeping their length, so a header reads in milliseconds. The tensor directory also
tells how long the file must be, which catches truncated downloads before llama.cpp sees them.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmtui.engine.errors import ModelFileError
from llmtui.files import NotAFile, open_regular

# Value types of GGUF metadata: struct format, or None for variable-size ones.
_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
# Arrays up to this length keep their values (per-layer head counts); longer ones only a count.
_SMALL_ARRAY = 4096

# ggml tensor types: (elements per block, bytes per block).
_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}

# llama.cpp's `general.file_type` values, as Ollama and Hugging Face name the quantizations.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}


@dataclass(frozen=True)
class ArrayInfo:
    """A metadata array too long to keep: its element type and length."""

    item_type: int
    count: int


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself."""

    path: Path
    version: int
    metadata: Mapping[str, Any]
    tensor_count: int
    parameter_count: int
    data_size: int
    file_size: int
    tensor_types: Mapping[int, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    def arch_value(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}", default)

    @property
    def context_length(self) -> int:
        return int(self.arch_value("context_length", 0))

    @property
    def block_count(self) -> int:
        return int(self.arch_value("block_count", 0))

    @property
    def embedding_length(self) -> int:
        return int(self.arch_value("embedding_length", 0))

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def vocab_size(self) -> int:
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        if isinstance(tokens, ArrayInfo):
            return tokens.count
        return len(tokens) if isinstance(tokens, list) else 0

    @property
    def quantization(self) -> str:
        file_type = self.metadata.get("general.file_type")
        if isinstance(file_type, int) and file_type in FILE_TYPES:
            return FILE_TYPES[file_type]
        return "unknown"


class _Cursor:
    def __init__(self, buffer: mmap.mmap | bytes, path: Path) -> None:
        self.buffer = buffer
        self.offset = 0
        self.path = path

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.buffer):
            raise ModelFileError(
                f"{self.path} is truncated: its header ends at byte {len(self.buffer)}"
            )
        (value,) = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += size
        return value

    def string(self) -> str:
        length = self.unpack("<Q")
        end = self.offset + length
        if end > len(self.buffer):
            raise ModelFileError(
                f"{self.path} is truncated: its header ends at byte {len(self.buffer)}"
            )
        raw = bytes(self.buffer[self.offset : end])
        self.offset = end
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.unpack("<Q")  # read first: `offset += unpack()` would lose its advance
        self.offset += length

    def skip_strings(self, count: int) -> None:
        """Past `count` strings (a vocabulary: ~50,000 to 250,000), in a tight loop: this is
        most of the time a header read takes."""
        length_at = _U64.unpack_from
        buffer, offset, end = self.buffer, self.offset, len(self.buffer)
        for _ in range(count):
            if offset + 8 > end:
                raise ModelFileError(f"{self.path} is truncated: its header ends at byte {end}")
            offset += 8 + length_at(buffer, offset)[0]
        self.offset = offset

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_type = self.unpack("<I")
            count = self.unpack("<Q")
            if count <= _SMALL_ARRAY:
                return [self.value(item_type) for _ in range(count)]
            if item_type in _SCALARS:
                self.offset += count * struct.calcsize(_SCALARS[item_type])
            elif item_type == _STRING:
                self.skip_strings(count)
            else:
                raise ModelFileError(f"{self.path} has a nested metadata array it cannot skip")
            return ArrayInfo(item_type, count)
        raise ModelFileError(f"{self.path} has metadata of unknown type {kind}: not a valid GGUF")


def read_header(path: Path) -> GGUFHeader:
    """Parse the header of the GGUF at `path`; raise `ModelFileError` with a reason if the
    file is missing, is not a GGUF, or is shorter than its tensor directory says."""
    try:
        fd = open_regular(path)  # a FIFO named *.gguf would block an open() for ever
    except NotAFile as error:
        message = str(error)
        if message.endswith("no such file"):
            message = f"model file not found: {path}"
        raise ModelFileError(message) from None
    with os.fdopen(fd, "rb") as handle:
        file_size = handle.seek(0, 2)
        if file_size < 24:
            raise ModelFileError(f"{path} is not a GGUF model file (only {file_size} bytes)")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _parse(_Cursor(buffer, path), path, file_size)


def _parse(cursor: _Cursor, path: Path, file_size: int) -> GGUFHeader:
    if bytes(cursor.buffer[:4]) != b"GGUF":
        raise ModelFileError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    cursor.offset = 4
    version = cursor.unpack("<I")
    if version not in (2, 3):
        raise ModelFileError(f"{path} is GGUF version {version}; versions 2 and 3 are supported")
    tensor_count = cursor.unpack("<Q")
    kv_count = cursor.unpack("<Q")
    if kv_count > 1_000_000 or tensor_count > 10_000_000:
        raise ModelFileError(f"{path} has an impossible header: not a valid GGUF")
    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.unpack("<I"))

    parameters = 0
    data_end = 0
    tensor_types: dict[int, int] = {}
    blocks: set[int] = set()  # the N of the blk.N.* tensors
    shapes: dict[str, list[int]] = {}
    for _ in range(tensor_count):
        name = cursor.string()
        if match := _BLOCK_TENSOR.match(name):
            blocks.add(int(match.group(1)))
        dims = [cursor.unpack("<Q") for _ in range(cursor.unpack("<I"))]
        if name in _SHAPES_CHECKED:
            shapes[name] = dims
        kind = cursor.unpack("<I")
        offset = cursor.unpack("<Q")
        elements = 1
        for dim in dims:
            elements *= dim
        parameters += elements
        tensor_types[kind] = tensor_types.get(kind, 0) + 1
        block = _BLOCKS.get(kind)
        size = elements // block[0] * block[1] if block else 0
        data_end = max(data_end, offset + size)

    alignment = int(metadata.get("general.alignment", 32)) or 32
    data_start = -(-cursor.offset // alignment) * alignment
    if data_start + data_end > file_size:
        missing = data_start + data_end - file_size
        raise ModelFileError(
            f"{path} is truncated: {file_size:,} bytes on disk, {data_start + data_end:,} "
            f"expected ({missing:,} missing); download it again"
        )
    _check_hyperparameters(path, metadata, blocks, shapes)
    return GGUFHeader(
        path=path,
        version=version,
        metadata=metadata,
        tensor_count=tensor_count,
        parameter_count=parameters,
        data_size=data_end,
        file_size=file_size,
        tensor_types=tensor_types,
    )


_BLOCK_TENSOR = re.compile(r"blk\.(\d+)\.")
_SHAPES_CHECKED = ("token_embd.weight",)


def _check_hyperparameters(
    path: Path, metadata: Mapping[str, Any], blocks: set[int], shapes: Mapping[str, list[int]]
) -> None:
    """The hyper-parameters llama.cpp sizes its graph by must match the tensors listed: a
    header that says more layers than it has made llama.cpp abort the whole process (a
    GGML_ASSERT), where it should have been a sentence."""
    arch = metadata.get("general.architecture")
    count = metadata.get(f"{arch}.block_count")
    if blocks and isinstance(count, int) and count != max(blocks) + 1:
        raise ModelFileError(
            f"{path} says it has {count} layers ({arch}.block_count) but its tensors hold "
            f"{max(blocks) + 1}: a damaged or mislabelled file"
        )
    width = metadata.get(f"{arch}.embedding_length")
    embedding = shapes.get("token_embd.weight")
    if embedding and isinstance(width, int) and embedding[0] != width:
        raise ModelFileError(
            f"{path} says its embeddings are {width} wide ({arch}.embedding_length) but "
            f"token_embd.weight is {embedding[0]}: a damaged or mislabelled file"
        )


def check_adapter(path: Path, model: GGUFHeader) -> GGUFHeader:
    """The header of the LoRA adapter at `path`, for `model`; llama.cpp given a GGUF that is
    not a LoRA adapter as one crashed the process (a segfault), not a sentence."""
    header = read_header(path)
    kind = header.metadata.get("general.type")
    if kind != "adapter" or header.metadata.get("adapter.type") != "lora":
        what = f"a {kind}" if isinstance(kind, str) else "not marked as an adapter"
        raise ModelFileError(
            f"{path} is not a LoRA adapter (its general.type is {what}); ADAPTER takes a "
            "GGUF LoRA adapter (convert_lora_to_gguf.py makes one)"
        )
    if header.architecture != model.architecture:
        raise ModelFileError(
            f"{path} is a LoRA adapter for {header.architecture}, but the model is "
            f"{model.architecture}"
        )
    return header
