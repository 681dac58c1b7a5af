"""``uniqueString`` and ``guid`` with Azure's algorithms, so the same inputs give the same names.

- ``uniqueString(a, b, ...)``: the arguments joined with ``-``, UTF-8 encoded, hashed with
  the 64-bit MurmurHash variant of Azure's resource stack (two 32-bit lanes, 8-byte blocks),
  written as 13 characters of the base-32 alphabet ``a-z2-7`` (5 bits at a time from the top).
- ``guid(a, b, ...)``: a name-based (version 5, SHA-1) UUID of the arguments joined with
  ``-`` under the namespace ``11fb06fb-712d-4ddd-98c7-e71bbd588830``.
"""

from __future__ import annotations

import uuid

_M32 = 0xFFFFFFFF
_C1 = 0xAB0E9789
_C2 = 0x239B961B
_C3 = 0x85EBCA6B
_C4 = 0xC2B2AE35
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
GUID_NAMESPACE = uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _fmix(h: int) -> int:
    h = ((h ^ (h >> 16)) * _C3) & _M32
    h = ((h ^ (h >> 13)) * _C4) & _M32
    return h ^ (h >> 16)


def murmur64(data: bytes) -> int:
    h1 = h2 = 0
    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        k1 = int.from_bytes(data[i : i + 4], "little")
        k2 = int.from_bytes(data[i + 4 : i + 8], "little")
        h1 ^= _rotl((k1 * _C2) & _M32, 15) * _C1 & _M32
        h1 = (_rotl(h1, 19) + h2) & _M32
        h1 = (h1 * 5 + 0x561CCD1B) & _M32
        h2 ^= _rotl((k2 * _C1) & _M32, 17) * _C2 & _M32
        h2 = (_rotl(h2, 13) + h1) & _M32
        h2 = (h2 * 5 + 0x0BCAA747) & _M32
    rest = data[full:]
    if rest:
        k1 = int.from_bytes(rest[:4], "little")
        h1 ^= _rotl((k1 * _C2) & _M32, 15) * _C1 & _M32
        if len(rest) > 4:
            k2 = int.from_bytes(rest[4:], "little")
            h2 ^= _rotl((k2 * _C1) & _M32, 17) * _C2 & _M32
    h2 = (h2 ^ n) & _M32
    h1 = ((h1 ^ n) + h2) & _M32
    h2 = (h2 + h1) & _M32
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _M32
    h2 = (h2 + h1) & _M32
    return (h2 << 32) | h1


def unique_string(*values: str) -> str:
    h = murmur64("-".join(values).encode("utf-8"))
    chars = []
    for _ in range(13):
        chars.append(_ALPHABET[h >> 59])
        h = (h << 5) & 0xFFFFFFFFFFFFFFFF
    return "".join(chars)


def arm_guid(*values: str) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "-".join(values)))
