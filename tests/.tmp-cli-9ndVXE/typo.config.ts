export default { server: { prot: 8080 }, servers: {} };
