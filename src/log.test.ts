import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogFormat } from './log.ts';

function capture(format: LogFormat) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ format, destination, level: 'info' }) };
}

describe('log lines', () => {
  it('text: time, level, message and fields, secrets redacted', () => {
    const { lines, logger } = capture('text');
    logger.info(
      {
        cluster: 'c1',
        password: 'hunter2',
        req: { method: 'GET', url: '/api/v1/x', remoteAddress: '127.0.0.1' },
        note: 'two words',
        responseTime: 2.8894,
      },
      'hello',
    );
    logger.error({ err: new Error('boom') }, 'job failed');
    logger.debug('not shown');
    expect(lines).toEqual([
      expect.stringMatching(
        /^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello cluster=c1 password=\[redacted\] req\.method=GET req\.url=\/api\/v1\/x note="two words" responseTime=2\.9\n$/,
      ),
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} ERROR job failed err=boom\n$/),
    ]);
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('json: one object per line, as before', () => {
    const { lines, logger } = capture('json');
    logger.warn({ token: 'kaas_secret' }, 'careful');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 40, msg: 'careful', token: '[redacted]' });
  });
});
