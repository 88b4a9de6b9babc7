/**
 * The one source of what the Lua scripts share with TypeScript: sizes of the argument
 * records, budgets, field lists, transition tables and messages. `luaHeader()` renders
 * them as the `local` declarations every script starts with, so a value changed here
 * changes on both sides, and the .lua files hold only Lua.
 */
import { TRANSITIONS } from '../../../core/states.ts';
import { brokenDependencyError } from '../../../engine/transitions.ts';
import { MAX_LOG_LINES } from '../../rules.ts';

/**
 * Data and results up to CHUNKS chunks of CHUNK bytes stay in the job's hash, one field per
 * chunk (lib.lua putValue): Redis keeps a hash compact (a listpack) while every value is at
 * most 64 bytes (`hash-max-listpack-value`, default 64). A longer value gets its own key.
 */
export const CHUNK = 64;
export const CHUNKS = 8;
/** Most job ids one event stream entry carries. */
export const EVENT_GROUP = 50;
/** Values per job in an enqueue call (see RedisStore.enqueue). */
export const ENQUEUE_FIELDS = 24;
/** Values per outcome in a finish call (see RedisStore.finish). */
export const FINISH_FIELDS = 9;
/** maintain does at most this many jobs per part per queue in one call, then says more is left. */
export const MAINTAIN_BUDGET = 1000;
/** Scheduled jobs promoted per queue per call: bounds the script's run time. */
export const PROMOTE_PER_CALL = 1000;
/** Ready entries a claim may skip (names filter, busy groups) before it gives up. */
export const CLAIM_SCAN_SLACK = 1000;
/** Parked workers one queue's new work is handed to per script call (the rest wake and claim). */
export const HANDOFF_REGS = 8;

/**
 * Event types also written to the control stream `{p}:control`: all a Worker needs from
 * events on Redis (markers and hand-overs tell it about new work), so its blocking read
 * does not wake for every job's other events.
 */
export const CONTROL_EVENTS = ['canceled', 'removed'] as const;
/** Approximate length the control stream is trimmed to (readers only read past their start). */
export const CONTROL_MAXLEN = 1000;

/** The job hash fields scripts load into a job table (load, loadAll). */
const LOADED = ['state', 'queue', 'name', 'priority', 'runAt', 'attempt', 'maxAttempts', 'backoff', 'groupKey', 'cseq',
  'onParentFailure', 'dependsOn', 'resultTtlMs', 'failureTtlMs', 'workerId', 'token', 'finishedAt', 'createdAt', 'kids', 'startBy',
  'originalQueue', 'waitingOn'];
/**
 * What finish reads (fencing, indexes, expiry): every field read costs ~0.35 µs of Lua
 * glue, so the hot paths read only theirs (state must come first: see loadOnly).
 */
const FOR_FINISH = ['state', 'token', 'queue', 'name', 'cseq', 'groupKey', 'kids', 'resultTtlMs', 'failureTtlMs', 'attempt', 'priority', 'runAt'];
/** What removing a finished job reads (removeJob on a finished job). */
const FOR_REMOVAL = ['state', 'queue', 'dependsOn', 'kids'];

/** The broken-dependency message is the engine's, so every backend says the same thing. */
const [BROKEN_PRE, BROKEN_POST] = brokenDependencyError('\u0000').split('\u0000');

/** A JS string as a Lua string literal (JSON escapes are valid Lua escapes for our text). */
function str(s: string): string {
  return JSON.stringify(s);
}
const list = (values: readonly string[]) => `{${values.map(str).join(', ')}}`;
const set = (values: readonly string[]) => `{${values.map((v) => `[${str(v)}] = true`).join(', ')}}`;

/**
 * The header as one line: statements joined by semicolons, so a Redis error's line
 * number counts lines of lib.lua and the operation's file (see scripts.ts).
 */
export function luaHeader(): string {
  return [
    `local MAX_LOG = ${MAX_LOG_LINES}`,
    `local EVENT_GROUP = ${EVENT_GROUP}`,
    `local CHUNK = ${CHUNK}`,
    `local CHUNKS = ${CHUNKS}`,
    `local ENQUEUE_FIELDS = ${ENQUEUE_FIELDS}`,
    `local FINISH_FIELDS = ${FINISH_FIELDS}`,
    `local MAINTAIN_BUDGET = ${MAINTAIN_BUDGET}`,
    `local PROMOTE_PER_CALL = ${PROMOTE_PER_CALL}`,
    `local CLAIM_SCAN_SLACK = ${CLAIM_SCAN_SLACK}`,
    `local HANDOFF_REGS = ${HANDOFF_REGS}`,
    `local CONTROL_EVENTS = ${set(CONTROL_EVENTS)}`,
    `local CONTROL_MAXLEN = ${CONTROL_MAXLEN}`,
    `local CAN_CANCEL = ${set(TRANSITIONS.cancel)}`,
    `local CAN_PROMOTE = ${set(TRANSITIONS.promote)}`,
    `local CAN_RETRY = ${set(TRANSITIONS.retry)}`,
    `local F = ${list(LOADED)}`,
    `local FSET = ${set(LOADED)}`,
    `local FOR_FINISH = ${list(FOR_FINISH)}`,
    `local FOR_REMOVAL = ${list(FOR_REMOVAL)}`,
    `local BROKEN_PRE, BROKEN_POST = ${str(BROKEN_PRE)}, ${str(BROKEN_POST)}`,
  ].join('; ');
}
