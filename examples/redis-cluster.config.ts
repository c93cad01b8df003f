// Several gateway instances behind a load balancer, sharing one Redis: tokens, API keys, OAuth grants,
// vault records, counters and the signing keys (private halves encrypted under the master key) live in
// Redis, and a revoke or rotation on one instance is honoured by all of them within a second. Start Redis
// with the append-only file on, then as many instances as you like, each on its own port:
//
//   redis-server --port 6379 --appendonly yes --appendfsync always --dir /var/lib/portcullis-redis
//   export REDIS_URL=redis://127.0.0.1:6379 PORTCULLIS_MASTER_KEY=$(openssl rand -base64 32)
//   node dist/cli.js start --config examples/redis-cluster.config.ts --port 8801
//   node dist/cli.js start --config examples/redis-cluster.config.ts --port 8802
//
// Every instance needs the same REDIS_URL and PORTCULLIS_MASTER_KEY. Step by step, with a load balancer
// in front: examples/redis-cluster.md.
import { defineGateway } from "portcullis";
import { apiKey, bearer, redisStore, stdio } from "portcullis/plugins";

const here = (path: string): string => new URL(path, import.meta.url).pathname;

export default defineGateway({
  server: { port: 8801 },
  auth: [bearer(), apiKey({ header: "X-API-Key" })],
  tokens: {
    // `rediss://` (or tls: true) for TLS; a password goes in the URL: redis://:secret@host:6379.
    store: redisStore({ url: "${REDIS_URL}", prefix: "portcullis:" }),
  },
  // Signing keys (identity assertions, OAuth access tokens) are made once for all instances and rotated
  // by one of them every 30 days; a replaced key keeps verifying for a day.
  keys: { rotateEvery: "30d", retain: "1d" },
  servers: {
    notes: stdio({ script: here("./servers/notes.ts") }),
  },
});
