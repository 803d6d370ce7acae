"""The .dlc artifact container: a zip (uncompressed) holding ``dlc.json``
(the manifest) and binary members (object code, weights, the source model).
The manifest records each member's SHA-256; reading verifies every one, so
a truncated or altered file is refused, never loaded."""
from __future__ import annotations

import hashlib
import json
import os
import threading
import zipfile

from ..ir.errors import ArtifactError

FORMAT = "dlc-artifact"
FORMAT_VERSION = 2   # 2: the entry takes a 5th argument, the profile's timestamps buffer
MANIFEST = "dlc.json"


def write_artifact(path, manifest: dict, members: dict[str, bytes]) -> None:
    manifest = dict(manifest, format=FORMAT, format_version=FORMAT_VERSION,
                    sha256={name: hashlib.sha256(data).hexdigest() for name, data in members.items()})
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}.{threading.get_ident()}"   # unique per writer thread
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, indent=1))
        for name, data in members.items():
            z.writestr(name, data)
    os.replace(tmp, path)   # never leave a half-written artifact under the real name


def read_artifact(path) -> tuple[dict, dict[str, bytes]]:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ArtifactError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read(MANIFEST))
            if manifest.get("format") != FORMAT:
                raise ArtifactError(f"{path}: not a dlc artifact")
            if manifest.get("format_version") != FORMAT_VERSION:
                raise ArtifactError(f"{path}: artifact format version {manifest.get('format_version')} "
                                    f"is not supported by this dlc (it reads version {FORMAT_VERSION}); "
                                    f"recompile the model")
            members = {name: z.read(name) for name in manifest["sha256"]}
    except ArtifactError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as e:
        raise ArtifactError(f"{path}: corrupt or truncated dlc artifact ({e})") from None
    for name, digest in manifest["sha256"].items():
        if hashlib.sha256(members[name]).hexdigest() != digest:
            raise ArtifactError(f"{path}: member {name} is corrupt (checksum mismatch)")
    return manifest, members
