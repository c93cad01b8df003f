import { createGateway, serve } from "../core/mod.ts";
import { bearer, jsonlAudit, stdio, fileStore } from "../plugins/mod.ts";
const env = process.env;
const [command, ...args] = JSON.parse(env.BENCH_ECHO_CMD!);
const servers: Record<string, any> = {};
for (let i = 1; i <= Number(env.BENCH_UPSTREAMS); i++) {
  const up = stdio({ command, args: [...args, "--tools", env.BENCH_TOOLS!], stderr: "ignore" });
  if (env.CORK) {
    const make = up.createTransport.bind(up);
    up.createTransport = async () => {
      const t: any = await make();
      const send = t.send.bind(t);
      t.send = (m: unknown) => {
        const stdin = t._process?.stdin;
        if (stdin && !stdin.writableCorked) { stdin.cork(); process.nextTick(() => stdin.uncork()); }
        return send(m);
      };
      return t;
    };
  }
  servers[`echo${i}`] = up;
}
const gw = createGateway({ auth: [bearer()], servers, roles: { bench: { servers: ["echo*"] } }, tokens: { store: fileStore({ dir: env.PORTCULLIS_DATA_DIR! }) },
  audit: [jsonlAudit({ path: env.BENCH_AUDIT! })], logLevel: "warn", admin: { bootstrap: false } });
await gw.ready();
await serve(gw, { port: Number(process.argv[process.argv.indexOf("--port") + 1]) });
