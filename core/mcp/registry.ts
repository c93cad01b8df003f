import { principalOf } from "../auth/principal.ts";
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/client";
import type { Audit } from "../types.ts";
import { createRedactor, layeredRedactor } from "../secrets/redact.ts";
import type { SecretResolver } from "../secrets/resolver.ts";
import type { UserCredentials } from "../secrets/types.ts";
import type { Identity, IdentityMapper, Logger, Upstream } from "../types.ts";
import type { Tracing } from "../observe/tracing.ts";
import { unrefTimer } from "../unref-timer.ts";
import { type CallerChannel, type ListKind, UpstreamConnection } from "./upstream-connection.ts";

/** Listener for list changes of any upstream. */
export type ChangeListener = (server: string, kind: ListKind) => void;

/** The set of upstream connections, keyed by server name, with list-change fan-out. */
export interface UpstreamRegistry {
  /** The shared connection of a server (for per-user servers: the one used by callers without their own credential). */
  get(name: string): UpstreamConnection | undefined;
  /**
   * The connection that serves `identity` on `name`: the shared one, or for a server with per-user
   * credentials the caller's own (created on first use, closed when idle). Throws a JSON-RPC error
   * saying what to set when the server requires a credential the caller has not stored.
   */
  connectionFor(name: string, identity: Identity): Promise<UpstreamConnection | undefined>;
  names(): string[];
  all(): UpstreamConnection[];
  /**
   * A new connection to `name` for one caller session alone (the caller declared sampling, elicitation or
   * roots, set a log level or subscribed): whatever the server starts on it belongs to that caller.
   * Undefined for servers with per-user credentials, whose user connection is used as it is. The caller
   * closes it when the session ends.
   */
  callerConnection(name: string, identity: Identity, channel: CallerChannel): UpstreamConnection | undefined;
  /**
   * Connections open beside the shared ones, by server: `user` for users' own credentials (per-user
   * servers), `caller` for caller sessions that hold connections of their own. For /metrics.
   */
  openConnections(): Record<string, { user: number; caller: number }>;
  /** Subscribes to list changes; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void;
  /** Subscribes to `notifications/resources/updated` of the shared connections (subscriptions made on them); returns the unsubscribe function. */
  onResourceUpdated(listener: (server: string, uri: string) => void): () => void;
  /** Resolves when every upstream has finished its first connection attempt. */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** What the registry needs besides the upstreams. */
export interface RegistryOptions {
  secrets: SecretResolver;
  /** The gateway's identity mappers (a server's own `identity` replaces them). */
  identity: readonly IdentityMapper[];
  /** Users' own credentials, for servers with `perUser`; without it such servers are refused. */
  userCredentials?: UserCredentials;
  /** Where uses of users' own credentials are recorded. */
  audit?: Audit;
  /** The gateway's tracing, handed to every connection (upstream calls of traced requests become spans). */
  tracing?: Tracing;
}

const DEFAULT_IDLE_SECONDS = 600;
const DEFAULT_MAX_CALLER_CONNECTIONS = 32;
// As many as the sessions a user may hold by default (server.maxSessionsPerUser): with the defaults the
// session cap, which closes a user's least recently used session, is reached first.
const DEFAULT_MAX_CALLER_CONNECTIONS_PER_USER = 16;

/**
 * Creates a connection for every configured upstream and starts connecting them all in the background.
 * Servers with per-user credentials get one connection per user on demand instead (a stdio process per
 * user, or an HTTP client with that user's headers).
 *
 * @example
 * const registry = createRegistry({ everything: stdio({ command: "npx", args: ["mcp-server-everything"] }) }, log, { secrets, identity: [identityHeaders()] });
 */
export function createRegistry(servers: Record<string, Upstream>, log: Logger, options: RegistryOptions): UpstreamRegistry {
  const listeners = new Set<ChangeListener>();
  const emit: ChangeListener = (server, kind) => {
    for (const l of listeners) {
      try {
        l(server, kind);
      } catch (err) {
        log.warn("list-change listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  const updateListeners = new Set<(server: string, uri: string) => void>();
  const updated = (server: string, uri: string): void => {
    for (const l of updateListeners) l(server, uri);
  };
  const mappersOf = (u: Upstream) => u.identity === false ? [] : u.identity ?? options.identity;
  const connections = new Map<string, UpstreamConnection>();
  // server (and server + principal) -> connections open for single callers
  const callerConnections = new Map<string, number>();
  // server -> principal (issuer-qualified subject) -> that user's connection
  const perUser = new Map<string, Map<string, Promise<UpstreamConnection>>>();
  for (const [name, upstream] of Object.entries(servers)) {
    connections.set(name, new UpstreamConnection(name, upstream, {
      log,
      onChange: emit,
      onResourceUpdated: updated,
      identity: mappersOf(upstream),
      redactor: options.secrets.redactor,
      tracing: options.tracing,
      context: {
        secret: (secret) => options.secrets.resolve(secret, { server: name }),
        log: (line) => log.info("upstream says", { server: name, line: options.secrets.redactor.redactText(line) }),
      },
    }));
    if (upstream.perUser) perUser.set(name, new Map());
  }
  // A server that requires per-user credentials has nothing to connect with until a user calls.
  const started = Promise.all(
    [...connections.values()].filter((c) => !c.upstream.perUser?.required).map((c) => c.start()),
  ).then(() => undefined);

  // Bumped on every change of a user's credential, so a connection built from a value read before the
  // change is never pooled (a deleted credential must not keep being used).
  const versions = new Map<string, number>();
  const versionOf = (server: string, subject: string): number => versions.get(`${server}\u0000${subject}`) ?? 0;

  const dropUser = (server: string, subject: string): void => {
    const pool = perUser.get(server);
    const conn = pool?.get(subject);
    if (!conn) return;
    pool!.delete(subject);
    conn.then((c) => c.close()).catch(() => undefined);
  };

  const offSecrets = options.secrets.onChange((secret) => {
    for (const c of connections.values()) {
      if (!c.upstream.secretNames?.().includes(secret)) continue;
      log.info("secret changed; reconnecting upstream", { server: c.name, secret });
      c.restart();
      for (const subject of [...(perUser.get(c.name)?.keys() ?? [])]) dropUser(c.name, subject);
    }
  });
  const offUsers = options.userCredentials?.onChange((subject, server) => {
    versions.set(`${server}\u0000${subject}`, versionOf(server, subject) + 1);
    dropUser(server, subject);
  });

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [server, pool] of perUser) {
      const idleMs = (servers[server]!.perUser!.idleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000;
      for (const [subject, conn] of pool) {
        conn.then((c) => {
          if (now - c.lastUsed > idleMs && pool.get(subject) === conn) dropUser(server, subject);
        }).catch(() => undefined);
      }
    }
  }, 30_000);
  unrefTimer(sweep);

  async function userConnection(name: string, upstream: Upstream, identity: Identity): Promise<UpstreamConnection | undefined> {
    const pool = perUser.get(name)!;
    const owner = principalOf(identity);
    const existing = pool.get(owner);
    if (existing) return existing;
    let credential: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const version = versionOf(name, owner);
      credential = await options.userCredentials?.get(owner, name);
      if (versionOf(name, owner) === version) break;
      if (attempt === 2) throw new ProtocolError(ProtocolErrorCode.InternalError, `Your credential for '${name}' is being changed; try again`, { server: name });
    }
    // A found credential is audited by the credential store itself; a missing one is recorded here.
    if (credential === undefined) {
      options.audit?.emit({ type: "credential", action: "use", name: `user:${name}`, server: name, subject: owner, outcome: "missing" });
      if (!upstream.perUser!.required) return connections.get(name);
      throw new ProtocolError(
        ProtocolErrorCode.InvalidRequest,
        `Server '${name}' needs your own credential: store it with PUT /v1/me/credentials/${name} (body {"value": "..."}), then call again`,
        { server: name, code: "ERR_CREDENTIAL_REQUIRED" },
      );
    }
    const again = pool.get(owner);
    if (again) return again;
    const own = createRedactor();
    own.add(credential, `user:${name}`);
    const redactor = layeredRedactor(options.secrets.redactor, own);
    const conn = new UpstreamConnection(name, upstream, {
      log,
      // A user's own connection lists what that user's credential lets them see; changes reach their sessions too.
      onChange: emit,
      identity: mappersOf(upstream),
      ownsUpstream: false,
      redactor,
      tracing: options.tracing,
      context: {
        secret: (secret) => options.secrets.resolve(secret, { server: name, subject: owner }),
        user: { identity, credential },
        log: (line) => log.info("upstream says", { server: name, subject: identity.subject, line: redactor.redactText(line) }),
      },
    });
    const ready = conn.start().then(() => conn);
    pool.set(owner, ready);
    return ready;
  }

  return {
    get: (name) => connections.get(name),
    async connectionFor(name, identity) {
      const upstream = servers[name];
      if (!upstream) return undefined;
      if (!upstream.perUser) return connections.get(name);
      return await userConnection(name, upstream, identity);
    },
    callerConnection(name, identity, channel) {
      const upstream = servers[name];
      if (!upstream || upstream.perUser) return undefined;
      const open = callerConnections.get(name) ?? 0;
      const max = upstream.maxCallerConnections ?? DEFAULT_MAX_CALLER_CONNECTIONS;
      if (open >= max) {
        throw new ProtocolError(
          ProtocolErrorCode.InternalError,
          `Server '${name}' already serves ${max} client sessions of their own (maxCallerConnections); try again later`,
          { server: name },
        );
      }
      const userKey = `${name}\u0000${principalOf(identity)}`;
      const mine = callerConnections.get(userKey) ?? 0;
      const maxMine = upstream.maxCallerConnectionsPerUser ?? DEFAULT_MAX_CALLER_CONNECTIONS_PER_USER;
      if (mine >= maxMine) {
        throw new ProtocolError(
          ProtocolErrorCode.InternalError,
          `You already hold ${maxMine} connections of your own to server '${name}' (maxCallerConnectionsPerUser); close a session or try again later`,
          { server: name },
        );
      }
      callerConnections.set(name, open + 1);
      callerConnections.set(userKey, mine + 1);
      return new UpstreamConnection(name, upstream, {
        onClosed: () => {
          callerConnections.set(name, (callerConnections.get(name) ?? 1) - 1);
          const left = (callerConnections.get(userKey) ?? 1) - 1;
          if (left > 0) callerConnections.set(userKey, left);
          else callerConnections.delete(userKey);
        },
        log,
        // The caller session's own lists are the shared connection's; nothing to fan out from here.
        onChange: () => undefined,
        identity: mappersOf(upstream),
        ownsUpstream: false,
        redactor: options.secrets.redactor,
        tracing: options.tracing,
        caller: channel,
        context: {
          secret: (secret) => options.secrets.resolve(secret, { server: name, subject: principalOf(identity) }),
          log: (line) => log.info("upstream says", { server: name, line: options.secrets.redactor.redactText(line) }),
        },
      });
    },
    names: () => [...connections.keys()],
    all: () => [...connections.values()],
    openConnections() {
      const out: Record<string, { user: number; caller: number }> = {};
      for (const name of connections.keys()) out[name] = { user: perUser.get(name)?.size ?? 0, caller: callerConnections.get(name) ?? 0 };
      return out;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onResourceUpdated(listener) {
      updateListeners.add(listener);
      return () => updateListeners.delete(listener);
    },
    ready: () => started,
    async close() {
      clearInterval(sweep);
      offSecrets();
      offUsers?.();
      listeners.clear();
      updateListeners.clear();
      const users = [...perUser.values()].flatMap((pool) => [...pool.values()]);
      perUser.clear();
      await Promise.all(users.map((p) => p.then((c) => c.close()).catch(() => undefined)));
      await Promise.all([...connections.values()].map((c) => c.close()));
    },
  };
}
