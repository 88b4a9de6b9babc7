/**
 * Fair shares across groups: the turn a grouped job takes in its queue's ready order.
 *
 * Ready jobs are claimed by priority, then by an arrival number. A job without a group gets
 * the next arrival number (the back of the line). A job with a group gets a *turn* instead:
 * one past the later of the line's head (the number of the next job to be claimed at its
 * priority) and its group's previous turn. So each group's jobs are spaced one number apart
 * starting at the head: a group that adds a million jobs occupies one number in each round,
 * and a group that adds ten jobs later gets the next ten rounds' numbers too — the groups
 * take turns. This is start-time fair queuing (weights: up to w jobs per turn); claiming stays one ordered
 * read of the ready index, so it costs the same for 10 groups or 10,000.
 *
 * Every store applies this rule when a grouped job becomes ready (added, promoted, retried,
 * released by its dependencies) and keeps each group's last turn per queue and priority;
 * turns at or behind the head are forgotten by upkeep (they would change nothing).
 */

/** A group's last turn in a line, and how many of its jobs took that turn. */
export interface GroupTurn {
  last: number;
  used: number;
}

/**
 * The turn of a grouped job, and the group's new last turn. A group of weight w (the
 * queue's `groupWeights`, default 1) puts up to w jobs on each turn, so it gets w jobs per
 * round where others get one.
 * @param head the arrival number of the next job to be claimed at this priority, or null if none waits
 * @param next the arrival number the job would get without a group (used when none waits)
 * @param prev the group's last turn at this priority, if remembered
 */
export function fairTurn(head: number | null, next: number, prev: GroupTurn | undefined, weight = 1): GroupTurn {
  const from = head ?? next - 1;
  if (prev && prev.last > from && prev.used < weight) return { last: prev.last, used: prev.used + 1 };
  return { last: Math.max(from, prev?.last ?? -Infinity) + 1, used: 1 };
}
