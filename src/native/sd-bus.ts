/**
 * A small D-Bus client over libsystemd's sd-bus (the library crun uses), through koffi: method
 * calls with arguments written against their signatures, replies read the same way, and a wait
 * for a signal. Only the systemd cgroup driver loads it, and only when it talks to systemd.
 *
 * Only sd-bus's non-variadic calls are bound (append_basic, open_container, read_basic, ...): a
 * message is built and read value by value following its signature (sd-bus-types.ts).
 */
import { RuntimeError, errnoName } from '../errors';
import type { DBusValue, Variant } from './sd-bus-types';
import { loadKoffi } from './koffi';

export type { DBusValue, Variant } from './sd-bus-types';

const LIBSYSTEMD = 'libsystemd.so.0';
/** sd_bus_call's timeout for one call (µs); 0 would be sd-bus's default of 25 s. */
const CALL_TIMEOUT_USEC = 25_000_000;

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Fns {
  koffi: any;
  openSystem: any;
  closeUnref: any;
  newMethodCall: any;
  appendBasic: any;
  appendArray: any;
  openContainer: any;
  closeContainer: any;
  call: any;
  unref: any;
  readBasic: any;
  enterContainer: any;
  exitContainer: any;
  peekType: any;
  process: any;
  wait: any;
  isSignal: any;
  errorFree: any;
}
let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const koffi = loadKoffi();
  let lib: any;
  try {
    lib = koffi.load(LIBSYSTEMD);
  } catch (e) {
    throw new RuntimeError(`systemd cgroup driver: cannot load ${LIBSYSTEMD} (install libsystemd0): ${(e as Error).message}`);
  }
  koffi.opaque('sd_bus');
  koffi.opaque('sd_bus_message');
  fns = {
    koffi,
    openSystem: lib.func('int sd_bus_open_system(_Out_ sd_bus **ret)'),
    closeUnref: lib.func('sd_bus *sd_bus_flush_close_unref(sd_bus *bus)'),
    newMethodCall: lib.func('int sd_bus_message_new_method_call(sd_bus *bus, _Out_ sd_bus_message **m, const char *dest, const char *path, const char *iface, const char *member)'),
    appendBasic: lib.func('int sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p)'),
    appendArray: lib.func('int sd_bus_message_append_array(sd_bus_message *m, char type, const void *ptr, size_t size)'),
    openContainer: lib.func('int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents)'),
    closeContainer: lib.func('int sd_bus_message_close_container(sd_bus_message *m)'),
    call: lib.func('int sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, void *error, _Out_ sd_bus_message **reply)'),
    unref: lib.func('sd_bus_message *sd_bus_message_unref(sd_bus_message *m)'),
    readBasic: lib.func('int sd_bus_message_read_basic(sd_bus_message *m, char type, void *p)'),
    enterContainer: lib.func('int sd_bus_message_enter_container(sd_bus_message *m, char type, const char *contents)'),
    exitContainer: lib.func('int sd_bus_message_exit_container(sd_bus_message *m)'),
    peekType: lib.func('int sd_bus_message_peek_type(sd_bus_message *m, _Out_ char *type, _Out_ const char **contents)'),
    process: lib.func('int sd_bus_process(sd_bus *bus, _Out_ sd_bus_message **m)'),
    wait: lib.func('int sd_bus_wait(sd_bus *bus, uint64_t usec)'),
    isSignal: lib.func('int sd_bus_message_is_signal(sd_bus_message *m, const char *iface, const char *member)'),
    errorFree: lib.func('void sd_bus_error_free(void *e)'),
  };
  return fns;
}

/** A D-Bus error reply (name like "org.freedesktop.systemd1.NoSuchUnit") or a local failure (errno). */
export class DBusError extends Error {
  constructor(
    message: string,
    readonly dbusName: string,
    readonly errno: number,
  ) {
    super(message);
  }
}

const FIXED_SIZE: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4 };
const STRINGS = 's' + 'o' + 'g';

/** Index just past the single complete type that starts at sig[i]. */
function typeEnd(sig: string, i: number): number {
  const c = sig[i];
  if (c === 'a') return typeEnd(sig, i + 1);
  if (c === '(' || c === '{') {
    const close = c === '(' ? ')' : '}';
    let j = i + 1;
    while (sig[j] !== close) {
      if (j >= sig.length) throw new RuntimeError(`D-Bus signature ${JSON.stringify(sig)}: unbalanced ${c}`);
      j = typeEnd(sig, j);
    }
    return j + 1;
  }
  if (FIXED_SIZE[c] !== undefined || STRINGS.includes(c) || c === 'v') return i + 1;
  throw new RuntimeError(`D-Bus signature ${JSON.stringify(sig)}: unsupported type ${JSON.stringify(c)}`);
}

/** "sa(sv)" → ["s", "a(sv)"]. */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < sig.length; ) {
    const end = typeEnd(sig, i);
    out.push(sig.slice(i, end));
    i = end;
  }
  return out;
}

function check(rc: number, what: string): number {
  if (rc < 0) throw new DBusError(`${what}: ${errnoName(-rc)}`, '', -rc);
  return rc;
}

function basicBuffer(type: string, value: DBusValue): Buffer {
  if (STRINGS.includes(type)) return Buffer.from(String(value) + '\0');
  const b = Buffer.alloc(8);
  switch (type) {
    case 'y': b.writeUInt8(Number(value)); break;
    case 'b': b.writeInt32LE(value ? 1 : 0); break;
    case 'n': b.writeInt16LE(Number(value)); break;
    case 'q': b.writeUInt16LE(Number(value)); break;
    case 'i': case 'h': b.writeInt32LE(Number(value)); break;
    case 'u': b.writeUInt32LE(Number(value)); break;
    case 'x': b.writeBigInt64LE(BigInt(value as number | bigint)); break;
    case 't': b.writeBigUInt64LE(BigInt(value as number | bigint)); break;
    case 'd': b.writeDoubleLE(Number(value)); break;
  }
  return b;
}

function append(f: Fns, m: unknown, sig: string, value: DBusValue): void {
  const c = sig[0];
  const what = `D-Bus message: append ${sig}`;
  if (c === 'a') {
    const elem = sig.slice(1);
    if (elem === 'y' && Buffer.isBuffer(value)) {
      check(f.appendArray(m, 'y'.charCodeAt(0), value, value.length), what);
      return;
    }
    check(f.openContainer(m, 'a'.charCodeAt(0), elem), what);
    for (const v of value as DBusValue[]) append(f, m, elem, v);
    check(f.closeContainer(m), what);
  } else if (c === '(' || c === '{') {
    const inner = sig.slice(1, -1);
    check(f.openContainer(m, (c === '(' ? 'r' : 'e').charCodeAt(0), inner), what);
    splitSignature(inner).forEach((s, i) => append(f, m, s, (value as DBusValue[])[i]));
    check(f.closeContainer(m), what);
  } else if (c === 'v') {
    const v = value as Variant;
    check(f.openContainer(m, 'v'.charCodeAt(0), v.sig), what);
    append(f, m, v.sig, v.value);
    check(f.closeContainer(m), what);
  } else {
    check(f.appendBasic(m, c.charCodeAt(0), basicBuffer(c, value)), what);
  }
}

function readBasic(f: Fns, m: unknown, type: string): DBusValue | undefined {
  const b = Buffer.alloc(8);
  if (check(f.readBasic(m, type.charCodeAt(0), b), `D-Bus message: read ${type}`) === 0) return undefined;
  if (STRINGS.includes(type)) return f.koffi.decode(b, 'const char *') as string;
  switch (type) {
    case 'y': return b.readUInt8();
    case 'b': return b.readInt32LE() !== 0;
    case 'n': return b.readInt16LE();
    case 'q': return b.readUInt16LE();
    case 'i': case 'h': return b.readInt32LE();
    case 'u': return b.readUInt32LE();
    case 'x': return b.readBigInt64LE();
    case 't': return b.readBigUInt64LE();
    default: return b.readDoubleLE();
  }
}

/** Read one value of type sig; undefined at the end of the enclosing container. */
function read(f: Fns, m: unknown, sig: string): DBusValue | undefined {
  const c = sig[0];
  const what = `D-Bus message: read ${sig}`;
  if (c === 'a' || c === '(' || c === '{' || c === 'v') {
    let contents: string;
    let type = c;
    if (c === 'v') {
      const t = [0];
      const s = [null];
      if (check(f.peekType(m, t, s), what) === 0) return undefined;
      contents = s[0] ?? '';
    } else if (c === 'a') contents = sig.slice(1);
    else {
      contents = sig.slice(1, -1);
      type = c === '(' ? 'r' : 'e';
    }
    if (check(f.enterContainer(m, type.charCodeAt(0), contents), what) === 0) return undefined;
    let out: DBusValue;
    if (c === 'a') {
      const items: DBusValue[] = [];
      for (;;) {
        const v = read(f, m, contents);
        if (v === undefined) break;
        items.push(v);
      }
      out = items;
    } else if (c === 'v') {
      out = { sig: contents, value: read(f, m, contents)! };
    } else {
      out = splitSignature(contents).map((s) => read(f, m, s)!);
    }
    check(f.exitContainer(m), what);
    return out;
  }
  return readBasic(f, m, c);
}

/** A connection to the system bus. Synchronous: the caller blocks until a reply or a timeout. */
export class SdBus {
  private constructor(
    private readonly f: Fns,
    private bus: unknown,
  ) {}

  /** Connect to the system bus (DBUS_SYSTEM_BUS_ADDRESS, or /run/dbus/system_bus_socket). Throws DBusError with errno. */
  static openSystem(): SdBus {
    const f = load();
    const out = [null];
    const rc = f.openSystem(out);
    if (rc < 0) throw new DBusError(errnoName(-rc), '', -rc);
    return new SdBus(f, out[0]);
  }

  close(): void {
    if (this.bus) this.f.closeUnref(this.bus);
    this.bus = null;
  }

  /**
   * Call a method; args written against sig, the reply read against replySig. A D-Bus error reply
   * throws DBusError with its name ("org.freedesktop.systemd1.NoSuchUnit") and message.
   */
  call(dest: string, path: string, iface: string, member: string, sig: string, args: DBusValue[], replySig = ''): DBusValue[] {
    const f = this.f;
    const mOut = [null];
    check(f.newMethodCall(this.bus, mOut, dest, path, iface, member), `D-Bus: ${member}`);
    const m = mOut[0];
    const err = Buffer.alloc(24); // sd_bus_error { const char *name, *message; int _need_free; }
    try {
      splitSignature(sig).forEach((s, i) => append(f, m, s, args[i]));
      const rOut = [null];
      const rc = f.call(this.bus, m, CALL_TIMEOUT_USEC, err, rOut);
      if (rc < 0) {
        const name: string | null = f.koffi.decode(err, 'const char *');
        const text: string | null = f.koffi.decode(err.subarray(8), 'const char *');
        throw new DBusError(name ? `${text ?? name} (${name})` : errnoName(-rc), name ?? '', -rc);
      }
      const reply = rOut[0];
      try {
        return splitSignature(replySig).map((s) => read(f, reply, s)!);
      } finally {
        f.unref(reply);
      }
    } finally {
      f.errorFree(err);
      f.unref(m);
    }
  }

  /** Ask the bus to route the signals a match rule selects to this connection. */
  addMatch(rule: string): void {
    this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', [rule]);
  }

  /**
   * Process incoming messages until a signal iface.member whose body (read against sig) satisfies
   * accept arrives; returns that body, or undefined after timeoutMs. Signals received while an
   * earlier call was waiting for its reply are queued by sd-bus and seen here.
   */
  waitSignal(iface: string, member: string, sig: string, accept: (body: DBusValue[]) => boolean, timeoutMs: number): DBusValue[] | undefined {
    const f = this.f;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const mOut = [null];
      const rc = check(f.process(this.bus, mOut), 'D-Bus: process');
      const m = mOut[0];
      if (m) {
        try {
          if (f.isSignal(m, iface, member) > 0) {
            const body = splitSignature(sig).map((s) => read(f, m, s)!);
            if (accept(body)) return body;
          }
        } finally {
          f.unref(m);
        }
      }
      if (rc > 0) continue; // more may be queued
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      check(f.wait(this.bus, left * 1000), 'D-Bus: wait');
    }
  }
}
