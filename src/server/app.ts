import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AuthService, Principal } from '../auth/service.ts';
import type { Logger } from '../log.ts';
import type { Cloud } from '../openstack/index.ts';
import type { ObservedState } from '../provisioner/observe.ts';
import type { Provisioner } from '../provisioner/provisioner.ts';
import type { Store } from '../store/db.ts';
import { dropUnusedConnectionsOnClose } from './connections.ts';
import { errorHandler } from './errors.ts';
import { ajvOptions, registerOpenApi } from './openapi.ts';
import { registerAudit } from './audit.ts';
import { registerPrincipal } from './principal.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerCatalogRoutes } from './routes/catalog.ts';
import { registerEnrollRoutes } from './routes/enroll.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { clusterGuard, registerClusterRoutes } from './routes/clusters.ts';
import { registerMetricsRoute } from './routes/metrics.ts';
import { registerPanelRoutes } from './routes/panel.ts';
import { registerSessionRoutes } from './routes/session.ts';
import { registerStaticRoutes } from './routes/static.ts';
import { registerTokenReviewRoutes, type ReplayedBodies } from './routes/tokenreview.ts';
import { registerTokenRoutes } from './routes/tokens.ts';
import { webhookInFront, type RequestListener } from './webhook.ts';
import { noLouderThan } from '../log.ts';

/** Everything the HTTP layer needs, passed in (no module-level state). */
export interface ServerDeps {
  store: Store;
  logger: Logger;
  now: () => Date;
  /** The auth service (createAuthService); without it only /healthz and /readyz are served. */
  auth?: AuthService;
  /** Serves the cluster lifecycle API when given (needs `auth`). */
  provisioner?: Provisioner;
  /** Who may create clusters over the API; without it creation is for the operator CLI only. */
  isOperator?: (principal: Principal) => Promise<boolean>;
  /**
   * The provisioner's cloud (the project clusters are built in): the control panel's create form
   * offers its flavors and images. Without it the form's catalogue routes are not served.
   */
  cloud?: Pick<Cloud, 'nova' | 'glance'>;
  /**
   * The environment the create form's defaults come from, as `kaas cluster create` reads its own
   * (KUBE_IMAGE, KUBE_ADMIN_ROLE_ID, NUM_NODES…, KAAS_WAIT_FOR_API); default none.
   */
  createEnv?: Readonly<Record<string, string | undefined>>;
  /** Reads a cluster's Nodes for the panel; default the provisioner's observeCluster. */
  observe?: (clusterId: string) => Promise<ObservedState>;
  /** The built control panel (web/dist), served at / when given. */
  webRoot?: string;
  /**
   * The URL users reach kaas at (KAAS_PUBLIC_URL, else where `kaas serve` listens), for anything
   * handed out that names kaas: never taken from the Host header, which any caller chooses.
   */
  publicUrl?: () => string;
}

export interface ServerOptions {
  /** Largest accepted request body in bytes; TokenReview bodies are tiny, so keep this small. */
  bodyLimit?: number;
  /** Serve HTTPS with this key and certificate (PEM), e.g. from auth/pki.ts. */
  https?: { key: string; cert: string };
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>` (KAAS_METRICS_TOKEN). */
  metricsToken?: string;
  /**
   * Addresses and CIDR ranges of the reverse proxies in front of kaas (KAAS_TRUSTED_PROXIES): only
   * from these peers are X-Forwarded-For/-Proto/-Host believed, so a direct caller cannot pick the
   * client address the login throttle keys on. Empty or absent: no proxy is trusted.
   */
  trustedProxies?: string[];
}

/** Builds the kaas Fastify app: JSON API, TokenReview webhook, control panel, /healthz, /readyz, /metrics, /openapi.json. */
export async function buildApp(deps: ServerDeps, options: ServerOptions = {}): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimit ?? 64 * 1024;
  const nextRequestId = requestIds();
  // The server's listener: Fastify's own, until the webhook's plain handler is put in front of it.
  let listener: RequestListener | undefined;
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit,
    // kube-apiserver appends ?timeout=30s to webhook calls; routes match on the path alone anyway.
    routerOptions: { ignoreTrailingSlash: true },
    trustProxy: options.trustedProxies?.length ? options.trustedProxies : false,
    ajv: ajvOptions,
    genReqId: nextRequestId,
    // Fastify then only names the scheme in listen()'s address: serverFactory makes the server.
    ...(options.https ? { https: options.https } : {}),
    serverFactory: (handler, fastifyOptions) => {
      listener = handler;
      return serverOf(options.https, fastifyOptions, (req, res) => listener?.(req, res));
    },
  }) as unknown as FastifyInstance;
  dropUnusedConnectionsOnClose(app, options.https !== undefined);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    }),
  );
  registerOpenApi(app, { title: 'kaas', version: '1' });
  registerHealthRoutes(app, { store: deps.store });
  registerEnrollRoutes(app, deps);
  if (deps.auth) {
    const auth = deps.auth;
    // The webhook and /metrics sit outside the API's scope: kube-apiserver calls the webhook on
    // every request it authenticates, so it must not pay for cookie parsing, the principal lookup
    // or the audit hooks, none of which apply to it.
    const replayed: ReplayedBodies = new WeakMap();
    registerTokenReviewRoutes(app, auth, replayed);
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    listener = webhookInFront(
      {
        auth,
        logger: deps.logger,
        bodyLimit,
        parseJson: app.getDefaultJsonParser('error', 'error'),
        routeLogLevel: noLouderThan(app.log.level, 'warn'),
        nextRequestId,
        replayed,
        closing: () => closing,
      },
      listener as RequestListener,
    );
    registerMetricsRoute(app, [auth.metrics.registry], { token: options.metricsToken });
    await app.register(async (api) => {
      await api.register(cookie);
      registerPrincipal(api, auth);
      registerAudit(api, { store: deps.store, now: deps.now });
      registerSessionRoutes(api, auth);
      registerTokenRoutes(api, auth);
      const provisioner = deps.provisioner;
      const observe = deps.observe ?? (provisioner && ((id: string) => provisioner.observeCluster(id)));
      const panel = { ...deps, ...(observe ? { observe } : {}) };
      registerPanelRoutes(api, panel);
      registerAdminRoutes(api, { ...panel, auth });
      if (provisioner) {
        registerClusterRoutes(api, {
          provisioner,
          listRoute: false,
          authorize: clusterGuard(deps.store, deps.isOperator),
        });
        registerCatalogRoutes(api, {
          isOperator: deps.isOperator,
          projects: (userId) => provisioner.requesterProjects(userId),
          ...(deps.cloud ? { cloud: deps.cloud } : {}),
          ...(deps.createEnv ? { createEnv: deps.createEnv } : {}),
        });
      }
    });
  }
  if (deps.webRoot) await registerStaticRoutes(app, { rootDir: deps.webRoot });
  return app;
}

/** Fastify's default request ids (`req-1`, `req-2`…), from one sequence the webhook's plain handler shares. */
function requestIds(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

/** The HTTP(S) server Fastify would make itself (timeouts from its options), with `listener`. */
function serverOf(
  https: ServerOptions['https'],
  fastifyOptions: Record<string, unknown>,
  listener: RequestListener,
): Server {
  const server = https ? createHttpsServer(https, listener) : createHttpServer(listener);
  const { keepAliveTimeout, requestTimeout, connectionTimeout } = fastifyOptions as Record<string, number>;
  server.keepAliveTimeout = keepAliveTimeout as number;
  server.requestTimeout = requestTimeout as number;
  server.setTimeout(connectionTimeout);
  return server;
}
