import type { Env } from './http.ts';
import { hexId } from './state.ts';

/** One catalog entry; `path` is appended to the cloudsim URL and may hold `%(project_id)s`. */
export interface CatalogService {
  id: string;
  type: string;
  name: string;
  path: string;
  endpointIds: { public: string; internal: string; admin: string };
}

/** The services cloudsim serves, in the order the lab's catalog lists its own. */
export function defaultCatalog(): CatalogService[] {
  const entry = (type: string, name: string, path: string): CatalogService => ({
    id: hexId(),
    type,
    name,
    path,
    endpointIds: { public: hexId(), internal: hexId(), admin: hexId() },
  });
  return [
    entry('identity', 'keystone', '/v3'),
    entry('object-store', 'swift', '/object-store/v1/AUTH_%(project_id)s'),
    entry('image', 'glance', '/image'),
    entry('network', 'neutron', '/network'),
    entry('compute', 'nova', '/compute/v2.1'),
    entry('load-balancer', 'octavia', '/load-balancer'),
    entry('volumev3', 'cinderv3', '/volume/v3/%(project_id)s'),
    entry('block-storage', 'cinder', '/volume/v3/%(project_id)s'),
  ];
}

/** The catalog as Keystone renders it in a token, project id substituted. */
export function catalogFor(env: Env, projectId: string): unknown[] {
  return env.catalog.map((s) => ({
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: s.endpointIds[iface],
      interface: iface,
      region_id: 'RegionOne',
      url: env.url + s.path.replace('%(project_id)s', projectId),
      region: 'RegionOne',
    })),
    id: s.id,
    type: s.type,
    name: s.name,
  }));
}
