import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { CloudRangesFile } from '../enrich/cloud.ts';
import { IP_DATA_DIR_ENV, ipDataFiles, type IpDataFiles } from '../enrich/ip.ts';
import { RUNTIME } from './kitewatch-function.ts';

/** Where the layer's data appears in the function (layers are extracted under /opt). */
export const IP_DATA_MOUNT = '/opt/ip-location-db';

/** Files the packages require to be passed on with their data (CC BY 4.0 attribution). */
const NOTICE_FILE = /LICENSE|MODIFICATIONS|README/;

/** One file of the layer: where it comes from in node_modules, where it goes under the mount. */
export interface IpDataLayerFile {
  readonly source: string;
  /** Path relative to the layer root, e.g. `ip-location-db/asn/asn-ipv4-num.csv`. */
  readonly target: string;
}

/**
 * The files the detector reads, found by lib/enrich/ip.ts itself (installed packages on the
 * build machine, KITEWATCH_IP_DATA_DIR in the function), so the layer cannot miss one.
 */
export function ipDataLayerFiles(): IpDataLayerFile[] {
  const installed = ipDataFiles({});
  const mounted = ipDataFiles({ [IP_DATA_DIR_ENV]: IP_DATA_MOUNT });
  const optRoot = dirname(IP_DATA_MOUNT);
  const files: IpDataLayerFile[] = [];
  const packageDirs = new Map<string, string>();
  for (const key of Object.keys(installed) as (keyof IpDataFiles)[]) {
    const target = relative(optRoot, mounted[key]);
    files.push({ source: installed[key], target });
    packageDirs.set(dirname(installed[key]), dirname(target));
  }
  for (const [dir, targetDir] of packageDirs) {
    for (const name of readdirSync(dir)
      .filter((f) => NOTICE_FILE.test(f))
      .sort()) {
      files.push({ source: join(dir, name), target: join(targetDir, name) });
    }
  }
  return files;
}

/**
 * Package name@version of each data package, and the cloud ranges' dates: the layer changes
 * exactly when one of them does.
 */
function dataVersions(files: readonly IpDataLayerFile[]): string[] {
  const dirs = [...new Set(files.map((f) => dirname(f.source)))].sort();
  return dirs.map((dir) => {
    const pkgFile = join(dir, 'package.json');
    if (!existsSync(pkgFile)) {
      const ranges = files.find((f) => dirname(f.source) === dir && f.source.endsWith('.json'));
      const data = ranges === undefined ? undefined : (JSON.parse(readFileSync(ranges.source, 'utf8')) as CloudRangesFile);
      return `cloud-ranges@${
        data === undefined
          ? 'none'
          : Object.entries(data.sources)
              .map(([p, v]) => `${p}:${v.as_of}`)
              .join(',')
      }`;
    }
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name: string; version: string };
    return `${pkg.name}@${pkg.version}`;
  });
}

/**
 * The IP enrichment data as a Lambda layer (data only, so any architecture can read it; declared
 * arm64 like the functions): the @ip-location-db ASN and geo country `*-num.csv` files the
 * detector reads (about 58 MB), their license notices, and the cloud ranges
 * (data/cloud-ranges/cloud-regions.json, 0.4 MB). Assembled by local bundling: a copy, no Docker.
 */
export class IpDataLayer extends Construct {
  readonly layer: lambda.LayerVersion;
  /** The value of KITEWATCH_IP_DATA_DIR for functions that use the layer. */
  readonly dataDir = IP_DATA_MOUNT;
  readonly files: readonly IpDataLayerFile[];

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const files = ipDataLayerFiles();
    this.files = files;
    const versions = dataVersions(files);
    const sourceRoot = dirname(dirname(files[0]?.source ?? ''));
    const code = lambda.Code.fromAsset(sourceRoot, {
      // The data changes only with the package versions; hashing 42 MB per synth would buy nothing.
      assetHashType: AssetHashType.CUSTOM,
      assetHash: ['ip-data-layer-v2', ...versions, ...files.map((f) => f.target)].join('|'),
      bundling: {
        // Never pulled: local bundling only copies files and always succeeds.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:stable'),
        local: {
          tryBundle(outputDir: string): boolean {
            for (const file of files) {
              const to = join(outputDir, file.target);
              mkdirSync(dirname(to), { recursive: true });
              copyFileSync(file.source, to);
            }
            return true;
          },
        },
      },
    });
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      code,
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [RUNTIME],
      // ASN data CC BY 4.0; the geo country data CC0; the cloud ranges are the providers' public lists.
      license: 'CC-BY-4.0',
      description: `Kitewatch IP enrichment data (${versions.join(', ')}): ${files
        .filter((f) => f.target.endsWith('.csv'))
        .map((f) => basename(f.target))
        .join(', ')}`.slice(0, 256),
    });
  }
}
