/**
 * Saves a large cloud state to the directory in argv[2] over and over, each round marked in the
 * default domain's description, until killed: the SIGKILL test of src/cloudsim/persist.ts.
 */
import { saveCloud } from '../../src/cloudsim/persist.ts';
import { bootstrapState } from '../../src/cloudsim/seed.ts';

const dir = process.argv[2] as string;
const state = bootstrapState(Date.now());
// About 8 MB of JSON, so that a write takes long enough to be interrupted.
for (let i = 0; i < 2_000; i++)
  state.projects.set(`p${i}`, {
    id: `p${i}`,
    name: `project-${i}`,
    domainId: 'default',
    description: 'x'.repeat(4_000),
    enabled: true,
    tags: [],
  });
const domain = state.domains.get('default');
if (!domain) throw new Error('no default domain');
for (let round = 1; ; round++) {
  domain.description = `round ${round}`;
  saveCloud(dir, { state, quotas: {}, port: 1 });
  if (round === 1) process.stdout.write('saved\n');
}
