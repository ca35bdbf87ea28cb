"use client";
// The examples of bindings/README.md, as a page: `next build` compiles and type-checks them
// against the bindings installed the way the README says (CI: tests/next-app/build.sh).
import { useEffect, useState } from "react";
import { createRivviClient, createRivviWsClient, parseRivviError } from "@rivvi/bindings";

const url = process.env.NEXT_PUBLIC_API_URL ?? "http://127.0.0.1:3000";
const getToken = async (): Promise<string | null> => null; // Clerk: () => clerk.session?.getToken() ?? null

export default function Page() {
  const [status, setStatus] = useState("…");
  const [events, setEvents] = useState(0);

  useEffect(() => {
    const client = createRivviClient({ url, getToken });
    client.query(["organizations.getCurrent"]).then(
      (org) => setStatus(`${org.name} (${org.timeZone})`),
      (err) => {
        const { code, message, issues } = parseRivviError(err); // issues: [{ field, reason }] on a 400
        setStatus(`error ${code}: ${message}${issues ? ` (${issues.map((i) => i.field).join(", ")})` : ""}`);
      },
    );
  }, []);

  useEffect(() => {
    let stop: (() => void) | undefined;
    let close: (() => void) | undefined;
    const runId = new URLSearchParams(window.location.search).get("run");
    if (runId) {
      createRivviWsClient({ url, getToken }).then((ws) => {
        close = ws.close;
        stop = ws.client.addSubscription(["runs.events", { runId }], {
          onData: (event) => {
            if (event.type === "tally") setStatus(`${event.stats.run.status}`);
            setEvents((n) => n + 1);
          },
        });
      });
    }
    return () => {
      stop?.();
      close?.();
    };
  }, []);

  return (
    <main>
      <p>{status}</p>
      <p>{events} events</p>
    </main>
  );
}
