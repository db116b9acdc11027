import { expect, it } from 'vitest';
import { describeOnEngines } from '../../../test/support/databases.ts';
import { PassThrough } from 'node:stream';
import { decodeEnrolledFiles, encodeEnrolledFiles } from '../../bootstrap/node.ts';
import { enrollmentStore, newEnrollmentCredential } from '../../provisioner/enrollment.ts';
import { createLogger } from '../../log.ts';
import { buildApp } from '../app.ts';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const FILES = [
  { path: '/var/lib/kaas/kubeadm.yaml', content: 'token: abcdef.0123456789abcdef\n', mode: 0o600 },
];

/** A logger at debug level whose lines the test reads back. */
function captureLogger() {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  return { logger: createLogger({ level: 'debug', destination: out }), text: () => lines.join('') };
}

describeOnEngines('node enrollment', ({ store }) => {
  it('answers a credential once with its files, then never again; every attempt is audited without it', async () => {
    let now = T0;
    const { db } = store();
    const { logger, text } = captureLogger();
    const app = await buildApp({ store: store(), logger, now: () => new Date(now) });
    const save = enrollmentStore(db, () => new Date(now), 60_000);
    const credential = newEnrollmentCredential();
    await save({
      clusterId: 'c1',
      nodeName: 'kaas-a-master-0',
      credential,
      files: encodeEnrolledFiles(FILES),
    });
    // The store keeps neither the credential nor the files in the clear.
    const [row] = await db.selectFrom('enrollments').selectAll().execute();
    expect(JSON.stringify(row)).not.toContain(credential);
    expect(JSON.stringify(row)).not.toContain('abcdef.0123456789abcdef');

    const enroll = (clusterId: string, authorization?: string) =>
      app.inject({
        method: 'POST',
        url: `/enroll/${clusterId}`,
        headers: authorization === undefined ? {} : { authorization },
      });
    // Another cluster's path does not redeem (nor use up) the credential.
    expect((await enroll('c2', `Bearer ${credential}`)).statusCode).toBe(401);
    now += 59_000;
    const first = await enroll('c1', `Bearer ${credential}`);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(first.headers['cache-control']).toBe('no-store');
    expect(decodeEnrolledFiles(first.body)).toEqual(FILES.map((f) => ({ ...f, secret: true })));
    const again = await enroll('c1', `Bearer ${credential}`);
    expect(again.statusCode).toBe(401);
    expect(again.json()).toEqual({
      error: {
        code: 'enrollment_unknown',
        message: 'no such enrollment: the credential is wrong, for another cluster, or already used',
      },
    });
    for (const header of [undefined, 'Bearer', `Basic ${credential}`, `Bearer ${'x'.repeat(200)}`]) {
      expect((await enroll('c1', header)).statusCode).toBe(401);
    }
    const audit = await db.selectFrom('audit_events').selectAll().execute();
    // One entry, the redemption: refusals (anyone may send them) are log lines only.
    expect(audit.filter((e) => e.action === 'node.enroll').map((e) => [e.outcome, e.target])).toEqual([
      ['success', 'kaas-a-master-0'],
    ]);
    expect(text()).toContain('enrollment refused');
    expect(JSON.stringify(audit)).not.toContain(credential);
    expect(text()).not.toContain(credential);
    expect(text()).not.toContain('abcdef.0123456789abcdef');
    await app.close();
  });

  it('refuses a credential past its lifetime and forgets it; expired enrollments are dropped by later ones', async () => {
    let now = T0;
    const { db } = store();
    const { logger } = captureLogger();
    const app = await buildApp({ store: store(), logger, now: () => new Date(now) });
    const save = enrollmentStore(db, () => new Date(now), 60_000);
    const late = newEnrollmentCredential();
    const never = newEnrollmentCredential();
    await save({ clusterId: 'c1', nodeName: 'n1', credential: late, files: '' });
    await save({ clusterId: 'c1', nodeName: 'n2', credential: never, files: '' });
    now += 60_000;
    const res = await app.inject({
      method: 'POST',
      url: '/enroll/c1',
      headers: { authorization: `Bearer ${late}` },
    });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('enrollment_expired');
    // n2 never booted: the next enrollment's insert drops it.
    await save({ clusterId: 'c1', nodeName: 'n3', credential: newEnrollmentCredential(), files: '' });
    expect((await db.selectFrom('enrollments').select('node').execute()).map((r) => r.node)).toEqual(['n3']);
    await app.close();
  });

  it('answers only one of two nodes racing with the same credential', async () => {
    const { db } = store();
    const app = await buildApp({ store: store(), logger: captureLogger().logger, now: () => new Date(T0) });
    const credential = newEnrollmentCredential();
    await enrollmentStore(db, () => new Date(T0))({ clusterId: 'c1', nodeName: 'n1', credential, files: '' });
    const race = await Promise.all(
      [1, 2, 3].map(() =>
        app.inject({ method: 'POST', url: '/enroll/c1', headers: { authorization: `Bearer ${credential}` } }),
      ),
    );
    expect(race.map((r) => r.statusCode).sort()).toEqual([200, 401, 401]);
    await app.close();
  });
});
