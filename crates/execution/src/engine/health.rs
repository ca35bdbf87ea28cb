//! What this engine instance reports about itself (issue 13, the operators' health feed): its
//! dispatch ticks, create-call requests and webhook lag, gathered as they happen and written to
//! `engine_instances` every [`REPORT_EVERY`] by [`Engine::report_health`].

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rivvi_persistence::engine_health::{self, InstanceReport};

use super::{Engine, EngineError};

/// How often an instance writes its report.
pub const REPORT_EVERY: Duration = Duration::from_secs(2);

/// Counters since the last report.
#[derive(Debug, Default)]
pub(super) struct HealthWindow {
    inner: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    opened_at: Option<DateTime<Utc>>,
    last_tick_at: Option<DateTime<Utc>>,
    tick: Option<Duration>,
    provider_requests: u64,
    provider_errors: u64,
    webhooks: u64,
    webhook_lag_sum_ms: f64,
    webhook_lag_max_ms: f64,
}

impl HealthWindow {
    fn with<R>(&self, f: impl FnOnce(&mut Window) -> R) -> R {
        // A poisoned lock only means a panic elsewhere mid-update of plain counters.
        let mut window = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut window)
    }

    pub(super) fn tick(&self, at: DateTime<Utc>, took: Duration) {
        self.with(|w| {
            w.last_tick_at = Some(at);
            w.tick = Some(took);
        });
    }

    pub(super) fn dial(&self, failed: bool) {
        self.with(|w| {
            w.provider_requests += 1;
            w.provider_errors += u64::from(failed);
        });
    }

    fn webhook(&self, lag: Duration) {
        let ms = lag.as_secs_f64() * 1000.0;
        self.with(|w| {
            w.webhooks += 1;
            w.webhook_lag_sum_ms += ms;
            w.webhook_lag_max_ms = w.webhook_lag_max_ms.max(ms);
        });
    }

    /// The report of the window ending `now`; a new window opens.
    fn close(&self, now: DateTime<Utc>) -> InstanceReport {
        self.with(|w| {
            let opened = w.opened_at.unwrap_or(now);
            let report = InstanceReport {
                last_tick_at: w.last_tick_at,
                tick_ms: w.tick.map(|t| t.as_secs_f64() * 1000.0),
                provider_requests: w.provider_requests,
                provider_errors: w.provider_errors,
                webhooks: w.webhooks,
                webhook_lag_avg_ms: (w.webhooks > 0).then(|| w.webhook_lag_sum_ms / w.webhooks as f64),
                webhook_lag_max_ms: (w.webhooks > 0).then_some(w.webhook_lag_max_ms),
                window_seconds: (now - opened).num_milliseconds().max(0) as f64 / 1000.0,
            };
            *w = Window {
                opened_at: Some(now),
                last_tick_at: w.last_tick_at,
                tick: w.tick,
                ..Window::default()
            };
            report
        })
    }
}

impl Engine {
    /// Records a provider webhook this instance applied, `lag` after the provider signed it.
    pub fn record_webhook_lag(&self, lag: Duration) {
        self.health.webhook(lag);
    }

    /// Writes this instance's report for the window ending at the wall clock's now (the
    /// operators read it against theirs, whatever clock the engine dispatches by).
    pub async fn report_health(&self) -> Result<(), EngineError> {
        let now = Utc::now();
        let report = self.health.close(now);
        engine_health::record(&self.db, &self.instance_id, self.started_at, now, &report).await?;
        Ok(())
    }
}
