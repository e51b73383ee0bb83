// Runtime entry of @hms-oms/queue: the workspace is compiled once into dist/ (npm run build), and the
// package resolves to that output. Type-checking and Jest use src/ through tsconfig paths.
module.exports = require('../../dist/libs/oms-queue/src/index.js');
