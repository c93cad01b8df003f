import { createGateway, defineGateway } from "portcullis";
import { bearer, memoryStore } from "portcullis/plugins";
const gw = createGateway(defineGateway({ auth: [bearer()], tokens: { store: memoryStore() }, admin: { bootstrap: false }, servers: {}, logLevel: "warn" }));
await gw.ready();
const { secret } = await gw.tokens.create({ user: "embedded" }, "app");
const res = await gw.fetch(new Request("http://localhost/v1/auth/whoami", { headers: { authorization: `Bearer ${secret}` } }));
console.log(`${res.status} ${(await res.json()).subject}`);
await gw.close();