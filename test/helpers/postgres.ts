// SPDX-License-Identifier: Apache-2.0
/**
 * A real PostgreSQL 15 for tests (Debian's `postgresql-15`): a fresh cluster in a temporary
 * directory (initdb), listening on 127.0.0.1 on a free port with its unix socket inside that
 * directory, plus a role and a database for the test. PostgreSQL refuses to run as root, so when
 * the tests run as root, initdb, pg_ctl and the server run as the `postgres` OS user (runuser).
 * Every program gets its arguments as an array: no shell.
 *
 * Loopback TCP uses `trust` by default; with `password` set, the test role must authenticate with
 * SCRAM-SHA-256 over TCP. The superuser always reaches the server over the unix socket (trust),
 * which the handle exposes for setup and inspection ({@link PgServer.adminClient}).
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/** Where Debian installs PostgreSQL 15's programs (VIGIL_PG_BIN overrides). */
export const PG_BIN = process.env["VIGIL_PG_BIN"] ?? "/usr/lib/postgresql/15/bin";

/** True when the PostgreSQL 15 programs are installed. */
export function postgresAvailable(): boolean {
  return existsSync(join(PG_BIN, "initdb")) && existsSync(join(PG_BIN, "pg_ctl")) && existsSync(join(PG_BIN, "postgres"));
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** The test role (LOGIN, owner of the database). Default `vigil`. */
  user?: string;
  /** The test database. Default `vigil`. */
  database?: string;
  /** When set, the test role has this password and loopback TCP asks for it (scram-sha-256). */
  password?: string;
  /** Extra `postgresql.conf` settings (name → value, written quoted). */
  settings?: Record<string, string | number>;
  /** How long starting (or restarting) may take. Default 60 s. */
  timeoutMs?: number;
}

/** A running test server. */
export interface PgServer {
  /** `postgres://USER@127.0.0.1:PORT/DB` (no password in it). */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string | undefined;
  /** The cluster's data directory. */
  readonly dataDir: string;
  /** The directory of the unix socket (the superuser's way in). */
  readonly socketDir: string;
  /** A connected client as the superuser `postgres` over the unix socket (end it yourself). */
  adminClient(database?: string): Promise<pg.Client>;
  /** Creates another database owned by the test role; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** The URL of another database of the test role on this server. */
  urlOf(database: string): string;
  /** Starts the server again after {@link kill} or {@link stopServer} (same port and data). */
  start(): Promise<void>;
  /** `pg_ctl restart -m fast`: clients are disconnected; same port and data. */
  restart(): Promise<void>;
  /** SIGKILL to the postmaster (a crash); waits until it and its backends are gone. */
  kill(): Promise<void>;
  /** Stops the server (fast) but keeps the data directory. */
  stopServer(): Promise<void>;
  /** Stops the server and removes the temporary directory. */
  stop(): Promise<void>;
}

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Runs a program (as the `postgres` user when we are root); rejects with its output on failure. */
function run(prog: string, args: readonly string[], opts: { cwd: string; timeoutMs: number }): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const file = asRoot ? "runuser" : prog;
  const argv = asRoot ? ["-u", "postgres", "--", prog, ...args] : [...args];
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      { cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: "SIGKILL", env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", LANG: "C", LC_ALL: "C" } },
      (err, stdout, stderr) => {
        if (err === null) {
          resolve(stdout);
          return;
        }
        const what = err.killed ? `timed out after ${opts.timeoutMs} ms` : `failed (${err.code ?? err.signal ?? "?"})`;
        reject(new Error(`${prog.split("/").pop()} ${args[0] ?? ""} ${what}: ${`${stdout}${stderr}`.trim().slice(-2000)}`, { cause: err }));
      },
    );
  });
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a !== null ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** Whether a process exists and is not a zombie (a killed postmaster is reparented and reaped later). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    // `pid (comm) S ...`: the state follows the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Servers started by this process: killed (and their directories removed) when the process exits
 * without stopping them, also on SIGTERM/SIGINT (vitest ends its workers with SIGTERM, which
 * skips "exit" listeners), after which the signal's default action runs.
 */
const running = new Map<string, () => void>();
let exitHook = false;
function cleanupAll(): void {
  for (const c of running.values()) c();
  running.clear();
}
function onSignal(sig: NodeJS.Signals): void {
  cleanupAll();
  process.removeListener(sig, onSignal);
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}
function onExit(dir: string, cleanup: () => void): void {
  running.set(dir, cleanup);
  if (exitHook) return;
  exitHook = true;
  process.once("exit", cleanupAll);
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Quotes a postgresql.conf value. */
function confValue(v: string | number): string {
  return typeof v === "number" ? String(v) : `'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * Starts a fresh PostgreSQL 15 cluster with a test role and database. Throws with the server
 * log's tail when initdb or the start fails.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const user = opts.user ?? "vigil";
  const database = opts.database ?? "vigil";
  if (!IDENT_RE.test(user) || !IDENT_RE.test(database)) throw new Error("startPostgres: user and database must be lower-case identifiers");
  if (!postgresAvailable()) throw new Error(`startPostgres: PostgreSQL 15 not found in ${PG_BIN} (scripts/setup.sh installs postgresql-15)`);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const password = opts.password;

  const root = mkdtempSync(join(tmpdir(), "vigil-pg-"));
  const dataDir = join(root, "data");
  const socketDir = join(root, "sock");
  const logFile = join(root, "server.log");
  mkdirSync(socketDir);
  if (process.getuid?.() === 0) {
    // the server runs as `postgres`: it must own what it writes
    const ids = postgresIds();
    if (ids === undefined) {
      rmSync(root, { recursive: true, force: true });
      throw new Error("startPostgres: running as root but there is no `postgres` OS user to run the server as");
    }
    chownSync(root, ids.uid, ids.gid);
    chownSync(socketDir, ids.uid, ids.gid);
  }
  const logTail = (): string => {
    try {
      return readFileSync(logFile, "utf8").slice(-2000);
    } catch {
      return "(no server log)";
    }
  };

  let port = 0;
  let stopped = false;

  const pidOf = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const cleanup = (): void => {
    const pid = pidOf();
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
  onExit(root, cleanup);

  try {
    await run(join(PG_BIN, "initdb"), ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], {
      cwd: root,
      timeoutMs,
    });
  } catch (err) {
    cleanup();
    running.delete(root);
    throw err;
  }
  const hba = [
    "# written by test/helpers/postgres.ts",
    "local all all trust",
    `host all all 127.0.0.1/32 ${password === undefined ? "trust" : "scram-sha-256"}`,
  ];
  writeFileSync(join(dataDir, "pg_hba.conf"), `${hba.join("\n")}\n`);

  const writeConf = (p: number): void => {
    const conf: Record<string, string | number> = {
      listen_addresses: "127.0.0.1",
      port: p,
      unix_socket_directories: socketDir,
      // test clusters: a crash of the server process loses nothing (the OS keeps the pages);
      // only an OS crash would, and then the directory is gone anyway
      fsync: "off",
      full_page_writes: "off",
      shared_buffers: "64MB",
      max_connections: 100,
      password_encryption: "scram-sha-256",
      log_min_messages: "warning",
      ...opts.settings,
    };
    const lines = Object.entries(conf).map(([k, v]) => `${k} = ${confValue(v)}`);
    writeFileSync(join(dataDir, "postgresql.auto.conf"), `# written by test/helpers/postgres.ts\n${lines.join("\n")}\n`);
  };

  const pgCtl = (args: string[]): Promise<string> =>
    run(join(PG_BIN, "pg_ctl"), [...args, "-D", dataDir, "-w", "-t", String(Math.ceil(timeoutMs / 1000))], { cwd: root, timeoutMs: timeoutMs + 5000 });

  const adminClient = async (db = "postgres"): Promise<pg.Client> => {
    const c = new pg.Client({ host: socketDir, port, user: "postgres", database: db, connectionTimeoutMillis: 10_000 });
    // a server restart ends this connection with an error event; the caller's next query fails instead
    c.on("error", () => undefined);
    try {
      await c.connect();
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    return c;
  };

  /** Until the server accepts a connection (pg_ctl -w already waited; this checks from here). */
  const waitReady = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const c = await adminClient();
        await c.end();
        return;
      } catch (err) {
        last = err;
        await sleep(100);
      }
    }
    throw new Error(`PostgreSQL on port ${port} not ready after ${timeoutMs} ms: ${String(last)}\n${logTail()}`);
  };

  /** Starts the postmaster; when the previous one was killed, its backends may hold shared memory a moment longer. */
  const startServer = async (): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await pgCtl(["start", "-l", logFile]);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${logTail()}`, { cause: err });
        await sleep(200);
      }
    }
    await waitReady();
  };

  // a free port can be taken between the probe and the bind: try a few
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    writeConf(port);
    try {
      await startServer();
      break;
    } catch (err) {
      if (attempt >= 3 || !/could not bind|Address already in use/i.test(String((err as Error).message))) {
        cleanup();
        running.delete(root);
        throw err;
      }
    }
  }

  const urlOf = (db: string): string => `postgres://${user}@127.0.0.1:${port}/${db}`;
  const createDatabase = async (name: string): Promise<string> => {
    if (!IDENT_RE.test(name)) throw new Error(`createDatabase: "${name}" is not a lower-case identifier`);
    const c = await adminClient();
    try {
      await c.query(`CREATE DATABASE ${name} OWNER ${user}`);
    } finally {
      await c.end();
    }
    return urlOf(name);
  };

  try {
    const c = await adminClient();
    try {
      const pwSql = password === undefined ? "" : ` PASSWORD ${c.escapeLiteral(password)}`;
      await c.query(`CREATE ROLE ${user} LOGIN${pwSql}`);
      await c.query(`CREATE DATABASE ${database} OWNER ${user}`);
    } finally {
      await c.end();
    }
  } catch (err) {
    cleanup();
    running.delete(root);
    throw err;
  }

  const waitGone = async (pid: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (alive(pid)) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL postmaster ${pid} still alive after ${timeoutMs} ms`);
      await sleep(50);
    }
  };

  const server: PgServer = {
    url: urlOf(database),
    port,
    user,
    database,
    password,
    dataDir,
    socketDir,
    adminClient,
    createDatabase,
    urlOf,
    start: startServer,
    async restart() {
      await pgCtl(["restart", "-m", "fast", "-l", logFile]).catch((err: Error) => {
        throw new Error(`pg_ctl restart failed: ${err.message}\n${logTail()}`, { cause: err });
      });
      await waitReady();
    },
    async kill() {
      const pid = pidOf();
      if (pid === undefined || !alive(pid)) throw new Error("PostgreSQL is not running");
      process.kill(pid, "SIGKILL");
      await waitGone(pid);
    },
    async stopServer() {
      const pid = pidOf();
      if (pid === undefined || !alive(pid)) return;
      await pgCtl(["stop", "-m", "fast"]);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        const pid = pidOf();
        if (pid !== undefined && alive(pid)) {
          await pgCtl(["stop", "-m", "immediate"]).catch(async () => {
            process.kill(pid, "SIGKILL");
            await waitGone(pid);
          });
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
        running.delete(root);
      }
    },
  };
  return server;
}

/** The `postgres` OS user's uid and gid (from /etc/passwd). */
function postgresIds(): { uid: number; gid: number } | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === "postgres" && f[2] !== undefined && f[3] !== undefined) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}
