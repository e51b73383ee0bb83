#!/usr/bin/env node
// The `hms` launcher that npm links into node_modules/.bin.
'use strict';
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'cjs', 'cli.js');
let main;
try {
  ({ main } = require(cli));
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(cli)) {
    process.stderr.write(`error: USAGE the CLI is not built (${cli} is missing); run \`npm run build\` first\n`);
    process.exit(1);
  }
  throw error;
}
main(process.argv);
