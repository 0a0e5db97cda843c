/**
 * Headless Chromium for tests, driven by playwright-core: Debian's `chromium-headless-shell`
 * (`apt-get install --no-install-recommends chromium-headless-shell`), or the browser that
 * `CXR_CHROMIUM` names. Tests that need it skip with a message when it is missing, or fail
 * instead when `CXR_REQUIRE_BROWSER=1` (CI sets it).
 *
 * @module
 */

import { type Browser, chromium, type Page } from "playwright-core";

export type { Browser, Page };

/** Where Debian's package puts the browser. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium-headless-shell";

/**
 * The browser's path: `CXR_CHROMIUM` if set, else {@link DEFAULT_CHROMIUM}; null when that is no
 * file.
 * @example
 * ```ts
 * const path = chromiumPath(); // "/usr/bin/chromium-headless-shell", or null without it
 * ```
 */
export function chromiumPath(): string | null {
  const path = Deno.env.get("CXR_CHROMIUM") || DEFAULT_CHROMIUM;
  try {
    return Deno.statSync(path).isFile ? path : null;
  } catch {
    return null;
  }
}

/**
 * Starts headless Chromium at `path` without its sandbox (tests run as root in containers, where
 * the sandbox cannot start), with the command-line switches `args` besides.
 * @example
 * ```ts
 * const path = chromiumPath();
 * if (path) {
 *   const browser = await launchBrowser(path);
 *   const page = await browser.newPage();
 *   await page.setContent("<p>hi</p>");
 *   await browser.close();
 * }
 * ```
 */
export function launchBrowser(path: string, args: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: path,
    args: ["--no-sandbox", ...args],
    timeout: 60_000,
  });
}

/**
 * Registers a test that gets a started browser (launched with the switches `args`) and closes it
 * afterwards. Without a browser it is skipped with a message, or fails when
 * `CXR_REQUIRE_BROWSER=1`.
 * @example
 * ```ts
 * browserTest("a page renders", async (browser) => {
 *   const page = await browser.newPage();
 *   await page.setContent("<p>hi</p>");
 * });
 * // WebGPU in chromium-headless-shell (SwiftShader) needs a switch:
 * browserTest("a page with WebGPU", async (browser) => {
 *   const page = await browser.newPage();
 *   await page.evaluate(() => "gpu" in navigator); // true
 * }, ["--enable-unsafe-webgpu"]);
 * ```
 */
export function browserTest(
  name: string,
  fn: (browser: Browser) => Promise<void>,
  args: string[] = [],
): void {
  const path = chromiumPath();
  const required = Deno.env.get("CXR_REQUIRE_BROWSER") === "1";
  const where = Deno.env.get("CXR_CHROMIUM") || DEFAULT_CHROMIUM;
  if (!path && !required) {
    console.warn(
      `skipping "${name}": no headless Chromium at ${where} (apt-get install ` +
        "--no-install-recommends chromium-headless-shell, or set CXR_CHROMIUM)",
    );
  }
  Deno.test({
    name,
    ignore: !path && !required,
    // playwright's pipe to the browser outlives the test by a tick.
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      if (!path) throw new Error(`CXR_REQUIRE_BROWSER=1 but no headless Chromium at ${where}`);
      const browser = await launchBrowser(path, args);
      try {
        await fn(browser);
      } finally {
        await browser.close();
      }
    },
  });
}
