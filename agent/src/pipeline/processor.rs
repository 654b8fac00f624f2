//! What a processor sees: one frame at a time and a [`Context`] to push
//! frames, start cancellable jobs and emit events through.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::frame::Frame;
use crate::telemetry::{EventKind, EventSink};

/// Where a frame handed to [`Processor::process`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// From the previous stage: the frame travels downstream.
    FromUpstream,
    /// From the next stage: the frame travels upstream.
    FromDownstream,
    /// Produced by one of this processor's own jobs.
    Job(JobId),
}

impl Origin {
    /// The direction in which a frame from this origin keeps travelling when
    /// it is passed through. Job output continues downstream.
    pub fn onward(self) -> Direction {
        match self {
            Origin::FromDownstream => Direction::Upstream,
            Origin::FromUpstream | Origin::Job(_) => Direction::Downstream,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Downstream,
    Upstream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// What an interruption does to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobPolicy {
    /// Dropped (and so cancelled) when an interruption reaches the stage.
    CancelOnInterruption,
    /// Survives interruptions; only an explicit cancel or the end of the call stops it.
    Keep,
}

pub(crate) struct NewJob {
    pub id: JobId,
    pub stream: BoxStream<'static, Frame>,
    pub policy: JobPolicy,
}

/// Collects what a processor wants done; the runner carries it out after
/// `process` returns, so a processor never touches channels or tasks.
pub struct Context {
    events: EventSink,
    next_job: u64,
    pub(crate) pushed: Vec<(Direction, Frame)>,
    pub(crate) started: Vec<NewJob>,
    pub(crate) cancelled: Vec<JobId>,
}

impl Context {
    pub fn new(events: EventSink) -> Self {
        Self { events, next_job: 0, pushed: Vec::new(), started: Vec::new(), cancelled: Vec::new() }
    }

    pub fn push(&mut self, direction: Direction, frame: Frame) {
        self.pushed.push((direction, frame));
    }

    pub fn push_down(&mut self, frame: Frame) {
        self.push(Direction::Downstream, frame);
    }

    pub fn push_up(&mut self, frame: Frame) {
        self.push(Direction::Upstream, frame);
    }

    /// Pass a frame on in the direction it was travelling.
    pub fn forward(&mut self, frame: Frame, origin: Origin) {
        self.push(origin.onward(), frame);
    }

    /// Run `stream` as a job; each frame it yields comes back to this
    /// processor with [`Origin::Job`].
    pub fn start_job(&mut self, stream: BoxStream<'static, Frame>, policy: JobPolicy) -> JobId {
        self.next_job += 1;
        let id = JobId(self.next_job);
        self.started.push(NewJob { id, stream, policy });
        id
    }

    /// A one-shot timer that delivers `Frame::Timer { name }` after `after`.
    pub fn start_timer(&mut self, after: Duration, name: &'static str, policy: JobPolicy) -> JobId {
        let timer = futures_util::stream::once(async move {
            tokio::time::sleep(after).await;
            Frame::Timer { name }
        });
        self.start_job(timer.boxed(), policy)
    }

    pub fn cancel_job(&mut self, id: JobId) {
        self.cancelled.push(id);
    }

    pub fn emit(&self, kind: EventKind) {
        self.events.emit(kind);
    }

    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Time since the session started (the tokio clock: virtual in tests).
    pub fn now(&self) -> Duration {
        self.events.elapsed()
    }

    /// Take everything collected so far (used by unit tests of processors).
    pub fn take_pushed(&mut self) -> Vec<(Direction, Frame)> {
        std::mem::take(&mut self.pushed)
    }
}

/// A pipeline stage. It receives a frame and pushes zero or more frames;
/// it never spawns tasks or sees its neighbours.
///
/// The runner forwards `Stop` and `Interruption` itself after `process`
/// returns, so a processor must not forward those two.
pub trait Processor: Send + 'static {
    fn name(&self) -> &'static str;
    fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context);
    /// A job's stream ended (not called for cancelled jobs).
    fn job_finished(&mut self, _job: JobId, _ctx: &mut Context) {}
}
