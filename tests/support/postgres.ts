/**
 * A real PostgreSQL for tests: a throwaway server started from the local
 * binaries, or, when `DATABASE_URL` is set (CI may start a server as a
 * service), a fresh database on that server. Either way the caller gets a
 * database of its own, reachable as `url`, that `stop()` removes.
 *
 * A local server lives in a temporary folder (data, Unix socket, log),
 * listens on a free port of 127.0.0.1 only, authenticates TCP clients by
 * password (scram-sha-256) and runs with `fsync=off`: nothing in it has to
 * survive a crash. PostgreSQL refuses to run as root, so under root the
 * binaries run as the `postgres` user and the folder is handed to it. The
 * caller's role (`aos_test`, a random password) owns the database and is no
 * superuser. A server whose test process died before `stop()` is stopped by
 * the next `startTestPostgres()` on the machine.
 * Starting one takes about a second, so start one per test file and share
 * it between the file's tests (as the steps of one `Deno.test`):
 *
 * @example
 * ```ts
 * Deno.test("something that needs PostgreSQL", async (t) => {
 *   await using database = await startTestPostgres();
 *   await database.exec("create table notes (id int primary key, body text)");
 *   await t.step("reads a note", async () => { ... database.url ... });
 * });
 * ```
 *
 * Needs the server binaries (`pg_config --bindir` finds them; Debian:
 * `apt-get install postgresql`) unless `DATABASE_URL` is set.
 *
 * @module
 */
import { dirname, join } from "node:path";
import pgUntyped from "pg";

/** A database of one's own on a running server. */
export interface TestPostgres extends AsyncDisposable {
  /** `postgres://user:password@127.0.0.1:port/database`. */
  url: string;
  /** The password in `url`, for tests that check it never leaks. */
  password: string;
  /** Runs SQL text (several statements allowed) on the database, for fixtures. */
  exec(text: string): Promise<void>;
  /**
   * Stops the local server and deletes its folder, or drops the database on
   * the `DATABASE_URL` server. Safe to call twice.
   */
  stop(): Promise<void>;
  /**
   * A local server only: stops it at once, as a crash would (`pg_ctl stop
   * -m immediate`); connections drop and new ones are refused until
   * `startAgain()`. Undefined on a `DATABASE_URL` server.
   */
  crash?: () => Promise<void>;
  /** Starts a crashed local server again on the same port and waits until it is ready. */
  startAgain?: () => Promise<void>;
  /** A local server only: a superuser URL on its `postgres` database (statistics views). */
  superuserUrl?: string;
  /**
   * A local server only: CPU time (user + system, ms) its processes have
   * used so far: the postmaster, its live children (backends, WAL writer,
   * …) and the children it has reaped. Linux only.
   */
  cpuMs?: () => number;
}

/** Options of `startTestPostgres`. */
export interface StartTestPostgresOptions {
  /**
   * A server to create the database on instead of starting one, as a URL
   * whose role may create databases; defaults to `DATABASE_URL`.
   */
  serverUrl?: string | undefined;
  /** Always start a local server (a test that crashes and restarts it). */
  local?: boolean;
  /**
   * Keep `synchronous_commit` on, so a commit survives `crash()` (the
   * default turns it off for speed: a crash may lose the last commits).
   */
  durableCommits?: boolean;
  /**
   * Durable on disk like a production server: `fsync`, `synchronous_commit`
   * and `full_page_writes` on (the default turns them off for speed).
   */
  durable?: boolean;
  /** Extra server settings (`name=value`), applied last. */
  settings?: readonly string[];
  /** Attempts of the readiness probe, one every `probeIntervalMs` (default 400). */
  probeAttemptsMax?: number;
  /** Pause between readiness probes (default 25 ms). */
  probeIntervalMs?: number;
}

/** Starts a server (or uses `DATABASE_URL`'s) and creates a database on it. */
export async function startTestPostgres(
  options: StartTestPostgresOptions = {},
): Promise<TestPostgres> {
  if (options.local) return await localServer(options);
  const serverUrl = options.serverUrl ?? Deno.env.get("DATABASE_URL");
  if (serverUrl !== undefined && serverUrl !== "") {
    return await databaseOn(serverUrl);
  }
  return await localServer(options);
}

const encoder = new TextEncoder();

/** A random lowercase hex string of `bytes` bytes. */
function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

// pg ships no types, and @types/pg would bring @types/node, which replaces
// Deno's own node types for every file checked with it.
const pg = pgUntyped as {
  Client: new (config: { connectionString: string }) => {
    on(event: "error", listener: (error: Error) => void): void;
    connect(): Promise<void>;
    query(text: string): Promise<unknown>;
    end(): Promise<void>;
  };
};

/** Runs SQL text (simple protocol: several statements allowed) on its own connection. */
async function execOn(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  // A server that goes away reports here; unheard, it would end the process.
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Rows of one query, on its own connection. */
export async function queryRows(
  url: string,
  text: string,
): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  try {
    const result = await client.query(text) as {
      rows: Record<string, unknown>[];
    };
    return result.rows;
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.href;
}

/** A fresh database on an existing server; stop() drops it. */
async function databaseOn(serverUrl: string): Promise<TestPostgres> {
  const database = `aos_test_${randomHex(6)}`;
  await execOn(serverUrl, `create database ${database}`);
  const url = withDatabase(serverUrl, database);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await execOn(serverUrl, `drop database if exists ${database} with (force)`);
  };
  return {
    url,
    password: decodeURIComponent(new URL(url).password),
    exec: (text) => execOn(url, text),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

interface Tools {
  bindir: string;
  /** Prefix that runs a command as the `postgres` user (empty unless root). */
  asPostgres: string[];
}

async function output(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  if (!result.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed: ${
        new TextDecoder().decode(result.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(result.stdout).trim();
}

async function tools(): Promise<Tools> {
  let bindir: string;
  try {
    bindir = await output("pg_config", ["--bindir"]);
  } catch (error) {
    throw new Error(
      "tests need PostgreSQL: install its server binaries (pg_config --bindir " +
        "must find them) or set DATABASE_URL to a server",
      { cause: error },
    );
  }
  return {
    bindir,
    asPostgres: Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--"] : [],
  };
}

/** Runs a server binary (as `postgres` under root); throws with its output. */
async function run(
  tools: Tools,
  binary: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; text: string }> {
  const [command, ...prefix] = [
    ...tools.asPostgres,
    `${tools.bindir}/${binary}`,
  ];
  const result = await new Deno.Command(command!, {
    args: [...prefix, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    text: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

async function must(
  tools: Tools,
  binary: string,
  args: string[],
  cwd: string,
): Promise<void> {
  const result = await run(tools, binary, args, cwd);
  if (result.code !== 0) {
    throw new Error(`${binary} failed (exit ${result.code}):\n${result.text}`);
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const ROOT_PREFIX = "aos-postgres-";

/**
 * Stops the servers of test processes that died without stop() (killed,
 * crashed): each server's folder names its owner's pid, and an owner no
 * longer in /proc leaves an orphan. Folders without an owner file are being
 * set up by someone else and are left alone. Linux only.
 */
async function sweepOrphans(pg: Tools, ours: string): Promise<void> {
  const parent = dirname(ours);
  if (!existsSync("/proc/self")) return;
  for (const entry of Deno.readDirSync(parent)) {
    const root = join(parent, entry.name);
    if (
      !entry.isDirectory || !entry.name.startsWith(ROOT_PREFIX) || root === ours
    ) continue;
    let owner: string;
    try {
      owner = Deno.readTextFileSync(join(root, "owner")).trim();
    } catch {
      continue;
    }
    if (!/^\d+$/.test(owner) || existsSync(`/proc/${owner}`)) continue;
    if (existsSync(join(root, "data", "postmaster.pid"))) {
      await run(pg, "pg_ctl", [
        "stop",
        "-D",
        join(root, "data"),
        "-m",
        "immediate",
        "-w",
      ], parent);
    }
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** initdb, pg_ctl start, a readiness probe, then a role and a database. */
async function localServer(
  options: StartTestPostgresOptions,
): Promise<TestPostgres> {
  const pg = await tools();
  const root = await Deno.makeTempDir({ prefix: ROOT_PREFIX });
  await Deno.writeTextFile(`${root}/owner`, String(Deno.pid));
  await sweepOrphans(pg, root);
  const dataDir = `${root}/data`;
  const socketDir = `${root}/socket`;
  const logFile = `${root}/server.log`;
  const superPassword = randomHex(16);
  let started = false;
  const cleanUp = async () => {
    if (started) {
      await run(
        pg,
        "pg_ctl",
        ["stop", "-D", dataDir, "-m", "immediate", "-w"],
        root,
      );
    }
    await Deno.remove(root, { recursive: true });
  };
  try {
    await Deno.mkdir(socketDir);
    await Deno.writeFile(
      `${root}/pwfile`,
      encoder.encode(superPassword + "\n"),
    );
    if (pg.asPostgres.length > 0) {
      const uid = Number(await output("id", ["-u", "postgres"]));
      const gid = Number(await output("id", ["-g", "postgres"]));
      for (const path of [root, socketDir, `${root}/pwfile`]) {
        await Deno.chown(path, uid, gid);
      }
    }
    await must(pg, "initdb", [
      "-D",
      dataDir,
      "-U",
      "postgres",
      `--pwfile=${root}/pwfile`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ], root);
    await Deno.remove(`${root}/pwfile`);
    const port = freePort();
    const durable = options.durable ?? false;
    const settings = [
      "-c listen_addresses=127.0.0.1",
      `-p ${port}`,
      `-k ${socketDir}`,
      `-c fsync=${durable ? "on" : "off"}`,
      `-c synchronous_commit=${
        durable || options.durableCommits ? "on" : "off"
      }`,
      `-c full_page_writes=${durable ? "on" : "off"}`,
      ...(options.settings ?? []).map((setting) => `-c ${setting}`),
    ].join(" ");
    // -W: do not wait in pg_ctl; the probe waits, and reports the log if
    // the server never gets ready. Used for the first start and restarts.
    const startServer = async () => {
      await must(pg, "pg_ctl", [
        "start",
        "-W",
        "-D",
        dataDir,
        "-l",
        logFile,
        "-o",
        settings,
      ], root);
      started = true;
      await waitReady(pg, port, root, logFile, options);
    };
    await startServer();
    const adminUrl =
      `postgres://postgres:${superPassword}@127.0.0.1:${port}/postgres`;
    const role = "aos_test";
    const password = randomHex(16);
    await execOn(
      adminUrl,
      `create role ${role} login createdb password '${password}'`,
    );
    // A database's drop (`with (force)`) ends the backends connected to it;
    // an autovacuum worker busy there belongs to no role, and PostgreSQL lets
    // only a member of pg_signal_backend end it, else the drop fails.
    await execOn(adminUrl, `grant pg_signal_backend to ${role}`);
    // Alone: CREATE DATABASE refuses to run in a multi-statement query.
    await execOn(adminUrl, `create database ${role} owner ${role}`);
    const url = `postgres://${role}:${password}@127.0.0.1:${port}/${role}`;
    let stopped: Promise<void> | undefined;
    const stop = () => stopped ??= cleanUp();
    const crash = async () => {
      await must(pg, "pg_ctl", [
        "stop",
        "-D",
        dataDir,
        "-m",
        "immediate",
        "-w",
      ], root);
      started = false;
    };
    return {
      url,
      password,
      exec: (text) => execOn(url, text),
      stop,
      crash,
      startAgain: startServer,
      superuserUrl: adminUrl,
      cpuMs: () => serverCpuMs(dataDir),
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await cleanUp().catch(() => {});
    throw error;
  }
}

const CLOCK_TICKS_PER_S = 100;

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: string): string[] | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // the process ended meanwhile
  }
}

/** CPU ms of the server in `dataDir`: postmaster, live and reaped children. */
function serverCpuMs(dataDir: string): number {
  const postmaster = Deno.readTextFileSync(`${dataDir}/postmaster.pid`)
    .split("\n")[0]!.trim();
  // After the name: state ppid … utime(11) stime(12) cutime(13) cstime(14).
  const own = statFields(postmaster);
  if (own === undefined) return NaN;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) +
    Number(own[14]);
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const fields = statFields(entry.name);
    if (fields?.[1] === postmaster) {
      ticks += Number(fields[11]) + Number(fields[12]);
    }
  }
  return ticks * 1000 / CLOCK_TICKS_PER_S;
}

/** Polls pg_isready until the server accepts connections, a bounded number of times. */
async function waitReady(
  pg: Tools,
  port: number,
  cwd: string,
  logFile: string,
  options: StartTestPostgresOptions,
): Promise<void> {
  const attemptsMax = options.probeAttemptsMax ?? 400;
  const intervalMs = options.probeIntervalMs ?? 25;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const probe = await run(pg, "pg_isready", [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-t",
      "1",
    ], cwd);
    if (probe.code === 0) return;
    // 1: still starting; 2: no answer yet. Anything else is a usage error.
    if (probe.code !== 1 && probe.code !== 2) {
      throw new Error(`pg_isready failed (exit ${probe.code}): ${probe.text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const log = await Deno.readTextFile(logFile).catch(() => "(no log)");
  throw new Error(
    `PostgreSQL on port ${port} was not ready after ${attemptsMax} probes:\n${
      log.slice(-2000)
    }`,
  );
}
