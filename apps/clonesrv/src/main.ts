#!/usr/bin/env node
/** clonesrv: work in progress. */
process.stderr.write('clonesrv: not implemented yet\n');
process.exitCode = 1;
