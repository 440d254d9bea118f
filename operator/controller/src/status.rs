//! Conditions (`Ready`, `Reconciling`, `Stalled`), phases and Events, the same way for every
//! kind: a reconcile ends in a [`Verdict`] and the status and Events follow from it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::events::{Event, EventType};
use quarry_crd::{condition_types, Phase};

/// Where a reconcile left a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub phase: Phase,
    /// CamelCase, e.g. `Created`, `Loading`, `NotSupported`
    pub reason: String,
    pub message: String,
}

impl Verdict {
    pub fn ready(reason: &str, message: impl Into<String>) -> Self {
        Self {
            phase: Phase::Ready,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// Working towards the spec; no action needed from anyone.
    pub fn reconciling(reason: &str, message: impl Into<String>) -> Self {
        Self {
            phase: Phase::Reconciling,
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// Cannot make progress until someone changes something (the reason says what).
    pub fn stalled(reason: &str, message: impl Into<String>) -> Self {
        Self {
            phase: Phase::Stalled,
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Ready
    }
}

fn condition(
    type_: &str,
    on: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    previous: &[Condition],
    now: &Time,
) -> Condition {
    let status = if on { "True" } else { "False" };
    // the transition time moves only when the status does
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// The three conditions for a verdict.
pub fn conditions(v: &Verdict, generation: Option<i64>, previous: &[Condition]) -> Vec<Condition> {
    let now = Time(Timestamp::now());
    let (r, m) = (v.reason.as_str(), v.message.as_str());
    let ready = v.phase == Phase::Ready;
    let reconciling = matches!(
        v.phase,
        Phase::Reconciling | Phase::Pending | Phase::Deleting
    );
    let stalled = v.phase == Phase::Stalled;
    let idle = if ready { "Ready" } else { r };
    [
        (condition_types::READY, ready),
        (condition_types::RECONCILING, reconciling),
        (condition_types::STALLED, stalled),
    ]
    .into_iter()
    .map(|(type_, on)| {
        // Ready always says why; the others carry the reason only while they hold
        let (reason, message) = if on || type_ == condition_types::READY {
            (r, m)
        } else {
            (idle, "")
        };
        condition(type_, on, reason, message, generation, previous, &now)
    })
    .collect()
}

/// The Event to emit when a resource moves to `v` from the conditions it had: one per change
/// of readiness or of reason, none while nothing changes.
pub fn transition_event(previous: &[Condition], v: &Verdict) -> Option<Event> {
    let before = previous.iter().find(|c| c.type_ == condition_types::READY);
    let status = if v.is_ready() { "True" } else { "False" };
    if before.is_some_and(|c| c.status == status && c.reason == v.reason) {
        return None;
    }
    let type_ = if v.phase == Phase::Stalled {
        EventType::Warning
    } else {
        EventType::Normal
    };
    Some(event(type_, &v.reason, &v.message))
}

/// An Event of a reconcile; the note is cut to what the API accepts (1 KiB).
pub fn event(type_: EventType, reason: &str, note: &str) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_follow_the_verdict_and_keep_transition_times() {
        let first = conditions(&Verdict::reconciling("Creating", "creating"), Some(1), &[]);
        assert_eq!(
            first
                .iter()
                .map(|c| (c.type_.as_str(), c.status.as_str()))
                .collect::<Vec<_>>(),
            [
                ("Ready", "False"),
                ("Reconciling", "True"),
                ("Stalled", "False")
            ]
        );
        assert!(first.iter().all(|c| c.observed_generation == Some(1)));
        let ready = conditions(&Verdict::ready("Created", "ok"), Some(2), &first);
        assert_eq!(ready[0].status, "True");
        assert_eq!(
            ready[2].last_transition_time, first[2].last_transition_time,
            "Stalled stayed False"
        );
        let stalled = conditions(
            &Verdict::stalled("NotSupported", "shards cannot change"),
            Some(3),
            &ready,
        );
        assert_eq!(
            (stalled[0].status.as_str(), stalled[0].reason.as_str()),
            ("False", "NotSupported")
        );
        assert_eq!(stalled[2].status, "True");
    }

    #[test]
    fn events_only_on_transitions() {
        let v = Verdict::ready("Created", "ok");
        assert!(transition_event(&[], &v).is_some());
        let now = conditions(&v, Some(1), &[]);
        assert!(transition_event(&now, &v).is_none());
        let e = transition_event(&now, &Verdict::stalled("NotSupported", "no")).unwrap();
        assert_eq!(
            (e.type_, e.reason.as_str()),
            (EventType::Warning, "NotSupported")
        );
    }
}
