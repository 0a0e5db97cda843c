/**
 * A peer process for benchmarks: a script (PyTorch, numpy) that prints one banner line (its
 * library versions, BLAS, threads), then answers each request line on stdin with `ok` once it has
 * done that unit of work. A `Deno.bench` call then times the work without the interpreter's
 * start-up, and the peer sits in the same group as our kernels.
 *
 * @module
 */

/** A running peer. */
export interface Peer {
  /** The peer's first line (e.g. its versions and BLAS). */
  banner: string;
  /** Sends one request line (what to run, e.g. `step`, `image`, or a repeat count) and waits. */
  request(line: string): Promise<void>;
  /** Ends the process (a second call, or one after the peer exited, does nothing). */
  close(): void;
}

/**
 * Starts `command args…` and waits for its banner; returns null, with a warning, when the
 * command cannot start or exits first (the bench then skips the peer with that reason).
 * @param unsetEnv environment variables the peer runs without
 * @example
 * ```ts
 * // The smallest peer; the benches start bench/peers/*.py (numpy, PyTorch) the same way.
 * const script = "import sys\nprint('echo 1.0', flush=True)\n" +
 *   "for _ in sys.stdin: print('ok', flush=True)";
 * // null, with a warning, when the peer cannot start or exits before its banner
 * const peer = await startPeer("/usr/bin/python3", ["-c", script]);
 * if (peer) {
 *   peer.banner; // "echo 1.0"
 *   await peer.request("10"); // resolves when the peer answers "ok"
 *   peer.close();
 * }
 * ```
 */
export async function startPeer(
  command: string,
  args: string[],
  unsetEnv: readonly string[] = [],
): Promise<Peer | null> {
  let child: Deno.ChildProcess;
  try {
    const env = Deno.env.toObject();
    for (const name of unsetEnv) delete env[name];
    child = new Deno.Command(command, {
      args,
      env,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (e) {
    console.warn(`peer ${command} ${args.join(" ")} unavailable: ${(e as Error).message}`);
    return null;
  }
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const nextLine = async (): Promise<string | null> => {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) return null;
      buffered += value;
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
  const banner = await nextLine();
  if (banner === null) {
    console.warn(`peer ${args.join(" ")} exited before its banner`);
    await child.status;
    return null;
  }
  const enc = new TextEncoder();
  let closed = false;
  const peer: Peer = {
    banner,
    async request(line: string) {
      await writer.write(enc.encode(`${line}\n`));
      const reply = await nextLine();
      if (reply !== "ok") throw new Error(`peer ${args.join(" ")} answered ${reply}`);
    },
    close() {
      if (closed) return;
      closed = true;
      writer.close().catch(() => {});
      try {
        child.kill();
      } catch {
        // The peer already exited (e.g. on EOF); nothing to stop.
      }
    },
  };
  globalThis.addEventListener("unload", () => peer.close());
  return peer;
}

/** Environment variables that pin OpenBLAS to a kernel of its choosing (see bench/peers/blas.py). */
const OPENBLAS_PINS = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

/**
 * Starts a peer that runs on OpenBLAS (numpy, PyTorch) with OpenBLAS's own choice of kernel for
 * this CPU, so that the comparison is with the fastest BLAS that computes correctly: without
 * the environment's OpenBLAS pins first (the peer checks a product against float64 before its
 * banner and exits if it is wrong), then, if that peer failed, with them.
 * @example
 * ```ts
 * // bench/linear_bench.ts passes ["bench/peers/gemm_numpy.py", "--rows", "4096", …].
 * const script = "import sys\nprint('echo 1.0', flush=True)\n" +
 *   "for _ in sys.stdin: print('ok', flush=True)";
 * const peer = await startBlasPeer("/usr/bin/python3", ["-c", script]);
 * await peer?.request("1");
 * peer?.close();
 * ```
 */
export async function startBlasPeer(command: string, args: string[]): Promise<Peer | null> {
  const pins = OPENBLAS_PINS.filter((name) => Deno.env.get(name) !== undefined);
  if (pins.length === 0) return await startPeer(command, args);
  const unpinned = await startPeer(command, args, OPENBLAS_PINS);
  if (unpinned) return unpinned;
  const set = pins.map((name) => `${name}=${Deno.env.get(name)}`).join(" ");
  console.warn(`peer ${args.join(" ")} failed without OpenBLAS's pins; starting it with ${set}`);
  return await startPeer(command, args);
}
