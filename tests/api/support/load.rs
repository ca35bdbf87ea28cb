//! What the load benchmarks share: a procedure's latency one request at a time and its
//! throughput with clients sending at once, measured the same way wherever docs/benchmarks.md
//! reports them.

use std::time::{Duration, Instant};

/// The `q` quantile of `sorted` (ascending); NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// A GET of `url` as `token`, failing the bench on anything but a success; the body is read
/// whole, as a client would.
pub async fn get(http: &reqwest::Client, url: &reqwest::Url, token: &str) {
    let answer = http.get(url.clone()).bearer_auth(token).send().await.unwrap();
    assert!(answer.status().is_success(), "{url}: {}", answer.status());
    answer.bytes().await.unwrap();
}

/// The milliseconds of `samples` GETs sent one after another, sorted.
pub async fn latencies(http: &reqwest::Client, url: &reqwest::Url, token: &str, samples: usize) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let at = Instant::now();
        get(http, url, token).await;
        latencies.push(at.elapsed().as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// GETs per second for `clients` clients each sending the next GET as soon as the last one is
/// answered, over `period`.
pub async fn throughput(
    http: &reqwest::Client,
    url: &reqwest::Url,
    token: &str,
    clients: usize,
    period: Duration,
) -> f64 {
    let deadline = Instant::now() + period;
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), token.to_owned());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    get(&http, &url, &token).await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await.unwrap();
    }
    total as f64 / period.as_secs_f64()
}
