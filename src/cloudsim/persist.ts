import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { Quotas } from './state.ts';
import { CloudState } from './state.ts';

/**
 * The embedded cloud's state on disk, so that `kaas dev` finds after a restart the cloud its
 * database refers to. One JSON snapshot (`state.json`: every map of {@link CloudState}, the
 * per-project quotas and the port) and the Swift object bodies as files named by their SHA-256
 * under `objects/` (a staged Kubernetes release is hundreds of MB: written once, not at every
 * save). Each file is written beside its final name, flushed and renamed into place, so a process
 * killed mid-write leaves the previous snapshot whole. It holds the dev cloud's demo passwords and
 * tokens: the directory is 0700 and every file 0600.
 */
export interface SavedCloud {
  state: CloudState;
  quotas: Record<string, Partial<Quotas>>;
  /** The port the cloud listened on, so that URLs kept elsewhere (clusters' cloud config) stay valid. */
  port: number;
}

const SNAPSHOT = 'state.json';
const OBJECTS = 'objects';
const VERSION = 1;

/** The snapshot file of a state directory (for messages). */
export function snapshotFile(dir: string): string {
  return join(dir, SNAPSHOT);
}

/** Object bodies already on disk, by identity: a stored body is never mutated, only replaced. */
const blobNames = new WeakMap<Buffer, string>();

function blobName(data: Buffer): string {
  let name = blobNames.get(data);
  if (!name) {
    name = createHash('sha256').update(data).digest('hex');
    blobNames.set(data, name);
  }
  return name;
}

/** Writes `data` to `file` through a flushed temporary file and a rename, mode 0600. */
export function writeFileAtomic(file: string, data: string | Buffer): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

/** Plain JSON for maps, sets and buffers (buffers become blob references, written by `blob`). */
function encode(value: unknown, blob: (data: Buffer) => string): unknown {
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [k, encode(v, blob)]) };
  if (value instanceof Set) return { $set: [...value] };
  if (Buffer.isBuffer(value)) return { $blob: blob(value) };
  if (Array.isArray(value)) return value.map((v) => encode(v, blob));
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encode(v, blob)]));
  return value;
}

function decode(value: unknown, blob: (name: string) => Buffer): unknown {
  if (Array.isArray(value)) return value.map((v) => decode(v, blob));
  if (value === null || typeof value !== 'object') return value;
  const tagged = value as { $map?: [string, unknown][]; $set?: unknown[]; $blob?: string };
  if (tagged.$map) return new Map(tagged.$map.map(([k, v]) => [k, decode(v, blob)]));
  if (tagged.$set) return new Set(tagged.$set);
  if (typeof tagged.$blob === 'string') return blob(tagged.$blob);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v, blob)]));
}

/**
 * Writes the cloud to `dir`: new object bodies first, then the snapshot that refers to them, then
 * removes bodies no snapshot refers to any more.
 */
export function saveCloud(dir: string, saved: SavedCloud): void {
  const objects = join(dir, OBJECTS);
  mkdirSync(objects, { recursive: true, mode: 0o700 });
  const used = new Set<string>();
  const blob = (data: Buffer) => {
    const name = blobName(data);
    if (!used.has(name) && !existsSync(join(objects, name))) writeFileAtomic(join(objects, name), data);
    used.add(name);
    return name;
  };
  const snapshot = {
    version: VERSION,
    port: saved.port,
    quotas: saved.quotas,
    state: encode(saved.state, blob),
  };
  writeFileAtomic(snapshotFile(dir), JSON.stringify(snapshot));
  for (const name of readdirSync(objects)) if (!used.has(name)) rmSync(join(objects, name), { force: true });
}

/**
 * The cloud saved in `dir`, or undefined when there is none. A snapshot that cannot be read whole
 * (not JSON, another version, a missing object body) is an InputError `cloud_state_unreadable`
 * naming the file.
 */
export function loadCloud(dir: string): SavedCloud | undefined {
  const file = snapshotFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
      version: number;
      port: number;
      quotas: Record<string, Partial<Quotas>>;
      state: unknown;
    };
    if (snapshot.version !== VERSION) throw new Error(`version ${snapshot.version}, expected ${VERSION}`);
    const blob = (name: string) => {
      const data = readFileSync(join(dir, OBJECTS, name));
      blobNames.set(data, name);
      return data;
    };
    const state = Object.assign(new CloudState(), decode(snapshot.state, blob));
    return { state, quotas: snapshot.quotas, port: snapshot.port };
  } catch (error) {
    throw new InputError(`the embedded cloud's state ${file} cannot be read: ${(error as Error).message}`, {
      code: 'cloud_state_unreadable',
      cause: error,
    });
  }
}
