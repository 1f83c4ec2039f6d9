"""Signed certificates: `certify --sign-key FILE` (or CREDLY_SIGNING_KEY) signs the run's
manifest.sha256 with an Ed25519 private key into manifest.sig; `report DIR --public-key FILE`
checks that signature. The manifest hashes every artefact, so a valid signature over it proves the
whole folder came from whoever holds the key (a CI job that keeps it in its secret store), which a
recomputed `sha256sum` cannot fake. Keys are PEM files; docs/reports.md says how to make and rotate
them. Signatures are the `cryptography` package's; nothing here is home-made cryptography."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from credly_contract.config import ConfigError
from credly_contract.report.crosscheck import SIGNATURE
from credly_contract.report.manifest import MANIFEST

HOW = "make one with `openssl genpkey -algorithm ed25519 -out KEY.pem` (docs/reports.md)"


class SignatureInvalid(Exception):
    """manifest.sig is missing, malformed, or not the given key's signature of the manifest."""


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; ConfigError naming the file otherwise."""
    try:
        key = load_pem_private_key(Path(path).expanduser().read_bytes(), password=None)
    except OSError as error:
        raise ConfigError(f"signing key {path} cannot be read ({error.strerror})") from None
    except (ValueError, TypeError):
        raise ConfigError(
            f"signing key {path} is not an unencrypted PEM private key; {HOW}"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"signing key {path} is not an Ed25519 key; {HOW}")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        key = load_pem_public_key(Path(path).expanduser().read_bytes())
    except OSError as error:
        raise ConfigError(f"--public-key {path} cannot be read ({error.strerror})") from None
    except ValueError:
        raise ConfigError(
            f"--public-key {path} is not a PEM public key (make it with "
            "`openssl pkey -in KEY.pem -pubout -out KEY.pub.pem`)"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"--public-key {path} is not an Ed25519 key")
    return key


def sign_manifest(run_dir: Path, key: Ed25519PrivateKey) -> Path:
    """Write manifest.sig: the base64 Ed25519 signature of manifest.sha256's bytes."""
    signature = key.sign((run_dir / MANIFEST).read_bytes())
    path = run_dir / SIGNATURE
    path.write_text(base64.b64encode(signature).decode("ascii") + "\n", encoding="ascii")
    return path


def verify_signature(run_dir: Path, key: Ed25519PublicKey) -> None:
    """Raise SignatureInvalid unless manifest.sig is the key's signature of manifest.sha256."""
    path = run_dir / SIGNATURE
    if not path.is_file():
        raise SignatureInvalid(f"{path} is missing: the run was not signed")
    try:
        signature = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
    except (UnicodeDecodeError, binascii.Error):
        raise SignatureInvalid(f"{path} is not a base64 signature") from None
    try:
        key.verify(signature, (run_dir / MANIFEST).read_bytes())
    except InvalidSignature:
        raise SignatureInvalid(
            f"{path} is not this public key's signature of {MANIFEST}: the folder was changed "
            "after it was signed, or signed with another key"
        ) from None
