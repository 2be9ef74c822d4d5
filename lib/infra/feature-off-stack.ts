import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';

export interface FeatureOffStackProps extends StackProps {
  /** The feature, as the config names it ("containment", "forwarding"). */
  readonly feature: string;
  /** The config that switches it off, for the status text ("containment.mode is off"). */
  readonly because: string;
}

/**
 * What a switched-off feature deploys: its stack, with nothing that acts. A stack left out of the
 * app is not touched by `cdk deploy` (the old one keeps running) and not found by `cdk destroy`;
 * this one replaces it, so the next deploy removes what was there. CloudFormation needs one
 * resource in a stack: a parameter that says the feature is off.
 */
export class FeatureOffStack extends Stack {
  readonly feature: string;
  readonly status: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: FeatureOffStackProps) {
    super(scope, id, props);
    this.feature = props.feature;
    this.status = new ssm.StringParameter(this, 'Status', {
      description: `Kitewatch ${props.feature} is switched off (${props.because}): this stack deploys nothing that acts`,
      stringValue: 'off',
    });
  }
}
