// Jest (on Node 20) cannot require() an ES module, and @fastify/static (the Swagger UI's file server)
// requires the ESM-only content-disposition for reply.download(), which the service never uses.
// Only the Jest suites map it here (jest.config.js); the service itself loads the real package.
const create = (filename) => `attachment; filename="${String(filename).replace(/"/g, '')}"`;
module.exports = { create, default: create };
