/**
 * A byte stream to one port of a pod through the cluster's API server (`pods/portforward`), so kaas
 * reaches a port that is open only inside the cluster (a master's etcd on 2379) through the one
 * address it can reach, the API. It speaks the WebSocket port-forward protocol `v4.channel.k8s.io`
 * that the API server proxies to the kubelet (and kwok) unchanged: every message starts with a
 * channel byte, 0 for data and 1 for errors; the first two bytes of each channel are the forwarded
 * port (little endian), and the kubelet writes why it could not reach the port on the error channel
 * before it closes. One WebSocket carries one TCP connection, as `kubectl port-forward` does.
 */
import { Duplex } from 'node:stream';
import { fetch, WebSocket, type Dispatcher } from 'undici';
import { InputError, UpstreamError } from '../errors.ts';
import { unreachableReason } from './unreachable.ts';

const DATA = 0;
const ERROR = 1;
/** Bytes of the port number that open each channel. */
const PORT_PREFIX = 2;

/** Where to forward to, and how to reach the API. */
export interface PortForwardOptions {
  /** The API server, `https://host:port`. */
  server: string;
  /** Authenticates kaas to the API (its break-glass client certificate) and trusts the cluster CA. */
  dispatcher: Dispatcher;
  namespace: string;
  pod: string;
  port: number;
  /** How long the API may take to open the stream; default 10 s. */
  timeoutMs?: number;
}

/**
 * Opens the stream. Fails with UpstreamError `port_forward_pod_missing` when the pod does not exist,
 * `port_forward_timeout` when the API does not open it in time, `port_forward_failed` otherwise;
 * once open, the stream is destroyed with `port_forward_failed` carrying the kubelet's reason when
 * the pod's end refuses or drops the connection (e.g. nothing listens on the port).
 */
export async function openPortForward(options: PortForwardOptions): Promise<Duplex> {
  if (!/^https:\/\/[^/?#\s]+\/*$/.test(options.server)) {
    throw new InputError(`"${options.server}" is not an https API address`, { field: 'server' });
  }
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
    throw new InputError(`${options.port} is not a port`, { field: 'port' });
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const what = `port-forward to ${options.namespace}/${options.pod}:${options.port}`;
  const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods/${encodeURIComponent(options.pod)}/portforward?ports=${options.port}`;
  const base = options.server.replace(/\/+$/, '');
  const ws = new WebSocket(`wss${base.slice('https'.length)}${path}`, {
    protocols: ['v4.channel.k8s.io'],
    dispatcher: options.dispatcher,
  });
  ws.binaryType = 'arraybuffer';

  const skip = [PORT_PREFIX, PORT_PREFIX];
  let reason = '';
  const stream = new Duplex({
    read() {},
    // No flow control beyond the WebSocket's own buffer: etcd's requests and answers are small.
    write(chunk: Buffer, _encoding, callback) {
      if (ws.readyState !== WebSocket.OPEN) return callback(failed(`${what} is closed`));
      ws.send(Buffer.concat([Buffer.of(DATA), chunk]));
      callback();
    },
    final(callback) {
      ws.close();
      callback();
    },
    destroy(error, callback) {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      callback(error);
    },
  });
  ws.addEventListener('message', (event) => {
    let bytes = Buffer.from(event.data as ArrayBuffer);
    const channel = bytes[0];
    if (channel !== DATA && channel !== ERROR) return;
    bytes = bytes.subarray(1);
    const prefix = Math.min(skip[channel] ?? 0, bytes.length);
    skip[channel] = (skip[channel] ?? 0) - prefix;
    bytes = bytes.subarray(prefix);
    if (bytes.length === 0) return;
    if (channel === DATA) stream.push(bytes);
    else reason += bytes.toString('utf8');
  });

  let opened = false;
  let timedOut = false;
  ws.addEventListener('close', () => {
    if (!opened || stream.destroyed) return;
    if (reason !== '') stream.destroy(failed(`${what}: ${reason.trim()}`));
    else stream.push(null);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      timedOut = true;
      ws.close();
      reject(
        new UpstreamError(`${what}: the API did not open the stream within ${timeoutMs} ms`, {
          code: 'port_forward_timeout',
        }),
      );
    }, timeoutMs);
    ws.addEventListener('open', () => {
      clearTimeout(timer);
      opened = true;
      resolve();
    });
    ws.addEventListener('error', () => {
      if (opened) {
        if (!stream.destroyed) stream.destroy(failed(`${what} broke${reason ? `: ${reason.trim()}` : ''}`));
        return;
      }
      if (timedOut) return;
      clearTimeout(timer);
      // The WebSocket API hides the refused handshake's answer: ask the API again without the
      // upgrade, which answers the pod lookup with its own status (404 for a missing pod).
      explainRefusal(options, base, path, what).then(reject, reject);
    });
  });
  return stream;
}

function failed(message: string): UpstreamError {
  return new UpstreamError(message, { code: 'port_forward_failed' });
}

async function explainRefusal(
  options: PortForwardOptions,
  base: string,
  path: string,
  what: string,
): Promise<UpstreamError> {
  let status: number;
  let text: string;
  try {
    const res = await fetch(`${base}${path}`, {
      dispatcher: options.dispatcher,
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    status = res.status;
    text = await res.text();
  } catch (error) {
    return failed(`${what}: ${unreachableReason(error)}`);
  }
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // not a Status object: keep the text
  }
  if (status === 404) {
    return new UpstreamError(`${what}: ${message}`, { code: 'port_forward_pod_missing' });
  }
  // 400 "Upgrade request required" means the API found the pod and only the upgrade failed: the
  // API server could not reach the pod's kubelet, or refused the WebSocket.
  return failed(
    status === 400 && /upgrade/i.test(message)
      ? `${what}: the API server found the pod but could not open the stream to its node's kubelet`
      : `${what}: the API answered ${status}: ${message}`,
  );
}
