"""Vendor onnxruntime-web from npm into the app's static folder, or check the vendored copy.

    python docs/vendor_onnxruntime_web.py            # npm pack onnxruntime-web@VERSION, copy, gzip, write SHA256SUMS
    python docs/vendor_onnxruntime_web.py --check    # the vendored files against SHA256SUMS (no network)

The page needs two of the package's files for plain single-threaded WebAssembly: `ort.wasm.bundle.min.mjs` (the
runtime with its WebAssembly glue) and `ort-wasm-simd-threaded.wasm`. The .wasm is shipped gzipped (14.8 MB -> 3.8
MB: less to download, and under the Hub's 10 MiB limit for files outside LFS); the page unpacks it with the
browser's DecompressionStream. SHA256SUMS records the package's own files (the .wasm before gzip), so `--check`
proves the shipped copy is byte for byte what npm served for VERSION.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.31.1"
PACKAGE = "onnxruntime-web"
VENDOR = Path(__file__).resolve().parents[1] / "ae_vae" / "app" / "static" / "vendor" / PACKAGE
FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
GZIPPED = {"ort-wasm-simd-threaded.wasm"}
LICENSE = """MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def shipped_name(name: str) -> str:
    return name + ".gz" if name in GZIPPED else name


def original_bytes(name: str) -> bytes:
    """A vendored file as the package had it (the gzipped one unpacked)."""
    data = (VENDOR / shipped_name(name)).read_bytes()
    return gzip.decompress(data) if name in GZIPPED else data


def check() -> list[str]:
    """Problems with the vendored copy (empty when it is intact)."""
    sums = VENDOR / "SHA256SUMS"
    if not sums.is_file():
        return [f"{sums}: missing"]
    expected = dict(reversed(line.split(maxsplit=1)) for line in sums.read_text().splitlines() if line.strip())
    problems = []
    for name in FILES:
        if not (VENDOR / shipped_name(name)).is_file():
            problems.append(f"{VENDOR / shipped_name(name)}: missing")
        elif sha256(original_bytes(name)) != expected.get(name):
            problems.append(f"{name}: SHA-256 differs from SHA256SUMS")
    if not (VENDOR / "LICENSE").is_file():
        problems.append(f"{VENDOR / 'LICENSE'}: missing")
    return problems


def vendor() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball) as archive:
            contents = {name: archive.extractfile(f"package/dist/{name}").read() for name in FILES}
            version = archive.extractfile("package/package.json").read()
    if f'"version": "{VERSION}"'.encode() not in version:
        raise SystemExit(f"npm served another version than {VERSION}")
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    for name, data in contents.items():
        if name in GZIPPED:
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0, filename="") as packed:
                packed.write(data)
            data = buffer.getvalue()
        (VENDOR / shipped_name(name)).write_bytes(data)
    (VENDOR / "SHA256SUMS").write_text("".join(f"{sha256(contents[n])}  {n}\n" for n in FILES))
    (VENDOR / "LICENSE").write_text(LICENSE)
    (VENDOR / "VERSION").write_text(f"{PACKAGE}@{VERSION}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the vendored files, change nothing")
    if parser.parse_args().check:
        problems = check()
    else:
        vendor()
        problems = check()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.2f} MB" for p in sorted(VENDOR.iterdir()))
        print(f"{PACKAGE}@{VERSION} in {VENDOR}: {sizes}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
