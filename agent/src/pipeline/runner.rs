//! The pipeline runner: one task per stage, two queues per stage.
//!
//! Each stage has a *system* queue and a *data* queue (control and data
//! frames), fed by both neighbours. A stage always takes system frames
//! first (`biased` select), so ordering is deterministic and an
//! interruption overtakes queued work. When an `Interruption` reaches a
//! stage, the runner drops everything in its data queue and every job with
//! [`JobPolicy::CancelOnInterruption`] before the processor sees the frame.
//!
//! Queues are unbounded: links run in both directions, and bounded queues
//! in a bidirectional chain can deadlock. The real-time caller bounds the
//! input rate, and an interruption empties the output side.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_util::StreamExt;
use futures_util::stream::{BoxStream, Stream};
use tokio::sync::mpsc;

use super::processor::{Context, Direction, JobId, JobPolicy, NewJob, Origin, Processor};
use crate::frame::Frame;
use crate::telemetry::{EventKind, EventSink};

type Queue = mpsc::UnboundedSender<(Origin, Frame)>;

/// The two queues into one stage.
#[derive(Clone)]
struct Inlet {
    system: Queue,
    data: Queue,
}

impl Inlet {
    /// Deliver a frame; a stage that has already stopped is ignored.
    fn send(&self, origin: Origin, frame: Frame) {
        let queue = if frame.is_system() { &self.system } else { &self.data };
        let _ = queue.send((origin, frame));
    }
}

pub struct Pipeline {
    stages: Vec<Box<dyn Processor>>,
}

impl Pipeline {
    pub fn new(stages: Vec<Box<dyn Processor>>) -> Self {
        Self { stages }
    }

    /// Run until every stage has stopped. `source` feeds the first stage;
    /// when it ends, a `Stop` frame follows.
    pub async fn run(self, source: BoxStream<'static, Frame>, events: EventSink) {
        let mut inlets = Vec::with_capacity(self.stages.len());
        let mut outlets = Vec::with_capacity(self.stages.len());
        for _ in &self.stages {
            let (system_tx, system_rx) = mpsc::unbounded_channel();
            let (data_tx, data_rx) = mpsc::unbounded_channel();
            inlets.push(Inlet { system: system_tx, data: data_tx });
            outlets.push((system_rx, data_rx));
        }
        let Some(first) = inlets.first().cloned() else { return };

        let mut tasks = tokio::task::JoinSet::new();
        let mut names = std::collections::HashMap::new();
        for (index, (processor, (system_rx, data_rx))) in self.stages.into_iter().zip(outlets).enumerate() {
            let links =
                Links { up: index.checked_sub(1).map(|i| inlets[i].clone()), down: inlets.get(index + 1).cloned() };
            let name = processor.name();
            let stage = Stage { processor, system_rx, data_rx, links, jobs: Vec::new() };
            let handle = tasks.spawn(stage.run(Context::new(events.clone())));
            names.insert(handle.id(), name);
        }
        drop(inlets);

        let feeder = tokio::spawn(async move {
            let mut source = source;
            while let Some(frame) = source.next().await {
                first.send(Origin::FromUpstream, frame);
            }
            first.send(Origin::FromUpstream, Frame::Stop);
        });

        // A stage that panics takes the call down with it: its neighbours
        // would otherwise wait for it forever.
        while let Some(ended) = tasks.join_next_with_id().await {
            if let Err(error) = ended {
                let stage = names.get(&error.id()).copied().unwrap_or("unknown");
                let message = panic_message(error);
                tracing::error!(stage, %message, "pipeline stage failed; ending the call");
                events.emit(EventKind::StageFailed { stage: stage.into(), message });
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
            }
        }
        feeder.abort();
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic with no message".into()),
        Err(error) => error.to_string(),
    }
}

struct Links {
    up: Option<Inlet>,
    down: Option<Inlet>,
}

struct RunningJob {
    id: JobId,
    stream: BoxStream<'static, Frame>,
    policy: JobPolicy,
}

enum Input {
    Frame(Origin, Frame),
    JobItem(JobId, Frame),
    JobEnded(JobId),
}

struct Stage {
    processor: Box<dyn Processor>,
    system_rx: mpsc::UnboundedReceiver<(Origin, Frame)>,
    data_rx: mpsc::UnboundedReceiver<(Origin, Frame)>,
    links: Links,
    jobs: Vec<RunningJob>,
}

impl Stage {
    async fn run(mut self, mut ctx: Context) {
        loop {
            let has_jobs = !self.jobs.is_empty();
            let input = tokio::select! {
                biased;
                Some((origin, frame)) = self.system_rx.recv() => Input::Frame(origin, frame),
                Some((origin, frame)) = self.data_rx.recv() => Input::Frame(origin, frame),
                Some(input) = NextJobEvent { jobs: &mut self.jobs }, if has_jobs => input,
                else => break,
            };
            let stop = match input {
                Input::Frame(origin, Frame::Stop) => {
                    self.processor.process(Frame::Stop, origin, &mut ctx);
                    ctx.forward(Frame::Stop, origin);
                    true
                }
                Input::Frame(origin, Frame::Interruption) => {
                    while self.data_rx.try_recv().is_ok() {}
                    self.jobs.retain(|job| job.policy == JobPolicy::Keep);
                    self.processor.process(Frame::Interruption, origin, &mut ctx);
                    ctx.forward(Frame::Interruption, origin);
                    false
                }
                Input::Frame(origin, frame) => {
                    self.processor.process(frame, origin, &mut ctx);
                    false
                }
                Input::JobItem(id, frame) => {
                    self.processor.process(frame, Origin::Job(id), &mut ctx);
                    false
                }
                Input::JobEnded(id) => {
                    self.processor.job_finished(id, &mut ctx);
                    false
                }
            };
            self.apply(&mut ctx);
            if stop {
                break;
            }
        }
    }

    fn apply(&mut self, ctx: &mut Context) {
        for (direction, frame) in ctx.pushed.drain(..) {
            let (link, origin) = match direction {
                Direction::Downstream => (&self.links.down, Origin::FromUpstream),
                Direction::Upstream => (&self.links.up, Origin::FromDownstream),
            };
            if let Some(link) = link {
                link.send(origin, frame);
            }
        }
        for id in ctx.cancelled.drain(..) {
            self.jobs.retain(|job| job.id != id);
        }
        for NewJob { id, stream, policy } in ctx.started.drain(..) {
            self.jobs.push(RunningJob { id, stream, policy });
        }
    }
}

/// Polls the stage's jobs in the order they were started, so that two jobs
/// ready at the same instant are always seen in the same order.
struct NextJobEvent<'a> {
    jobs: &'a mut Vec<RunningJob>,
}

impl std::future::Future for NextJobEvent<'_> {
    type Output = Option<Input>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let jobs = &mut *self.jobs;
        for index in 0..jobs.len() {
            match Pin::new(&mut jobs[index].stream).poll_next(cx) {
                Poll::Ready(Some(frame)) => return Poll::Ready(Some(Input::JobItem(jobs[index].id, frame))),
                Poll::Ready(None) => {
                    let id = jobs.remove(index).id;
                    return Poll::Ready(Some(Input::JobEnded(id)));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::telemetry::test_sink as sink;

    /// Records every frame it sees (by a short label) into a shared log.
    struct Probe {
        label: &'static str,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Processor for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
            let tag = match &frame {
                Frame::Transcription { text } => format!("{}:data:{text}", self.label),
                Frame::Timer { name } => format!("{}:timer:{name}", self.label),
                other => format!("{}:{:?}", self.label, other.class()),
            };
            self.log.lock().expect("probe log").push(tag);
            if matches!(frame, Frame::Transcription { ref text } if text == "slow") {
                ctx.start_timer(Duration::from_millis(50), "slow-job", JobPolicy::CancelOnInterruption);
                return;
            }
            if !matches!(frame, Frame::Stop | Frame::Interruption | Frame::Timer { .. }) {
                ctx.forward(frame, origin);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn interruption_drops_queued_data_and_cancels_jobs_but_keeps_system_frames() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let pipeline = Pipeline::new(vec![
            Box::new(Probe { label: "a", log: log.clone() }),
            Box::new(Probe { label: "b", log: log.clone() }),
        ]);
        let frames = vec![
            Frame::Transcription { text: "slow".into() },
            Frame::Transcription { text: "one".into() },
            Frame::Interruption,
            Frame::PlaybackMark { name: "m".into() },
        ];
        // All four frames are queued in stage "a" before it runs: the
        // interruption (system) is taken first and empties the data queue.
        pipeline.run(futures_util::stream::iter(frames).boxed(), sink()).await;
        let log = log.lock().expect("probe log").clone();
        assert_eq!(log.first().map(String::as_str), Some("a:System"), "system frame first: {log:?}");
        assert!(!log.iter().any(|l| l.contains("data:")), "queued data must be dropped: {log:?}");
        assert!(!log.iter().any(|l| l.contains("slow-job")), "no job ran: {log:?}");
        assert!(log.iter().any(|l| l == "b:System"), "system frames reach the next stage: {log:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn jobs_feed_frames_back_to_their_processor() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let pipeline = Pipeline::new(vec![Box::new(Probe { label: "a", log: log.clone() })]);
        let source = futures_util::stream::iter(vec![Frame::Transcription { text: "slow".into() }])
            .chain(futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Frame::LlmDone
            }))
            .boxed();
        pipeline.run(source, sink()).await;
        let log = log.lock().expect("probe log").clone();
        assert!(log.contains(&"a:timer:slow-job".to_string()), "{log:?}");
    }

    /// Panics on the first data frame it sees.
    struct Faulty;

    impl Processor for Faulty {
        fn name(&self) -> &'static str {
            "faulty"
        }
        fn process(&mut self, frame: Frame, origin: Origin, ctx: &mut Context) {
            if let Frame::Transcription { .. } = frame {
                panic!("injected stage failure");
            }
            ctx.forward(frame, origin);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_middle_stage_ends_the_call_with_an_event_instead_of_hanging() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let pipeline = Pipeline::new(vec![
            Box::new(Probe { label: "a", log: log.clone() }),
            Box::new(Faulty),
            Box::new(Probe { label: "c", log: log.clone() }),
        ]);
        // The source never ends by itself: only the failure can end the run.
        let source = futures_util::stream::iter(vec![Frame::Transcription { text: "boom".into() }])
            .chain(futures_util::stream::pending())
            .boxed();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = crate::telemetry::EventSink::new(sink().ids().clone(), tokio::time::Instant::now(), Some(tx));
        let ran = tokio::time::timeout(Duration::from_secs(60), pipeline.run(source, sink)).await;
        assert!(ran.is_ok(), "the pipeline hung after a stage panicked");
        let mut failed = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let EventKind::StageFailed { stage, message } = event.kind {
                failed.push((stage, message));
            }
        }
        assert_eq!(failed, vec![("faulty".to_string(), "injected stage failure".to_string())]);
    }
}
