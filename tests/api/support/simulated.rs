//! A server whose Retell client dials a simulator serving Retell's API on a listener of its own,
//! the simulator's webhooks signed with `key` and sent back to the server: the outbound and
//! inbound paths through real HTTP both ways.

use std::sync::Arc;

use rivvi_execution::clock::Clock;
use rivvi_execution::simulator::{Simulator, SimulatorConfig};
use tokio::sync::oneshot;

use super::TestApp;

/// The server, the simulator it dials, and the simulator's listener.
pub struct Simulated {
    pub app: TestApp,
    pub sim: Arc<Simulator>,
    pub listener: Listener,
}

/// Keeps the simulator's listener serving; it stops when this is dropped.
pub struct Listener(#[allow(dead_code)] oneshot::Sender<()>);

/// Starts both on `clock`; `tune` adjusts the simulator (time scale, seed) before it starts.
pub async fn spawn(key: &str, clock: Arc<dyn Clock>, tune: impl FnOnce(&mut SimulatorConfig)) -> Simulated {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let simulator_url = format!("http://{}/simulator/retell", listener.local_addr().expect("address"));
    let api_key = key.to_owned();
    let app = TestApp::spawn_with_clock(
        |s| {
            s.retell_api_key = Some(rivvi_server::config::Secret::new(&api_key));
            s.retell_base_url = Some(simulator_url);
        },
        clock.clone(),
    )
    .await;
    let mut config = SimulatorConfig::new(key, app.url("/webhooks/retell"));
    tune(&mut config);
    let sim = Arc::new(Simulator::new(config, clock));
    let router =
        axum::Router::new().nest("/simulator/retell", rivvi_server::simulator::router(sim.clone(), false));
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .expect("simulator listener");
    });
    Simulated { app, sim, listener: Listener(stop) }
}
