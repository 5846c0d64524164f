#!/usr/bin/env python3
"""Generate test/fixtures/dvc-hashes.json: what real DVC 3 records for a tricky tree.

Usage (needs DVC; the tests do not):
    python3 -m venv /tmp/dvcvenv && /tmp/dvcvenv/bin/pip install dvc
    PATH=/tmp/dvcvenv/bin:$PATH python3 scripts/dvc-fixture.py > test/fixtures/dvc-hashes.json

The tree spec below is copied into the fixture, so test/unit/hash-dvc-fixture.test.ts rebuilds the
same tree and compares our md5s, .dir hash and .dir bytes with DVC's.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

import yaml


def pattern(size, seed):
    # Deterministic bytes both Python and TypeScript can generate: (i*i + seed*i + seed) mod 251.
    return bytes(((i * i + seed * i + seed) % 251) for i in range(size))


# kind: file (content utf8 | base64 | pattern), dir (empty dir), symlink (target).
TREE = [
    {"path": "data/a.txt", "utf8": "hello\n"},
    {"path": "data/a-b/x.txt", "utf8": "dash dir\n"},
    {"path": "data/a/x.txt", "utf8": "plain dir\n"},
    {"path": "data/a/b/c/deep.txt", "utf8": "deep\n"},
    {"path": "data/a0", "utf8": "a zero\n"},
    {"path": "data/A.txt", "utf8": "upper\n"},
    {"path": "data/empty.txt", "utf8": ""},
    {"path": "data/crlf.txt", "utf8": "line one\r\nline two\r\n"},
    {"path": "data/binary.bin", "base64": base64.b64encode(bytes(range(256)) * 3).decode()},
    {"path": "data/big.bin", "pattern": {"size": 3 * 1024 * 1024 + 17, "seed": 13}},
    {"path": "data/\u00fcn\u00efc\u00f6d\u00e9.txt", "utf8": "latin-1 range\n"},
    {"path": "data/\u65e5\u672c\u8a9e/\u30d5\u30a1\u30a4\u30eb.txt", "utf8": "cjk\n"},
    # Code-point order puts U+FF46 before U+1F600; UTF-16 code-unit order would not.
    {"path": "data/u/\uff46ullwidth.txt", "utf8": "bmp high\n"},
    {"path": "data/u/\U0001F600.txt", "utf8": "astral\n"},
    {"path": "data/u/\ue000private.txt", "utf8": "private use\n"},
    {"path": "data/quote\"back\\slash.txt", "utf8": "escapes\n"},
    {"path": "data/space name.txt", "utf8": "space\n"},
    {"path": "data/tab\tname.txt", "utf8": "tab\n"},
    {"path": "data/ctl\u0001char.txt", "utf8": "control\n"},
    {"path": "data/del\u007fchar.txt", "utf8": "delete\n"},
    {"path": "data/emptydir", "dir": True},
    {"path": "data/nested-empty/inner", "dir": True},
    {"path": "data/link-to-file", "symlink": "a.txt"},
    {"path": "data/link-to-dir", "symlink": "a"},
    {"path": "single-crlf.txt", "utf8": "windows\r\nline\r\n"},
    {"path": "single-empty", "utf8": ""},
    {"path": "single-big.bin", "pattern": {"size": 5 * 1024 * 1024 + 3, "seed": 7}},
]
DIR_OUTS = ["data", "data-empty"]
EXTRA_EMPTY_DIRS = ["data-empty/only-empty"]
FILE_OUTS = ["single-crlf.txt", "single-empty", "single-big.bin"]


def content_of(spec):
    if "utf8" in spec:
        return spec["utf8"].encode("utf-8")
    if "base64" in spec:
        return base64.b64decode(spec["base64"])
    p = spec["pattern"]
    return pattern(p["size"], p["seed"])


def build(root):
    for spec in TREE:
        full = os.path.join(root, spec["path"])
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if spec.get("dir"):
            os.makedirs(full, exist_ok=True)
        elif "symlink" in spec:
            os.symlink(spec["symlink"], full)
        else:
            with open(full, "wb") as f:
                f.write(content_of(spec))
    for d in EXTRA_EMPTY_DIRS:
        os.makedirs(os.path.join(root, d), exist_ok=True)


def run(args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def out_entry(root, out):
    with open(os.path.join(root, out + ".dvc"), encoding="utf-8") as f:
        meta = yaml.safe_load(f)["outs"][0]
    return meta


def main():
    dvc_version = subprocess.run(["dvc", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as root:
        run(["git", "init", "-q"], root)
        run(["dvc", "init", "-q"], root)
        build(root)
        result = {
            "generator": "scripts/dvc-fixture.py",
            "dvc_version": dvc_version,
            "tree": TREE,
            "extra_empty_dirs": EXTRA_EMPTY_DIRS,
            "dirs": [],
            "files": [],
        }
        for out in DIR_OUTS + FILE_OUTS:
            run(["dvc", "add", "-q", out], root)
            meta = out_entry(root, out)
            entry = {"path": out, "md5": meta["md5"], "size": meta.get("size"), "hash": meta.get("hash")}
            if out in DIR_OUTS:
                entry["nfiles"] = meta.get("nfiles")
                digest = meta["md5"]
                obj = os.path.join(root, ".dvc", "cache", "files", "md5", digest[:2], digest[2:])
                with open(obj, "rb") as f:
                    raw = f.read()
                entry["manifest_bytes_base64"] = base64.b64encode(raw).decode()
                entry["manifest"] = json.loads(raw)
                result["dirs"].append(entry)
            else:
                result["files"].append(entry)
    json.dump(result, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
