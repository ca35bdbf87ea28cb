//! A randomised simulation (a seeded loop of our own; no proptest in the workspace): two engine
//! instances over one database and one simulator, with injected crashes mid-dial, lost and
//! refused create answers, clock jumps, and webhooks delivered out of order, duplicated or
//! dropped. After every step: the concurrency limit holds (at the provider and in our table) and
//! no attempt was dialled twice. After draining: the run completed and no row was lost.
//!
//! `RIVVI_SIM_SEED` and `RIVVI_SIM_STEPS` override the seed and the number of steps.

use std::sync::Arc;

use chrono::TimeDelta;
use rivvi_domain::lifecycle::RunStatus;
use rivvi_execution::engine::Engine;
use rivvi_execution::retell::webhook::CallEvent;
use rivvi_execution::simulator::OutcomeWeights;
use rivvi_persistence::testing::on_each_backend;
use serde_json::json;

use rivvi_execution::engine::lifecycle::RunChange;

use crate::support::{by_test, dispatch_or_die, Fault, OrgSpec, Person, World};

/// SplitMix64: reproducible on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Default)]
struct Tally {
    dispatches: u32,
    dialed: u32,
    crashes: u32,
    delivered: u32,
    duplicated: u32,
    dropped: u32,
    jumps: u32,
    faults: u32,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test]
async fn two_engines_with_crashes_clock_jumps_and_reordered_webhooks_lose_nothing_and_never_overdial() {
    on_each_backend(|db| async move {
        let seed = env_u64("RIVVI_SIM_SEED", 20_261_124);
        let steps = env_u64("RIVVI_SIM_STEPS", 2_500);
        let mut rng = Rng(seed);
        let spec = OrgSpec { concurrent_call_limit: 4, ..OrgSpec::default() };
        let world = World::with_sim(db, spec, seed, OutcomeWeights::default()).await;
        let policy = json!({"maxAttempts": 3, "retryOn": ["no_answer", "busy", "voicemail", "dial_failed"], "delayMinutes": 2});
        let campaign = world.campaign(Some(policy)).await;
        let mut generation = 0;
        let mut spawn = |slot: usize| {
            generation += 1;
            Arc::new(world.engine(&format!("engine-{slot}-gen{generation}")))
        };
        let mut engines: [Arc<Engine>; 2] = [spawn(0), spawn(1)];
        let mut runs = Vec::new();
        let mut inbox: Vec<CallEvent> = Vec::new();
        let mut tally = Tally::default();

        for step in 0..steps {
            // A new run of 20 patients every 500 steps keeps both engines busy throughout.
            if step % 500 == 0 {
                let batch = runs.len() as u32;
                let people: Vec<Person> = (0..20).map(|n| Person::chicago(batch * 100 + n)).collect();
                let run = world.run(campaign, &people).await;
                engines[0].change_run(&world.scope, run, RunChange::Start, &by_test()).await.unwrap();
                runs.push(run);
            }
            inbox.extend(world.take_events());
            let i = rng.below(2) as usize;
            match rng.below(100) {
                0..=29 => {
                    engines[i].schedule_tick(world.now()).await.unwrap();
                    tally.dispatches += 1;
                    match dispatch_or_die(&engines[i], &world.provider, world.now()).await {
                        Some(outcome) => tally.dialed += outcome.dialed,
                        None => {
                            tally.crashes += 1;
                            engines[i] = spawn(i);
                        }
                    }
                }
                30..=54 => {
                    for _ in 0..=rng.below(3) {
                        if inbox.is_empty() {
                            break;
                        }
                        let event = inbox.swap_remove(rng.below(inbox.len() as u64) as usize);
                        match rng.below(100) {
                            0..=2 => tally.dropped += 1,
                            3..=12 => {
                                engines[i].apply_call_event(&event).await.unwrap();
                                inbox.push(event);
                                tally.duplicated += 1;
                            }
                            _ => {
                                engines[i].apply_call_event(&event).await.unwrap();
                                tally.delivered += 1;
                            }
                        }
                    }
                }
                55..=62 => {
                    engines[i].recover_tick(world.now()).await.unwrap();
                }
                63..=84 => {
                    world.clock.advance(TimeDelta::seconds(1 + rng.below(60) as i64));
                }
                85..=89 => {
                    world.clock.advance(TimeDelta::minutes(2 + rng.below(44) as i64));
                    tally.jumps += 1;
                }
                90..=91 => {
                    let fault = match rng.below(4) {
                        0 => Fault::LoseAnswer,
                        1 => Fault::HangAfterPlacing,
                        2 => Fault::HangBeforePlacing,
                        _ => Fault::Refuse,
                    };
                    world.provider.inject([fault]);
                    tally.faults += 1;
                }
                92..=93 => {
                    // A crash between steps: nothing of this instance is in flight.
                    engines[i] = spawn(i);
                    tally.crashes += 1;
                }
                _ => {
                    engines[i].schedule_tick(world.now()).await.unwrap();
                }
            }
            world.assert_within_limit().await;
            world.provider.assert_no_attempt_dialled_twice();
        }

        // Drain: no more faults; every webhook still in flight is delivered (shuffled), dropped
        // ones are reconciled by recovery.
        world.provider.clear_faults();
        let mut drained = false;
        for _ in 0..5_000 {
            inbox.extend(world.take_events());
            while !inbox.is_empty() {
                let event = inbox.swap_remove(rng.below(inbox.len() as u64) as usize);
                engines[0].apply_call_event(&event).await.unwrap();
            }
            let i = rng.below(2) as usize;
            engines[i].recover_tick(world.now()).await.unwrap();
            engines[i].schedule_tick(world.now()).await.unwrap();
            if dispatch_or_die(&engines[i], &world.provider, world.now()).await.is_none() {
                engines[i] = spawn(i);
            }
            world.assert_within_limit().await;
            let mut finished = true;
            for run in &runs {
                finished &= world.run_status(*run).await.is_final();
            }
            if finished {
                drained = true;
                break;
            }
            world.clock.advance(TimeDelta::minutes(1));
        }

        eprintln!("seed {seed}, {steps} steps: {tally:?}");
        assert!(drained, "the runs did not finish");
        let dials = world.provider.assert_no_attempt_dialled_twice();
        let mut calls_total = 0;
        for run in &runs {
        assert_eq!(world.run_status(*run).await, RunStatus::Completed);
        let rows = world.rows(*run).await;
        assert_eq!(rows.len(), 20, "no row lost");
        for (row, state) in &rows {
            assert!(state.status.is_final(), "row {} is {}", row.sort_index, state.status);
            let calls = world.calls_of(row.id).await;
            let attempts: Vec<u32> = calls.iter().map(|c| c.attempt).collect();
            assert_eq!(attempts, (1..=state.attempts).collect::<Vec<_>>(), "one call per attempt, row {}", row.sort_index);
            assert!(calls.iter().all(|c| c.status.is_final()));
            assert!(state.attempts <= 3);
            calls_total += calls.len();
        }
        }
        assert!(dials <= calls_total, "every dial the provider saw has its call row");
        assert_eq!(world.active_calls().await, 0);
        assert!(tally.crashes > 0 && tally.jumps > 0 && tally.faults > 0, "{tally:?}");
    })
    .await;
}
