//! What the tests that run the `pulse` binary as a server share.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Spawns `cmd` (a `pulse ... serve` command line) and waits until it logs
/// that it serves gRPC; its stderr keeps being drained so it never blocks on
/// a full pipe. Panics with what it logged when it exits or does not start
/// within a hang guard (not a speed check).
pub(crate) fn spawn_serving(mut cmd: Command, name: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("serving gRPC") {
                std::thread::spawn(move || while rx.recv().is_ok() {});
                return child;
            }
            seen.push(line);
        } else if let Ok(Some(s)) = child.try_wait() {
            panic!("{name} exited with {s}: {seen:#?}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{name} did not start: {seen:#?}");
}
