//! Group commit: changes applied at the same time (under per-key concurrency) share
//! `TransactWriteItems` calls. One call is in flight at a time; the changes that arrive
//! meanwhile go together in the next, as many as DynamoDB's rules allow (100 actions, 4 MB,
//! no item twice), in arrival order, an item's later change never before its earlier one.
//! Each change gets the answer it would get alone: DynamoDB's cancellation reasons say whose
//! guard or condition refused, and the others are sent again without it. A change alone
//! pays nothing for this: it is sent at once.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_sdk_dynamodb::types::TransactWriteItem;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::backend::Backend;
use super::error::WriteError;
use super::limits::{self, KeySchemas, Target, MAX_TRANSACTION_ACTIONS, MAX_TRANSACTION_BYTES};
use super::transact::{backoff, cancelled, Outcome, Reason, ATTEMPTS};

/// What became of one change's transaction.
#[derive(Debug)]
pub(super) enum Answer {
    /// Its writes were made, with its guard.
    Written,
    /// Its guard refused: this change or a newer one was applied before.
    Refused,
    /// It failed: one of its own writes' conditions, a rule, DynamoDB's error.
    Failed(WriteError),
}

/// The changes waiting for a transaction, and the turn to send one.
#[derive(Debug, Default)]
pub(super) struct Committer {
    queue: Mutex<Queue>,
    turn: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Queue {
    next: u64,
    /// In arrival order (by `id`).
    pending: VecDeque<Member>,
}

/// One change's transaction, waiting.
#[derive(Debug)]
struct Member {
    id: u64,
    /// Its guard key (the twin records its writes under it).
    key: String,
    /// Its guard, then its writes.
    items: Vec<TransactWriteItem>,
    targets: Vec<Target>,
    bytes: usize,
    /// Conflicts and throttles met so far.
    attempts: u32,
    /// Not sent before this (a backoff after a conflict or a throttle).
    not_before: Option<Instant>,
    /// Sent in a transaction of its own (its group failed as a whole).
    alone: bool,
    reply: oneshot::Sender<Answer>,
}

/// Takes a change out of the queue if its caller stops waiting before it was sent.
struct Leave<'a> {
    committer: &'a Committer,
    id: u64,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.committer.queue().pending.retain(|member| member.id != self.id);
    }
}

impl Committer {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits one change's transaction (its guard first), with whatever else is waiting.
    pub(super) async fn submit(
        &self,
        backend: &Backend,
        schemas: &KeySchemas,
        key: String,
        items: Vec<TransactWriteItem>,
    ) -> Answer {
        let (reply, mut answer) = oneshot::channel();
        let targets = limits::targets(&items, schemas);
        let bytes = limits::transaction_bytes(&items);
        let id = {
            let mut queue = self.queue();
            let id = queue.next;
            queue.next += 1;
            let member = Member { id, key, items, targets, bytes, attempts: 0, not_before: None, alone: false, reply };
            queue.pending.push_back(member);
            id
        };
        let _leave = Leave { committer: self, id };
        let gone = || Answer::Failed(WriteError::new("the transaction's outcome is unknown: its sender was stopped"));
        loop {
            let turn = tokio::select! {
                biased;
                answer = &mut answer => return answer.unwrap_or_else(|_| gone()),
                turn = self.turn.lock() => turn,
            };
            let group = self.take(Instant::now());
            if !group.is_empty() {
                self.commit(backend, schemas, group).await;
                continue;
            }
            drop(turn);
            // Nothing may go yet: the waiting changes are backing off.
            let wake = self.queue().pending.iter().filter_map(|member| member.not_before).min();
            let wake = wake.unwrap_or_else(|| Instant::now() + std::time::Duration::from_millis(1));
            tokio::select! {
                biased;
                answer = &mut answer => return answer.unwrap_or_else(|_| gone()),
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Commits one change's transaction in a call of its own (group commit off).
    pub(super) async fn alone(
        backend: &Backend,
        schemas: &KeySchemas,
        key: String,
        mut items: Vec<TransactWriteItem>,
    ) -> Answer {
        match backend.send_retrying(items.clone(), schemas).await {
            Outcome::Committed => {
                backend.record([(key, items.split_off(1))]);
                Answer::Written
            }
            Outcome::Cancelled(reasons, _) => match judge(&reasons) {
                Verdict::Answer(answer) => answer,
                Verdict::Again | Verdict::Later => Answer::Failed(WriteError::new(format!(
                    "TransactWriteItems failed: {} after {ATTEMPTS} attempts",
                    cancelled(&reasons)
                ))),
            },
            Outcome::Busy(error) | Outcome::Failed(error) => Answer::Failed(error),
        }
    }

    /// The next group: the waiting changes that may go now, in arrival order, while they fit
    /// in one transaction. A change left waiting keeps its items from later changes.
    fn take(&self, now: Instant) -> Vec<Member> {
        let mut queue = self.queue();
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.pending.len());
        let mut used = Used::default();
        let mut blocked = Used::default();
        let (mut actions, mut bytes) = (0, 0);
        let mut closed = false;
        for member in queue.pending.drain(..) {
            let fits = !closed
                && member.not_before.is_none_or(|at| at <= now)
                && actions + member.items.len() <= MAX_TRANSACTION_ACTIONS
                && bytes + member.bytes <= MAX_TRANSACTION_BYTES
                && (!member.alone || taken.is_empty())
                && !member.targets.iter().any(|target| used.meets(target) || blocked.meets(target));
            if fits {
                actions += member.items.len();
                bytes += member.bytes;
                used.add(&member.targets);
                closed = member.alone;
                taken.push(member);
            } else {
                blocked.add(&member.targets);
                kept.push_back(member);
            }
        }
        queue.pending = kept;
        taken
    }

    /// Sends a group and answers each member, or puts it back to wait.
    async fn commit(&self, backend: &Backend, schemas: &KeySchemas, group: Vec<Member>) {
        let items: Vec<TransactWriteItem> = group.iter().flat_map(|member| member.items.iter().cloned()).collect();
        let size = group.len();
        if size > 1 {
            tracing::debug!(changes = size, actions = items.len(), "one transaction for several changes");
        }
        let mut back = Vec::new();
        match backend.send(items, schemas).await {
            Outcome::Committed => {
                let mut replies = Vec::with_capacity(group.len());
                let mut entries = Vec::with_capacity(group.len());
                for mut member in group {
                    entries.push((member.key, member.items.split_off(1)));
                    replies.push(member.reply);
                }
                backend.record(entries);
                for reply in replies {
                    let _ = reply.send(Answer::Written);
                }
            }
            Outcome::Cancelled(reasons, _) => {
                let mut reasons = reasons.into_iter();
                for member in group {
                    let own: Vec<Reason> = reasons.by_ref().take(member.items.len()).collect();
                    match judge(&own) {
                        Verdict::Answer(answer) => {
                            let _ = member.reply.send(answer);
                        }
                        Verdict::Again => back.push(member),
                        Verdict::Later => back.extend(retry(member, || cancelled(&own))),
                    }
                }
            }
            Outcome::Busy(error) => {
                for member in group {
                    back.extend(retry(member, || error.to_string()));
                }
            }
            Outcome::Failed(error) => {
                if size == 1 {
                    for member in group {
                        let _ = member.reply.send(Answer::Failed(error.clone()));
                    }
                } else {
                    // Whose the fault is, the error does not say: each is sent alone.
                    tracing::debug!(%error, "a group's transaction failed; its changes are sent one by one");
                    for mut member in group {
                        member.alone = true;
                        back.push(member);
                    }
                }
            }
        }
        if !back.is_empty() {
            let mut queue = self.queue();
            for member in back {
                let at = queue.pending.partition_point(|waiting| waiting.id < member.id);
                queue.pending.insert(at, member);
            }
        }
    }
}

/// What a cancelled transaction means for one member, from its own actions' reasons.
enum Verdict {
    Answer(Answer),
    /// Its actions were fine: another member's refusal cancelled it.
    Again,
    /// It met a conflict or a throttle.
    Later,
}

fn judge(reasons: &[Reason]) -> Verdict {
    if reasons.first() == Some(&Reason::ConditionFailed) {
        return Verdict::Answer(Answer::Refused);
    }
    for (index, reason) in reasons.iter().enumerate().skip(1) {
        let write = index - 1;
        match reason {
            Reason::ConditionFailed => {
                return Verdict::Answer(Answer::Failed(WriteError::new(format!(
                "TransactWriteItems failed: cancelled, the condition of write {write} failed (ConditionalCheckFailed)"
            ))))
            }
            Reason::Other(why) => {
                return Verdict::Answer(Answer::Failed(WriteError::new(format!(
                    "TransactWriteItems failed: cancelled, write {write}: {why}"
                ))))
            }
            _ => {}
        }
    }
    if let Some(Reason::Other(why)) = reasons.first() {
        return Verdict::Answer(Answer::Failed(WriteError::new(format!(
            "TransactWriteItems failed: cancelled, the guard: {why}"
        ))));
    }
    if reasons.iter().any(Reason::passing) {
        Verdict::Later
    } else {
        Verdict::Again
    }
}

/// A member that met a conflict or a throttle: back to wait out its backoff, or answered
/// with the failure once it has met [`ATTEMPTS`] of them.
fn retry(mut member: Member, why: impl FnOnce() -> String) -> Option<Member> {
    member.attempts += 1;
    if member.attempts >= ATTEMPTS {
        let error = WriteError::new(format!(
            "TransactWriteItems met a conflict or a throttle {} times (last: {}): the change is retried later",
            member.attempts,
            why()
        ));
        let _ = member.reply.send(Answer::Failed(error));
        return None;
    }
    member.not_before = Some(Instant::now() + backoff(member.attempts));
    Some(member)
}

/// The items a group's members are on, for keeping two operations on one item apart.
#[derive(Default)]
struct Used {
    items: HashSet<Target>,
    /// Tables with a `Put` whose key is unknown (it may be any of their items)...
    any: HashSet<String>,
    /// ...and every table touched.
    tables: HashSet<String>,
}

impl Used {
    fn meets(&self, target: &Target) -> bool {
        match target {
            Target::Item(table, _) => self.items.contains(target) || self.any.contains(table),
            Target::AnyOf(table) => self.tables.contains(table),
        }
    }

    fn add(&mut self, targets: &[Target]) {
        for target in targets {
            match target {
                Target::Item(table, _) => {
                    self.tables.insert(table.clone());
                    self.items.insert(target.clone());
                }
                Target::AnyOf(table) => {
                    self.tables.insert(table.clone());
                    self.any.insert(table.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(committer: &Committer, targets: &[&str], actions: usize, waiting: bool) -> oneshot::Receiver<Answer> {
        let (reply, answer) = oneshot::channel();
        let mut queue = committer.queue();
        let id = queue.next;
        queue.next += 1;
        let items = vec![TransactWriteItem::builder().build(); actions];
        let targets = targets.iter().map(|t| Target::Item("T".into(), (*t).into())).collect();
        let not_before = waiting.then(|| Instant::now() + std::time::Duration::from_secs(60));
        let member = Member {
            id,
            key: format!("k{id}"),
            items,
            targets,
            bytes: 10,
            attempts: 0,
            not_before,
            alone: false,
            reply,
        };
        queue.pending.push_back(member);
        answer
    }

    fn taken(committer: &Committer) -> Vec<String> {
        committer.take(Instant::now()).into_iter().map(|m| m.key).collect()
    }

    #[tokio::test]
    async fn a_waiting_change_keeps_its_items_from_later_changes() {
        let committer = Committer::default();
        let _a = member(&committer, &["x"], 2, true); // backing off
        let _b = member(&committer, &["x"], 2, false); // same item, arrived later
        let _c = member(&committer, &["y"], 2, false);
        assert_eq!(taken(&committer), ["k2"]);
        // Nothing else goes while the first still waits; the two stay in arrival order.
        assert_eq!(taken(&committer), Vec::<String>::new());
        assert_eq!(committer.queue().pending.iter().map(|m| m.id).collect::<Vec<_>>(), [0, 1]);
    }

    #[tokio::test]
    async fn a_group_holds_each_item_once_and_at_most_100_actions() {
        let committer = Committer::default();
        let _a = member(&committer, &["a"], 60, false);
        let _b = member(&committer, &["a"], 2, false); // its item is taken: next group
        let _c = member(&committer, &["c"], 41, false); // over 100 with a: next group, keeps "c"
        let _d = member(&committer, &["c"], 2, false); // behind c
        let _e = member(&committer, &["e"], 40, false);
        assert_eq!(taken(&committer), ["k0", "k4"]);
        assert_eq!(taken(&committer), ["k1", "k2"]);
        assert_eq!(taken(&committer), ["k3"]);
    }
}
