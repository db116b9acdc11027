import type { KeystoneDirectory } from './directory.ts';
import type { AuthMetrics } from './metrics.ts';

/** Wraps a directory so every Keystone call is counted (the benchmark asserts zero on the hot path). */
export function countingDirectory(inner: KeystoneDirectory, metrics: AuthMetrics): KeystoneDirectory {
  function wrap<A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      try {
        const result = await fn(...args);
        metrics.keystoneCalls.inc({ operation, outcome: 'ok' });
        return result;
      } catch (error) {
        metrics.keystoneCalls.inc({ operation, outcome: 'error' });
        throw error;
      }
    };
  }
  return {
    authenticate: wrap('authenticate', (input) => inner.authenticate(input)),
    listUsers: wrap('listUsers', () => inner.listUsers()),
    listRoleAssignments: wrap('listRoleAssignments', (projectId: string) =>
      inner.listRoleAssignments(projectId),
    ),
    getProject: wrap('getProject', (id: string) => inner.getProject(id)),
  };
}
