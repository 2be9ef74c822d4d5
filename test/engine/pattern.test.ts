import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compilePattern, matchesPattern, PatternError, validatePattern, type EventPattern } from '../../lib/engine/pattern.ts';

// Behaviours cited below come from the Amazon EventBridge user guide ("Event pattern syntax",
// "Arrays in event patterns", "Matching null values and empty strings", "Comparison operators /
// content filtering") and the aws/event-ruler README/compiler that EventBridge runs.

const m = (pattern: EventPattern, event: unknown): boolean => matchesPattern(pattern, event);

function expectPatternError(pattern: unknown, ...fragments: string[]): PatternError {
  let caught: unknown;
  try {
    validatePattern(pattern);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PatternError);
  const err = caught as PatternError;
  expect(err.name).toBe('PatternError');
  for (const f of fragments) expect(err.message).toContain(f);
  return err;
}

// The EC2 example event from the user guide.
const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: {
    'instance-id': 'i-1234567890abcdef0',
    state: 'terminated',
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
  },
};

describe('event pattern syntax (AND across fields, OR within a field, nesting)', () => {
  it('docs: matches when source, detail-type and detail.state all match', () => {
    const p = {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    };
    expect(m(p, ec2Event)).toBe(true);
    expect(m(p, { ...ec2Event, detail: { ...ec2Event.detail, state: 'running' } })).toBe(false);
    expect(m(p, { ...ec2Event, source: 'aws.s3' })).toBe(false);
  });

  it('docs: the values in a field array are alternatives ("aws.ec2" or "aws.fargate")', () => {
    const p = { source: ['aws.ec2', 'aws.fargate'] };
    expect(m(p, { source: 'aws.ec2' })).toBe(true);
    expect(m(p, { source: 'aws.fargate' })).toBe(true);
    expect(m(p, { source: 'aws.s3' })).toBe(false);
  });

  it('docs: the event must contain every field named in the pattern', () => {
    expect(m({ detail: { state: ['terminated'] } }, { source: 'aws.ec2' })).toBe(false);
    expect(m({ source: ['aws.ec2'], region: ['us-west-1'] }, { source: 'aws.ec2' })).toBe(false);
  });

  it('docs: field names must appear with the same nesting structure', () => {
    expect(m({ detail: { state: ['terminated'] } }, { state: 'terminated' })).toBe(false);
    expect(m({ detail: { state: ['terminated'] } }, { detail: 'terminated' })).toBe(false);
    expect(m({ state: ['terminated'] }, { detail: { state: 'terminated' } })).toBe(false);
    expect(m({ a: { b: { c: ['x'] } } }, { a: { b: { c: 'x', d: 'y' } } })).toBe(true);
    expect(m({ a: { b: { c: ['x'] } } }, { a: { b: { c: 'y' } } })).toBe(false);
  });

  it('docs: fields in the event that are not in the pattern are ignored', () => {
    expect(m({ source: ['aws.ec2'] }, ec2Event)).toBe(true);
  });

  it('a pattern leaf does not match an object in the event (objects are not leaves)', () => {
    expect(m({ detail: ['terminated'] }, ec2Event)).toBe(false);
  });

  it('non-object events only match patterns made of exists:false', () => {
    expect(m({ source: ['aws.ec2'] }, null)).toBe(false);
    expect(m({ source: ['aws.ec2'] }, 'aws.ec2')).toBe(false);
    expect(m({ source: [{ exists: false }] }, null)).toBe(true);
  });
});

describe('exact values: strings, numbers, booleans, null', () => {
  it('strings are case-sensitive exact matches', () => {
    expect(m({ source: ['aws.ec2'] }, { source: 'aws.ec2' })).toBe(true);
    expect(m({ source: ['aws.ec2'] }, { source: 'AWS.EC2' })).toBe(false);
    expect(m({ source: ['aws.ec2'] }, { source: 'aws.ec2 ' })).toBe(false);
  });

  it('numbers compare numerically (3.018e2 equals 301.8), and never equal strings', () => {
    expect(m({ detail: { 'x-limit': [3.018e2] } }, ec2Event)).toBe(true);
    expect(m({ n: [5] }, JSON.parse('{"n": 5.0}'))).toBe(true);
    expect(m({ n: [5] }, JSON.parse('{"n": 5e0}'))).toBe(true);
    expect(m({ n: [5] }, { n: 6 })).toBe(false);
    expect(m({ n: [5] }, { n: '5' })).toBe(false);
    expect(m({ n: ['5'] }, { n: 5 })).toBe(false);
  });

  it('booleans match JSON booleans only', () => {
    expect(m({ b: [true] }, { b: true })).toBe(true);
    expect(m({ b: [true] }, { b: false })).toBe(false);
    expect(m({ b: [false] }, { b: false })).toBe(true);
    expect(m({ b: [true] }, { b: 'true' })).toBe(false);
    expect(m({ b: ['true'] }, { b: true })).toBe(false);
  });

  it('docs (null values and empty strings): [null] matches null, [""] matches "", they are not interchangeable', () => {
    const event = { detail: { eventVersion: '', responseElements: null } };
    expect(m({ detail: { eventVersion: [''] } }, event)).toBe(true);
    expect(m({ detail: { responseElements: [null] } }, event)).toBe(true);
    expect(m({ detail: { eventVersion: [null] } }, event)).toBe(false);
    expect(m({ detail: { responseElements: [''] } }, event)).toBe(false);
  });

  it('[null] does not match a missing field', () => {
    expect(m({ detail: { responseElements: [null] } }, { detail: {} })).toBe(false);
  });

  it('an IP literal matches the same address written differently (event-ruler compares IP literals as addresses)', () => {
    expect(m({ ip: ['2001:db8::1'] }, { ip: '2001:DB8:0:0:0:0:0:1' })).toBe(true);
    expect(m({ ip: ['10.0.0.1'] }, { ip: '10.0.0.1' })).toBe(true);
    expect(m({ ip: ['10.0.0.1'] }, { ip: '10.0.0.2' })).toBe(false);
  });
});

describe('arrays in events', () => {
  it('docs: matches if the intersection of the pattern array and the event array is non-empty', () => {
    const p = {
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f', 'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f'],
    };
    const event = {
      resources: [
        'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      ],
    };
    expect(m(p, event)).toBe(true);
    expect(m(p, { resources: ['arn:aws:s3:::bucket'] })).toBe(false);
  });

  it('operators apply to each element (any element may match)', () => {
    expect(m({ tags: [{ prefix: 'env:' }] }, { tags: ['team:sec', 'env:prod'] })).toBe(true);
    expect(m({ tags: [{ prefix: 'env:' }] }, { tags: ['team:sec'] })).toBe(false);
    expect(m({ n: [{ numeric: ['>', 10] }] }, { n: [1, 2, 30] })).toBe(true);
    expect(m({ n: [{ numeric: ['>', 10] }] }, { n: [1, 2, 3] })).toBe(false);
  });

  it('nested arrays are flattened', () => {
    expect(m({ a: ['x'] }, { a: [['y'], ['z', ['x']]] })).toBe(true);
  });

  it('an empty array has no values: no value pattern matches it', () => {
    expect(m({ resources: ['arn'] }, { resources: [] })).toBe(false);
    expect(m({ resources: [{ 'anything-but': 'arn' }] }, { resources: [] })).toBe(false);
  });

  it('event-ruler README: arrays of objects are flattened, a nested pattern matches if any object matches it', () => {
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(m({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(m({ employees: { firstName: ['Zoe'] } }, event)).toBe(false);
    // Array consistency: both fields must come from the same element.
    expect(m({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
    expect(m({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
  });

  it('event-ruler README: multi-level arrays of objects are flattened too', () => {
    const event = {
      employees: [
        [
          { firstName: 'John', lastName: 'Doe' },
          { firstName: 'Anna', lastName: 'Smith' },
        ],
        [{ firstName: 'Peter', lastName: 'Jones' }],
      ],
    };
    expect(m({ employees: { firstName: ['Peter'] } }, event)).toBe(true);
    expect(m({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
  });

  it('objects inside arrays deeper in the event are flattened at every level', () => {
    const event = { detail: { jobs: [{ steps: [{ name: 'build' }, { name: 'deploy', agent: { os: 'linux' } }] }] } };
    expect(m({ detail: { jobs: { steps: { agent: { os: ['linux'] } } } } }, event)).toBe(true);
    expect(m({ detail: { jobs: { steps: { name: ['build'], agent: { os: ['linux'] } } } } }, event)).toBe(false);
  });

  it('a leaf pattern does not match values that are only inside objects of an array', () => {
    expect(m({ a: ['x'] }, { a: [{ b: 'x' }] })).toBe(false);
  });
});

describe('prefix', () => {
  it('docs: "time" starting with "2017-10-02"', () => {
    const p = { time: [{ prefix: '2017-10-02' }] };
    expect(m(p, { time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(m(p, { time: '2017-10-03T18:43:48Z' })).toBe(false);
    expect(m(p, { time: '2017-10-0' })).toBe(false);
  });

  it('docs: prefix matching only works on string values', () => {
    expect(m({ n: [{ prefix: '12' }] }, { n: 123 })).toBe(false);
    expect(m({ n: [{ prefix: 'tr' }] }, { n: true })).toBe(false);
    expect(m({ n: [{ prefix: 'nu' }] }, { n: null })).toBe(false);
  });

  it('prefix is case-sensitive', () => {
    expect(m({ region: [{ prefix: 'eu-' }] }, { region: 'EU-west-1' })).toBe(false);
  });

  it('docs: prefix with equals-ignore-case matches "EventB", "EVENTB", "eventb"', () => {
    const p = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
    for (const service of ['EventBridge', 'EVENTBRIDGE', 'eventbridge', 'eVeNtB']) {
      expect(m(p, { detail: { service } })).toBe(true);
    }
    expect(m(p, { detail: { service: 'Event' } })).toBe(false);
    expect(m(p, { detail: { service: 'xEventB' } })).toBe(false);
  });
});

describe('suffix', () => {
  it('docs: FileName ends with ".png"', () => {
    const p = { FileName: [{ suffix: '.png' }] };
    expect(m(p, { FileName: 'image.png' })).toBe(true);
    expect(m(p, { FileName: 'image.PNG' })).toBe(false);
    expect(m(p, { FileName: 'image.png.txt' })).toBe(false);
  });

  it('suffix only matches strings', () => {
    expect(m({ n: [{ suffix: '3' }] }, { n: 123 })).toBe(false);
  });

  it('docs: suffix with equals-ignore-case also matches ".PNG"', () => {
    const p = { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } };
    expect(m(p, { detail: { FileName: 'a.PNG' } })).toBe(true);
    expect(m(p, { detail: { FileName: 'a.Png' } })).toBe(true);
    expect(m(p, { detail: { FileName: 'a.jpg' } })).toBe(false);
  });
});

describe('equals-ignore-case', () => {
  it('docs: Name is "Alice" in any casing', () => {
    const p = { Name: [{ 'equals-ignore-case': 'alice' }] };
    expect(m(p, { Name: 'Alice' })).toBe(true);
    expect(m(p, { Name: 'ALICE' })).toBe(true);
    expect(m(p, { Name: 'Alice ' })).toBe(false);
    expect(m(p, { Name: 'Alicia' })).toBe(false);
  });

  it('only matches strings', () => {
    expect(m({ b: [{ 'equals-ignore-case': 'true' }] }, { b: true })).toBe(false);
  });
});

describe('wildcard', () => {
  it('event-ruler README: "Simple*Service"', () => {
    const p = { source: [{ wildcard: 'Simple*Service' }] };
    expect(m(p, { source: 'SimpleQueueService' })).toBe(true);
    expect(m(p, { source: 'SimpleService' })).toBe(true); // * matches zero characters
    expect(m(p, { source: 'SimpleQueueServices' })).toBe(false);
    expect(m(p, { source: 'ASimpleQueueService' })).toBe(false);
  });

  it('docs: "dir/*.png" style paths; * spans any characters including "/" and newlines', () => {
    const p = { key: [{ wildcard: 'dir/*.png' }] };
    expect(m(p, { key: 'dir/a/b/c.png' })).toBe(true);
    expect(m(p, { key: 'dir/\n.png' })).toBe(true);
    expect(m(p, { key: 'dir/a.jpg' })).toBe(false);
    expect(m(p, { key: 'other/a.png' })).toBe(false);
  });

  it('multiple stars, leading and trailing stars', () => {
    const p = { v: [{ wildcard: '*a*b*' }] };
    expect(m(p, { v: 'ab' })).toBe(true);
    expect(m(p, { v: 'xxaxxbxx' })).toBe(true);
    expect(m(p, { v: 'ba' })).toBe(false);
    expect(m({ v: [{ wildcard: '*' }] }, { v: '' })).toBe(true);
    expect(m({ v: [{ wildcard: 'a*a' }] }, { v: 'a' })).toBe(false); // segments must not overlap
    expect(m({ v: [{ wildcard: 'a*a' }] }, { v: 'aa' })).toBe(true);
  });

  it('a pattern without stars is an exact match', () => {
    expect(m({ v: [{ wildcard: 'abc' }] }, { v: 'abc' })).toBe(true);
    expect(m({ v: [{ wildcard: 'abc' }] }, { v: 'abcd' })).toBe(false);
  });

  it('event-ruler: \\* is a literal asterisk and \\\\ a literal backslash', () => {
    const star = { v: [{ wildcard: 'a\\*b' }] }; // JSON "a\\*b"
    expect(m(star, { v: 'a*b' })).toBe(true);
    expect(m(star, { v: 'axb' })).toBe(false);
    const backslash = { v: [{ wildcard: 'C:\\\\*' }] }; // JSON "C:\\\\*": literal backslash then wildcard
    expect(m(backslash, { v: 'C:\\Windows' })).toBe(true);
    expect(m(backslash, { v: 'C:/Windows' })).toBe(false);
    const escapedThenStar = { v: [{ wildcard: '\\**' }] }; // literal * followed by wildcard
    expect(m(escapedThenStar, { v: '*anything' })).toBe(true);
    expect(m(escapedThenStar, { v: 'anything' })).toBe(false);
  });

  it('only matches strings', () => {
    expect(m({ v: [{ wildcard: '1*' }] }, { v: 123 })).toBe(false);
  });

  it('event-ruler: consecutive wildcards and other escapes are rejected', () => {
    expectPatternError({ v: [{ wildcard: 'a**b' }] }, 'v[0].wildcard', 'consecutive');
    expectPatternError({ v: [{ wildcard: 'a\\b' }] }, 'v[0].wildcard', 'escape');
    expectPatternError({ v: [{ wildcard: 'trailing\\' }] }, 'escape');
    expectPatternError({ v: [{ wildcard: 5 }] }, 'wildcard must be a string');
  });
});

describe('anything-but', () => {
  it('docs: state is anything but "initializing"', () => {
    const p = { detail: { state: [{ 'anything-but': 'initializing' }] } };
    expect(m(p, { detail: { state: 'running' } })).toBe(true);
    expect(m(p, { detail: { state: 'initializing' } })).toBe(false);
  });

  it('docs: a number, a list of strings and a list of numbers', () => {
    expect(m({ x: [{ 'anything-but': 123 }] }, { x: 124 })).toBe(true);
    expect(m({ x: [{ 'anything-but': 123 }] }, { x: 123 })).toBe(false);
    const states = { state: [{ 'anything-but': ['stopped', 'overloaded'] }] };
    expect(m(states, { state: 'running' })).toBe(true);
    expect(m(states, { state: 'stopped' })).toBe(false);
    expect(m(states, { state: 'overloaded' })).toBe(false);
    const limits = { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } };
    expect(m(limits, ec2Event)).toBe(true);
    expect(m(limits, { detail: { 'x-limit': 200 } })).toBe(false);
    expect(m(limits, JSON.parse('{"detail": {"x-limit": 2.0e2}}'))).toBe(false);
  });

  it('anything-but does not match a missing field', () => {
    expect(m({ detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: {} })).toBe(false);
    expect(m({ state: [{ 'anything-but': { prefix: 'init' } }] }, {})).toBe(false);
  });

  it('anything-but does not match an object (not a leaf)', () => {
    expect(m({ state: [{ 'anything-but': 'x' }] }, { state: { a: 'y' } })).toBe(false);
  });

  it('anything-but is type-aware: a string exclusion does not exclude numbers, booleans or null, and vice versa', () => {
    expect(m({ v: [{ 'anything-but': '5' }] }, { v: 5 })).toBe(true);
    expect(m({ v: [{ 'anything-but': 5 }] }, { v: '5' })).toBe(true);
    expect(m({ v: [{ 'anything-but': 'x' }] }, { v: null })).toBe(true);
    expect(m({ v: [{ 'anything-but': 'x' }] }, { v: false })).toBe(true);
  });

  it('docs (arrays): an event array matches when any element is not excluded', () => {
    expect(m({ v: [{ 'anything-but': 'a' }] }, { v: ['a', 'b'] })).toBe(true);
    expect(m({ v: [{ 'anything-but': 'a' }] }, { v: ['a', 'a'] })).toBe(false);
  });

  it('docs: anything-but prefix (Region is not in the US)', () => {
    const p = { Region: [{ 'anything-but': { prefix: 'us-' } }] };
    expect(m(p, { Region: 'eu-west-1' })).toBe(true);
    expect(m(p, { Region: 'us-east-1' })).toBe(false);
    expect(m(p, { Region: 42 })).toBe(true);
    const many = { source: [{ 'anything-but': { prefix: ['aws.', 'kitewatch'] } }] };
    expect(m(many, { source: 'kitewatch' })).toBe(false);
    expect(m(many, { source: 'aws.s3' })).toBe(false);
    expect(m(many, { source: 'custom' })).toBe(true);
  });

  it('docs: anything-but suffix (FileName does not end with .png)', () => {
    const p = { FileName: [{ 'anything-but': { suffix: '.png' } }] };
    expect(m(p, { FileName: 'a.jpg' })).toBe(true);
    expect(m(p, { FileName: 'a.png' })).toBe(false);
  });

  it('docs: anything-but equals-ignore-case (not "initializing" in any casing)', () => {
    const p = { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] };
    expect(m(p, { state: 'INITIALIZING' })).toBe(false);
    expect(m(p, { state: 'Initializing' })).toBe(false);
    expect(m(p, { state: 'running' })).toBe(true);
    const list = { state: [{ 'anything-but': { 'equals-ignore-case': ['a', 'B'] } }] };
    expect(m(list, { state: 'b' })).toBe(false);
    expect(m(list, { state: 'c' })).toBe(true);
  });

  it('docs: anything-but wildcard (FilePath does not include /lib/)', () => {
    const p = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
    expect(m(p, { FilePath: '/usr/lib/x.so' })).toBe(false);
    expect(m(p, { FilePath: '/usr/bin/x' })).toBe(true);
    const list = { FilePath: [{ 'anything-but': { wildcard: ['*/lib/*', '*.tmp'] } }] };
    expect(m(list, { FilePath: 'a.tmp' })).toBe(false);
    expect(m(list, { FilePath: 'a.txt' })).toBe(true);
  });

  it('event-ruler: anything-but rejects mixed lists, null, booleans, empty prefixes and unknown nested operators', () => {
    expectPatternError({ v: [{ 'anything-but': ['a', 1] }] }, 'v[0].anything-but', 'all strings or all numbers');
    expectPatternError({ v: [{ 'anything-but': null }] }, 'v[0].anything-but');
    expectPatternError({ v: [{ 'anything-but': true }] }, 'v[0].anything-but');
    expectPatternError({ v: [{ 'anything-but': [] }] }, 'must not be empty');
    expectPatternError({ v: [{ 'anything-but': [['a']] }] }, 'v[0].anything-but[0]');
    expectPatternError({ v: [{ 'anything-but': { prefix: '' } }] }, 'anything-but.prefix', 'empty prefix');
    expectPatternError({ v: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'anything-but.numeric', 'unsupported');
    expectPatternError({ v: [{ 'anything-but': { prefix: 'a', suffix: 'b' } }] }, 'only one key');
    expectPatternError({ v: [{ 'anything-but': { 'equals-ignore-case': 5 } }] }, 'equals-ignore-case');
    expectPatternError({ v: [{ 'anything-but': { wildcard: 'a**' } }] }, 'consecutive');
  });
});

describe('exists', () => {
  it('docs: exists:true matches when the field is present', () => {
    const p = { detail: { description: [{ exists: true }] } };
    expect(m(p, { detail: { description: 'x' } })).toBe(true);
    expect(m(p, { detail: { description: '' } })).toBe(true);
    expect(m(p, { detail: { description: 0 } })).toBe(true);
    expect(m(p, { detail: { description: false } })).toBe(true);
    expect(m(p, { detail: {} })).toBe(false);
    expect(m(p, {})).toBe(false);
  });

  it('null is a leaf value, so exists:true matches it and exists:false does not', () => {
    expect(m({ v: [{ exists: true }] }, { v: null })).toBe(true);
    expect(m({ v: [{ exists: false }] }, { v: null })).toBe(false);
  });

  it('docs: exists:false matches an event without detail.c-count', () => {
    const p = { detail: { 'c-count': [{ exists: false }] } };
    expect(m(p, { detail: { state: ['initializing', 'running'] } })).toBe(true);
    expect(m(p, { detail: { 'c-count': 5 } })).toBe(false);
    // ...and when the whole parent is missing there is no c-count either.
    expect(m(p, { source: 'x' })).toBe(true);
  });

  it('docs: exists only works on leaf nodes: exists:false matches when c-count is an object', () => {
    const event = { detail: { state: ['initializing', 'running'], 'c-count': { c1: 100 } } };
    expect(m({ detail: { 'c-count': [{ exists: false }] } }, event)).toBe(true);
    expect(m({ detail: { 'c-count': [{ exists: true }] } }, event)).toBe(false);
  });

  it('an array counts as present when it holds a leaf, absent when empty', () => {
    expect(m({ v: [{ exists: true }] }, { v: ['a'] })).toBe(true);
    expect(m({ v: [{ exists: true }] }, { v: [] })).toBe(false);
    expect(m({ v: [{ exists: false }] }, { v: [] })).toBe(true);
    expect(m({ v: [{ exists: true }] }, { v: [{ a: 1 }] })).toBe(false);
  });

  it('exists:false on a field nested under an array of objects is satisfied by an object without it', () => {
    expect(m({ a: { b: [{ exists: false }] } }, { a: [{ c: 1 }] })).toBe(true);
    expect(m({ a: { b: [{ exists: false }] } }, { a: [{ b: 1 }] })).toBe(false);
  });

  it('exists can be combined with other alternatives (OR)', () => {
    const p = { v: [{ exists: false }, 'x'] };
    expect(m(p, {})).toBe(true);
    expect(m(p, { v: 'x' })).toBe(true);
    expect(m(p, { v: 'y' })).toBe(false);
  });

  it('exists must be a boolean', () => {
    expectPatternError({ v: [{ exists: 'true' }] }, 'v[0].exists', 'true or false');
  });

  it('field names are read as own properties ("constructor" is absent from {})', () => {
    expect(m({ constructor: [{ exists: false }] }, {})).toBe(true);
    expect(m({ constructor: [{ exists: true }] }, {})).toBe(false);
    expect(m({ toString: ['x'] }, { toString: 'x' })).toBe(true);
    const proto = JSON.parse('{"__proto__": ["x"]}') as EventPattern;
    expect(m(proto, JSON.parse('{"__proto__": "x"}'))).toBe(true);
    expect(m(proto, {})).toBe(false);
  });
});

describe('numeric', () => {
  it('docs: c-count > 0 and <= 5, d-count < 10, x-limit = 3.018e2', () => {
    const p = {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    };
    expect(m(p, ec2Event)).toBe(true);
    expect(m(p, { detail: { ...ec2Event.detail, 'c-count': 6 } })).toBe(false);
    expect(m(p, { detail: { ...ec2Event.detail, 'd-count': 10 } })).toBe(false);
    expect(m(p, { detail: { ...ec2Event.detail, 'x-limit': 301.9 } })).toBe(false);
  });

  it('range boundaries are inclusive or exclusive as written', () => {
    const openLow = { n: [{ numeric: ['>', 0, '<=', 5] }] };
    expect(m(openLow, { n: 0 })).toBe(false);
    expect(m(openLow, { n: 0.000001 })).toBe(true);
    expect(m(openLow, { n: 5 })).toBe(true);
    expect(m(openLow, { n: 5.000001 })).toBe(false);
    const closedLow = { n: [{ numeric: ['>=', 0, '<', 5] }] };
    expect(m(closedLow, { n: 0 })).toBe(true);
    expect(m(closedLow, { n: 5 })).toBe(false);
    expect(m(closedLow, { n: -1 })).toBe(false);
    expect(m({ n: [{ numeric: ['>=', 10] }] }, { n: 10 })).toBe(true);
    expect(m({ n: [{ numeric: ['>', 10] }] }, { n: 10 })).toBe(false);
    expect(m({ n: [{ numeric: ['<=', -1.5] }] }, { n: -1.5 })).toBe(true);
    expect(m({ n: [{ numeric: ['<', -1.5] }] }, { n: -1.5 })).toBe(false);
  });

  it('docs: numeric matching only works with JSON numbers', () => {
    const p = { n: [{ numeric: ['>', 0] }] };
    expect(m(p, { n: '5' })).toBe(false);
    expect(m(p, { n: true })).toBe(false);
    expect(m(p, { n: null })).toBe(false);
    expect(m(p, {})).toBe(false);
  });

  it('several numeric alternatives are ORed (outside a range)', () => {
    const p = { n: [{ numeric: ['<', 0] }, { numeric: ['>', 100] }] };
    expect(m(p, { n: -1 })).toBe(true);
    expect(m(p, { n: 101 })).toBe(true);
    expect(m(p, { n: 50 })).toBe(false);
  });

  it('event-ruler grammar: bad numeric expressions are rejected', () => {
    expectPatternError({ n: [{ numeric: 5 }] }, 'n[0].numeric', 'array');
    expectPatternError({ n: [{ numeric: [] }] }, 'n[0].numeric');
    expectPatternError({ n: [{ numeric: ['!=', 5] }] }, 'n[0].numeric', '"!="');
    expectPatternError({ n: [{ numeric: ['>', '5'] }] }, 'n[0].numeric', 'must be a number');
    expectPatternError({ n: [{ numeric: ['='] }] }, 'must be a number');
    expectPatternError({ n: [{ numeric: ['=', 5, '<', 6] }] }, 'exactly one operand');
    expectPatternError({ n: [{ numeric: ['<', 5, '>', 1] }] }, 'exactly one operand');
    expectPatternError({ n: [{ numeric: ['>', 0, '>', 5] }] }, 'bad numeric range operator');
    expectPatternError({ n: [{ numeric: ['>', 0, '<'] }] }, 'must be a number');
    expectPatternError({ n: [{ numeric: ['>', 5, '<', 1] }] }, 'bottom 5 must be less than top 1');
    expectPatternError({ n: [{ numeric: ['>', 5, '<=', 5] }] }, 'less than');
    expectPatternError({ n: [{ numeric: ['>', 0, '<', 5, 6] }] }, 'too many');
    expectPatternError({ n: [{ numeric: ['>', Number.POSITIVE_INFINITY] }] }, 'not finite');
  });
});

describe('cidr (IP address matching)', () => {
  it('docs: 10.0.0.0/24 matches 10.0.0.0 through 10.0.0.255', () => {
    const p = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
    const at = (ip: unknown): boolean => m(p, { detail: { sourceIPAddress: ip } });
    expect(at('10.0.0.0')).toBe(true);
    expect(at('10.0.0.33')).toBe(true);
    expect(at('10.0.0.255')).toBe(true);
    expect(at('10.0.1.0')).toBe(false);
    expect(at('9.255.255.255')).toBe(false);
    expect(at('10.0.0.256')).toBe(false);
    expect(at('10.0.0')).toBe(false);
    expect(at('not an ip')).toBe(false);
    expect(at(167772161)).toBe(false); // numbers are not IP addresses
    expect(at(undefined)).toBe(false);
  });

  it('other prefix lengths: /0, /8, /31 and a non-octet boundary /20', () => {
    expect(m({ ip: [{ cidr: '0.0.0.0/0' }] }, { ip: '255.255.255.255' })).toBe(true);
    expect(m({ ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '10.255.1.2' })).toBe(true);
    expect(m({ ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '11.0.0.0' })).toBe(false);
    expect(m({ ip: [{ cidr: '192.168.1.2/31' }] }, { ip: '192.168.1.3' })).toBe(true);
    expect(m({ ip: [{ cidr: '192.168.1.2/31' }] }, { ip: '192.168.1.4' })).toBe(false);
    expect(m({ ip: [{ cidr: '172.16.16.0/20' }] }, { ip: '172.16.31.255' })).toBe(true);
    expect(m({ ip: [{ cidr: '172.16.16.0/20' }] }, { ip: '172.16.32.0' })).toBe(false);
    expect(m({ ip: [{ cidr: '172.16.16.0/20' }] }, { ip: '172.16.15.255' })).toBe(false);
  });

  it('event-ruler: host bits in the pattern are floored (10.0.0.77/24 covers 10.0.0.0)', () => {
    expect(m({ ip: [{ cidr: '10.0.0.77/24' }] }, { ip: '10.0.0.1' })).toBe(true);
  });

  it('docs: IPv6 works too, with compressed and uppercase forms', () => {
    const p = { ip: [{ cidr: '2001:db8::/32' }] };
    expect(m(p, { ip: '2001:db8::1' })).toBe(true);
    expect(m(p, { ip: '2001:0DB8:0000:0000:0000:0000:0000:0000' })).toBe(true);
    expect(m(p, { ip: '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff' })).toBe(true);
    expect(m(p, { ip: '2001:db9::' })).toBe(false);
    expect(m(p, { ip: '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff' })).toBe(false);
    expect(m(p, { ip: '2001:db8::1::2' })).toBe(false);
    expect(m(p, { ip: '2001:db8:0:0:0:0:0:0:1' })).toBe(false);
    expect(m({ ip: [{ cidr: '::/0' }] }, { ip: '::1' })).toBe(true);
    expect(m({ ip: [{ cidr: 'fe80::/10' }] }, { ip: 'febf::1' })).toBe(true);
    expect(m({ ip: [{ cidr: 'fe80::/10' }] }, { ip: 'fec0::1' })).toBe(false);
    expect(m({ ip: [{ cidr: '2001:db8::/127' }] }, { ip: '2001:db8::1' })).toBe(true);
    expect(m({ ip: [{ cidr: '2001:db8::/127' }] }, { ip: '2001:db8::2' })).toBe(false);
  });

  it('address families do not mix, except IPv4-mapped IPv6 which is read as IPv4', () => {
    expect(m({ ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '2001:db8::1' })).toBe(false);
    expect(m({ ip: [{ cidr: '::/1' }] }, { ip: '10.0.0.1' })).toBe(false);
    expect(m({ ip: [{ cidr: '10.0.0.0/8' }] }, { ip: '::ffff:a00:1' })).toBe(true);
  });

  it('several cidr alternatives are ORed, and combine with other operators', () => {
    const p = { ip: [{ cidr: '10.0.0.0/8' }, { cidr: '2001:db8::/32' }, 'unknown'] };
    expect(m(p, { ip: '10.1.2.3' })).toBe(true);
    expect(m(p, { ip: '2001:db8::5' })).toBe(true);
    expect(m(p, { ip: 'unknown' })).toBe(true);
    expect(m(p, { ip: '192.168.0.1' })).toBe(false);
    expect(m(p, { ip: ['192.168.0.1', '10.9.9.9'] })).toBe(true);
  });

  it('event-ruler: malformed CIDRs, /32 and /128 are rejected', () => {
    expectPatternError({ ip: [{ cidr: '10.0.0.0' }] }, 'ip[0].cidr', "one '/'");
    expectPatternError({ ip: [{ cidr: '10.0.0.0/8/8' }] }, "one '/'");
    expectPatternError({ ip: [{ cidr: '10.0.0.0/x' }] }, 'integer');
    expectPatternError({ ip: [{ cidr: '10.0.0.0/-1' }] }, 'negative');
    expectPatternError({ ip: [{ cidr: '10.0.0.0/32' }] }, 'IPv4 mask bits must be < 32');
    expectPatternError({ ip: [{ cidr: '2001:db8::/128' }] }, 'IPv6 mask bits must be < 128');
    expectPatternError({ ip: [{ cidr: '10.0.0.300/24' }] }, 'invalid IP address');
    expectPatternError({ ip: [{ cidr: 'example.com/24' }] }, 'invalid IP address');
    expectPatternError({ ip: [{ cidr: 24 }] }, 'cidr must be a string');
  });
});

describe('$or', () => {
  const cw = (fields: Record<string, unknown>): Record<string, unknown> => ({ source: 'aws.cloudwatch', ...fields });

  it('event-ruler README: "source" && ("metricName" || "namespace")', () => {
    const p = {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    };
    expect(m(p, cw({ metricName: 'CPUUtilization' }))).toBe(true);
    expect(m(p, cw({ namespace: 'AWS/ES' }))).toBe(true);
    expect(m(p, cw({ metricName: 'Other', namespace: 'Other' }))).toBe(false);
    expect(m(p, { source: 'aws.ec2', metricName: 'CPUUtilization' })).toBe(false);
  });

  it('event-ruler README: parallel $or at two levels', () => {
    const p = {
      $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    };
    expect(m(p, { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } })).toBe(true);
    expect(m(p, { namespace: 'AWS/EC2', detail: { source: 'other' } })).toBe(false);
    expect(m(p, { detail: { source: 'aws.cloudwatch' } })).toBe(false);
  });

  it('event-ruler README: nested $or with an AND inside a branch', () => {
    const p = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    };
    expect(m(p, cw({ metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 }))).toBe(true);
    expect(m(p, cw({ metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1001 }))).toBe(false);
    expect(m(p, cw({ metricType: 'MetricType', spaceId: 1000 }))).toBe(false);
    expect(m(p, cw({ scope: 'Service' }))).toBe(true);
  });

  it('$or branches can use any operator, including exists:false', () => {
    const p = { $or: [{ a: [{ exists: false }] }, { a: [{ numeric: ['>', 10] }] }] };
    expect(m(p, {})).toBe(true);
    expect(m(p, { a: 11 })).toBe(true);
    expect(m(p, { a: 5 })).toBe(false);
  });

  it('$or under an array of objects is evaluated per object', () => {
    const p = { items: { $or: [{ kind: ['a'] }, { size: [{ numeric: ['>', 5] }] }], owner: ['me'] } };
    expect(
      m(p, {
        items: [
          { kind: 'a', owner: 'you' },
          { size: 9, owner: 'me' },
        ],
      }),
    ).toBe(true);
    expect(
      m(p, {
        items: [
          { kind: 'a', owner: 'you' },
          { size: 1, owner: 'me' },
        ],
      }),
    ).toBe(false);
  });

  it('event-ruler: $or must be an array of at least two objects without reserved field names', () => {
    expectPatternError({ $or: [{ a: ['x'] }] }, '$or', 'at least 2');
    expectPatternError({ $or: { a: ['x'] } }, '$or', 'array');
    expectPatternError({ $or: [{ a: ['x'] }, 'b'] }, '$or[1]', 'objects');
    expectPatternError({ $or: [{ a: ['x'] }, {}] }, '$or[1]', 'empty');
    expectPatternError({ $or: [{ numeric: [1] }, { prefix: ['a'] }] }, '$or[0].numeric', 'reserved');
    expectPatternError({ d: { $or: [{ a: ['x'] }, { b: { exists: [true] } }] } }, 'd.$or[1].b.exists', 'reserved');
  });
});

describe('PatternError', () => {
  it('is an Error subclass with name PatternError', () => {
    const err = expectPatternError('nope');
    expect(err).toBeInstanceOf(Error);
  });

  it('rejects non-object or empty patterns and empty nested objects', () => {
    expectPatternError(null, 'JSON object');
    expectPatternError([], 'JSON object');
    expectPatternError(['source'], 'JSON object');
    expectPatternError({}, 'empty');
    expectPatternError({ detail: {} }, 'detail', 'empty');
  });

  it('rejects leaves that are not arrays, and empty arrays', () => {
    expectPatternError({ source: 'aws.ec2' }, 'source', 'must be an object or an array');
    expectPatternError({ detail: { n: 5 } }, 'detail.n', 'must be an object or an array');
    expectPatternError({ detail: { b: null } }, 'detail.b');
    expectPatternError({ source: [] }, 'source', 'empty arrays');
  });

  it('rejects nested arrays as match values', () => {
    expectPatternError({ source: [['aws.ec2']] }, 'source[0]', 'match value');
  });

  it('names the unknown operator and its path', () => {
    expectPatternError({ detail: { state: ['ok', { contains: 'x' }] } }, 'detail.state[1]', '"contains"');
    expectPatternError({ v: [{ exactly: 'x' }] }, 'v[0]', '"exactly"');
  });

  it('rejects match expressions with zero or several operators', () => {
    expectPatternError({ v: [{}] }, 'v[0]', 'no operator');
    expectPatternError({ v: [{ prefix: 'a', suffix: 'b' }] }, 'v[0]', 'only one key');
  });

  it('rejects wrongly typed operator arguments', () => {
    expectPatternError({ v: [{ prefix: 5 }] }, 'v[0].prefix', 'prefix must be a string');
    expectPatternError({ v: [{ suffix: ['a'] }] }, 'v[0].suffix', 'suffix must be a string');
    expectPatternError({ v: [{ prefix: { 'equals-ignore-case': 5 } }] }, 'equals-ignore-case must be a string');
    expectPatternError({ v: [{ prefix: { wildcard: 'a*' } }] }, 'v[0].prefix.wildcard', 'unsupported');
    expectPatternError({ v: [{ 'equals-ignore-case': ['a'] }] }, 'v[0].equals-ignore-case');
  });

  it('compilePattern throws the same errors', () => {
    expect(() => compilePattern({ source: 'x' })).toThrow(PatternError);
  });
});

describe('compilePattern / matchesPattern', () => {
  it('a compiled matcher is reusable across events and agrees with matchesPattern', () => {
    const p = { source: ['kitewatch'], detail: { class_uid: [3001, 3002] } };
    const match = compilePattern(p);
    const events = [
      { source: 'kitewatch', detail: { class_uid: 3001 } },
      { source: 'kitewatch', detail: { class_uid: 4001 } },
      { source: 'other', detail: { class_uid: 3002 } },
    ];
    expect(events.map(match)).toEqual([true, false, false]);
    expect(events.map((e) => matchesPattern(p, e))).toEqual([true, false, false]);
  });

  it('validatePattern returns the pattern and compiling does not mutate it', () => {
    const p = { source: [{ prefix: 'a' }], $or: [{ a: ['x'] }, { b: ['y'] }] };
    const before = JSON.stringify(p);
    expect(validatePattern(p)).toBe(p);
    compilePattern(p);
    expect(JSON.stringify(p)).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// The project's own rules and the Buildkite samples from Buildkite's docs
// ---------------------------------------------------------------------------------------------

const rulesDir = new URL('../../rules/', import.meta.url);
const fixturesDir = new URL('../fixtures/buildkite/eventbridge/', import.meta.url);

function readJson(dir: URL, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Record<string, unknown>;
}

const ruleFiles = readdirSync(rulesDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const sampleFiles = readdirSync(fixturesDir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('rules/*.json', () => {
  it('there are rule files to check', () => {
    expect(ruleFiles).toContain('buildkite-ingest.json');
  });

  it.each(ruleFiles)('%s has an eventPattern that validates', (file) => {
    const rule = readJson(rulesDir, file);
    expect(rule.eventPattern).toBeTypeOf('object');
    expect(() => validatePattern(rule.eventPattern)).not.toThrow();
  });
});

describe('rules/buildkite-ingest.json against the Buildkite EventBridge samples', () => {
  const ingest = compilePattern(validatePattern(readJson(rulesDir, 'buildkite-ingest.json').eventPattern));

  it('has samples of both kinds (real partner source and elided "...")', () => {
    const sources = sampleFiles.map((f) => readJson(fixturesDir, f).source);
    expect(sources.filter((s) => typeof s === 'string' && s.startsWith('aws.partner/buildkite.com/')).length).toBeGreaterThan(10);
    expect(sources).toContain('...');
  });

  it.each(sampleFiles)('%s matches iff its source is a Buildkite partner source', (file) => {
    const event = readJson(fixturesDir, file);
    const source = event.source;
    expect(typeof source).toBe('string');
    expect(ingest(event)).toBe((source as string).startsWith('aws.partner/buildkite.com/'));
  });

  it('build-blocked.json (source "...") does not match', () => {
    expect(ingest(readJson(fixturesDir, 'build-blocked.json'))).toBe(false);
  });

  it('Buildkite events do not match the Kitewatch-bus rules', () => {
    const event = readJson(fixturesDir, 'build-finished.json');
    for (const file of ruleFiles.filter((f) => f !== 'buildkite-ingest.json')) {
      expect(matchesPattern(readJson(rulesDir, file).eventPattern as EventPattern, event)).toBe(false);
    }
  });
});

describe('rules on the Kitewatch bus', () => {
  const envelope = (detailType: string, classUid: number): Record<string, unknown> => ({
    source: 'kitewatch',
    'detail-type': detailType,
    time: '2024-08-19T05:18:08.000Z',
    detail: { class_uid: classUid, time: 1724044688000 },
  });

  it('normalized-to-detect takes OCSF Events of the detected classes only', () => {
    const p = readJson(rulesDir, 'normalized-to-detect.json').eventPattern as EventPattern;
    expect(m(p, envelope('OCSF Event', 3002))).toBe(true);
    expect(m(p, envelope('OCSF Event', 6003))).toBe(true);
    expect(m(p, envelope('OCSF Event', 6004))).toBe(false);
    expect(m(p, envelope('OCSF Detection Finding', 3002))).toBe(false);
  });

  it('findings-to-containment takes findings only; ocsf-to-forwarding takes all three detail-types', () => {
    const contain = readJson(rulesDir, 'findings-to-containment.json').eventPattern as EventPattern;
    const forward = readJson(rulesDir, 'ocsf-to-forwarding.json').eventPattern as EventPattern;
    expect(m(contain, envelope('OCSF Detection Finding', 2004))).toBe(true);
    expect(m(contain, envelope('OCSF Event', 3002))).toBe(false);
    for (const dt of ['OCSF Event', 'OCSF Detection Finding', 'OCSF Remediation Activity']) {
      expect(m(forward, envelope(dt, 0))).toBe(true);
    }
    expect(m(forward, { ...envelope('OCSF Event', 3002), source: 'aws.partner/buildkite.com/x' })).toBe(false);
  });

  it('findings-to-containment skips archive replays (a top-level replay-name); forwarding takes them', () => {
    const contain = readJson(rulesDir, 'findings-to-containment.json').eventPattern as EventPattern;
    const forward = readJson(rulesDir, 'ocsf-to-forwarding.json').eventPattern as EventPattern;
    const replayed = { ...envelope('OCSF Detection Finding', 2004), 'replay-name': 'after-the-fix' };
    expect(m(contain, replayed)).toBe(false);
    // An empty name is still a replay: exists is about presence, not value.
    expect(m(contain, { ...replayed, 'replay-name': '' })).toBe(false);
    expect(m(contain, envelope('OCSF Detection Finding', 2004))).toBe(true);
    expect(m(forward, replayed)).toBe(true);
  });
});

describe('patterns EventBridge rejects', () => {
  it('an empty list under anything-but prefix, suffix, equals-ignore-case or wildcard', () => {
    for (const op of ['prefix', 'suffix', 'equals-ignore-case', 'wildcard']) {
      expectPatternError({ v: [{ 'anything-but': { [op]: [] } }] }, `v[0].anything-but.${op}`, 'must not be empty');
    }
  });

  it('numeric operands outside ±5e9 or with more than six decimals, in numeric and in anything-but', () => {
    expectPatternError({ v: [{ numeric: ['>', 5_000_000_001] }] }, 'v[0].numeric[1]', 'outside the range');
    expectPatternError({ v: [{ numeric: ['<', -1e10] }] }, 'outside the range');
    expectPatternError({ v: [{ numeric: ['=', 0.1234567] }] }, 'more than 6 digits');
    expectPatternError({ v: [{ numeric: ['>=', 1e-7] }] }, 'more than 6 digits');
    expectPatternError({ v: [{ numeric: ['>', 0, '<', 9007199254740993] }] }, 'v[0].numeric[3]', 'outside the range');
    expectPatternError({ v: [{ 'anything-but': [1.0000001] }] }, 'v[0].anything-but[0]', 'more than 6 digits');
    expectPatternError({ v: [{ 'anything-but': 6e9 }] }, 'outside the range');
  });

  it('still accepts the edges: ±5e9 and six decimals', () => {
    for (const p of [{ v: [{ numeric: ['>=', -5e9, '<=', 5e9] }] }, { v: [{ numeric: ['=', 0.000001] }] }, { v: [{ numeric: ['<', 123.456789] }] }, { v: [{ 'anything-but': [5e9, -5e9, 1.5] }] }]) {
      expect(() => validatePattern(p)).not.toThrow();
    }
    expect(m({ v: [{ numeric: ['=', 0.000001] }] }, { v: 0.000001 })).toBe(true);
  });
});
