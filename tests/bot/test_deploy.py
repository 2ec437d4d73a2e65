"""The deployment files: a reproducible image from a lock file, a clean build context, a pinned
Kubernetes image with readiness and liveness probes."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    return _normalise(re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0])


def test_lock_file_pins_every_runtime_dependency_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["parquet"]
    wanted = {_requirement_name(s) for s in specs}
    lock = (ROOT / "deploy" / "requirements.lock").read_text()
    pinned = {_normalise(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==\S+ \\$", lock, re.M)}
    missing = wanted - pinned
    assert not missing, f"deploy/requirements.lock lacks {sorted(missing)}: run scripts/lock.sh"
    blocks = [b for b in re.split(r"\n(?=[A-Za-z0-9])", lock) if "==" in b.split("\n")[0]]
    assert blocks and all("--hash=sha256:" in b for b in blocks)
    assert "file://" not in lock and "/opt/" not in lock  # nothing of one machine's indexes


def test_dockerfile_installs_from_the_lock_with_hashes():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "COPY deploy/requirements.lock" in dockerfile
    assert re.search(r"pip install --require-hashes -r requirements\.lock", dockerfile)
    assert re.search(r"pip install --no-deps \.", dockerfile)  # the app itself adds nothing unpinned


def test_build_context_leaves_out_venvs_databases_and_secrets():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)

    for path in (".venv/bin/python", ".ci-venv/lib/x.py", "stateof.db", "stateof.db-wal", ".stateof-secret",
                 ".env", "deploy/.env", "stateof-demo/summary.md", ".git/HEAD"):
        assert ignored(path), path
    for path in ("pyproject.toml", "bot/cli.py", "deploy/requirements.lock", "migrations/env.py"):
        assert not ignored(path), path


def test_kubernetes_manifest_pins_the_image_and_probes_ready_and_live():
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "stateof.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    image = container["image"]
    assert ":" in image and not image.endswith(":latest"), image
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert image.endswith(f":{version}")
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
