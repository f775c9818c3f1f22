"""Fingerprints and MACs for the hot path: keyed BLAKE2b and SHA-256, without OpenSSL.

`hashlib` and `hmac` import OpenSSL's libcrypto (about 2.5 MiB of resident memory and
4 ms per process, paid by every timer tick); CPython's built-in BLAKE2 and SHA-256 (the
modules `hashlib` falls back to) need neither, and keyed BLAKE2b is a MAC by design.
"""

from __future__ import annotations

from typing import Any

try:
    from _blake2 import blake2b
    from _operator import _compare_digest  # what hmac.compare_digest falls back to
except ImportError:  # not CPython: the public names
    from hashlib import blake2b
    from hmac import compare_digest as _compare_digest  # type: ignore[no-redef]


def _builtin_sha256() -> Any:
    for name in ("_sha256", "_sha2"):  # CPython 3.11; 3.12 and later
        try:
            return __import__(name).sha256
        except ImportError:
            continue
    from hashlib import sha256 as openssl_sha256  # another Python: hashlib's

    return openssl_sha256


_sha256 = _builtin_sha256()


def sha256(data: bytes) -> str:
    """The hex SHA-256 of `data` (an applied config's recorded fingerprint)."""
    return str(_sha256(data).hexdigest())


def digest(*parts: bytes, size: int = 32) -> str:
    """Hex digest of `parts` (length-prefixed, so the split between parts counts)."""
    h = blake2b(digest_size=size)
    for p in parts:
        h.update(len(p).to_bytes(8, "big") + p)
    return h.hexdigest()


def mac(key: bytes, data: bytes, size: int = 32) -> str:
    """Hex MAC of `data` under `key` (at most 64 bytes)."""
    return blake2b(data, digest_size=size, key=key).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two MACs in constant time."""
    return bool(_compare_digest(a, b))
