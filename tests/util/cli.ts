/**
 * The project's CLIs run as child processes, as a user runs them: one-shot commands, and
 * `deno task serve` started on a free port.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/** What a finished command printed. */
export interface CliOutput {
  /** Exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/**
 * Runs `src/cli/<file>` with `args` to the end.
 * @example
 * ```ts
 * const r = await runCli("search.ts", ["--help"]);
 * r.stdout; // "usage: deno task search …"
 * ```
 */
export async function runCli(file: string, args: string[]): Promise<CliOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}src/cli/${file}`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** A `deno task serve` child, listening. */
export interface ServeChild {
  /** The page's URL, `http://127.0.0.1:<port>/`. */
  url: string;
  /** What it printed up to listening. */
  out: string;
  /** Stops it. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `deno task serve` with `args` and `--port 0` (in `cwd`, default this one, with the
 * project's deno.json) and waits until it listens; throws with its output if it exits first.
 * @example
 * ```ts
 * import { tryGetGpu } from "../../src/gpu/context.ts";
 * import { trainDemoCollection } from "../../src/retrieval/demo_collection.ts";
 * if (await tryGetGpu()) {
 *   const demo = await trainDemoCollection();
 *   const args = ["--checkpoint", demo.checkpoint, "--collection", demo.collection];
 *   await using serve = await startServe(args);
 *   await (await fetch(`${serve.url}api/status`)).json(); // { studies: 24, … }
 *   await demo.remove();
 * }
 * ```
 */
export async function startServe(args: string[], cwd?: string): Promise<ServeChild> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}src/cli/serve.ts`, "--port", "0"],
      ...args,
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stop = async () => {
    child.kill();
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  };
  try {
    let out = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!out.includes("serving ")) {
      const r = await reader.read();
      if (r.done) throw new Error(`serve exited: ${out}`);
      out += r.value;
    }
    reader.releaseLock();
    const url = out.match(/serving (http:\/\/127\.0\.0\.1:\d+\/)/)![1];
    return { url, out, [Symbol.asyncDispose]: stop };
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
}
