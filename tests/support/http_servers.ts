/** A `Deno.serve` server on a loopback address, for tests. */
export interface TestServer extends AsyncDisposable {
  hostname: string;
  port: number;
  /** `http://127.0.0.1:PORT`, `http://[::1]:PORT` or `https://...`. */
  origin: string;
  /** Stops accepting and waits for the requests in flight. */
  close(): Promise<void>;
}

/**
 * A self-signed certificate for `api.test` and `127.0.0.1`, valid 2000-2100,
 * and its key. Tests only: trust it with a client's `ca` option.
 */
export const TEST_TLS = {
  cert: `-----BEGIN CERTIFICATE-----
MIIBYTCCAQegAwIBAgIBATAKBggqhkjOPQQDAjATMREwDwYDVQQDDAhhcGkudGVz
dDAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowEzERMA8GA1UEAwwI
YXBpLnRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASJVxGndl1bGNdkdrxi
uN89sY1an6CVQ0jnlBahVRneYDIHC7+79Gl8C6qQe70oysLES19ZoHEmSJmgicGL
CgBlo0owSDAZBgNVHREEEjAQgghhcGkudGVzdIcEfwAAATAMBgNVHRMBAf8EAjAA
MB0GA1UdDgQWBBQc2XkYCOw02wPA4gr7GcPel6gSnDAKBggqhkjOPQQDAgNIADBF
AiBHm6jHSTglJTkjiGWVeIRh63hjB09SBe3sAezoicXhxAIhANzyiizjlL/Ucsoy
rREF3CV5lVuubQdCVFUptHaxvjtR
-----END CERTIFICATE-----
`,
  key: `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgERy7UU6Ey/wiPH3k
+QeMEBuFiwhhZXLTl6s6uOtTOJWhRANCAASJVxGndl1bGNdkdrxiuN89sY1an6CV
Q0jnlBahVRneYDIHC7+79Gl8C6qQe70oysLES19ZoHEmSJmgicGLCgBl
-----END PRIVATE KEY-----
`,
};

/** Options of `startServer`. */
export interface StartServerOptions {
  /** Loopback only; defaults to 127.0.0.1. */
  hostname?: "127.0.0.1" | "::1";
  /** Defaults to 0 (any free port). */
  port?: number;
  /** Serve https with `TEST_TLS`. */
  tls?: boolean;
}

/**
 * Starts an HTTP server on loopback. A handler that must not answer yet
 * should await a promise the test resolves before `close()`, so the test
 * never sleeps and the server can drain.
 *
 * @example
 * ```ts
 * await using server = startServer(() => new Response("hi"));
 * await fetch(`${server.origin}/`);
 * ```
 */
export function startServer(
  handler: (request: Request) => Response | Promise<Response>,
  options: StartServerOptions = {},
): TestServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const listen = { hostname, port: options.port ?? 0, onListen() {} };
  const server = Deno.serve(
    options.tls ? { ...listen, ...TEST_TLS } : listen,
    handler,
  );
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const scheme = options.tls ? "https" : "http";
  const close = () => server.shutdown();
  return {
    hostname,
    port: server.addr.port,
    origin: `${scheme}://${host}:${server.addr.port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A raw TCP server on 127.0.0.1 for what `Deno.serve` will not send (exact
 * header bytes, a reset). `respond` gets the request head and the
 * connection; the connection is closed when it returns.
 */
export function startRawServer(
  respond: (head: string, connection: Deno.Conn) => Promise<void>,
): TestServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers = new Set<Promise<void>>();
  const serve = async (connection: Deno.Conn) => {
    try {
      let head = "";
      const buffer = new Uint8Array(4096);
      while (!head.includes("\r\n\r\n")) {
        const count = await connection.read(buffer);
        if (count === null) break;
        head += new TextDecoder().decode(buffer.subarray(0, count));
      }
      await respond(head, connection);
    } catch {
      // The client may hang up first; that is what some tests want.
    } finally {
      try {
        connection.close();
      } catch {
        // Already closed by `respond`.
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const connection of listener) {
        const handler = serve(connection);
        handlers.add(handler);
        handler.finally(() => handlers.delete(handler));
      }
    } catch {
      // The listener was closed.
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  const close = async () => {
    listener.close();
    await accepting;
    await Promise.all([...handlers]);
  };
  return {
    hostname: "127.0.0.1",
    port,
    origin: `http://127.0.0.1:${port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}
