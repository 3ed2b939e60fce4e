"""Discord's signature on HTTP interactions: Ed25519 over the timestamp header followed by
the raw body, with the application's public key (``cryptography`` does the Ed25519)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class InteractionVerifier:
    def __init__(self, public_key_hex: str) -> None:
        try:
            self._key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        except ValueError as exc:
            raise ValueError(
                "the Discord public key is 64 hex digits (the application's page shows it)"
            ) from exc

    def verify(self, signature_hex: str, timestamp: str, body: bytes) -> bool:
        """Whether Discord signed this request (a forged or damaged one is False; Discord
        also sends such requests on purpose, to check the endpoint refuses them)."""
        try:
            signature = bytes.fromhex(signature_hex)
            self._key.verify(signature, timestamp.encode() + body)
        except (ValueError, InvalidSignature):
            return False
        return True
