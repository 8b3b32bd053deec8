import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import type { Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A librdkafka mock cluster running in a child process (see kafka-mock/launcher.c). */
export interface KafkaMock {
  /** Comma-separated `host:port` list, as printed by the launcher. */
  bootstrap: string;
  /** The same addresses split, one per broker (broker ids are 1..N in this order). */
  brokers: string[];
  createTopic(name: string, partitions: number): Promise<void>;
  /** Drops the broker's connections and refuses new ones; leadership does not move. -1: all brokers. */
  setBrokerDown(id: number): Promise<void>;
  setBrokerUp(id: number): Promise<void>;
  /** Makes the next `errors.length` requests with `apiKey` fail with these codes, in order (cluster-wide). */
  pushRequestErrors(apiKey: number, errors: number[]): Promise<void>;
  /** The same for requests to one broker only (these take precedence over cluster-wide errors). */
  pushBrokerRequestErrors(brokerId: number, apiKey: number, errors: number[]): Promise<void>;
  /** Makes a broker the coordinator of a consumer group (its OffsetCommit requests go there). */
  setGroupCoordinator(groupId: string, brokerId: number): Promise<void>;
  /** How many of the errors pushed for one broker and `apiKey` have not been returned yet. */
  pendingBrokerRequestErrors(brokerId: number, apiKey: number): Promise<number>;
  /** Moves a partition's leadership, e.g. to keep a test's own traffic off a broker that gets errors. */
  setPartitionLeader(topic: string, partition: number, brokerId: number): Promise<void>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const launcherSource = join(here, "kafka-mock", "launcher.c");
const cacheDir = join(repoRoot, "node_modules", ".cache", "payrecon-kafka-mock");

const HEADER = "librdkafka/rdkafka_mock.h";
const START_TIMEOUT_MS = 10_000;
const COMMAND_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_TAIL = 4_000;

function headerDirs(): string[] {
  const fromEnv = [process.env.CPATH, process.env.C_INCLUDE_PATH]
    .flatMap((v) => (v ? v.split(":") : []))
    .filter(Boolean);
  return [...fromEnv, "/usr/include", "/usr/local/include", "/opt/homebrew/include"];
}

function hasHeader(): boolean {
  return headerDirs().some((d) => existsSync(join(d, HEADER)));
}

async function installHeaders(): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !existsSync("/usr/bin/apt-get")) {
    throw new Error(
      `Kafka mock needs librdkafka development headers (${HEADER}) and libs: install librdkafka-dev (e.g. sudo apt-get install -y librdkafka-dev)`,
    );
  }
  // Lock timeout: parallel test processes may race to install the same package.
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  await execFileAsync("apt-get", [...lock, "update"], { env, maxBuffer: 64 << 20 });
  await execFileAsync("apt-get", [...lock, "install", "-y", "--no-install-recommends", "librdkafka-dev"], {
    env,
    maxBuffer: 64 << 20,
  });
  if (!hasHeader()) throw new Error(`apt-get installed librdkafka-dev but ${HEADER} is still missing`);
}

let launcherPromise: Promise<string> | undefined;

/** Compiles the launcher once per source hash (cached across runs) and returns the binary path. */
export function ensureKafkaMockLauncher(): Promise<string> {
  launcherPromise ??= buildLauncher().catch((err: unknown) => {
    // Don't cache failures: a later call may succeed (e.g. after installing headers).
    launcherPromise = undefined;
    throw err;
  });
  return launcherPromise;
}

async function buildLauncher(): Promise<string> {
  const source = await readFile(launcherSource);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const binary = join(cacheDir, `launcher-${hash}`);
  if (await isFile(binary)) return binary;

  if (!hasHeader()) await installHeaders();
  await mkdir(cacheDir, { recursive: true });
  // Compile to a unique name and rename: concurrent workers must never exec a half-written binary.
  const tmp = `${binary}.${process.pid}.${Date.now()}.tmp`;
  const cc = process.env.CC || "cc";
  try {
    await execFileAsync(cc, ["-O2", "-Wall", "-o", tmp, launcherSource, "-lrdkafka"], { maxBuffer: 16 << 20 });
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new Error(`Kafka mock needs a C compiler ("${cc}" not found): install gcc (e.g. apt-get install -y gcc)`);
    }
    throw new Error(`Compiling the Kafka mock launcher failed: ${(e.stderr ?? e.message).trim()}`);
  }
  await rename(tmp, binary);
  // Binaries of older launcher sources are dead weight; a running one survives unlinking.
  for (const f of await readdir(cacheDir)) {
    if (/^launcher-[0-9a-f]{16}$/.test(f) && join(cacheDir, f) !== binary) await rm(join(cacheDir, f), { force: true });
  }
  return binary;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function assertInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`kafka mock: invalid ${what}: ${v}`);
}

/** Starts a mock cluster; always `stop()` it (an orphan also exits when this process dies). */
export async function startKafkaMock(
  opts: { brokers?: number; topics?: { name: string; partitions: number }[] } = {},
): Promise<KafkaMock> {
  const brokerCount = opts.brokers ?? 1;
  assertInt("broker count", brokerCount, 1, 64);
  const args = ["--brokers", String(brokerCount)];
  for (const t of opts.topics ?? []) {
    assertTopic(t.name, t.partitions);
    args.push("--topic", `${t.name}:${t.partitions}`);
  }
  const binary = await ensureKafkaMockLauncher();
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  return new MockProcess(child).start();
}

function assertTopic(name: string, partitions: number): void {
  // Kafka's own topic-name rule; it also keeps the line protocol unambiguous.
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new Error(`kafka mock: invalid topic name: ${JSON.stringify(name)}`);
  assertInt("partition count", partitions, 1, 100_000);
}

function assertBrokerId(id: number, count: number): void {
  if (id !== -1) assertInt("broker id", id, 1, count);
}

type LineWaiter = { resolve: (line: string) => void; reject: (err: Error) => void };

class MockProcess implements KafkaMock {
  bootstrap = "";
  brokers: string[] = [];
  private buffered = "";
  private lines: string[] = [];
  private waiter: LineWaiter | undefined;
  private stderrTail = "";
  private exited: Error | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private readonly exitPromise: Promise<void>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.onStdout(chunk));
    // Must be drained: a full stderr pipe would block the mock's broker threads.
    child.stderr.on("data", (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    });
    // EPIPE after the launcher died surfaces through the exit handler instead.
    child.stdin.on("error", () => {});
    this.exitPromise = new Promise((res) => {
      const onGone = (why: string) => {
        if (this.exited) return;
        this.exited = new Error(`kafka mock launcher ${why}${this.stderrSuffix()}`);
        this.waiter?.reject(this.exited);
        this.waiter = undefined;
        res();
      };
      child.on("error", (err) => onGone(`failed: ${err.message}`));
      child.on("exit", (code, signal) => onGone(`exited (${signal ?? `code ${code}`})`));
    });
  }

  async start(): Promise<this> {
    this.setRef(true);
    try {
      const line = await this.nextLine(START_TIMEOUT_MS);
      const m = /^BOOTSTRAP (\S+)$/.exec(line);
      if (!m?.[1]) throw new Error(`kafka mock launcher: unexpected first line: ${line}${this.stderrSuffix()}`);
      this.bootstrap = m[1];
      this.brokers = m[1].split(",");
    } catch (err) {
      this.child.kill("SIGKILL");
      throw err;
    } finally {
      this.setRef(false);
    }
    return this;
  }

  createTopic(name: string, partitions: number): Promise<void> {
    assertTopic(name, partitions);
    return this.command(`topic ${name} ${partitions}`);
  }

  setBrokerDown(id: number): Promise<void> {
    assertBrokerId(id, this.brokers.length);
    return this.command(`down ${id}`);
  }

  setBrokerUp(id: number): Promise<void> {
    assertBrokerId(id, this.brokers.length);
    return this.command(`up ${id}`);
  }

  pushRequestErrors(apiKey: number, errors: number[]): Promise<void> {
    assertInt("api key", apiKey, 0, 32767);
    if (errors.length === 0) return Promise.resolve();
    for (const e of errors) assertInt("error code", e, -200, 1000);
    return this.command(`errors ${apiKey} ${errors.join(" ")}`);
  }

  pushBrokerRequestErrors(brokerId: number, apiKey: number, errors: number[]): Promise<void> {
    assertInt("broker id", brokerId, 1, this.brokers.length);
    assertInt("api key", apiKey, 0, 32767);
    if (errors.length === 0) return Promise.resolve();
    for (const e of errors) assertInt("error code", e, -200, 1000);
    return this.command(`brokererrors ${brokerId} ${apiKey} ${errors.join(" ")}`);
  }

  setGroupCoordinator(groupId: string, brokerId: number): Promise<void> {
    // Kafka's topic-name rule fits group ids in tests too, and keeps the line protocol unambiguous.
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(groupId)) throw new Error(`kafka mock: invalid group id: ${groupId}`);
    assertInt("broker id", brokerId, 1, this.brokers.length);
    return this.command(`coordinator ${groupId} ${brokerId}`);
  }

  async pendingBrokerRequestErrors(brokerId: number, apiKey: number): Promise<number> {
    assertInt("broker id", brokerId, 1, this.brokers.length);
    assertInt("api key", apiKey, 0, 32767);
    const answer = await this.exchange(`pending ${brokerId} ${apiKey}`);
    return Number(answer.slice("ok ".length));
  }

  setPartitionLeader(topic: string, partition: number, brokerId: number): Promise<void> {
    assertTopic(topic, 1);
    assertInt("partition", partition, 0, 99_999);
    assertInt("broker id", brokerId, 1, this.brokers.length);
    return this.command(`leader ${topic} ${partition} ${brokerId}`);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.exited) return;
    this.setRef(true);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    try {
      // Queued behind any in-flight command; closing stdin too makes the launcher see EOF even if
      // "quit" can't be answered.
      await this.command("quit").catch(() => {});
      this.child.stdin.end();
      await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  private async command(line: string): Promise<void> {
    await this.exchange(line);
  }

  /** Serializes commands: the launcher answers strictly one line per command, in order ("ok…" or an error). */
  private exchange(line: string): Promise<string> {
    if (this.stopping && line !== "quit") return Promise.reject(new Error("kafka mock is stopped"));
    const run = async () => {
      if (this.exited) throw this.exited;
      this.setRef(true);
      try {
        this.child.stdin.write(`${line}\n`);
        const answer = await this.nextLine(COMMAND_TIMEOUT_MS);
        if (answer === "ok" || answer.startsWith("ok ")) return answer;
        throw new Error(`kafka mock "${line}": ${answer.replace(/^error /, "")}`);
      } finally {
        this.setRef(false);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  private onStdout(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf("\n"); nl >= 0; nl = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(line);
      } else {
        this.lines.push(line);
      }
    }
  }

  private nextLine(timeoutMs: number): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolveLine, rejectLine) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        // A missed answer would desynchronize every later command: the mock is unusable now.
        this.child.kill("SIGKILL");
        rejectLine(new Error(`kafka mock launcher did not answer within ${timeoutMs} ms${this.stderrSuffix()}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (l) => {
          clearTimeout(timer);
          resolveLine(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          rejectLine(e);
        },
      };
    });
  }

  /**
   * Only hold the event loop open while waiting for the launcher: an idle mock must not keep
   * a test process alive (its stdin closes on our exit, which makes the launcher exit too).
   */
  private setRef(on: boolean): void {
    const handles = [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as unknown as Socket[];
    for (const h of handles) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  private stderrSuffix(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; stderr: ${tail}` : "";
  }
}
