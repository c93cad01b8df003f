import { stdio } from "portcullis/plugins";
export default { servers: { a: stdio({ command: "node", env: { T: "${PORTCULLIS_TEST_CLI_MISSING_VAR}" } }) } };
