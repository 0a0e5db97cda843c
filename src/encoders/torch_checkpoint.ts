/**
 * Reads a PyTorch zip checkpoint (what `torch.save` writes since PyTorch 1.6, e.g. open_clip's
 * `open_clip_pytorch_model.bin`) WITHOUT executing pickle. `data.pkl` is interpreted by a
 * restricted unpickler that knows only what a state dict of tensors needs: dicts and
 * `collections.OrderedDict`, lists, tuples, strings, numbers, booleans, None, storages named by
 * persistent id (`torch.FloatStorage`, `torch.HalfStorage`, ...) and the tensor rebuild
 * functions `torch._utils._rebuild_tensor_v2` / `_rebuild_parameter`, and, for TorchScript
 * archives (`torch.jit.save`, e.g. OpenAI's CLIP `ViT-B-16.pt`), module objects of classes named
 * `__torch__.*`: NEWOBJ of such a class with no arguments makes an empty attribute map that BUILD
 * fills with the module's attributes (its parameters and submodules), so the module tree reads
 * as nested dicts. Any other global (`os.system`, `builtins.eval`, ...) and any other opcode
 * that builds objects (INST, OBJ, NEWOBJ of anything else, EXT*, ...) is refused with an error
 * naming it; REDUCE and BUILD are accepted only on those known callables, OrderedDicts and
 * TorchScript module objects. Nothing from the file is ever called or resolved to code.
 *
 * The zip container is read with fflate (maintained, dependency-free, handles stored and
 * deflated entries and zip64); Deno has no built-in zip reader, only raw deflate streams.
 *
 * @module
 */

import { unzipSync } from "fflate";
import {
  type DType,
  DTYPES,
  numel,
  type StateDict,
  type Tensor,
  typedFromBytes,
} from "./state_dict.ts";

/** The storage classes a checkpoint may name, with the dtype of their elements. */
const STORAGES: Record<string, DType> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  DoubleStorage: "float64",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

/** Globals the unpickler accepts; everything else is refused. */
const ALLOWED_GLOBALS = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  ...Object.keys(STORAGES).map((s) => `torch.${s}`),
]);

/** A global the unpickler accepted (never resolved to code). */
class Global {
  constructor(readonly qualname: string) {}
}

/** Classes TorchScript archives name for their modules; only their attributes are read. */
const SCRIPT_CLASS = /^__torch__(\.[A-Za-z_][\w]*)* [A-Za-z_]\w*$/;

/** A TorchScript module object: its attributes by name, set by BUILD. */
class ScriptObject extends Map<PyValue, PyValue> {}

/** A storage named by a persistent id: zip entry `data/<key>`. */
class StorageRef {
  constructor(readonly key: string, readonly dtype: DType, readonly numel: number) {}
}

/** A tensor view on a storage, materialized after unpickling. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/** A dict (or OrderedDict): string / number keys to values. */
type PyDict = Map<PyValue, PyValue>;
type PyValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PyValue[]
  | PyDict
  | Global
  | StorageRef
  | TensorRef;

const MARK = Symbol("mark");

/** Opcodes that build arbitrary objects or need features a checkpoint never uses. */
const REFUSED: Record<number, string> = {
  0x69: "INST",
  0x6f: "OBJ",
  0x92: "NEWOBJ_EX",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x50: "PERSID",
  0x53: "STRING",
  0x56: "UNICODE",
  0x46: "FLOAT",
  0x4c: "LONG",
  0x49: "INT",
  0x70: "PUT",
  0x67: "GET",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/**
 * Interprets a pickle with the restricted opcode set; returns the unpickled value with storages
 * and tensors as references. Throws on any refused opcode or global.
 */
function unpickle(bytes: Uint8Array, where: string): PyValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: true });
  const stack: (PyValue | typeof MARK)[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  const fail = (msg: string): never => {
    throw new Error(`${where}: refused at byte ${pos}: ${msg}`);
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) fail("pickle ends early");
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const i32 = () => (need(4), pos += 4, view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail("length too large");
    return Number(v);
  };
  const raw = (n: number) => (need(n), pos += n, bytes.subarray(pos - n, pos));
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("unterminated text line");
    const s = text.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail("stack underflow");
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail("stack underflow");
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail("no MARK on the stack");
    const items = stack.splice(at) as PyValue[];
    return items.slice(1);
  };
  const global = (module: string, name: string): Global => {
    const q = `${module}.${name}`;
    if (SCRIPT_CLASS.test(`${module} ${name}`)) return new Global(q);
    if (!ALLOWED_GLOBALS.has(q)) {
      fail(
        `global ${q} is not allowed (only ${[...ALLOWED_GLOBALS].join(", ")}); ` +
          `this file is not a plain state dict of tensors`,
      );
    }
    return new Global(q);
  };
  const long = (b: Uint8Array) => {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      fail(`integer ${v} out of range`);
    }
    return Number(v);
  };
  const setItems = (dict: PyValue, items: PyValue[], op: string) => {
    if (!(dict instanceof Map)) fail(`${op} on a ${typeName(dict)}, expected a dict`);
    for (let i = 0; i + 1 < items.length; i += 2) (dict as PyDict).set(items[i], items[i + 1]);
  };
  const appendItems = (list: PyValue, items: PyValue[], op: string) => {
    if (!Array.isArray(list)) fail(`${op} on a ${typeName(list)}, expected a list`);
    (list as PyValue[]).push(...items);
  };
  const persistentLoad = (pid: PyValue): StorageRef => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || !(pid[1] instanceof Global)) {
      return fail(`persistent id ${describe(pid)} is not ('storage', <torch storage>, ...)`);
    }
    const cls = pid[1].qualname.replace(/^torch\./, "");
    const dtype = STORAGES[cls];
    if (!dtype) fail(`persistent id names ${pid[1].qualname}, not a torch storage class`);
    const [key, , n] = [pid[2], pid[3], pid[4]];
    if (typeof key !== "string" || typeof n !== "number") {
      fail(`persistent id ${describe(pid)}: expected a string key and an element count`);
    }
    return new StorageRef(key as string, dtype, n as number);
  };
  const reduce = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof Global)) return fail(`REDUCE on a ${typeName(fn)}: not a callable`);
    if (!Array.isArray(args)) return fail(`REDUCE of ${fn.qualname} with non-tuple arguments`);
    switch (fn.qualname) {
      case "collections.OrderedDict": {
        const d: PyDict = new Map();
        if (args.length > 0) {
          if (!Array.isArray(args[0])) fail("OrderedDict(...) argument is not a list of pairs");
          for (const kv of args[0] as PyValue[]) {
            if (!Array.isArray(kv) || kv.length !== 2) fail("OrderedDict item is not a pair");
            d.set((kv as PyValue[])[0], (kv as PyValue[])[1]);
          }
        }
        return d;
      }
      case "torch._utils._rebuild_tensor_v2": {
        const [storage, offset, size, stride] = args;
        if (
          !(storage instanceof StorageRef) || typeof offset !== "number" ||
          !isIntList(size) || !isIntList(stride) || size.length !== stride.length
        ) {
          return fail(`_rebuild_tensor_v2${describe(args)}: unexpected arguments`);
        }
        return new TensorRef(storage, offset, size as number[], stride as number[]);
      }
      case "torch._utils._rebuild_parameter": {
        if (!(args[0] instanceof TensorRef)) fail("_rebuild_parameter of a non-tensor");
        return args[0];
      }
      default:
        return fail(`REDUCE of ${fn.qualname} is not allowed (only OrderedDict and tensors)`);
    }
  };

  while (true) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("pickle protocol above 5");
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(raw(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(long(raw(u32())));
        break;
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(raw(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(raw(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(raw(u64())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(text.decode(raw(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(text.decode(raw(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(raw(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(raw(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(raw(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: // TUPLE
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v], "APPEND");
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items, "APPENDS");
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const d: PyDict = new Map();
        setItems(d, popMark(), "DICT");
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v], "SETITEM");
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items, "SETITEMS");
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const idx = op === 0x68 ? u8() : u32();
        if (!memo.has(idx)) fail(`memo ${idx} is not set`);
        stack.push(memo.get(idx)!);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("STACK_GLOBAL needs two strings");
        }
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        stack.push(reduce(fn, args));
        break;
      }
      case 0x62: { // BUILD: a TorchScript module's attributes, or OrderedDict state (dropped)
        const state = pop(), target = top();
        if (target instanceof ScriptObject) {
          if (!(state instanceof Map)) {
            fail(`BUILD of a TorchScript module with a ${typeName(state)}`);
          }
          for (const [k, v] of state as PyDict) target.set(k, v);
        } else if (!(target instanceof Map)) {
          fail(`BUILD on a ${typeName(target)}: only OrderedDict or a TorchScript module`);
        }
        break;
      }
      case 0x81: { // NEWOBJ: only an empty TorchScript module object
        const args = pop(), cls = pop();
        const isScript = cls instanceof Global && cls.qualname.startsWith("__torch__.");
        if (!isScript || !Array.isArray(args) || args.length > 0) {
          fail(
            `opcode NEWOBJ is not allowed on ${typeName(cls)}${describe(args)} ` +
              "(only on TorchScript module classes __torch__.*, without arguments)",
          );
        }
        stack.push(new ScriptObject());
        break;
      }
      default:
        pos = opPos;
        fail(
          `opcode ${REFUSED[op] ?? `0x${op.toString(16).padStart(2, "0")}`} is not allowed ` +
            `in a state dict`,
        );
    }
  }
}

function isIntList(v: PyValue): v is number[] {
  return Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isInteger(x));
}

function typeName(v: PyValue): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return "tuple/list";
  if (v instanceof Map) return "dict";
  if (v instanceof Global) return v.qualname;
  if (v instanceof StorageRef) return "storage";
  if (v instanceof TensorRef) return "tensor";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v;
}

function describe(v: PyValue): string {
  if (Array.isArray(v)) return `(${v.map(describe).join(", ")})`;
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return typeName(v);
}

/** Copies a (possibly strided, offset) view of a storage into a dense row-major tensor. */
function materialize(t: TensorRef, storage: Uint8Array, name: string): Tensor {
  const { dtype } = t.storage;
  const size = DTYPES[dtype].bytes;
  const have = Math.floor(storage.length / size);
  const count = numel(t.shape);
  if (have < t.storage.numel) {
    throw new Error(
      `tensor ${name}: storage ${t.storage.key} holds ${have} elements, ` +
        `its header says ${t.storage.numel}`,
    );
  }
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) {
    if (t.shape[d] < 0 || t.stride[d] < 0) throw new Error(`tensor ${name}: negative size/stride`);
    if (t.shape[d] > 0) last += (t.shape[d] - 1) * t.stride[d];
  }
  if (count > 0 && last >= have) {
    throw new Error(
      `tensor ${name}: shape [${t.shape}] stride [${t.stride}] offset ${t.offset} ` +
        `reaches element ${last}, storage ${t.storage.key} has ${have}`,
    );
  }
  const contiguous = t.shape.every((_, d) =>
    t.shape[d] <= 1 || t.stride[d] === numel(t.shape.slice(d + 1))
  );
  if (contiguous) {
    return { dtype, shape: t.shape, data: typedFromBytes(storage, t.offset * size, count, dtype) };
  }
  const src = typedFromBytes(storage, 0, have, dtype);
  const out = new DTYPES[dtype].array(new ArrayBuffer(count * size), 0, count);
  const idx = new Array(t.shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let at = t.offset;
    for (let d = 0; d < idx.length; d++) at += idx[d] * t.stride[d];
    out[i] = src[at];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape: t.shape, data: out };
}

/**
 * Reads a PyTorch zip checkpoint's tensors without executing pickle. The pickled object must be
 * a dict of tensors, a dict holding one under `state_dict` (training checkpoints), or a
 * TorchScript module (its parameters and tensor attributes); nested dicts and submodules are
 * flattened with dotted names.
 * @param bytes the whole `.bin` / `.pt` file
 * @param file the file's name, for error messages
 * @example
 * ```ts
 * const path = "tests/fixtures/biomedclip_tiny/open_clip_tiny.bin"; // an open_clip checkpoint
 * const sd = readTorchCheckpoint(await Deno.readFile(path), path);
 * sd.get("logit_scale")?.shape; // []
 * ```
 */
export function readTorchCheckpoint(bytes: Uint8Array, file: string): StateDict {
  if (bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new Error(
      `${file}: not a zip file; only PyTorch >= 1.6 zip checkpoints are read ` +
        `(the legacy tar/pickle format is not supported)`,
    );
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new Error(`${file}: cannot read the zip container: ${(e as Error).message}`);
  }
  const pkl = Object.keys(entries).filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkl.length !== 1) {
    throw new Error(`${file}: expected one <archive>/data.pkl entry, found ${pkl.length}`);
  }
  const prefix = pkl[0].slice(0, -"data.pkl".length);
  const order = entries[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== "little") {
    throw new Error(`${file}: big-endian checkpoints are not supported`);
  }
  const root = unpickle(entries[pkl[0]], `${file}: ${pkl[0]}`);
  const out: StateDict = new Map();
  const walk = (v: PyValue, name: string) => {
    if (v instanceof TensorRef) {
      const storage = entries[`${prefix}data/${v.storage.key}`];
      if (!storage) throw new Error(`${file}: tensor ${name}: no entry data/${v.storage.key}`);
      out.set(name, materialize(v, storage, name));
    } else if (v instanceof Map) {
      for (const [k, x] of v) walk(x, name ? `${name}.${String(k)}` : String(k));
    }
  };
  if (!(root instanceof Map)) throw new Error(`${file}: pickled object is a ${typeName(root)}`);
  const sd = root.get("state_dict");
  walk(sd instanceof Map ? sd : root, "");
  return out;
}
