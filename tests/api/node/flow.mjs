// The official Node SDK against a live mailhub, run by tests/api/test_node_sdk.py.
//
// Usage: node flow.mjs BASE_URL SEND_KEY OTHER_SCOPE_KEY
// Runs send, batch (strict and permissive), get, list, update, cancel, an idempotent retry and
// refusals, and prints one JSON object on stdout: each step's {data, error} as the SDK gave
// it. The Python test asserts on it (and on the database), so a failure shows there.
import { Resend } from "resend";

const [baseUrl, sendKey, otherScopeKey] = process.argv.slice(2);
if (!baseUrl || !sendKey || !otherScopeKey) {
  console.error("usage: node flow.mjs BASE_URL SEND_KEY OTHER_SCOPE_KEY");
  process.exit(2);
}

const resend = new Resend(sendKey, { baseUrl });
const email = (overrides = {}) => ({
  from: "Shop <shop@example.com>",
  to: ["ada@example.org"],
  subject: "Your order",
  html: "<p>Thanks</p>",
  ...overrides,
});
// Keep what the SDK answered, without its headers (they vary and say nothing here).
const keep = ({ data, error }) => ({ data, error });

const steps = {};
steps.send = keep(await resend.emails.send(email()));
steps.get = keep(await resend.emails.get(steps.send.data?.id));
steps.scheduled = keep(await resend.emails.send(email({ scheduledAt: "in 1 hour" })));
steps.listFirst = keep(await resend.emails.list({ limit: 1 }));
steps.listAfter = keep(
  await resend.emails.list({ limit: 5, after: steps.scheduled.data?.id }),
);
steps.update = keep(
  await resend.emails.update({ id: steps.scheduled.data?.id, scheduledAt: "tomorrow at 9am" }),
);
steps.cancel = keep(await resend.emails.cancel(steps.scheduled.data?.id));
steps.getCanceled = keep(await resend.emails.get(steps.scheduled.data?.id));
steps.cancelAgain = keep(await resend.emails.cancel(steps.scheduled.data?.id));

steps.batchStrict = keep(
  await resend.batch.send([email(), email({ to: ["b@example.org"] })]),
);
steps.batchPermissive = keep(
  await resend.batch.send([email(), email({ to: ["not an address"] })], {
    batchValidation: "permissive",
  }),
);
steps.batchRefused = keep(
  await resend.batch.send([email(), email({ to: ["not an address"] })]),
);

const once = { idempotencyKey: "node-order-77" };
steps.idempotentFirst = keep(await resend.emails.send(email({ subject: "Once" }), once));
steps.idempotentAgain = keep(await resend.emails.send(email({ subject: "Once" }), once));
steps.idempotentOther = keep(await resend.emails.send(email({ subject: "Else" }), once));

steps.invalid = keep(
  await resend.emails.send(email({ to: Array.from({ length: 51 }, (_, i) => `p${i}@example.org`) })),
);
steps.notFound = keep(await resend.emails.get("00000000-0000-0000-0000-000000000000"));
steps.unknownKey = keep(await new Resend("mh_unknown_key", { baseUrl }).emails.send(email()));
steps.restricted = keep(await new Resend(otherScopeKey, { baseUrl }).emails.send(email()));

process.stdout.write(JSON.stringify(steps));
