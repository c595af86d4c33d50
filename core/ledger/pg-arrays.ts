// One-dimensional PostgreSQL arrays in the binary wire format (what array_send
// writes and array_recv reads), for ledger_write's parameters. pg sends a
// Buffer parameter as binary, so PostgreSQL takes each element as it is
// instead of parsing the array's text (array_in, about a tenth of a batch's
// instructions), and nothing needs quoting or escaping here.

export type ElementType = 'text' | 'uuid' | 'int8' | 'jsonb' | 'timestamptz';
type Element = string | number | Date | null;

const OID: Record<ElementType, number> = { text: 25, uuid: 2950, int8: 20, jsonb: 3802, timestamptz: 1184 };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** PostgreSQL's timestamps count microseconds from 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 2 ** 32;
const JSONB_VERSION = 1;

function size(type: ElementType, v: Exclude<Element, null>): number {
  switch (type) {
    case 'text':
      return Buffer.byteLength(v as string);
    case 'jsonb':
      return 1 + Buffer.byteLength(v as string);
    case 'uuid':
      return 16;
    case 'int8':
    case 'timestamptz':
      return 8;
  }
}

/** A safe integer as a big-endian two's-complement int64. */
function writeInt64(buf: Buffer, value: number, at: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
  const high = Math.floor(value / TWO_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * TWO_32, at + 4);
}

function write(buf: Buffer, type: ElementType, v: Exclude<Element, null>, at: number): void {
  switch (type) {
    case 'text':
      buf.write(v as string, at, 'utf8');
      return;
    case 'jsonb':
      buf[at] = JSONB_VERSION;
      buf.write(v as string, at + 1, 'utf8');
      return;
    case 'uuid':
      if (typeof v !== 'string' || !UUID.test(v)) throw new TypeError(`${String(v)} is not a uuid`);
      buf.write(v.replace(/-/g, ''), at, 16, 'hex');
      return;
    case 'int8':
      writeInt64(buf, v as number, at);
      return;
    case 'timestamptz':
      writeInt64(buf, ((v as Date).getTime() - PG_EPOCH_MS) * 1000, at);
  }
}

/** values as a PostgreSQL array of type[] in binary (null elements allowed). */
export function pgArray(type: ElementType, values: readonly Element[]): Buffer {
  const n = values.length;
  const sizes = values.map((v) => (v === null ? -1 : size(type, v)));
  const total = 12 + (n > 0 ? 8 : 0) + sizes.reduce((sum, s) => sum + 4 + Math.max(s, 0), 0);
  const buf = Buffer.allocUnsafe(total);
  buf.writeInt32BE(n > 0 ? 1 : 0, 0); // dimensions (an empty array has none)
  buf.writeInt32BE(sizes.includes(-1) ? 1 : 0, 4); // has nulls
  buf.writeUInt32BE(OID[type], 8);
  let at = 12;
  if (n > 0) {
    buf.writeInt32BE(n, 12);
    buf.writeInt32BE(1, 16); // lower bound
    at = 20;
  }
  for (let i = 0; i < n; i++) {
    buf.writeInt32BE(sizes[i]!, at);
    at += 4;
    const v = values[i]!;
    if (v === null) continue;
    write(buf, type, v, at);
    at += sizes[i]!;
  }
  return buf;
}
