export default { servers: {} };
