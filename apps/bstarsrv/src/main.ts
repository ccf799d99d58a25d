#!/usr/bin/env node
/** bstarsrv: work in progress. */
process.stderr.write('bstarsrv: not implemented yet\n');
process.exitCode = 1;
