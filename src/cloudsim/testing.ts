import type { Cloudsim } from './index.ts';

/** Helpers for cloudsim's own tests and for other suites that drive a cloudsim with plain fetch. */
export interface Session {
  token: string;
  projectId: string;
  userId: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  json<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T>;
}

/** Password login with project scope; `path` of call/json is appended to the cloudsim URL. */
export async function login(
  cloud: Cloudsim,
  user = 'admin',
  password = 'secret',
  project = 'admin',
): Promise<Session> {
  const res = await fetch(`${cloud.authUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`login ${user} failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: { project: { id: string }; user: { id: string } } };
  const token = res.headers.get('x-subject-token') as string;
  const call = (method: string, path: string, payload?: unknown, headers: Record<string, string> = {}) =>
    fetch(cloud.url + path, {
      method,
      headers: {
        'x-auth-token': token,
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
  return {
    token,
    projectId: body.token.project.id,
    userId: body.token.user.id,
    call,
    async json<T>(method: string, path: string, payload?: unknown, headers?: Record<string, string>) {
      const r = await call(method, path, payload, headers);
      const text = await r.text();
      if (r.status >= 400) throw new Error(`${method} ${path} → ${r.status} ${text}`);
      return (text ? JSON.parse(text) : {}) as T;
    },
  };
}
