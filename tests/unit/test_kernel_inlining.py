"""The compiled CPU renderer keeps no function that takes the scene structs as a call.

A Warp function that LLVM does not inline gets its struct arguments by value: a copy
of Views and Scenes (kilobytes) at every call, which made a frame up to 4x as long
(``factory/render/warp_setup.py``). This reads the symbol table of the compiled
kernels' object file (ELF, as Warp's CPU compiler writes it on Linux) and asserts that
every local function left in it takes neither struct; the kernels' entry points take
a pointer to their argument record, so they pass.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from factory.render.device import get_device, warp
from factory.render.warp_setup import cache_dir

STRUCTS = (b"Views_", b"Scenes_")


def _local_functions(data: bytes) -> list[bytes]:
    """Names of the local (STB_LOCAL) function (STT_FUNC) symbols of an ELF64
    little-endian object file."""
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a 64-bit little-endian ELF object"
    shoff, shentsize, shnum = struct.unpack_from("<Q", data, 0x28)[0], *struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + k * shentsize) for k in range(shnum)]
    names = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, entsize):
            st_name, st_info = struct.unpack_from("<IB", data, at)
            if st_info & 0xF == 2 and st_info >> 4 == 0:
                end = data.index(b"\0", strtab + st_name)
                names.append(data[strtab + st_name : end])
    return names


def _kernel_object() -> Path:
    """The object file of factory.render.kernels as loaded for the CPU now."""
    wp = warp()
    get_device("cpu")
    from factory.render import kernels  # noqa: F401  (registers the module)

    module = wp.get_module("factory.render.kernels")
    module.load("cpu")
    name = module.get_module_identifier()
    objects = sorted(cache_dir().glob(f"**/{name}/*.o"))  # Warp keeps them under a folder per version
    if not objects:
        pytest.skip(f"no CPU object file of {name} under {cache_dir()} (this Warp build keeps none)")
    return objects[0]


def test_no_function_taking_the_scene_structs_is_left_as_a_call():
    data = _kernel_object().read_bytes()
    if data[:4] != b"\x7fELF":
        pytest.skip("the kernels' object file is not ELF on this platform")
    names = _local_functions(data)
    assert any(b"render_views" in n for n in names)  # the reader sees the kernels' own functions
    taking = [n.decode() for n in names if any(s in n for s in STRUCTS)]
    assert not taking, f"called with a copy of the scene structs: {taking}"


def test_the_reader_finds_functions_that_take_them_when_they_are_calls():
    """The same reader on a hand-made symbol table: a local function whose mangled
    name holds a struct is reported (so the test above can fail)."""
    name = b"_ZL7shade_014Views_9b3e2bde14Scenes_aee008f2"
    strtab = b"\0" + name + b"\0"
    sym = struct.pack("<IBBHQQ", 1, 0x02, 0, 1, 0, 16)  # local function
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    body = bytes(24) + sym  # symbol 0 is the null symbol
    sym_off, str_off = 64, 64 + len(body)
    shoff = str_off + len(strtab)
    null = bytes(64)
    symtab = struct.pack("<IIQQQQIIQQ", 0, 2, 0, 0, sym_off, len(body), 2, 1, 8, 24)
    strsec = struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0)
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HH", header, 0x3A, 64, 3)
    data = bytes(header) + body + strtab + null + symtab + strsec
    assert _local_functions(data) == [name]
