#!/usr/bin/env node
/**
 * The public surface of every published library, as API Extractor reports in etc/<name>.api.md.
 *
 *   npm run api:update   rewrite the reports after a change to a public signature (commit them)
 *
 * `npm test` checks them (tools/test/api-report.test.ts). Reads each package's built
 * dist/index.d.ts, so build first.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { publicPackages } from './workspaces.mjs';

const root = resolve(import.meta.dirname, '..');

/**
 * Compare (or, with `update`, rewrite) each library's report.
 * @param {{ update: boolean }} options
 * @returns {{ name: string, report: string, changed: boolean, succeeded: boolean, messages: string[] }[]}
 */
export function apiReports({ update }) {
  return publicPackages(root)
    .filter((p) => p.library)
    .map(({ name, dir, folder, manifest }) => {
      const messages = [];
      const config = ExtractorConfig.prepare({
        configObject: {
          projectFolder: dir,
          mainEntryPointFilePath: '<projectFolder>/dist/index.d.ts',
          compiler: { tsconfigFilePath: '<projectFolder>/tsconfig.build.json' },
          apiReport: {
            enabled: true,
            reportFileName: `${folder}.api.md`,
            reportFolder: join(root, 'etc'),
            reportTempFolder: join(dir, 'dist', '.api'),
          },
          docModel: { enabled: false },
          dtsRollup: { enabled: false },
          tsdocMetadata: { enabled: false },
          messages: {
            extractorMessageReporting: {
              default: { logLevel: 'warning', addToApiReportFile: true },
              'ae-missing-release-tag': { logLevel: 'none', addToApiReportFile: false },
            },
            tsdocMessageReporting: { default: { logLevel: 'none', addToApiReportFile: false } },
            compilerMessageReporting: { default: { logLevel: 'warning' } },
          },
        },
        configObjectFullPath: join(dir, 'api-extractor.json'),
        packageJsonFullPath: join(dir, 'package.json'),
        packageJson: manifest,
      });
      const result = Extractor.invoke(config, {
        localBuild: update,
        messageCallback: (m) => {
          if (m.logLevel === 'error') messages.push(m.text);
          m.handled = true;
        },
      });
      return {
        name,
        report: `etc/${folder}.api.md`,
        changed: result.apiReportChanged,
        succeeded: result.succeeded,
        messages,
      };
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of apiReports({ update: true })) {
    console.log(`${r.report}: ${r.changed ? 'updated' : 'unchanged'}${r.messages.map((m) => `\n  ${m}`).join('')}`);
  }
}
