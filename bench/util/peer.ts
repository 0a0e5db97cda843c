/**
 * A peer process for benchmarks: a script (PyTorch, numpy) that does one unit of work per line
 * it reads on stdin and answers `done`, so a `Deno.bench` call times one unit without the
 * interpreter's start-up, and the peer sits in the same group as our kernels.
 *
 * @module
 */

/** A running peer. */
export interface Peer {
  /** What the peer printed first (e.g. its library versions and BLAS). */
  banner: string;
  /** Runs one unit of work and waits for it. */
  call(): Promise<void>;
  /** Ends the process. */
  close(): Promise<void>;
}

/**
 * Starts `command args…`, waits for its first line (the banner) and returns the peer, or null
 * with a warning when the command is missing or fails to start.
 * @example
 * ```ts
 * // const peer = await startPeer("/usr/bin/python3", ["bench/peers/gemm_numpy.py"]);
 * ```
 */
export async function startPeer(command: string, args: string[]): Promise<Peer | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, { args, stdin: "piped", stdout: "piped", stderr: "inherit" })
      .spawn();
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
  return {
    banner,
    async call() {
      await writer.write(enc.encode("step\n"));
      const reply = await nextLine();
      if (reply !== "done") throw new Error(`peer ${args.join(" ")} answered ${reply}`);
    },
    async close() {
      await writer.close();
      await lines.cancel();
      await child.status;
    },
  };
}
