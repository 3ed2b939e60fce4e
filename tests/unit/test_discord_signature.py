"""Ed25519 checks of Discord interaction requests, against an independent signer."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from waddlebot.platforms.discord.signature import InteractionVerifier


def test_signatures_over_timestamp_and_body() -> None:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    verifier = InteractionVerifier(public)
    body, stamp = b'{"type":1}', "1700000000"
    good = private.sign(stamp.encode() + body).hex()
    assert verifier.verify(good, stamp, body)
    assert not verifier.verify(good, "1700000001", body)  # another timestamp
    assert not verifier.verify(good, stamp, body + b" ")  # another body
    assert not verifier.verify("zz" * 64, stamp, body)  # not hex
    assert not verifier.verify(good[:-2], stamp, body)  # too short
    other = Ed25519PrivateKey.generate().sign(stamp.encode() + body).hex()
    assert not verifier.verify(other, stamp, body)  # someone else's key


def test_a_bad_public_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        InteractionVerifier("not-hex")
