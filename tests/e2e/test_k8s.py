"""configs/k8s: the manifests pass Kubernetes schema validation (kubernetes-models'
compiled OpenAPI schemas, installed by make k8s-tools), a broken one does not, and
the DaemonSet agrees with relayd: its ConfigMap passes relayd --check with the
Secret's auth file, its probes and annotations point at the metrics port, its
capabilities are the systemd unit's."""
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import RELAYD

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "configs/k8s"
TOOLS = REPO / ".tools/k8s"


def validate(*files):
    if not (TOOLS / "node_modules/kubernetes-models").is_dir():
        pytest.fail("the validator is not installed: run make k8s-tools")
    return subprocess.run(["node", REPO / "tools/k8s/validate.mjs", TOOLS, *files],
                          capture_output=True, text=True, timeout=120)


def docs():
    out = {}
    for f in sorted(K8S.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            out[d["kind"]] = d
    return out


def test_manifests_pass_the_kubernetes_schemas():
    files = sorted(K8S.glob("*.yaml"))
    r = validate(*files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(files)} valid, 0 invalid" in r.stdout
    for kind in ("Namespace", "ConfigMap", "Secret", "DaemonSet"):
        assert f" {kind}/" in r.stdout


def test_a_broken_manifest_is_rejected(tmp_path):
    ds = yaml.safe_load((K8S / "daemonset.yaml").read_text())
    spec = ds["spec"]["template"]["spec"]
    spec["hostNetwork"] = "yes"
    spec["containers"][0]["ports"][0]["containerPort"] = "relay"
    del spec["containers"][0]["name"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(ds))
    r = validate(bad)
    assert r.returncode == 1
    assert "hostNetwork must be boolean" in r.stdout
    assert "containerPort must be integer" in r.stdout
    assert "containers/0 must have required property name" in r.stdout


def test_daemonset_matches_relayd_and_the_unit(tmp_path):
    d = docs()
    ds, cm, secret = d["DaemonSet"], d["ConfigMap"], d["Secret"]
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]
    assert spec["hostNetwork"] is True
    assert spec["tolerations"] and spec["terminationGracePeriodSeconds"] > 30
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert "kill -TERM 1" in " ".join(c["lifecycle"]["preStop"]["exec"]["command"])
    # grace in args below the termination grace period
    grace = int(c["args"][c["args"].index("--grace") + 1])
    assert grace < spec["terminationGracePeriodSeconds"]
    # /sys/fs/bpf from the host
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert vols["bpffs"]["hostPath"]["path"] == "/sys/fs/bpf" and mounts["bpffs"] == "/sys/fs/bpf"
    assert vols["config"]["configMap"]["name"] == cm["metadata"]["name"]
    assert vols["auth"]["secret"]["secretName"] == secret["metadata"]["name"]
    # the config relayd reads is the ConfigMap's key, its auth file the Secret's key
    conf_path = c["args"][c["args"].index("-C") + 1]
    assert conf_path == f"{mounts['config']}/relayd.json"
    conf = json.loads(cm["data"]["relayd.json"])
    auth_path = conf["authers"][0]["file"]["path"]
    assert auth_path == f"{mounts['auth']}/users.txt"
    # probes and annotations on the metrics port the config opens
    mport = int(conf["metrics"]["addr"].rsplit(":", 1)[1])
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": mport}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": mport}
    ann = pod["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true" and int(ann["prometheus.io/port"]) == mport
    assert ann["prometheus.io/path"] == conf["metrics"]["path"]
    # capabilities: the systemd unit's set, nothing else
    unit = (REPO / "configs/systemd/relayd.service").read_text()
    unit_caps = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
    sc = c["securityContext"]
    assert sorted("CAP_" + x for x in sc["capabilities"]["add"]) == sorted(unit_caps)
    assert sc["capabilities"]["drop"] == ["ALL"] and sc["privileged"] is False
    # relayd accepts the ConfigMap with the Secret's users
    users = tmp_path / "users.txt"
    users.write_text(secret["stringData"]["users.txt"])
    conf["authers"][0]["file"]["path"] = str(users)
    cfile = tmp_path / "relayd.json"
    cfile.write_text(json.dumps(conf))
    r = subprocess.run([str(RELAYD), "-C", str(cfile), "--check"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "1 service(s)" in r.stdout and f"metrics on :{mport}" in r.stdout
