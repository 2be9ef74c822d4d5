#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config/load.ts';
import { addCompliancePlugins, configFromContext, defineKitewatch } from '../lib/infra/app.ts';
import { DeployConfigError } from '../lib/infra/config.ts';

const app = new App();
try {
  defineKitewatch(app, configFromContext(app));
} catch (error) {
  // A config mistake deserves one clear line, not a stack trace from inside CDK.
  if (error instanceof ConfigError || error instanceof DeployConfigError) {
    console.error(`kitewatch: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
addCompliancePlugins(app);
