#!/usr/bin/env node
/** flserver: work in progress. */
process.stderr.write('flserver: not implemented yet\n');
process.exitCode = 1;
