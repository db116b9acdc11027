import { UpstreamError } from '../errors.ts';
import { isOpenStackError } from './errors.ts';
import type { Query, Session } from './session.ts';
import { pollUntil, type WaitDeps, type WaitOptions } from './wait.ts';

/**
 * Compute microversion kaas speaks: 2.79 has server tags (2.26), user_data in server show (2.3),
 * `policy` on server groups (2.64) and is served by every Nova since Train (the lab's Zed: 2.93).
 */
export const NOVA_MICROVERSION = '2.79';

/** A network attachment: an existing port, or a network where Nova creates the port. */
export type ServerNetwork = { uuid: string; fixed_ip?: string } | { port: string };

/** What kaas passes when booting a node. */
export interface CreateServerInput {
  name: string;
  flavorRef: string;
  imageRef: string;
  networks: ServerNetwork[] | 'none' | 'auto';
  keyName?: string;
  /** Plain text (cloud-config / Ignition); base64-encoded here. */
  userData?: string;
  configDrive?: boolean;
  metadata?: Record<string, string>;
  tags?: string[];
  /** Security group names. */
  securityGroups?: string[];
  /** Server group to schedule into (anti-affinity for control planes). */
  serverGroupId?: string;
  availabilityZone?: string;
}

/** A server as `GET /servers/{id}` returns it at {@link NOVA_MICROVERSION}. */
export interface Server {
  id: string;
  name: string;
  status: string;
  tags?: string[];
  metadata: Record<string, string>;
  key_name: string | null;
  addresses: Record<string, { addr: string; version: number; 'OS-EXT-IPS:type'?: string }[]>;
  flavor: { original_name?: string; vcpus?: number; ram?: number; disk?: number };
  image: { id: string } | '';
  fault?: { code: number; message: string; details?: string };
  'OS-EXT-SRV-ATTR:user_data'?: string | null;
  'OS-EXT-STS:task_state'?: string | null;
  created: string;
  updated: string;
}

/** A flavor. */
export interface Flavor {
  id: string;
  name: string;
  ram: number;
  vcpus: number;
  disk: number;
  'os-flavor-access:is_public'?: boolean;
}

/** A keypair (the private key only appears when Nova generated it). */
export interface Keypair {
  name: string;
  public_key: string;
  fingerprint: string;
  type?: string;
  private_key?: string;
}

/** Scheduling policies of server groups. */
export type ServerGroupPolicy = 'anti-affinity' | 'soft-anti-affinity' | 'affinity' | 'soft-affinity';

/** A server group. */
export interface ServerGroup {
  id: string;
  name: string;
  policy: ServerGroupPolicy;
  members: string[];
}

/** Nova calls kaas makes to boot and remove cluster nodes. */
export function createNova(session: Session, deps: WaitDeps = {}) {
  const headers = {
    'openstack-api-version': `compute ${NOVA_MICROVERSION}`,
    'x-openstack-nova-api-version': NOVA_MICROVERSION,
  };
  const e = encodeURIComponent;
  const req = <T>(method: string, path: string, opts: Parameters<Session['request']>[3] = {}) =>
    session.request<T>('compute', method, path, { ...opts, headers: { ...headers, ...opts.headers } });

  async function list<T>(path: string, itemsKey: string, query: Query): Promise<T[]> {
    const out: T[] = [];
    for await (const item of session.paginate<T>('compute', path, { itemsKey, query, headers }))
      out.push(item);
    return out;
  }

  async function getServer(id: string): Promise<Server> {
    return (await req<{ server: Server }>('GET', `/servers/${e(id)}`)).body.server;
  }

  return {
    /** Boots a server; returns its id at once (it is BUILDing). Not retried: a POST may have created it. */
    async createServer(input: CreateServerInput): Promise<{ id: string }> {
      const server: Record<string, unknown> = {
        name: input.name,
        flavorRef: input.flavorRef,
        imageRef: input.imageRef,
        networks: input.networks,
      };
      if (input.keyName) server.key_name = input.keyName;
      if (input.userData !== undefined)
        server.user_data = Buffer.from(input.userData, 'utf8').toString('base64');
      if (input.configDrive !== undefined) server.config_drive = input.configDrive;
      if (input.metadata) server.metadata = input.metadata;
      if (input.tags) server.tags = input.tags;
      if (input.securityGroups) server.security_groups = input.securityGroups.map((name) => ({ name }));
      if (input.availabilityZone) server.availability_zone = input.availabilityZone;
      const body: Record<string, unknown> = { server };
      if (input.serverGroupId) body['os:scheduler_hints'] = { group: input.serverGroupId };
      const res = await req<{ server: { id: string } }>('POST', '/servers', { json: body });
      return { id: res.body.server.id };
    },
    getServer,
    /** Lists servers with details; `tags` matches servers having all of them. */
    async listServers(filter: { name?: string; tags?: string[]; tagsAny?: string[]; status?: string } = {}) {
      return list<Server>('/servers/detail', 'servers', {
        name: filter.name,
        status: filter.status,
        tags: filter.tags?.join(','),
        'tags-any': filter.tagsAny?.join(','),
      });
    },
    async deleteServer(id: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await req('DELETE', `/servers/${e(id)}`, options.ignoreMissing ? { okStatuses: [404] } : {});
    },
    /** The user_data the server was booted with (admin only), decoded. */
    async getServerUserData(id: string): Promise<string | undefined> {
      const s = await getServer(id);
      const ud = s['OS-EXT-SRV-ATTR:user_data'];
      return ud ? Buffer.from(ud, 'base64').toString('utf8') : undefined;
    },
    /** Waits until the server reaches `status`; fails at once on ERROR with Nova's fault message. */
    async waitForServerStatus(id: string, status = 'ACTIVE', options: WaitOptions = {}): Promise<Server> {
      return pollUntil(
        `server ${id} to become ${status}`,
        async () => {
          const s = await getServer(id);
          if (s.status === status) return { done: true, value: s };
          if (s.status === 'ERROR') {
            throw new UpstreamError(
              `Server ${s.name} (${id}) failed: ${s.fault?.message ?? 'no fault reported'}`,
              {
                code: 'openstack_resource_failed',
              },
            );
          }
          return { done: false, state: s.status };
        },
        deps,
        options,
      );
    },
    /** Waits until the server is gone (404). */
    async waitForServerDeleted(id: string, options: WaitOptions = {}): Promise<void> {
      await pollUntil(
        `server ${id} to be deleted`,
        async () => {
          try {
            const s = await getServer(id);
            return { done: false, state: s.status };
          } catch (err) {
            if (isOpenStackError(err, 'openstack_not_found')) return { done: true, value: undefined };
            throw err;
          }
        },
        deps,
        options,
      );
    },

    /** Imports a public key, or lets Nova generate one when `publicKey` is absent. */
    async createKeypair(input: {
      name: string;
      publicKey?: string;
      type?: 'ssh' | 'x509';
    }): Promise<Keypair> {
      const keypair = {
        name: input.name,
        ...(input.publicKey ? { public_key: input.publicKey } : {}),
        ...(input.type ? { type: input.type } : {}),
      };
      return (await req<{ keypair: Keypair }>('POST', '/os-keypairs', { json: { keypair } })).body.keypair;
    },
    async getKeypair(name: string): Promise<Keypair> {
      return (await req<{ keypair: Keypair }>('GET', `/os-keypairs/${e(name)}`)).body.keypair;
    },
    async deleteKeypair(name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await req('DELETE', `/os-keypairs/${e(name)}`, options.ignoreMissing ? { okStatuses: [404] } : {});
    },

    /** All flavors the caller may use (admins also see private ones). */
    async listFlavors(): Promise<Flavor[]> {
      return list<Flavor>('/flavors/detail', 'flavors', { is_public: 'None' });
    },
    async findFlavorByName(name: string): Promise<Flavor | undefined> {
      return (await list<Flavor>('/flavors/detail', 'flavors', { is_public: 'None' })).find(
        (f) => f.name === name,
      );
    },
    async getFlavor(id: string): Promise<Flavor> {
      return (await req<{ flavor: Flavor }>('GET', `/flavors/${e(id)}`)).body.flavor;
    },
    /** Creates a flavor (admin); kaas uses it only in labs and tests. */
    async createFlavor(input: { name: string; ram: number; vcpus: number; disk: number }): Promise<Flavor> {
      return (await req<{ flavor: Flavor }>('POST', '/flavors', { json: { flavor: input } })).body.flavor;
    },
    async deleteFlavor(id: string): Promise<void> {
      await req('DELETE', `/flavors/${e(id)}`);
    },

    async createServerGroup(input: { name: string; policy: ServerGroupPolicy }): Promise<ServerGroup> {
      return (
        await req<{ server_group: ServerGroup }>('POST', '/os-server-groups', {
          json: { server_group: input },
        })
      ).body.server_group;
    },
    async getServerGroup(id: string): Promise<ServerGroup> {
      return (await req<{ server_group: ServerGroup }>('GET', `/os-server-groups/${e(id)}`)).body
        .server_group;
    },
    async listServerGroups(): Promise<ServerGroup[]> {
      return list<ServerGroup>('/os-server-groups', 'server_groups', {});
    },
    async deleteServerGroup(id: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
      await req('DELETE', `/os-server-groups/${e(id)}`, options.ignoreMissing ? { okStatuses: [404] } : {});
    },
  };
}

/** The Nova client returned by {@link createNova}. */
export type Nova = ReturnType<typeof createNova>;
