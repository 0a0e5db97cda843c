/**
 * What a search request carries, read and checked before any model runs: the body is read into
 * memory up to a size limit (never to disk); an image is recognized by its first bytes (PNG or
 * JPEG), whatever its name or declared type; a report is text. Requests the server cannot take
 * throw {@link RequestError} with the HTTP status and a message for the page.
 *
 * Accepted bodies of `POST /api/search`:
 * - `application/json`: `{ "text": "<report>", "k": 10 }`;
 * - `multipart/form-data`: a file field `image`, or a field `text`, and optionally `k`;
 * - anything else: the raw image bytes (`curl --data-binary @x.png`), `k` from `?k=`.
 *
 * @module
 */

/** An error answered with `status` and `message` (the server's own faults are 500s). */
export class RequestError extends Error {
  /** HTTP status. */
  readonly status: number;
  /**
   * @param status HTTP status (4xx)
   * @param message what is wrong, for the page
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "RequestError";
    this.status = status;
  }
}

/** A checked search request. */
export type SearchRequest =
  | { kind: "image"; bytes: Uint8Array; name: string; k: number }
  | { kind: "text"; text: string; k: number };

/** Limits of a request. */
export interface UploadLimits {
  /** Largest body, in bytes. */
  maxBytes: number;
  /** k when the request gives none. */
  defaultK: number;
}

/**
 * The image format of `bytes` by their signature, or null.
 * @example
 * ```ts
 * imageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])); // "image/png"
 * imageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // "image/jpeg"
 * imageType(new TextEncoder().encode("Heart size normal.")); // null
 * ```
 */
export function imageType(bytes: Uint8Array): "image/png" | "image/jpeg" | null {
  const starts = (sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  return null;
}

/**
 * Reads a request's body into memory, refusing (413) one longer than `maxBytes` as soon as it
 * says so in Content-Length or its bytes pass the limit.
 * @example
 * ```ts
 * const request = new Request("http://x/", { method: "POST", body: "report" });
 * (await readBody(request, 1024)).length; // 6
 * ```
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new RequestError(
      413,
      `the upload is larger than the limit of ${megabytes(maxBytes)}; send a smaller file`,
    );
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) {
    await request.body?.cancel();
    throw tooLarge();
  }
  const parts: Uint8Array[] = [];
  let length = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      length += r.value.length;
      if (length > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      parts.push(r.value);
    }
  }
  const body = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return body;
}

/**
 * Reads and checks a `POST /api/search` request (see the module doc for the bodies accepted).
 * @example
 * ```ts
 * const request = new Request("http://x/api/search", {
 *   method: "POST",
 *   headers: { "content-type": "application/json" },
 *   body: JSON.stringify({ text: "Small left pleural effusion.", k: 5 }),
 * });
 * await parseSearchRequest(request, { maxBytes: 1 << 20, defaultK: 10 });
 * // { kind: "text", text: "Small left pleural effusion.", k: 5 }
 * ```
 */
export async function parseSearchRequest(
  request: Request,
  limits: UploadLimits,
): Promise<SearchRequest> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const body = await readBody(request, limits.maxBytes);
  const urlK = new URL(request.url).searchParams.get("k");
  if (type === "application/json") {
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new RequestError(400, 'the request body is not JSON; send { "text": "<report>" }');
    }
    const { text, k } = (json ?? {}) as { text?: unknown; k?: unknown };
    if (typeof text !== "string") {
      throw new RequestError(400, 'a JSON search needs "text", the report to search with');
    }
    return { kind: "text", text, k: parseK(k ?? urlK, limits.defaultK) };
  }
  if (type === "multipart/form-data") {
    let form: FormData;
    try {
      const headers = { "content-type": request.headers.get("content-type")! };
      form = await new Response(body as Uint8Array<ArrayBuffer>, { headers }).formData();
    } catch {
      throw new RequestError(400, "the form data cannot be read");
    }
    const image = form.get("image"), text = form.get("text");
    const k = parseK(form.get("k") ?? urlK, limits.defaultK);
    if (image instanceof File && image.size > 0) {
      const bytes = new Uint8Array(await image.arrayBuffer());
      return checkedImage(bytes, image.name || "the uploaded file", k);
    }
    if (typeof text === "string" && text !== "") return { kind: "text", text, k };
    throw new RequestError(400, "choose an X-ray image or paste a report");
  }
  return checkedImage(body, "the uploaded file", parseK(urlK, limits.defaultK));
}

/** An image request, after checking that the bytes are a PNG or JPEG. */
function checkedImage(bytes: Uint8Array, name: string, k: number): SearchRequest {
  const problem = uploadProblem(bytes, name);
  if (problem) throw new RequestError(problem.status, problem.message);
  return { kind: "image", bytes, name, k };
}

/**
 * What is wrong with an uploaded image `name`: empty (400), or not a PNG or JPEG by its content
 * (415); null when it is one. The page's private search checks its files with it too.
 * @example
 * ```ts
 * uploadProblem(new TextEncoder().encode("hello"), "notes.png")?.status; // 415
 * ```
 */
export function uploadProblem(
  bytes: Uint8Array,
  name: string,
): { status: 400 | 415; message: string } | null {
  if (bytes.length === 0) return { status: 400, message: `${name} is empty` };
  if (imageType(bytes) !== null) return null;
  return {
    status: 415,
    message: `${name} is not a PNG or JPEG image (judged by its content, not its name); ` +
      `upload a chest X-ray as PNG or JPEG`,
  };
}

/** k from a request, or the default; the search checks its range. */
function parseK(value: unknown, fallback: number): number {
  if (value === null || value === undefined || value === "") return fallback;
  const k = Number(value);
  if (!Number.isInteger(k)) throw new RequestError(400, `k must be an integer, got ${value}`);
  return k;
}

/** A size for messages: bytes below 1 MB, else MB. */
function megabytes(bytes: number): string {
  if (bytes < 2 ** 20) return `${bytes} bytes`;
  return `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 === 0 ? 0 : 1)} MB`;
}
