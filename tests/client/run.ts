// Drives a running Rivvi server through @rivvi/bindings the way the Next.js app will.
// Usage: RIVVI_URL=http://127.0.0.1:3000 RIVVI_TOKEN=<dev token> npx tsx run.ts  (run.sh does this)
// Prints one line per check and a closing "N passed, N failed"; exits non-zero on any failure.

import { RSPCError } from "@rspc/client";
import WebSocket from "ws";
import { createRivviClient, createRivviWsClient, parseRivviError } from "../../bindings/index";
import type { Procedures } from "../../bindings/index";

// The contract this test holds the server to. While the server does not export these procedures
// yet (bindings/procedures.ts lacks them), the test is typed against this contract so it compiles;
// once they are generated, the real `Procedures` is used and must still fit (see `contractHolds`).
type Contract = {
  queries:
    | { key: "organizations.getCurrent"; input: never; result: { id: string; name: string } }
    | { key: "organizations.isSuperAdmin"; input: never; result: boolean };
  mutations: never;
  subscriptions: never;
};
type ContractKey = Contract["queries"]["key"];
type Api = ContractKey extends Procedures["queries"]["key"] ? Procedures : Contract;
type ResultOf<K extends ContractKey> = Extract<Api["queries"], { key: K }>["result"];
// Fails to compile if the generated types drift from the contract.
const contractHolds: [ResultOf<"organizations.getCurrent">, ResultOf<"organizations.isSuperAdmin">] extends [
  { id: string; name: string },
  boolean,
]
  ? true
  : never = true;
void contractHolds;

const url = process.env.RIVVI_URL;
const token = process.env.RIVVI_TOKEN;
if (!url || !token) {
  console.error("run.ts: set RIVVI_URL (e.g. http://127.0.0.1:3000) and RIVVI_TOKEN (a dev token)");
  process.exit(2);
}

// @rspc/client waits forever for an answer that never comes (notably over websockets).
function within<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref()),
  ]);
}

function describe(err: unknown): string {
  const e = parseRivviError(err);
  return `error ${e.code}: ${e.message}`;
}

let passed = 0;
let failed = 0;
async function check(name: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
    passed++;
    console.log(`ok   ${name}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Asserts a call succeeds, turning an rspc error into a readable failure.
async function succeeds<T>(call: Promise<T>): Promise<T> {
  try {
    return await within(call);
  } catch (err) {
    throw new Error(`expected success, got ${describe(err)}`);
  }
}

const client = createRivviClient<Api>({ url, getToken: () => token });
const anonymous = createRivviClient<Api>({ url, getToken: async () => null });

await check("parseRivviError reads validation issues (offline)", () => {
  const body = { message: "invalid input: name: required", issues: [{ field: "name", reason: "required" }] };
  const parsed = parseRivviError(new RSPCError(400, JSON.stringify(body)));
  if (parsed.code !== 400 || parsed.message !== body.message || parsed.issues?.[0]?.field !== "name") {
    throw new Error(`unexpected ${JSON.stringify(parsed)}`);
  }
  const plain = parseRivviError(new RSPCError(404, "campaign not found"));
  if (plain.code !== 404 || plain.issues !== undefined) throw new Error(`unexpected ${JSON.stringify(plain)}`);
});

await check("organizations.getCurrent returns the caller's organization", async () => {
  const org = await succeeds(client.query(["organizations.getCurrent"]));
  if (typeof org?.id !== "string" || org.id === "" || typeof org.name !== "string") {
    throw new Error(`expected { id, name }, got ${JSON.stringify(org)}`);
  }
});

await check("organizations.getCurrent without a token is 401", async () => {
  let outcome: string;
  try {
    outcome = `resolved with ${JSON.stringify(await within(anonymous.query(["organizations.getCurrent"])))}`;
  } catch (err) {
    if (parseRivviError(err).code === 401) return;
    outcome = describe(err);
  }
  throw new Error(`expected error 401, got ${outcome}`);
});

await check("organizations.isSuperAdmin returns a boolean", async () => {
  const value = await succeeds(client.query(["organizations.isSuperAdmin"]));
  if (typeof value !== "boolean") throw new Error(`expected a boolean, got ${JSON.stringify(value)}`);
});

await check("organizations.isSuperAdmin over the websocket (?token=) returns a boolean", async () => {
  const ws = await createRivviWsClient<Api>({ url, getToken: () => token, WebSocket });
  try {
    const value = await succeeds(ws.client.query(["organizations.isSuperAdmin"]));
    if (typeof value !== "boolean") throw new Error(`expected a boolean, got ${JSON.stringify(value)}`);
  } finally {
    ws.close();
  }
});

// Procedure errors answer with their code as the HTTP status (404 here) and the same body; the
// client still throws its typed error, over HTTP and over the websocket alike.
const unknownRun = { id: "00000000-0000-7000-8000-000000000000" };
await check("runs.get of an unknown run is a typed 404 over HTTP (HTTP status 404)", async () => {
  const response = await fetch(`${url}/rspc/runs.get?input=${encodeURIComponent(JSON.stringify(unknownRun))}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 404) throw new Error(`expected HTTP 404, got ${response.status}`);
  let outcome: string;
  try {
    outcome = `resolved with ${JSON.stringify(await within(client.query(["runs.get", unknownRun])))}`;
  } catch (err) {
    if (parseRivviError(err).code === 404) return;
    outcome = describe(err);
  }
  throw new Error(`expected error 404, got ${outcome}`);
});

await check("runs.get of an unknown run is a typed 404 over the websocket", async () => {
  const ws = await createRivviWsClient<Api>({ url, getToken: () => token, WebSocket });
  try {
    let outcome: string;
    try {
      outcome = `resolved with ${JSON.stringify(await within(ws.client.query(["runs.get", unknownRun])))}`;
    } catch (err) {
      if (parseRivviError(err).code === 404) return;
      outcome = describe(err);
    }
    throw new Error(`expected error 404, got ${outcome}`);
  } finally {
    ws.close();
  }
});

// The prompt workflow with the generated types: an operator creates a managed campaign, the
// clinic admin asks the language model for a variation, the operator applies it.
const operatorToken = process.env.RIVVI_OPERATOR_TOKEN;
await check("campaigns: suggest a prompt variation, then apply it", async () => {
  if (!operatorToken) throw new Error("set RIVVI_OPERATOR_TOKEN (a dev token in the operator organization)");
  const operator = createRivviClient<Procedures>({ url, getToken: () => operatorToken });
  const clinic = createRivviClient<Procedures>({ url, getToken: () => token });
  const org = await succeeds(clinic.query(["organizations.getCurrent"]));
  const campaign = await succeeds(
    operator.mutation([
      "campaigns.create",
      {
        orgId: org.id,
        campaign: {
          name: `Client test ${Date.now()}`,
          direction: "outbound",
          basePrompt: "Hi {{firstName}}, this is the clinic about your visit.",
          variables: [
            { key: "firstName", label: "First name", fieldType: "name", role: "firstName" },
            { key: "primaryPhone", label: "Phone", fieldType: "phone", required: true, role: "phone" },
          ],
          analysisFields: [],
        },
      },
    ]),
  );
  const variation = await succeeds(
    clinic.mutation(["campaigns.suggestPromptVariation", { campaignId: campaign.id, request: "be warmer" }]),
  );
  if (variation.warnings.length !== 0 || !variation.proposedPrompt.includes("{{firstName}}")) {
    throw new Error(`expected a clean proposal, got ${JSON.stringify(variation)}`);
  }
  const applied = await succeeds(
    operator.mutation(["campaigns.applyPromptVariation", { orgId: org.id, variationId: variation.variationId }]),
  );
  if (applied.config.basePrompt !== variation.proposedPrompt) {
    throw new Error(`expected the proposal as the prompt, got ${JSON.stringify(applied.config.basePrompt)}`);
  }
});

// A run followed live: the clinic admin subscribes to runs.events through @rspc/client's
// websocket transport and gets the snapshot, row changes and the completion, whose numbers equal
// runs.getStats. Patients sit in a zone where it is daytime now (their calling window is
// 08:00-21:00 local), so this passes at any hour.
await check("runs.events over the websocket follows a run to completion", async () => {
  if (!operatorToken) throw new Error("set RIVVI_OPERATOR_TOKEN (a dev token in the operator organization)");
  const operator = createRivviClient<Procedures>({ url, getToken: () => operatorToken });
  const clinic = createRivviClient<Procedures>({ url, getToken: () => token });
  const org = await succeeds(clinic.query(["organizations.getCurrent"]));
  const callerNumber = "+13125550142";
  await succeeds(operator.mutation(["admin.phoneNumbers.assign", { orgId: org.id, number: callerNumber, purpose: "both" }]));
  const open = { open: "00:00", close: "24:00" };
  await succeeds(
    clinic.mutation([
      "organizations.update",
      {
        callerNumber,
        concurrentCallLimit: 10,
        callsPerMinute: 600,
        officeHours: {
          monday: open, tuesday: open, wednesday: open, thursday: open, friday: open, saturday: open, sunday: open,
        },
      },
    ]),
  );
  const campaign = await succeeds(
    operator.mutation([
      "campaigns.create",
      {
        orgId: org.id,
        campaign: {
          name: `Live ${Date.now()}`,
          direction: "outbound",
          basePrompt: "Hi {{firstName}}, this is the clinic about your visit.",
          variables: [
            { key: "firstName", label: "First name", fieldType: "name", role: "firstName" },
            { key: "primaryPhone", label: "Phone", fieldType: "phone", required: true, role: "phone" },
            { key: "zone", label: "Time zone", fieldType: "text", role: "timeZone" },
          ],
          analysisFields: [],
          retryPolicy: { maxAttempts: 1, retryOn: [], delayMinutes: 5 },
        },
      },
    ]),
  );
  const zones = ["Pacific/Honolulu", "America/Los_Angeles", "America/Chicago", "America/New_York", "Atlantic/Azores",
    "Europe/London", "Europe/Berlin", "Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney",
    "Pacific/Auckland"];
  const hourIn = (zone: string) =>
    Number(new Intl.DateTimeFormat("en-US", { timeZone: zone, hour: "numeric", hourCycle: "h23" }).format(new Date()));
  const zone = zones.find((z) => hourIn(z) >= 10 && hourIn(z) < 19);
  if (!zone) throw new Error("no zone in its daytime: the list should cover every hour");
  const sheet = ["First name,Phone,Time zone", ...[1, 2, 3, 4].map((n) => `Pat${n},(312) 555-01${40 + n},${zone}`)].join("\n");
  const uploaded = await fetch(`${url}/uploads?fileName=live.csv`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: sheet,
  });
  if (!uploaded.ok) throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
  const { uploadId } = (await uploaded.json()) as { uploadId: string };
  const run = await succeeds(
    clinic.mutation(["runs.create", { campaignId: campaign.id, uploadId, name: "Live", clientRequestId: `live-${Date.now()}` }]),
  );

  const ws = await createRivviWsClient<Procedures>({ url, getToken: () => token, WebSocket });
  try {
    const items: Array<Extract<Procedures["subscriptions"], { key: "runs.events" }>["result"]> = [];
    let done: () => void = () => {};
    const completed = new Promise<void>((resolve) => (done = resolve));
    let snapshot: () => void = () => {};
    const subscribed = new Promise<void>((resolve) => (snapshot = resolve));
    const stop = ws.client.addSubscription(["runs.events", { runId: run.id }], {
      onData: (item) => {
        items.push(item);
        if (item.type === "snapshot") snapshot();
        if (item.type === "status" && item.stats.run.status === "completed") done();
      },
    });
    await within(subscribed);
    await succeeds(clinic.mutation(["runs.start", { id: run.id }]));
    await within(completed, 120_000);
    stop();
    const stats = await succeeds(clinic.query(["runs.getStats", { id: run.id }]));
    const last = items[items.length - 1];
    const counts = (rows: Array<{ status: string; count: number }>) =>
      rows.map((r) => `${r.status}=${r.count}`).sort().join(",");
    if (last?.type !== "status" || counts(last.stats.rows) !== counts(stats.rows)) {
      throw new Error(`final tally ${JSON.stringify(last)} differs from runs.getStats ${JSON.stringify(stats.rows)}`);
    }
    const rows = items.filter((i) => i.type === "row");
    const seqs = items.flatMap((i) => (i.type === "row" || i.type === "status" ? [i.seq] : []));
    if (rows.length < 4 || seqs.some((n, i) => i > 0 && n <= (seqs[i - 1] ?? 0))) {
      throw new Error(`expected row items in sequence order, got ${JSON.stringify(seqs)}`);
    }
  } finally {
    ws.close();
  }
});

// Analytics after that run: the typed overview counts its calls in the organization's zone.
await check("analytics.overview counts the run's calls, typed from the bindings", async () => {
  const clinic = createRivviClient<Procedures>({ url, getToken: () => token });
  const overview = await succeeds(clinic.query(["analytics.overview", {}]));
  const attempted: number = overview.calls.attempted;
  const reachRate: number | null = overview.calls.reachRate;
  const dayTotal = overview.days.reduce((sum, day) => sum + day.calls.attempted, 0);
  if (attempted < 4 || dayTotal !== attempted || typeof overview.timeZone !== "string") {
    throw new Error(`overview ${JSON.stringify(overview)}`);
  }
  if (reachRate !== null && (reachRate < 0 || reachRate > 1)) throw new Error(`reachRate ${reachRate}`);
  const backwards = await clinic.query(["analytics.overview", { from: "2026-02-02", to: "2026-02-01" }]).then(
    () => null,
    (error: unknown) => error,
  );
  if (!backwards) throw new Error("a range that ends before it starts must be refused");
});

console.log(`client: ${passed} passed, ${failed} failed`);
// Exit explicitly: a websocket or timer left behind must not keep CI waiting.
process.exit(failed === 0 ? 0 : 1);
