import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createAuthService } from '../auth/service.ts';
import { keystoneDirectory } from '../auth/directory.ts';
import { startCloudsim } from '../cloudsim/index.ts';
import { createLogger } from '../log.ts';
import { createCloud } from '../openstack/index.ts';
import { resolveCloudConfig } from '../openstack/config.ts';
import { buildApp } from '../server/app.ts';
import { openStore } from '../store/db.ts';
import { findCluster } from '../store/findCluster.ts';
import { insertCluster } from '../store/insertCluster.ts';
import { migrateToLatest } from '../store/migrate.ts';

/** `kaas dev`: cloudsim + the kaas server with SQLite in ./.kaas, seeded with the demo users. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run kaas with its embedded cloud (cloudsim) on 127.0.0.1')
    .action(async () => {
      const logger = createLogger();
      const now = () => new Date();
      const cloud = await startCloudsim({ logger });
      const demo = cloud.seedProject({ name: 'demo' });
      const adminRole = cloud.seedRole('kubernetes-admins');
      const memberRole = cloud.seedRole('member');
      const readerRole = cloud.seedRole('reader');
      const admin = cloud.seedUser({ name: 'admin', password: 'admin' });
      const demoUser = cloud.seedUser({ name: 'demo', password: 'demo' });
      cloud.assignRole({ projectId: demo.id, roleId: adminRole.id, userId: admin.id });
      cloud.assignRole({ projectId: demo.id, roleId: memberRole.id, userId: demoUser.id });
      // kaas' own least-privilege service user: a reader that may read role assignments.
      const service = cloud.seedUser({ name: 'kaas-service', password: 'kaas-service-dev' });
      cloud.assignRole({ projectId: demo.id, roleId: readerRole.id, userId: service.id });
      const config = resolveCloudConfig({
        env: {
          OS_AUTH_URL: cloud.authUrl,
          OS_USERNAME: 'kaas-service',
          OS_PASSWORD: 'kaas-service-dev',
          OS_PROJECT_NAME: 'demo',
          OS_USER_DOMAIN_NAME: 'Default',
          OS_PROJECT_DOMAIN_NAME: 'Default',
          OS_REGION_NAME: 'RegionOne',
        },
      });
      const store = openStore('sqlite:.kaas/kaas.db');
      await migrateToLatest(store.db);
      if (!(await findCluster({ db: store.db, id: 'dev' }))) {
        await insertCluster({
          db: store.db,
          cluster: {
            id: 'dev',
            name: 'dev',
            projectId: demo.id,
            projectName: 'demo',
            adminRoleIds: [adminRole.id],
            createdAt: now().toISOString(),
          },
        });
      }
      const auth = createAuthService({
        store,
        directory: keystoneDirectory(createCloud({ config, logger })),
        logger,
        now,
      });
      auth.start();
      const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));
      if (!existsSync(webRoot))
        logger.warn('web/dist is missing: run `npm run build:web` for the control panel');
      const app = await buildApp({ store, logger, now, auth, ...(existsSync(webRoot) ? { webRoot } : {}) });
      const port = Number(process.env.PORT ?? 8080);
      await app.listen({ host: '127.0.0.1', port });
      process.stderr.write(
        `\nkaas control panel: http://127.0.0.1:${port}/\ncloudsim auth URL:  ${cloud.authUrl}\n` +
          'users (domain Default): admin/admin (kubernetes-admins on demo), demo/demo (member)\n\n',
      );
    });
}
