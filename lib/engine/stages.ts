import type { OcsfEvent } from '../ocsf/types.ts';

/**
 * The pluggable stages of the local pipeline. The same pure cores run inside the Lambdas;
 * here they are called in process, in input order.
 */
export interface DetectStage {
  /** Findings (OCSF 2004) raised by this event, possibly none; synchronous when it is clearly none. Must not throw. */
  detect(event: OcsfEvent): readonly OcsfEvent[] | Promise<readonly OcsfEvent[]>;
  /** Called every batch and at the end: persists state (one write per key per batch). */
  flush(): Promise<void>;
  /**
   * Findings gathered over the batch rather than raised per event (the Updates of open
   * incidents, one per incident per batch). Called before flush; they are routed like any finding.
   */
  drain?(): Promise<readonly OcsfEvent[]>;
  /** Events not detected again because the state store says they were counted before (re-sent). */
  readonly resent?: number;
}

export interface ContainStage {
  /** Remediation activities (OCSF 7001) for this finding, possibly none. Must not throw. */
  contain(finding: OcsfEvent): Promise<readonly OcsfEvent[]>;
  flush(): Promise<void>;
}

export interface SinkReport {
  readonly delivered: number;
  readonly spilled: number;
  readonly spillPath?: string;
}

/** Where OCSF events go: stdout, a file, a SIEM. */
export interface Sink {
  readonly name: string;
  /** Synchronous when the event only went into a buffer (the common case for files); a promise when it waits. */
  write(event: OcsfEvent): void | Promise<void>;
  close(): Promise<SinkReport>;
}
