"""`report` as a CI gate: --require certified exits 1 unless the verified verdict is certified; a
certificate edited to say certified (counts fixed, manifest recomputed with sha256) no longer
verifies because junit.xml and certificate.html still disagree; a file the manifest does not list
is flagged; a signed manifest (certify --sign-key) verifies only with its public key."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from credly_contract.cli import main
from credly_contract.report.manifest import MANIFEST, artefacts
from credly_contract.verdict import ExitCode
from tests.cli_process import run_cli

BROKEN_SHOULD = "tokens_survive_delete"  # breaks SEC-REVOKE-ON-DELETE only


def write_key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("gate")
    private, public = write_key_pair(root, "ci")
    _, other_public = write_key_pair(root, "other")
    runs = {
        "certified": ["--sign-key", str(private)],
        "not_certified": ["--fault", BROKEN_SHOULD],
    }
    for name, flags in runs.items():
        done = run_cli(
            "certify", "--profile", "quick", "--reports-dir", str(root / name), *flags, cwd=root
        )
        assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr
    yield {
        **{name: root / name for name in runs},
        "public": public,
        "other_public": other_public,
        "root": root,
    }


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["report", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / folder.name))


def recompute_manifest(folder: Path) -> None:
    """What `sha256sum * > manifest.sha256` would give a forger."""
    lines = [
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
        for name in artefacts(folder)
    ]
    (folder / MANIFEST).write_text("".join(lines), encoding="utf-8")


def test_require_certified_passes_a_certified_folder(folders, capsys):
    code, out = report(capsys, folders["certified"], "--require", "certified")
    assert code == ExitCode.CERTIFIED, out


def test_require_certified_fails_a_folder_that_verifies_but_is_not_certified(folders, capsys):
    assert report(capsys, folders["not_certified"])[0] == ExitCode.CERTIFIED  # it verifies
    code, out = report(capsys, folders["not_certified"], "--require", "certified")
    assert code == ExitCode.NOT_COMPLIANT
    assert "--require certified: the verified verdict is not_certified" in out


def test_a_certificate_edited_to_say_certified_with_a_recomputed_manifest_does_not_verify(
    folders, capsys, tmp_path
):
    forged = copy(folders["not_certified"], tmp_path)
    path = forged / "certificate.json"
    certificate = json.loads(path.read_text(encoding="utf-8"))
    for requirement in certificate["requirements"]:
        requirement["status"] = "passed"
        requirement.pop("evidence", None)
        requirement.pop("reason", None)
    total = len(certificate["requirements"])
    certificate["counts"]["requirements"] = {
        "passed": total,
        "failed": 0,
        "waived": 0,
        "not_run": 0,
    }
    certificate["verdict"] = "certified"
    path.write_text(json.dumps(certificate, indent=2), encoding="utf-8")
    recompute_manifest(forged)
    code, out = report(capsys, forged, "--require", "certified", "--output", tmp_path / "clean")
    assert code == ExitCode.REPORT_INVALID, out
    assert "counts.tests says" in out or "junit.xml has" in out
    assert not (tmp_path / "clean").exists()


def test_a_page_that_disagrees_with_its_certificate_does_not_verify(folders, capsys, tmp_path):
    forged = copy(folders["not_certified"], tmp_path)
    html = forged / "certificate.html"
    html.write_text(
        html.read_text(encoding="utf-8").replace(
            'name="credly-verdict" content="not_certified"', 'name="credly-verdict" content="x"'
        ),
        encoding="utf-8",
    )
    recompute_manifest(forged)
    code, out = report(capsys, forged)
    assert code == ExitCode.REPORT_INVALID
    assert "certificate.html says credly-verdict 'x', certificate.json 'not_certified'" in out


def test_a_file_the_manifest_does_not_list_is_flagged(folders, capsys, tmp_path):
    folder = copy(folders["certified"], tmp_path)
    (folder / "extra.html").write_text("<p>Certified</p>", encoding="utf-8")
    code, out = report(capsys, folder)
    assert code == ExitCode.REPORT_INVALID
    assert "extra.html: not in the manifest" in out


def test_a_signed_folder_verifies_with_its_public_key(folders, capsys):
    assert (folders["certified"] / "manifest.sig").is_file()
    code, out = report(capsys, folders["certified"], "--public-key", folders["public"])
    assert code == ExitCode.CERTIFIED, out
    assert "manifest.sig verifies" in out


def test_a_signature_does_not_verify_with_another_key_or_after_the_manifest_changed(
    folders, capsys, tmp_path
):
    code, out = report(capsys, folders["certified"], "--public-key", folders["other_public"])
    assert code == ExitCode.REPORT_INVALID and "not this public key's signature" in out
    folder = copy(folders["certified"], tmp_path)
    (folder / "junit.xml").write_text(
        (folder / "junit.xml").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    recompute_manifest(folder)  # sha256 of every file is right again; the signature is not
    code, out = report(capsys, folder, "--public-key", folders["public"])
    assert code == ExitCode.REPORT_INVALID and "not this public key's signature" in out


def test_an_unsigned_folder_fails_a_signature_check(folders, capsys):
    code, out = report(capsys, folders["not_certified"], "--public-key", folders["public"])
    assert code == ExitCode.REPORT_INVALID
    assert "manifest.sig is missing" in out


def test_a_signing_key_that_cannot_sign_stops_certify_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "key.pem"
    bad.write_text("not a key", encoding="utf-8")
    code = main(["certify", "--sign-key", str(bad), "--reports-dir", str(tmp_path / "run")])
    assert code == ExitCode.CONFIG
    assert f"signing key {bad} is not an unencrypted PEM private key" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
