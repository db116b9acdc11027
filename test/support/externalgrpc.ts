/**
 * cluster-autoscaler's side of the externalgrpc provider in tests: a grpc-js client generated from
 * the same externalgrpc.proto kaas serves (the Go module proxy refuses the real autoscaler).
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { KeyPair } from '../../src/auth/pki.ts';
import {
  EXTERNALGRPC_PROTO,
  EXTERNALGRPC_SERVICE,
  PROTO_OPTIONS,
} from '../../src/server/externalgrpc/server.ts';

/** One unary call by method name, answering the decoded response. */
export type Call = (method: string, request: object) => Promise<Record<string, unknown>>;

/**
 * A client of the provider on 127.0.0.1:`port` trusting `caPem` and presenting `cert` (none: no
 * client certificate); calls time out after 10 s.
 */
export function externalGrpcClient(
  port: number,
  caPem: string,
  cert: KeyPair | undefined,
): { call: Call; close: () => void } {
  const pkg = grpc.loadPackageDefinition(loadSync(EXTERNALGRPC_PROTO, PROTO_OPTIONS));
  const Ctor = EXTERNALGRPC_SERVICE.split('.').reduce<unknown>(
    (at, part) => (at as Record<string, unknown>)[part],
    pkg,
  ) as grpc.ServiceClientConstructor;
  const creds = grpc.credentials.createSsl(
    Buffer.from(caPem),
    cert ? Buffer.from(cert.keyPem) : null,
    cert ? Buffer.from(cert.certPem) : null,
  );
  const stub = new Ctor(`127.0.0.1:${port}`, creds) as unknown as Record<
    string,
    (req: object, opts: object, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void) => void
  >;
  return {
    call: (method, request) =>
      new Promise((resolve, reject) =>
        stub[method]!.call(stub, request, { deadline: Date.now() + 10_000 }, (error, response) =>
          error ? reject(error) : resolve(response),
        ),
      ),
    close: () => (stub as unknown as grpc.Client).close(),
  };
}
