"""deploy/prometheus/alerts.yml: every rule is complete, and every metric it names is one the
/metrics endpoint really exposes (read from a real scrape, not from a list kept by hand).
With promtool installed (Debian's `prometheus` package), the rules are also checked and
their unit tests (deploy/prometheus/alerts_test.yml) run."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
# The six situations issue 15 asks an alert for, each by (part of) its name.
REQUIRED = (
    "OldestQueuedMessage",
    "FailureRate",
    "NoWorkerHeartbeat",
    "SendingPaused",
    "WebhookBacklogGrowing",
    "QuotaNearlyUsed",
)


def rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def exposed_names(client) -> set[str]:
    """Every name a PromQL expression may use against this scrape: family names and the
    sample names (counters' _total, histograms' _bucket/_sum/_count)."""
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION="Bearer alerts-test")
    assert response.status_code == 200
    names = set()
    for family in text_string_to_metric_families(response.content.decode()):
        names.add(family.name)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names.update(family.name + s for s in suffixes.get(family.type, ()))
    return names


def test_every_rule_is_complete() -> None:
    found = rules()
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), "two rules share a name"
    for required in REQUIRED:
        assert any(required in name for name in names), f"no alert for {required}"
    for rule in found:
        assert rule["expr"].strip(), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert len(rule["annotations"]["description"]) > 40, rule["alert"]


@pytest.mark.django_db
def test_rules_name_only_metrics_the_endpoint_exposes(client, settings) -> None:
    settings.MAILHUB_METRICS_TOKEN = "alerts-test"
    exposed = exposed_names(client)
    for rule in rules():
        used = set(re.findall(r"\bmailhub_[a-z0-9_]+", rule["expr"]))
        assert used, f"{rule['alert']} names no mailhub metric"
        missing = used - exposed
        assert not missing, f"{rule['alert']} names metrics /metrics does not expose: {missing}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_checks_and_unit_tests() -> None:
    for args in (["check", "rules", str(RULES)], ["test", "rules", str(RULE_TESTS)]):
        done = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
