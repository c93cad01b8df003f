import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** A process the harness started, in its own process group so its children can be stopped with it. */
export interface Proc {
  pid: number;
  child: ChildProcess;
  /** Everything it wrote to stderr, last 64 KiB, for error messages. */
  stderr(): string;
  /** Resolves with the exit code (or signal name) once it has exited. */
  exited: Promise<number | string>;
}

const running = new Set<Proc>();
// Once stopping has begun nothing new may start: the run may still be mid-case when SIGINT arrives.
let stopping = false;

/**
 * Starts a process with its own process group, remembered so that `stopAll()` can end it (and whatever
 * it started) on success, on error and on SIGINT.
 *
 * @example
 * const p = start("node", ["server.js"], { PORT: "0" });
 */
export function start(command: string, args: string[], env: Record<string, string> = {}, stdin: "pipe" | "ignore" = "ignore"): Proc {
  if (stopping) throw new Error("the benchmark is stopping");
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: [stdin, "pipe", "pipe"],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err = (err + d.toString()).slice(-65536);
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const proc: Proc = { pid: child.pid, child, stderr: () => err, exited };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return proc;
}

/**
 * Stops one process: SIGTERM so it can close gracefully (a gateway stops its upstreams), then SIGKILL
 * to its whole group after `graceMs`.
 *
 * @example
 * await stop(proc);
 */
export async function stop(proc: Proc, graceMs = 5000): Promise<void> {
  if (!running.has(proc)) return;
  try {
    process.kill(proc.pid, "SIGTERM");
  } catch {
    // already gone
  }
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
  if ((await Promise.race([proc.exited, timer])) === "timeout") {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await proc.exited;
  }
  // Children a process left behind (its upstreams) go with its group.
  try {
    process.kill(-proc.pid, "SIGKILL");
  } catch {
    // group already empty
  }
}

/**
 * Stops every process the harness started, in parallel.
 *
 * @example
 * process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));
 */
export async function stopAll(): Promise<void> {
  stopping = true;
  await Promise.all([...running].map((p) => stop(p, 3000)));
}

/**
 * Waits for a line of the process's stdout matching `pattern`; rejects when it exits first or after `ms`.
 *
 * @example
 * const [, port] = await waitForLine(proc, /^listening (\d+)$/);
 */
export function waitForLine(proc: Proc, pattern: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => done(new Error(`no line matching ${pattern} within ${ms} ms; stderr: ${proc.stderr().slice(-2000)}`)), ms);
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split("\n")) {
        const m = line.trim().match(pattern);
        if (m) return done(undefined, m);
      }
    };
    const onExit = () => done(new Error(`process exited before printing ${pattern}; stderr: ${proc.stderr().slice(-2000)}`));
    function done(err?: Error, m?: RegExpMatchArray) {
      clearTimeout(timer);
      proc.child.stdout!.off("data", onData);
      proc.child.off("exit", onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    proc.child.stdout!.on("data", onData);
    proc.child.once("exit", onExit);
  });
}

/**
 * Resident set size of a process in MB (10^6 bytes, the unit of the targets), from
 * /proc/<pid>/status (VmRSS).
 *
 * @example
 * rssMB(proc.pid); // 64.3
 */
export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return (Number(m[1]) * 1024) / 1e6;
}

/**
 * CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat; the
 * kernel counts it in ticks of 10 ms (CLK_TCK 100), so measure over whole seconds of work.
 *
 * @example
 * const before = cpuMs(pid);
 */
export function cpuMs(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    // The process is gone (stopping on SIGINT, say): no figure rather than a crash.
    return NaN;
  }
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The 1-minute load average: other work on the machine shows up in every figure, so it is recorded.
 *
 * @example
 * loadAverage(); // 0.42
 */
export function loadAverage(): number {
  return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
}

/**
 * A TCP port that was free on 127.0.0.1 a moment ago.
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Sleeps.
 *
 * @example
 * await sleep(10);
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
