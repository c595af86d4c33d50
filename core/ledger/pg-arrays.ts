// One-dimensional PostgreSQL arrays in the binary wire format (what array_send
// writes and array_recv reads), for ledger_write's parameters. pg sends a
// Buffer parameter as binary, so PostgreSQL takes each element as it is
// instead of parsing the array's text (array_in, about a tenth of a batch's
// instructions), and nothing needs quoting or escaping here. One encoder per
// element type, each a plain loop: this runs for every batch.

const OID = { text: 25, uuid: 2950, int8: 20, jsonb: 3802, timestamptz: 1184 } as const;
/** PostgreSQL's timestamps count microseconds from 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 2 ** 32;
const JSONB_VERSION = 1;
const NULL_LENGTH = -1;

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

function int32(buf: Buffer, at: number, value: number): number {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
  return at + 4;
}

/** A safe integer as a big-endian two's-complement int64. */
function int64(buf: Buffer, at: number, value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
  const high = Math.floor(value / TWO_32);
  int32(buf, at, high);
  return int32(buf, at + 4, value - high * TWO_32);
}

/** The array's header; returns where its elements start. */
function header(buf: Buffer, oid: number, n: number, hasNull: boolean): number {
  int32(buf, 0, n > 0 ? 1 : 0); // dimensions (an empty array has none)
  int32(buf, 4, hasNull ? 1 : 0);
  int32(buf, 8, oid);
  if (n === 0) return 12;
  int32(buf, 12, n);
  return int32(buf, 16, 1); // lower bound
}

const headerSize = (n: number) => (n > 0 ? 20 : 12);

/** UTF-8 length; an ASCII string (ids, codes: nearly all) is counted here, without a call into C++. */
function utf8Length(v: string): number {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return Buffer.byteLength(v);
  return v.length;
}

/** text[] (or jsonb[], whose elements are a version byte and the JSON text). */
function textArray(values: readonly (string | null)[], oid: number, prefix: number): Buffer {
  const lengths = new Array<number>(values.length);
  let total = headerSize(values.length);
  let hasNull = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      lengths[i] = NULL_LENGTH;
      hasNull = true;
      total += 4;
    } else {
      lengths[i] = utf8Length(v);
      total += 4 + prefix + lengths[i]!;
    }
  }
  const buf = Buffer.allocUnsafe(total);
  let at = header(buf, oid, values.length, hasNull);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const bytes = lengths[i]!;
    if (v === null || v === undefined) {
      at = int32(buf, at, NULL_LENGTH);
      continue;
    }
    at = int32(buf, at, prefix + bytes);
    if (prefix) buf[at++] = JSONB_VERSION;
    if (bytes === v.length) for (let c = 0; c < bytes; c++) buf[at + c] = v.charCodeAt(c);
    else buf.write(v, at, 'utf8');
    at += bytes;
  }
  return buf;
}

function uuidArray(values: readonly string[]): Buffer {
  const buf = Buffer.allocUnsafe(headerSize(values.length) + values.length * 20);
  let at = header(buf, OID.uuid, values.length, false);
  for (const v of values) {
    at = int32(buf, at, 16);
    if (typeof v !== 'string' || v.length !== 36 || v[8] !== '-' || v[13] !== '-' || v[18] !== '-' || v[23] !== '-') {
      throw new TypeError(`${String(v)} is not a uuid`);
    }
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i += 1;
      const high = HEX[v.charCodeAt(i)] ?? -1;
      const low = HEX[v.charCodeAt(i + 1)] ?? -1;
      if (high < 0 || low < 0) throw new TypeError(`${v} is not a uuid`);
      buf[at++] = (high << 4) | low;
    }
  }
  return buf;
}

/** int8[] of safe integers, or timestamptz[] as microseconds since PostgreSQL's epoch. */
function int64Array(values: readonly (number | null)[], oid: number): Buffer {
  let nulls = 0;
  for (const v of values) if (v === null) nulls += 1;
  const buf = Buffer.allocUnsafe(headerSize(values.length) + nulls * 4 + (values.length - nulls) * 12);
  let at = header(buf, oid, values.length, nulls > 0);
  for (const v of values) {
    if (v === null) {
      at = int32(buf, at, NULL_LENGTH);
    } else {
      at = int32(buf, at, 8);
      at = int64(buf, at, v);
    }
  }
  return buf;
}

export const pgArray = {
  text: (values: readonly (string | null)[]) => textArray(values, OID.text, 0),
  /** Elements are JSON texts. */
  jsonb: (values: readonly string[]) => textArray(values, OID.jsonb, 1),
  uuid: uuidArray,
  int8: (values: readonly (number | null)[]) => int64Array(values, OID.int8),
  timestamptz: (values: readonly Date[]) => int64Array(values.map((d) => (d.getTime() - PG_EPOCH_MS) * 1000), OID.timestamptz),
};
