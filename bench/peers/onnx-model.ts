/**
 * A minimal ONNX ModelProto encoder: just enough protobuf to build one-node
 * models in memory for onnxruntime-web (the peer benchmarks), so no model file
 * and no protobuf dependency is needed. Field numbers follow onnx/onnx.proto.
 */

/** TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;
export type OnnxElemType = typeof ONNX_FLOAT | typeof ONNX_UINT8;

export interface OnnxTensor {
  name: string;
  elemType: OnnxElemType;
  dims: readonly number[];
  /** Row-major elements, little-endian (stored as TensorProto.raw_data). */
  data: Float32Array | Uint8Array;
}

export interface OnnxValueInfo {
  name: string;
  elemType: OnnxElemType;
  /** A number is a fixed dimension, a string a symbolic one. */
  dims: readonly (number | string)[];
}

/** Attribute values: an integer (INT), a list of integers (INTS), a string (STRING) or `{ f }` (FLOAT). */
export type OnnxAttribute = number | readonly number[] | string | { f: number };

export interface OnnxNode {
  opType: string;
  domain?: string;
  name?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, OnnxAttribute>>;
}

export interface OnnxGraph {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxTensor[];
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  /** Operator sets the graph uses, e.g. `{ domain: '', version: 21 }`, `{ domain: 'com.microsoft', version: 1 }`. */
  opsets: readonly { domain: string; version: number }[];
  /** IR version; 8 is understood by every onnxruntime release since 1.10. */
  irVersion?: number;
  producer?: string;
}

// Wire types.
const VARINT = 0;
const I32 = 5;
const LEN = 2;

/** A growable byte buffer with protobuf primitives. */
class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Unsigned varint of a non-negative safe integer (ONNX sizes stay far below 2^53). */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.reserve(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }

  /** int64 field value: negative values are 10-byte two's complement varints. */
  int64(v: number): void {
    if (v >= 0) {
      this.varint(v);
      return;
    }
    if (!Number.isSafeInteger(v)) throw new RangeError(`int64 out of range: ${v}`);
    let x = BigInt.asUintN(64, BigInt(v));
    this.reserve(10);
    while (x >= 0x80n) {
      this.buf[this.len++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.len++] = Number(x);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  f32(v: number): void {
    this.reserve(4);
    new DataView(this.buf.buffer, this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  // Field helpers.
  intField(field: number, v: number): void {
    this.tag(field, VARINT);
    this.int64(v);
  }
  stringField(field: number, s: string): void {
    this.tag(field, LEN);
    this.bytes(new TextEncoder().encode(s));
  }
  bytesField(field: number, b: Uint8Array): void {
    this.tag(field, LEN);
    this.bytes(b);
  }
  floatField(field: number, v: number): void {
    this.tag(field, I32);
    this.f32(v);
  }
  messageField(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// AttributeProto.AttributeType.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function writeAttribute(w: Writer, name: string, value: OnnxAttribute): void {
  w.stringField(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: use { f } for a float`);
    w.intField(20, ATTR_INT);
    w.intField(3, value);
  } else if (typeof value === 'string') {
    w.intField(20, ATTR_STRING);
    w.stringField(4, value);
  } else if ('f' in value) {
    w.intField(20, ATTR_FLOAT);
    w.floatField(2, value.f);
  } else {
    w.intField(20, ATTR_INTS);
    for (const v of value) w.intField(8, v);
  }
}

function writeTensor(w: Writer, t: OnnxTensor): void {
  const count = t.dims.reduce((a, b) => a * b, 1);
  const expected = t.elemType === ONNX_FLOAT ? Float32Array : Uint8Array;
  if (!(t.data instanceof expected) || t.data.length !== count) {
    throw new RangeError(`initializer ${t.name}: expected ${count} ${expected.name} elements`);
  }
  for (const d of t.dims) w.intField(1, d);
  w.intField(2, t.elemType);
  w.stringField(8, t.name);
  // raw_data is little-endian; typed arrays are little-endian on every platform Node runs on.
  w.bytesField(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function writeValueInfo(w: Writer, v: OnnxValueInfo): void {
  w.stringField(1, v.name);
  w.messageField(2, (type) =>
    type.messageField(1, (tensor) => {
      tensor.intField(1, v.elemType);
      tensor.messageField(2, (shape) => {
        for (const d of v.dims) {
          shape.messageField(1, (dim) =>
            typeof d === 'number' ? dim.intField(1, d) : dim.stringField(2, d),
          );
        }
      });
    }),
  );
}

function writeNode(w: Writer, n: OnnxNode): void {
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  if (n.name) w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.messageField(5, (a) => writeAttribute(a, k, v));
  if (n.domain) w.stringField(7, n.domain);
}

function writeGraph(w: Writer, g: OnnxGraph): void {
  for (const n of g.nodes) w.messageField(1, (x) => writeNode(x, n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, (x) => writeTensor(x, t));
  for (const v of g.inputs) w.messageField(11, (x) => writeValueInfo(x, v));
  for (const v of g.outputs) w.messageField(12, (x) => writeValueInfo(x, v));
}

/** Serializes a ModelProto. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new Writer();
  w.intField(1, model.irVersion ?? 8);
  w.stringField(2, model.producer ?? 'plumbline-bench');
  w.messageField(7, (g) => writeGraph(g, model.graph));
  for (const o of model.opsets) {
    w.messageField(8, (x) => {
      if (o.domain) x.stringField(1, o.domain);
      x.intField(2, o.version);
    });
  }
  return w.finish();
}
