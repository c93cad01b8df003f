import { defineGateway } from "portcullis";
import { http, stdio } from "portcullis/plugins";

export default defineGateway({
  server: { port: 9911 },
  servers: {
    notes: stdio({ script: "/work/main/examples/servers/notes.ts", stderr: "ignore" }),
    remote: http({ url: "http://127.0.0.1:9/mcp" }),
  },
});
