/**
 * A peer benchmark running in another process (e.g. numpy or PyTorch under `/usr/bin/python3`)
 * that speaks a line protocol: it prints one JSON line describing itself, then for each line
 * holding a count n it runs its workload n times and answers `ok`. The bench times `run(n)` with
 * its own clock, in the same run as the GPU kernels.
 *
 * @module
 */

/** A started peer process. */
export interface Peer {
  /** What the peer printed about itself (library versions, BLAS, threads). */
  info: Record<string, unknown>;
  /** Runs the peer's workload `n` times and resolves when it is done. */
  run(n: number): Promise<void>;
  /** Ends the process. */
  close(): void;
}

/**
 * Starts `command args…` and waits for its self-description.
 * @example
 * ```ts
 * // const peer = await startPeer("/usr/bin/python3", ["bench/peers/gemm_numpy.py", "--rows", "64", "--in-dim", "8", "--out-dim", "8"]);
 * // await peer.run(10);
 * // peer.close();
 * ```
 */
export async function startPeer(command: string, args: string[]): Promise<Peer> {
  const child = new Deno.Command(command, { args, stdin: "piped", stdout: "piped" }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines())
    .getReader();
  const writer = child.stdin.getWriter();
  const next = async (): Promise<string> => {
    const { value, done } = await lines.read();
    if (done) throw new Error(`peer ${args[0] ?? command} exited early`);
    return value;
  };
  const info = JSON.parse(await next());
  return {
    info,
    async run(n: number) {
      await writer.write(new TextEncoder().encode(`${n}\n`));
      const answer = await next();
      if (answer !== "ok") throw new Error(`peer ${args[0] ?? command} answered ${answer}`);
    },
    close() {
      writer.close().catch(() => {});
      child.kill();
    },
  };
}

function splitLines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) controller.enqueue(line);
    },
    flush(controller) {
      if (rest) controller.enqueue(rest);
    },
  });
}
