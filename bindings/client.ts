// Client helpers around @rspc/client@0.3.1 for the Rivvi API. Hand-written (unlike procedures.ts).
//
// Why a wrapper at all: @rspc/client's transports take only a URL, so authentication has to be
// added here (a wrapped fetch for HTTP, a `?token=` for websockets), and its errors are plain
// `{ code, message }` objects whose validation details are JSON inside `message`.

import { createClient, FetchTransport, WebsocketTransport } from "@rspc/client";
import type { Client, inferProcedures, ProceduresDef } from "@rspc/client";
import type { Procedures } from "./procedures";

/** Returns the current session token (e.g. Clerk's `getToken()`), or null when signed out. */
export type TokenSource = () => Promise<string | null> | string | null;

export interface RivviClientOptions {
  /** Server base URL, e.g. `http://localhost:3000`; procedures live under `${url}/rspc`. */
  url: string;
  /** Called before every request: Clerk tokens are short-lived, so never cache one here. */
  getToken: TokenSource;
  /** fetch to wrap (tests, SSR); defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
}

/** The typed client: `client.query(["organizations.getCurrent"])`, `client.mutation([key, input])`. */
export type RivviClient<P extends ProceduresDef = Procedures> = Client<inferProcedures<P>>;

/** `http://x/` and `http://x` both become `http://x/rspc`. */
function rspcUrl(url: string): string {
  return `${url.replace(/\/+$/, "")}/rspc`;
}

/**
 * An HTTP client for queries and mutations. `P` defaults to the generated `Procedures`; it is a
 * parameter only so a caller can type against a contract the server has not exported yet.
 */
export function createRivviClient<P extends ProceduresDef = Procedures>(
  options: RivviClientOptions,
): RivviClient<P> {
  const baseFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const authedFetch: typeof globalThis.fetch = async (input, init) => {
    const token = await options.getToken();
    // FetchTransport passes a Headers object; copy it so nothing it owns is mutated.
    const headers = new Headers(init?.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return baseFetch(input, { ...init, headers });
  };
  return createClient<P>({ transport: new FetchTransport(rspcUrl(options.url), authedFetch) });
}

export interface RivviWsClientOptions {
  /** Server base URL (`http(s)://…`); the socket goes to `ws(s)://…/rspc/ws`. */
  url: string;
  /** Called when connecting and again before every reconnect (the old token may have expired). */
  getToken: TokenSource;
  /**
   * WebSocket implementation for runtimes without a global one (Node 20: `import WebSocket from
   * "ws"`). @rspc/client calls the global `WebSocket` directly, so this is installed as
   * `globalThis.WebSocket` when, and only when, none exists.
   */
  WebSocket?: new (url: string) => unknown;
}

export interface RivviWsClient<P extends ProceduresDef = Procedures> {
  client: RivviClient<P>;
  /** Closes the socket and stops @rspc/client's endless reconnect loop (call on unmount/exit). */
  close(): void;
}

async function socketUrl(base: string, getToken: TokenSource): Promise<string> {
  const url = new URL(`${rspcUrl(base)}/ws`);
  url.protocol = url.protocol === "https:" ? "wss:" : url.protocol === "http:" ? "ws:" : url.protocol;
  // Browsers cannot set Authorization on an upgrade; the server also reads `?token=`.
  const token = await getToken();
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

// The server authenticates a websocket once, at the upgrade, so a reconnect must carry a fresh
// token, and the upstream transport has no way to stop. Its `url` and `ws` are TypeScript-private
// plain properties, reached through this view.
type TransportInternals = { url: string; ws: { close(): void } };

class RivviWebsocketTransport extends WebsocketTransport {
  private closed = false;

  constructor(
    url: string,
    private readonly refreshUrl: () => Promise<string>,
  ) {
    super(url);
  }

  override async reconnect(timeoutIndex?: number): Promise<void> {
    if (this.closed) return;
    try {
      (this as unknown as TransportInternals).url = await this.refreshUrl();
    } catch {
      // Keep the previous URL: the server answers 401 per call, which the caller sees.
    }
    if (!this.closed) return super.reconnect(timeoutIndex);
  }

  close(): void {
    this.closed = true;
    (this as unknown as TransportInternals).ws.close();
  }
}

/** A websocket client (queries, mutations and subscriptions). Async because the token may be. */
export async function createRivviWsClient<P extends ProceduresDef = Procedures>(
  options: RivviWsClientOptions,
): Promise<RivviWsClient<P>> {
  const scope = globalThis as { WebSocket?: unknown };
  if (scope.WebSocket === undefined && options.WebSocket) scope.WebSocket = options.WebSocket;
  if (scope.WebSocket === undefined) {
    throw new Error("no global WebSocket: pass one, e.g. createRivviWsClient({ WebSocket }) with `ws`");
  }
  const refresh = () => socketUrl(options.url, options.getToken);
  const transport = new RivviWebsocketTransport(await refresh(), refresh);
  return { client: createClient<P>({ transport }), close: () => transport.close() };
}

/** One input field the server rejected; `field` is the camelCase path of the input field. */
export interface RivviFieldIssue {
  field: string;
  reason: string;
}

export interface RivviError {
  /** HTTP-like code from the server (400, 401, 403, 404, 409, 500); 0 when no rspc answer came. */
  code: number;
  message: string;
  /** Present on 400 validation errors: one entry per field at fault. */
  issues?: RivviFieldIssue[];
}

function isIssue(value: unknown): value is RivviFieldIssue {
  const v = value as RivviFieldIssue | null;
  return typeof v === "object" && v !== null && typeof v.field === "string" && typeof v.reason === "string";
}

/**
 * Normalises anything a Rivvi call throws. @rspc/client 0.3.1 throws `RSPCError`, a plain class
 * (not an `Error`) with `code` and `message`; it is matched by shape because a second copy of the
 * package (e.g. the app's and this package's) would defeat `instanceof`. A 400 from validation
 * carries `{"message", "issues"}` as JSON in `message` (server: api/error.rs `ValidationFailure`).
 * Anything else (network failure, a non-rspc response) becomes code 0.
 */
export function parseRivviError(err: unknown): RivviError {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e === "object" && e !== null && typeof e.code === "number" && typeof e.message === "string") {
    if (e.code === 400 && e.message.startsWith("{")) {
      try {
        const body = JSON.parse(e.message) as { message?: unknown; issues?: unknown };
        if (typeof body.message === "string" && Array.isArray(body.issues) && body.issues.every(isIssue)) {
          return { code: e.code, message: body.message, issues: body.issues };
        }
      } catch {
        // Not JSON after all: fall through to the plain message.
      }
    }
    return { code: e.code, message: e.message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 0, message };
}
