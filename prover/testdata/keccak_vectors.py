#!/usr/bin/env python3
"""Known-answer vectors for prover/src/channel/keccak.rs, computed independently of the Rust
code: pycryptodome's Keccak-256 over the bytes Solidity's abi.encodePacked writes.

    python3 -m venv /tmp/kv && /tmp/kv/bin/pip install pycryptodome
    /tmp/kv/bin/python prover/testdata/keccak_vectors.py
"""
from Crypto.Hash import keccak


def k(*parts: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=b"".join(parts)).digest()


def u32(x: int) -> bytes:
    return x.to_bytes(4, "big")


def u64(x: int) -> bytes:
    return x.to_bytes(8, "big")


P = 2**31 - 1
print("KAT_LEAF", k(u32(1), u32(2), u32(P - 1)).hex())
print("KAT_NODE", k(b"\x11" * 32, b"\x22" * 32).hex())
d = k(b"\x00" * 32, u64(0x1111222233334444))
print("KAT_MIX_U64", d.hex())
draws = [k(d, u32(n), b"\x00") for n in range(2)]
for n, h in enumerate(draws):
    words = [int.from_bytes(h[4 * i : 4 * i + 4], "big") for i in range(8)]
    print(f"KAT_DRAW_{n}", ", ".join(f"0x{w:08x}" for w in words))
prefix = k(u32(0x12345678), b"\x00" * 12, d, u32(8))
print("KAT_POW_PREFIX_8", prefix.hex())
nonce = next(n for n in range(1 << 20) if int.from_bytes(k(prefix, u64(n)), "big") < 2 ** (256 - 8))
print("KAT_POW_NONCE_8", nonce)
d = k(d, *(u32(i) for i in range(1, 10)))
print("KAT_MIX_U32S", d.hex())
d = k(d, u32(1), u32(2), u32(3), u32(4))
print("KAT_MIX_FELTS", d.hex())
d = k(d, b"\x33" * 32)
print("KAT_MIX_ROOT", d.hex())
