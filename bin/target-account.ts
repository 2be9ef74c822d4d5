#!/usr/bin/env node
/**
 * The target-account containment role as its own CDK app, for CloudFormation StackSets:
 * `npm run synth:target-account -- -c configFile=kitewatch.config.json` writes
 * cdk.out/<stackPrefix>-TargetAccount.template.json. Not part of bin/app.ts, so that
 * `cdk deploy --all` does not create the role in Kitewatch's own account.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config/load.ts';
import { addCompliancePlugins, configFromContext, defineTargetAccount } from '../lib/infra/app.ts';
import { DeployConfigError } from '../lib/infra/config.ts';

const app = new App();
try {
  defineTargetAccount(app, configFromContext(app));
} catch (error) {
  if (error instanceof ConfigError || error instanceof DeployConfigError) {
    console.error(`kitewatch: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
addCompliancePlugins(app);
