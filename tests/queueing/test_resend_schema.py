"""What mailhub sends is valid against Resend's own published OpenAPI description.

The description lives beside the project (../shared/resend/resend.yaml, Resend's file, not
copied into this repository). The sandbox already validates with our reading of Resend's rules;
this checks the same requests against Resend's schema itself.
"""

from pathlib import Path

import jsonschema
import pytest
import yaml

from queueing.services import AttachmentInput, message_create, messages_create_many

SPEC = Path(__file__).resolve().parents[3] / "shared" / "resend" / "resend.yaml"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not SPEC.exists(), reason=f"Resend's OpenAPI file is not at {SPEC}"),
]


@pytest.fixture(scope="module")
def send_email_schema() -> dict:
    spec = yaml.safe_load(SPEC.read_text())
    schemas = spec["components"]["schemas"]
    # A self-contained schema: components under $defs, refs pointed at them.
    text = yaml.safe_dump(schemas["SendEmailRequest"]).replace("#/components/schemas/", "#/$defs/")
    schema = yaml.safe_load(text)
    schema["$defs"] = yaml.safe_load(
        yaml.safe_dump(schemas).replace("#/components/schemas/", "#/$defs/")
    )
    schema["additionalProperties"] = False  # nothing Resend does not know about
    return schema


def test_single_and_batch_requests_match_resends_schema(sandbox, deliver_all, send_email_schema):
    message_create(
        to=["Ada <ada@example.com>"],
        cc=["cc@example.com"],
        reply_to=["reply@example.com"],
        subject="Invoice",
        html="<p>Attached</p>",
        text="Attached",
        headers={"X-Entity-Ref-ID": "42"},
        tags=[{"name": "kind", "value": "invoice"}],
        attachments=[AttachmentInput("invoice.txt", b"42 EUR", "text/plain")],
    )
    messages_create_many(
        [{"to": [f"user{i}@example.com"], "subject": f"Code {i}", "text": "x"} for i in range(3)]
    )
    deliver_all()
    emails = sandbox.emails()
    assert len(emails) == 4
    assert {e["via"] for e in emails} == {"single", "batch"}
    for email in emails:
        jsonschema.validate(email["request"], send_email_schema)
