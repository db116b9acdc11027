import { createCinder } from './cinder.ts';
import { createGlance } from './glance.ts';
import { createKeystone } from './keystone.ts';
import { createNeutron } from './neutron.ts';
import { createNova } from './nova.ts';
import { createOctavia } from './octavia.ts';
import { createSession, type Session, type SessionDeps } from './session.ts';
import { createSwift } from './swift.ts';

export * from './config.ts';
export * from './errors.ts';
export * from './retry.ts';
export * from './session.ts';
export * from './wait.ts';
export * from './keystone.ts';
export * from './nova.ts';
export * from './glance.ts';
export * from './neutron.ts';
export * from './swift.ts';
export * from './octavia.ts';
export * from './cinder.ts';

/** Every service client of one cloud, sharing one session (one token, one catalog). */
export interface Cloud {
  session: Session;
  keystone: ReturnType<typeof createKeystone>;
  nova: ReturnType<typeof createNova>;
  glance: ReturnType<typeof createGlance>;
  neutron: ReturnType<typeof createNeutron>;
  swift: ReturnType<typeof createSwift>;
  octavia: ReturnType<typeof createOctavia>;
  cinder: ReturnType<typeof createCinder>;
}

/** Builds the clients of one cloud; pass `session` to share an existing one. */
export function createCloud(
  deps: SessionDeps & { session?: Session; sleep?: (ms: number) => Promise<void> },
): Cloud {
  const session = deps.session ?? createSession(deps);
  const waitDeps = { ...(deps.now ? { now: deps.now } : {}), ...(deps.sleep ? { sleep: deps.sleep } : {}) };
  return {
    session,
    keystone: createKeystone(session),
    nova: createNova(session, waitDeps),
    glance: createGlance(session),
    neutron: createNeutron(session),
    swift: createSwift(session),
    octavia: createOctavia(session, waitDeps),
    cinder: createCinder(session, waitDeps),
  };
}
