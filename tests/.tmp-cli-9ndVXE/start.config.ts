import { defineGateway } from "portcullis";
import { stdio } from "portcullis/plugins";

export default defineGateway({
  logLevel: "warn",
  servers: { notes: stdio({ script: "/work/main/examples/servers/notes.ts", stderr: "ignore" }) },
});
